"""Bad usage, as users meet it: one line that says what to do, exit status 2, nothing graded;
every configuration key has its flag; --help marks what is required."""

from __future__ import annotations

import json
import os
import shutil
import socket
from collections.abc import Callable
from dataclasses import fields
from pathlib import Path

import pytest

from grader.cli import FLAGS
from grader.config import Config
from tests.conftest import ROOT, SOLUTION, TEST_SECRET, run_cli

SECRET = {"RNN_GRADER_SECRET": TEST_SECRET}


def _socket(path: Path) -> Path:
    """A path that exists and cannot be read as a file, even by root."""
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(path))
    server.close()
    return path


def _out_is_a_file(tmp: Path) -> list[str]:
    (tmp / "graded").write_text("not a folder")
    return ["grade", str(SOLUTION), "--out", str(tmp / "graded")]


def _empty_folder(tmp: Path) -> list[str]:
    (tmp / "submissions").mkdir()
    return ["grade", str(tmp / "submissions"), "--out", str(tmp / "out")]


def _folder_without_notebooks(tmp: Path) -> list[str]:
    (tmp / "submissions" / "alice").mkdir(parents=True)
    (tmp / "submissions" / "alice" / "notes.txt").write_text("hello")
    (tmp / "submissions" / ".ipynb_checkpoints").mkdir()
    shutil.copy(SOLUTION, tmp / "submissions" / ".ipynb_checkpoints" / "x-checkpoint.ipynb")
    return ["grade", str(tmp / "submissions"), "--out", str(tmp / "out")]


def _missing_path(tmp: Path) -> list[str]:
    return ["grade", str(tmp / "nowhere"), "--out", str(tmp / "out")]


def _grade_a_text_file(tmp: Path) -> list[str]:
    (tmp / "answers.txt").write_text("42")
    return ["grade", str(tmp / "answers.txt"), "--out", str(tmp / "out")]


def _grade_an_unreadable_path(tmp: Path) -> list[str]:
    return ["grade", str(_socket(tmp / "alice.ipynb")), "--out", str(tmp / "out")]


def _two_submissions_one_name(tmp: Path) -> list[str]:
    for folder in ("monday", "tuesday"):
        (tmp / folder).mkdir()
        shutil.copy(SOLUTION, tmp / folder / "homework.ipynb")
    return ["grade", str(tmp / "monday" / "homework.ipynb"),
            str(tmp / "tuesday" / "homework.ipynb"), "--out", str(tmp / "out")]


def _check_a_folder(tmp: Path) -> list[str]:
    (tmp / "mine").mkdir()
    shutil.copy(SOLUTION, tmp / "mine" / "bidirectional_rnn.ipynb")
    return ["check", str(tmp / "mine")]


def _check_a_text_file(tmp: Path) -> list[str]:
    (tmp / "manual_rnn.py").write_text("def manual_rnn(): pass\n")
    return ["check", str(tmp / "manual_rnn.py")]


def _check_a_damaged_notebook(tmp: Path) -> list[str]:
    (tmp / "bidirectional_rnn.ipynb").write_text('{"cells": [')
    return ["check", str(tmp / "bidirectional_rnn.ipynb")]


def _check_an_unreadable_path(tmp: Path) -> list[str]:
    return ["check", str(_socket(tmp / "bidirectional_rnn.ipynb"))]


BAD_USAGE: dict[str, tuple[Callable[[Path], list[str]], str]] = {
    "out is a file": (_out_is_a_file, "is a file; give a folder"),
    "empty folder": (_empty_folder, "no notebooks (*.ipynb) in"),
    "folder without notebooks": (_folder_without_notebooks, "no notebooks (*.ipynb) in"),
    "missing path": (_missing_path, "does not exist"),
    "grade a text file": (_grade_a_text_file, "is not a notebook (.ipynb)"),
    "grade an unreadable path": (_grade_an_unreadable_path, "cannot read"),
    "two submissions, one name": (_two_submissions_one_name, "would be named 'homework'"),
    "check a folder": (_check_a_folder, "is a folder; give the notebook file in it "
                                        "(there: bidirectional_rnn.ipynb)"),
    "check a text file": (_check_a_text_file, "is not a notebook; give the .ipynb file"),
    "check a damaged notebook": (_check_a_damaged_notebook, "is not valid JSON"),
    "check an unreadable path": (_check_an_unreadable_path, "cannot read"),
}


@pytest.mark.parametrize("case", list(BAD_USAGE))
def test_bad_usage_is_one_line_and_exit_2(case: str, tmp_path: Path) -> None:
    make, expected = BAD_USAGE[case]
    finished = run_cli(*make(tmp_path), env=SECRET, cwd=tmp_path)
    lines = finished.stderr.strip().splitlines()
    assert finished.returncode == 2, finished.stdout + finished.stderr
    assert len(lines) == 1 and lines[0].startswith("Error: "), finished.stderr
    assert expected in lines[0], lines[0]
    assert finished.stdout == ""
    assert not (tmp_path / "out").exists()


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their mode")
def test_an_unreadable_student_folder_is_named(tmp_path: Path) -> None:
    locked = tmp_path / "submissions" / "alice"
    locked.mkdir(parents=True)
    shutil.copy(SOLUTION, locked / "bidirectional_rnn.ipynb")
    locked.chmod(0)
    try:
        finished = run_cli("grade", str(tmp_path / "submissions"), "--out",
                           str(tmp_path / "out"), env=SECRET)
    finally:
        locked.chmod(0o755)
    assert finished.returncode == 2 and "cannot read" in finished.stderr
    assert str(locked) in finished.stderr


def test_help_marks_out_as_required_and_every_key_has_a_flag() -> None:
    grade_help = run_cli("grade", "--help").stdout
    check_help = run_cli("check", "--help").stdout
    out_help = grade_help.split("\n  --out PATH", 1)[1].split("\n  -", 1)[0]
    assert "[required unless --nbgrader]" in " ".join(out_help.split())
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for section in fields(Config):
        for key in fields(section.default_factory):
            flag = FLAGS[(section.name, key.name)]
            assert flag in grade_help and flag in check_help, flag
            assert f"| `[{section.name}] {key.name}` | `{flag}` |" in readme, flag


def test_flags_override_the_configuration(tmp_path: Path) -> None:
    (tmp_path / "grader.toml").write_text("[scoring]\npoints_per_case = 3.0\n")
    finished = run_cli("grade", str(SOLUTION), "--out", str(tmp_path / "out"), "--quiet",
                       "--points-per-case", "2", "--hidden-cases", "2",
                       "--kept-output-chars", "5", env=SECRET, cwd=tmp_path)
    assert finished.returncode == 0, finished.stderr
    graded = tmp_path / "out" / "solutions__bidirectional_rnn" / "results.json"
    results = json.loads(graded.read_text())
    assert (results["score"], results["max_score"], len(results["tests"])) == (4, 4, 2)
    kept, cut = results["extra_data"]["stdout"].split("\n", 1)
    assert len(kept) == 5 and "output cut here" in cut
