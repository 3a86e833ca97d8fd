"""Gradescope: build the autograder archive, and grade inside it.

The archive holds `setup.sh` (installs torch's CPU build, never the CUDA one, and this grader),
`run_autograder` (grades `/autograder/submission/*.ipynb` into
`/autograder/results/results.json`) and `source/` with
the grader's code, the instructor's secret and optional `grader.toml`. The secret stays in the
grading process: the source folder is among the paths hidden from the submission.
"""

from __future__ import annotations

import io
import json
import stat
import zipfile
from pathlib import Path

from grader.checking.cases import hidden_cases
from grader.config import Config
from grader.exercises.base import Exercise
from grader.isolation.sandbox import worker_context
from grader.pipeline import GradingPlan, grade_submission
from grader.reports.records import gradescope_results, write_atomic

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
RUN_AUTOGRADER = """#!/usr/bin/env bash
# Gradescope runs this for every submission. AUTOGRADER_ROOT overrides /autograder (tests).
ROOT="${AUTOGRADER_ROOT:-/autograder}"
PYTHON="${RNN_GRADER_PYTHON:-/opt/rnn-grader/bin/python}"
chmod 600 "$ROOT/source/secret" 2>/dev/null || true  # unreadable to an unprivileged child
exec "$PYTHON" -m grader gradescope-run --root "$ROOT"
"""


class ArchiveError(Exception):
    """The archive cannot be built from what was given."""


def _add(archive: zipfile.ZipFile, name: str, data: bytes, mode: int = 0o644) -> None:
    info = zipfile.ZipInfo(name, date_time=(2024, 1, 1, 0, 0, 0))
    info.external_attr = (stat.S_IFREG | mode) << 16
    info.compress_type = zipfile.ZIP_DEFLATED
    archive.writestr(info, data)


def build_archive(project: Path, secret: bytes, config_path: Path | None,
                  exercise: str = "bidirectional_rnn") -> bytes:
    """The autograder zip for `exercise`, with the grader's package copied from `project`."""
    package = project / "grader"
    if not (package / "__init__.py").is_file():
        raise ArchiveError(f"{project} does not hold the grader's source (grader/__init__.py)")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        _add(archive, "setup.sh", SETUP_SH.encode(), 0o755)
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
