"""The Gradescope archive, unpacked into a temporary root, grades a submission by itself."""

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

from grader.report import load_schema
from tests.conftest import SOLUTION, TEST_SECRET, run_cli


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("gradescope")
    secret = folder / "secret.txt"
    secret.write_text(TEST_SECRET)
    finished = run_cli("gradescope", "bidirectional_rnn", "--out", str(folder / "autograder.zip"),
                       "--secret-file", str(secret))
    assert finished.returncode == 0, finished.stderr
    return folder / "autograder.zip"


def _autograder_root(archive: Path, tmp_path: Path, notebook: bytes | None) -> Path:
    root = tmp_path / "autograder"
    with zipfile.ZipFile(archive) as opened:
        opened.extractall(root / "source")
        for info in opened.infolist():  # zipfile does not restore permissions
            (root / "source" / info.filename).chmod(stat.S_IMODE(info.external_attr >> 16))
    shutil.copy(root / "source" / "run_autograder", root / "run_autograder")
    (root / "submission").mkdir()
    (root / "results").mkdir()
    if notebook is not None:
        (root / "submission" / "bidirectional_rnn.ipynb").write_bytes(notebook)
    return root


def _run(root: Path) -> dict:
    env = {**os.environ, "AUTOGRADER_ROOT": str(root), "RNN_GRADER_PYTHON": sys.executable}
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
