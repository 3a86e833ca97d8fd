"""Gradescope: build the autograder archive, and grade inside it.

The archive holds `setup.sh` (installs torch's CPU build, never the CUDA one, and this grader),
`run_autograder` (grades `/autograder/submission/*.ipynb` into
`/autograder/results/results.json`) and `source/` with
the grader's code, the instructor's secret and optional `grader.toml`. The secret stays in the
grading process: the source folder is among the paths hidden from the submission.

An exercise from a course's own package (entry-point group `rnn_grader.exercises`) travels in
the archive too: the package's folder, found from how it was installed or given, is copied to
`exercise-package/` and `setup.sh` installs it after the grader, without its dependencies.
"""

from __future__ import annotations

import io
import json
import os
import stat
import zipfile
from pathlib import Path
from urllib.parse import unquote, urlparse

from grader import exercises
from grader.checking.cases import hidden_cases
from grader.config import Config
from grader.exercises.base import Exercise
from grader.isolation.sandbox import worker_context
from grader.pipeline import GradingPlan, grade_submission
from grader.reports.records import gradescope_results, write_atomic

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib  # type: ignore[no-redef]

TORCH_VERSION = "2.13.0"
PACKAGE_FILES = ("pyproject.toml", "README.md")
CPU_INDEX = "https://download.pytorch.org/whl/cpu"
SETUP_SH = f"""#!/usr/bin/env bash
# Runs once, as root, when Gradescope builds the autograder image.
# RNN_GRADER_VENV and AUTOGRADER_ROOT override /opt/rnn-grader and /autograder (tests).
set -euo pipefail
VENV="${{RNN_GRADER_VENV:-/opt/rnn-grader}}"
SOURCE="${{AUTOGRADER_ROOT:-/autograder}}/source"
apt-get update
apt-get install -y python3 python3-pip python3-venv
python3 -m venv "$VENV"
# torch's CPU build, pinned, from PyTorch's CPU index, before anything that depends on torch.
# No fallback: torch from PyPI is the CUDA build, several GB of nvidia-* and triton packages.
"$VENV/bin/pip" install --index-url {CPU_INDEX} torch=={TORCH_VERSION} || {{
    echo "setup.sh: torch=={TORCH_VERSION} (CPU) could not be installed; no CUDA fallback." >&2
    exit 1
}}
"$VENV/bin/pip" install numpy "$SOURCE/rnn-grader"
"""
PACKAGE_FOLDER = "exercise-package"  # in the archive: the course package of the exercise
INSTALL_PACKAGE_SH = f"""# The course's exercise package, after the grader, without dependencies:
# the grader brought numpy and torch; pip never resolves torch by itself (the CUDA build).
"$VENV/bin/pip" install --no-deps "$SOURCE/{PACKAGE_FOLDER}"
# The image is useless if the exercise cannot be loaded: fail its build now, saying why.
"$VENV/bin/python" -c 'import sys; from grader import exercises; exercises.get(sys.argv[1])' \
    "$(cat "$SOURCE/exercise")" || {{
    echo "setup.sh: the course's exercise package is installed but its exercise does not load" >&2
    exit 1
}}
"""
LEFT_OUT = ("__pycache__", "build", "dist")  # besides hidden files, *.egg-info and virtualenvs
RUN_AUTOGRADER = """#!/usr/bin/env bash
# Gradescope runs this for every submission. AUTOGRADER_ROOT overrides /autograder (tests).
ROOT="${AUTOGRADER_ROOT:-/autograder}"
PYTHON="${RNN_GRADER_PYTHON:-/opt/rnn-grader/bin/python}"
chmod 600 "$ROOT/source/secret" 2>/dev/null || true  # unreadable to an unprivileged child
exec "$PYTHON" -m grader gradescope-run --root "$ROOT"
"""


class ArchiveError(Exception):
    """The archive cannot be built from what was given."""


class ExercisePackageError(ArchiveError):
    """The course package that provides the exercise is not found, or does not provide it."""


def _declared(folder: Path) -> dict[str, str]:
    """name -> "module:attribute" of the exercises declared by `folder`'s pyproject.toml."""
    usage = "--exercise-package takes the folder holding the course package's pyproject.toml"
    if not folder.is_dir():
        raise ExercisePackageError(f"{folder} is not a folder: {usage}")
    pyproject = folder / "pyproject.toml"
    if not pyproject.is_file():
        raise ExercisePackageError(f"{folder} has no pyproject.toml: {usage}")
    try:
        document = tomllib.loads(pyproject.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise ExercisePackageError(f"{pyproject} cannot be read: {error}") from None
    declared = document.get("project", {}).get("entry-points", {}).get(exercises.GROUP, {})
    return {str(name): str(target) for name, target in declared.items()} \
        if isinstance(declared, dict) else {}


def _installed_from(distribution) -> Path | None:
    """The local folder a distribution was pip-installed from (PEP 610's direct_url.json),
    when it still holds a pyproject.toml; None for a wheel, an index, a VCS URL."""
    try:
        direct = json.loads(distribution.read_text("direct_url.json") or "null")
    except (OSError, ValueError):
        return None
    if not isinstance(direct, dict) or "dir_info" not in direct:
        return None
    url = urlparse(str(direct.get("url", "")))
    folder = Path(unquote(url.path)) if url.scheme == "file" else None
    return folder if folder is not None and (folder / "pyproject.toml").is_file() else None


def exercise_package(name: str, given: Path | None = None) -> Path | None:
    """The folder of the course package that provides exercise `name`, to carry in the archive:
    `given` (its pyproject.toml must declare `name`, as installed), else the local folder the
    package was installed from; None for a built-in exercise. One-line ExercisePackageError
    saying what to pass otherwise."""
    installed = exercises.target(name)
    if installed == exercises.BUILT_IN.get(name):
        if given is None:
            return None  # rnn-grader's own: the archive carries it already
        raise ExercisePackageError(
            f"exercise {name!r} is built into rnn-grader, which the archive carries already: "
            "drop --exercise-package")
    if given is None:
        distribution = exercises.provider(name)
        given = _installed_from(distribution) if distribution is not None else None
        if given is None:
            package = distribution.metadata["Name"] if distribution is not None else \
                installed.partition(":")[0]
            raise ExercisePackageError(
                f"exercise {name!r} comes from {package}, not installed from a local folder (or "
                "the folder is gone): pass --exercise-package PATH, the folder holding its "
                "package's pyproject.toml")
    declared = _declared(given)
    if name not in declared:
        raise ExercisePackageError(
            f"{given} does not provide exercise {name!r}: its pyproject.toml declares "
            f"{', '.join(sorted(declared)) or 'no exercise'} in "
            f'[project.entry-points."{exercises.GROUP}"]')
    if "".join(declared[name].split()) != "".join(installed.split()):
        raise ExercisePackageError(
            f"{given} declares {name} = {declared[name]!r}, but the installed {name!r} is "
            f"{installed!r}: pass the folder of the package it is installed from")
    return given.resolve()


def _left_out(folder: Path) -> bool:
    return folder.name.startswith(".") or folder.name in LEFT_OUT \
        or folder.name.endswith(".egg-info") or (folder / "pyvenv.cfg").is_file()


def _package_files(folder: Path) -> list[Path]:
    """The package's files to carry: all but hidden ones, caches, build output and virtual
    environments."""
    files = []
    for directory, subfolders, names in os.walk(folder):
        subfolders[:] = sorted(name for name in subfolders
                               if not _left_out(Path(directory) / name))
        files += [Path(directory) / name for name in sorted(names)
                  if not name.startswith(".") and not name.endswith(".pyc")
                  and not (Path(directory) / name).is_symlink()]  # nothing from outside it
    return files


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as error:
        raise ArchiveError(f"cannot read {path}: {error.strerror}") from None


def _add(archive: zipfile.ZipFile, name: str, data: bytes, mode: int = 0o644) -> None:
    info = zipfile.ZipInfo(name, date_time=(2024, 1, 1, 0, 0, 0))
    info.external_attr = (stat.S_IFREG | mode) << 16
    info.compress_type = zipfile.ZIP_DEFLATED
    archive.writestr(info, data)


def build_archive(project: Path, secret: bytes, config_path: Path | None,
                  exercise: str = "bidirectional_rnn", course_package: Path | None = None) -> bytes:
    """The autograder zip for `exercise`, with the grader's package copied from `project` and,
    for a course's own exercise, its package's folder `course_package` (`exercise_package`)."""
    package = project / "grader"
    if not (package / "__init__.py").is_file():
        raise ArchiveError(f"{project} does not hold the grader's source (grader/__init__.py)")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        setup = SETUP_SH + (INSTALL_PACKAGE_SH if course_package is not None else "")
        _add(archive, "setup.sh", setup.encode(), 0o755)
        _add(archive, "run_autograder", RUN_AUTOGRADER.encode(), 0o755)
        _add(archive, "secret", secret + b"\n", 0o600)
        _add(archive, "exercise", exercise.encode() + b"\n")
        if config_path is not None:
            _add(archive, "grader.toml", config_path.read_bytes())
        for path in sorted(package.rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts:
                _add(archive, f"rnn-grader/{path.relative_to(project)}", path.read_bytes())
        for name in PACKAGE_FILES:
            _add(archive, f"rnn-grader/{name}", (project / name).read_bytes())
        for path in _package_files(course_package) if course_package is not None else ():
            _add(archive, f"{PACKAGE_FOLDER}/{path.relative_to(course_package).as_posix()}",
                 _read(path))
    return buffer.getvalue()


def _choose_notebook(submission: Path, exercise: Exercise) -> Path | None:
    notebooks = sorted(p for p in submission.rglob("*.ipynb")
                       if ".ipynb_checkpoints" not in p.parts)
    preferred = [p for p in notebooks if p.name == f"{exercise.name}.ipynb"]
    return (preferred or notebooks or [None])[0]


def run_autograder(root: Path, exercise: Exercise, config: Config) -> dict:
    """Grade the one submission under `root` and write root/results/results.json."""
    source = root / "source"
    secret = (source / "secret").read_bytes().strip()
    plan = GradingPlan(exercise, hidden_cases(exercise, secret, config.scoring.hidden_cases),
                       config, protected_paths=(str(source), str(root / "results")),
                       # Gradescope's machine is not ours to choose: grade behind what its
                       # kernel offers; results.json records what that was.
                       allow_weak=True)
    del secret
    notebook = _choose_notebook(root / "submission", exercise)
    if notebook is None:
        results = {"score": 0.0, "output": f"No notebook was submitted: upload "
                   f"{exercise.name}.ipynb (the .ipynb file you worked in).", "tests": []}
    else:
        result = grade_submission(notebook, notebook.stem, plan, worker_context("warm"))
        results = gradescope_results(result)
    write_atomic(root / "results" / "results.json", json.dumps(results, indent=2) + "\n")
    return results
