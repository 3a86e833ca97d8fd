"""The Gradescope archive, unpacked into a temporary root, grades a submission by itself; a
course's own exercise travels in it with its package."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import stat
import subprocess
import sys
import zipfile
from pathlib import Path

import jsonschema
import pytest

from grader.reports.records import load_schema
from tests.conftest import (
    COURSE_EXERCISE,
    SOLUTION,
    TEST_SECRET,
    pip_install,
    python_path,
    run_cli,
)


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("gradescope")
    secret = folder / "secret.txt"
    secret.write_text(TEST_SECRET)
    finished = run_cli("gradescope", "bidirectional_rnn", "--out", str(folder / "autograder.zip"),
                       "--secret-file", str(secret))
    assert finished.returncode == 0, finished.stderr
    return folder / "autograder.zip"


def _autograder_root(archive: Path, tmp_path: Path, notebook: bytes | None,
                     name: str = "bidirectional_rnn.ipynb") -> Path:
    root = tmp_path / "autograder"
    with zipfile.ZipFile(archive) as opened:
        opened.extractall(root / "source")
        for info in opened.infolist():  # zipfile does not restore permissions
            (root / "source" / info.filename).chmod(stat.S_IMODE(info.external_attr >> 16))
    shutil.copy(root / "source" / "run_autograder", root / "run_autograder")
    (root / "submission").mkdir()
    (root / "results").mkdir()
    if notebook is not None:
        (root / "submission" / name).write_bytes(notebook)
    return root


def _run(root: Path, **extra_env: str) -> dict:
    env = {**os.environ, "AUTOGRADER_ROOT": str(root), "RNN_GRADER_PYTHON": sys.executable,
           **extra_env}
    subprocess.run([str(root / "run_autograder")], cwd=root, env=env, check=True, timeout=300)
    results = json.loads((root / "results" / "results.json").read_text())
    jsonschema.validate(results, load_schema())
    assert TEST_SECRET not in json.dumps(results)
    return results


def test_archive_layout(archive: Path) -> None:
    with zipfile.ZipFile(archive) as opened:
        names = set(opened.namelist())
        modes = {i.filename: stat.S_IMODE(i.external_attr >> 16) for i in opened.infolist()}
        setup = opened.read("setup.sh").decode()
    assert {"setup.sh", "run_autograder", "secret", "rnn-grader/pyproject.toml",
            "rnn-grader/grader/cli.py"} <= names
    assert modes["run_autograder"] & 0o111 and modes["secret"] == 0o600
    assert "torch==2.13.0" in setup


def test_a_correct_submission_gets_full_marks(archive: Path, tmp_path: Path) -> None:
    results = _run(_autograder_root(archive, tmp_path, SOLUTION.read_bytes()))
    assert results["score"] == 24 and len(results["tests"]) == 6
    assert all(test["status"] == "passed" for test in results["tests"])
    # What the hidden inputs were drawn from (with the secret), for the instructor only.
    digest = hashlib.sha256(SOLUTION.read_bytes()).hexdigest()
    assert results["extra_data"]["notebook_sha256"] == digest


def test_a_broken_submission_gets_a_message_and_zero(archive: Path, tmp_path: Path) -> None:
    results = _run(_autograder_root(archive, tmp_path, b'{"cells": [oops'))
    assert results["score"] == 0
    assert "not valid JSON" in results["output"]


def test_no_submission_at_all(archive: Path, tmp_path: Path) -> None:
    results = _run(_autograder_root(archive, tmp_path, None))
    assert results["score"] == 0 and "No notebook was submitted" in results["output"]


def test_building_without_a_secret_is_refused(tmp_path: Path) -> None:
    finished = run_cli("gradescope", "--out", str(tmp_path / "a.zip"))
    assert finished.returncode == 2 and "RNN_GRADER_SECRET" in finished.stderr


# --- setup.sh, run with stand-ins for apt-get, python3 and pip that record their arguments ---

STAND_IN = """#!/usr/bin/env bash
echo "{name} $*" >> "$SETUP_LOG"
"""
PYTHON_STAND_IN = STAND_IN + """if [ "$1 $2" = "-m venv" ]; then
    mkdir -p "$3/bin" && cp "$STAND_INS/pip" "$3/bin/pip"
    cp "$STAND_INS/venv-python" "$3/bin/python"
fi
"""
VENV_PYTHON_STAND_IN = STAND_IN + """[ -z "${EXERCISE_MISSING:-}" ]
"""
PIP_STAND_IN = STAND_IN + """if [ -n "${PIP_REFUSES:-}" ] && [[ "$*" == *"$PIP_REFUSES"* ]]; then
    exit 1
fi
"""


def _run_setup(archive: Path, tmp_path: Path, **env: str) -> tuple[int, list[str], str]:
    root = _autograder_root(archive, tmp_path, None)
    stand_ins = tmp_path / "bin"
    stand_ins.mkdir()
    for name, text in (("apt-get", STAND_IN), ("python3", PYTHON_STAND_IN),
                       ("pip", PIP_STAND_IN), ("venv-python", VENV_PYTHON_STAND_IN)):
        shown = "python" if name == "venv-python" else name
        (stand_ins / name).write_text(text.replace("{name}", shown))
        (stand_ins / name).chmod(0o755)
    log = tmp_path / "setup.log"
    done = subprocess.run(
        ["bash", str(root / "source" / "setup.sh")], capture_output=True, text=True, timeout=60,
        env={"PATH": f"{stand_ins}{os.pathsep}{os.defpath}", "SETUP_LOG": str(log),
             "STAND_INS": str(stand_ins), "AUTOGRADER_ROOT": str(root),
             "RNN_GRADER_VENV": str(tmp_path / "venv"), **env})
    calls = log.read_text().splitlines() if log.exists() else []
    return done.returncode, [call.replace(str(tmp_path), "TMP") for call in calls], done.stderr


def test_setup_updates_apt_first_and_installs_torch_only_from_the_cpu_index(
        archive: Path, tmp_path: Path) -> None:
    code, calls, stderr = _run_setup(archive, tmp_path)
    assert code == 0, stderr
    assert calls == [
        "apt-get update",
        "apt-get install -y python3 python3-pip python3-venv",
        "python3 -m venv TMP/venv",
        "pip install --index-url https://download.pytorch.org/whl/cpu torch==2.13.0",
        "pip install numpy TMP/autograder/source/rnn-grader",
    ]


def test_setup_never_falls_back_to_a_cuda_build(archive: Path, tmp_path: Path) -> None:
    code, calls, stderr = _run_setup(archive, tmp_path, PIP_REFUSES="download.pytorch.org")
    assert code != 0
    assert calls[-1] == "pip install --index-url https://download.pytorch.org/whl/cpu " \
                        "torch==2.13.0"
    assert "no CUDA fallback" in stderr


# --- A course's own exercise: its package travels in the archive -----------------------------

@pytest.fixture(scope="module")
def course_archive(course_package: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The archive for the course's exercise, its package found from where pip installed it."""
    archive = tmp_path_factory.mktemp("course_gradescope") / "autograder.zip"
    built = run_cli("gradescope", "relu_rnn", "--out", str(archive),
                    env={"PYTHONPATH": python_path(course_package),
                         "RNN_GRADER_SECRET": TEST_SECRET})
    assert built.returncode == 0, built.stderr
    assert "carries relu_rnn's package" in built.stdout
    return archive


def test_a_course_exercise_travels_in_the_archive_and_grades_there(
        course_archive: Path, tmp_path: Path) -> None:
    with zipfile.ZipFile(course_archive) as opened:
        names = set(opened.namelist())
        assert opened.read("exercise").decode().strip() == "relu_rnn"
    assert {"exercise-package/pyproject.toml",
            "exercise-package/src/course_peephole/relu_rnn.py"} <= names
    # pip's litter in the installed-from folder (build/, *.egg-info) stays out.
    assert not [name for name in names if "egg-info" in name or "/build/" in name
                or "__pycache__" in name]
    # setup.sh installs the package after the grader, without dependencies (so never torch).
    code, calls, stderr = _run_setup(course_archive, tmp_path / "setup")
    assert code == 0, stderr
    assert calls[-3:-1] == ["pip install numpy TMP/autograder/source/rnn-grader",
                            "pip install --no-deps TMP/autograder/source/exercise-package"]
    # ... then checks that the exercise loads, and fails the image's build if it does not.
    assert calls[-1].startswith("python -c ") and calls[-1].endswith(" relu_rnn"), calls[-1]
    code, _, stderr = _run_setup(course_archive, tmp_path / "broken", EXERCISE_MISSING="1")
    assert code == 1 and "its exercise does not load" in stderr, stderr
    # That install, for real, from the unpacked archive; then run_autograder grades with it.
    notebook = (COURSE_EXERCISE / "notebook" / "relu_rnn.ipynb").read_bytes()
    root = _autograder_root(course_archive, tmp_path, notebook, "relu_rnn.ipynb")
    site = tmp_path / "site"
    pip_install(root / "source" / "exercise-package", site)
    results = _run(root, PYTHONPATH=python_path(site))
    assert results["tests"] and all(test["status"] == "passed" for test in results["tests"])
    assert results["score"] == sum(test["max_score"] for test in results["tests"]) > 0
    assert any("one step" in test["name"] for test in results["tests"])  # relu_rnn's own plans


def _gradescope(*args: str, site: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {"RNN_GRADER_SECRET": TEST_SECRET}
    if site is not None:
        env["PYTHONPATH"] = python_path(site)
    return run_cli("gradescope", *args, env=env)


def _refused(done: subprocess.CompletedProcess[str], words: str) -> None:
    assert done.returncode == 2, done.stdout + done.stderr
    assert words in done.stderr and len(done.stderr.strip().splitlines()) == 1, done.stderr


def test_a_course_package_not_installed_from_a_folder_is_asked_for(
        course_package: Path, tmp_path: Path) -> None:
    """Installed from a wheel or an index (no folder in direct_url.json): the one line says
    what to pass, and passing it builds the archive."""
    site = tmp_path / "site"
    shutil.copytree(course_package, site)
    for recorded in site.glob("*.dist-info/direct_url.json"):
        recorded.unlink()
    out = str(tmp_path / "a.zip")
    _refused(_gradescope("relu_rnn", "--out", out, site=site),
             "pass --exercise-package PATH")
    given = _gradescope("relu_rnn", "--out", out, "--exercise-package", str(COURSE_EXERCISE),
                        site=site)
    assert given.returncode == 0, given.stderr
    with zipfile.ZipFile(out) as opened:
        assert "exercise-package/src/course_peephole/relu_rnn.py" in opened.namelist()


def test_a_wrong_exercise_package_is_refused_in_one_line(course_package: Path,
                                                          tmp_path: Path) -> None:
    out = str(tmp_path / "a.zip")
    _refused(_gradescope("relu_rnn", "--out", out, "--exercise-package", str(tmp_path),
                         site=course_package), "has no pyproject.toml")
    _refused(_gradescope("relu_rnn", "--out", out, "--exercise-package",
                         str(tmp_path / "missing"), site=course_package), "is not a folder")
    grader_itself = COURSE_EXERCISE.parent.parent  # a pyproject.toml declaring other exercises
    _refused(_gradescope("relu_rnn", "--out", out, "--exercise-package", str(grader_itself),
                         site=course_package), "does not provide exercise 'relu_rnn'")
    _refused(_gradescope("lstm", "--out", out, "--exercise-package", str(COURSE_EXERCISE)),
             "drop --exercise-package")
    assert not Path(out).exists()
