"""A batch on deadline night, driven through `rnn-grader grade` as an instructor runs it:
stable names, this batch only, no stale scores, several notebooks in one folder, Ctrl+C."""

from __future__ import annotations

import csv
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import nbformat

from tests.conftest import ASSIGNMENT, SOLUTION, TEST_SECRET, processes_named, run_cli

OTHER_SECRET = "another-secret-for-hidden-cases"


def _grade(*args: str, secret: str = TEST_SECRET) -> subprocess.CompletedProcess[str]:
    finished = run_cli("grade", *args, "-j", "2", env={"RNN_GRADER_SECRET": secret})
    assert finished.returncode == 0, finished.stderr
    assert "Traceback" not in finished.stderr
    return finished


def _summary(out: Path) -> list[dict[str, str]]:
    with (out / "summary.csv").open(encoding="utf-8", newline="") as stream:
        return list(csv.DictReader(stream))


def _results(out: Path, name: str) -> dict:
    return json.loads((out / name / "results.json").read_text(encoding="utf-8"))


def _stamps(out: Path) -> dict[str, int]:
    return {path.parent.name: path.stat().st_mtime_ns for path in out.glob("*/results.json")}


def _class(submissions: Path, count: int) -> None:
    """student01.. with the assignment's notebook: every third one solved, the rest the stub."""
    for number in range(1, count + 1):
        folder = submissions / f"student{number:02d}"
        folder.mkdir(parents=True)
        shutil.copy(SOLUTION if number % 3 == 1 else ASSIGNMENT,
                    folder / "bidirectional_rnn.ipynb")


def test_a_thirteenth_student_renames_no_one_and_new_settings_regrade_everyone(
        tmp_path: Path) -> None:
    submissions, out = tmp_path / "submissions", tmp_path / "graded"
    _class(submissions, 12)
    first = _grade(str(submissions), "--out", str(out))
    assert "12 to grade: 12 not graded yet." in first.stderr
    twelve = {f"student{number:02d}" for number in range(1, 13)}
    assert set(_stamps(out)) == twelve
    assert len(_summary(out)) == 12

    # A 13th student with an oddly named notebook, one student resubmits, and a result left
    # by an older run (another name) lies in the output folder.
    (submissions / "student13").mkdir()
    shutil.copy(SOLUTION, submissions / "student13" / "bidirectional_rnn (1).ipynb")
    shutil.copy(SOLUTION, submissions / "student02" / "bidirectional_rnn.ipynb")
    (out / "student01__bidirectional_rnn").mkdir()
    shutil.copy(out / "student01" / "results.json", out / "student01__bidirectional_rnn")
    before = _stamps(out)
    second = _grade(str(submissions), "--out", str(out))
    assert "11 already graded, kept" in second.stderr
    assert "2 to grade: 1 not graded yet, 1 notebook changed." in second.stderr
    assert "1 result(s)" in second.stderr and "student01__bidirectional_rnn" in second.stderr
    after = _stamps(out)
    assert {name for name in twelve if after[name] != before[name]} == {"student02"}
    rows = _summary(out)
    assert [row["submission"] for row in rows] == sorted(twelve | {"student13"})
    scores = {row["submission"]: float(row["score"]) for row in rows}
    assert scores["student13"] == scores["student02"] == scores["student01"] == 24
    assert scores["student03"] == 0

    # Another secret: every score is stale, and the run says why.
    third = _grade(str(submissions), "--out", str(out), secret=OTHER_SECRET)
    assert "13 to grade: 13 graded with another secret." in third.stderr
    assert "already graded" not in third.stderr
    assert _results(out, "student01")["extra_data"]["secret_id"] != \
        json.loads((out / "student01__bidirectional_rnn" / "results.json").read_text()
                   )["extra_data"].get("secret_id")

    # Other points per case: the same.
    fourth = _grade(str(submissions), "--out", str(out), "--points-per-case", "2",
                    secret=OTHER_SECRET)
    assert "13 to grade: 13 graded with other settings (grader.toml or flags)." in fourth.stderr
    assert {row["max_score"] for row in _summary(out)} == {"12.0"}
    fifth = _grade(str(submissions), "--out", str(out), "--points-per-case", "2",
                   secret=OTHER_SECRET)
    assert "13 already graded, kept" in fifth.stderr and "0 to grade." in fifth.stderr

    # One student's folder graded later keeps its name; the summary is that batch's only.
    one = _grade(str(submissions / "student05"), "--out", str(out), "--points-per-case", "2",
                 secret=OTHER_SECRET)
    assert "1 already graded, kept" in one.stderr
    assert [row["submission"] for row in _summary(out)] == ["student05"]
    assert "13 result(s)" in one.stderr and "not counted" in one.stderr

    written = "".join(path.read_text(errors="replace") for path in out.rglob("*")
                      if path.is_file())
    assert TEST_SECRET not in written and OTHER_SECRET not in written


def test_several_notebooks_in_a_folder_and_flat_folders(tmp_path: Path) -> None:
    folders, flat, out = tmp_path / "submissions", tmp_path / "flat", tmp_path / "graded"
    for folder in ("alice", "bob", "carol/work", ):
        (folders / folder).mkdir(parents=True)
    shutil.copy(SOLUTION, folders / "alice" / "bidirectional_rnn.ipynb")
    shutil.copy(ASSIGNMENT, folders / "alice" / "scratch.ipynb")
    shutil.copy(SOLUTION, folders / "bob" / "first try.ipynb")
    shutil.copy(SOLUTION, folders / "bob" / "second try.ipynb")
    shutil.copy(SOLUTION, folders / "carol" / "work" / "bidirectional_rnn-Copy1.ipynb")
    flat.mkdir()
    shutil.copy(SOLUTION, flat / "dave.ipynb")
    shutil.copy(ASSIGNMENT, flat / "erin.ipynb")

    finished = _grade(str(folders), str(flat), "--out", str(out))
    assert "alice: grading bidirectional_rnn.ipynb; also there, not graded: scratch.ipynb" \
        in finished.stderr
    assert "bob: several notebooks" in finished.stderr
    scores = {row["submission"]: (float(row["score"]), row["status"]) for row in _summary(out)}
    assert scores == {"alice": (24, "graded"), "bob": (0, "several_notebooks"),
                      "carol": (24, "graded"), "dave": (24, "graded"),
                      "erin": (0, "not_implemented")}
    assert "scratch.ipynb" in _results(out, "alice")["output"]
    bob = _results(out, "bob")["output"]
    assert "first try.ipynb, second try.ipynb" in bob
    assert "Submit only bidirectional_rnn.ipynb" in bob

    # bob keeps one notebook: graded now; nobody else is.
    (folders / "bob" / "second try.ipynb").unlink()
    again = _grade(str(folders), str(flat), "--out", str(out))
    assert "4 already graded" in again.stderr and "1 to grade: 1 notebook changed." in again.stderr
    assert _results(out, "bob")["score"] == 24


def _hung_notebook(path: Path, marker: str) -> None:
    """A notebook whose first cell names its process `marker` and sleeps for an hour."""
    notebook = nbformat.read(SOLUTION, as_version=4)
    notebook.cells.insert(0, nbformat.v4.new_code_cell(
        f"import ctypes, time\nctypes.CDLL(None).prctl(15, b'{marker}', 0, 0, 0)\n"
        "time.sleep(3600)"))
    path.parent.mkdir(parents=True)
    nbformat.write(notebook, str(path))


def _wait_for(condition, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return False


def test_ctrl_c_ends_the_hung_child_at_once_and_writes_what_finished(tmp_path: Path) -> None:
    submissions, out = tmp_path / "submissions", tmp_path / "graded"
    marker = f"hung{os.getpid() % 100000}"
    (submissions / "a_done").mkdir(parents=True)
    shutil.copy(SOLUTION, submissions / "a_done" / "bidirectional_rnn.ipynb")
    _hung_notebook(submissions / "b_hung" / "bidirectional_rnn.ipynb", marker)
    shutil.copytree(submissions / "a_done", submissions / "c_waiting")
    command = [sys.executable, "-m", "grader", "grade", str(submissions), "--out", str(out),
               "-j", "1"]
    grader = subprocess.Popen(command, env={**os.environ, "RNN_GRADER_SECRET": TEST_SECRET},
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert _wait_for(lambda: processes_named(marker), 120), "the hung notebook never ran"
        assert (out / "a_done" / "results.json").is_file()
        interrupted = time.monotonic()
        grader.send_signal(signal.SIGINT)
        assert _wait_for(lambda: not processes_named(marker), 2.0), \
            "the hung notebook's process outlived Ctrl+C by 2 s"
        stdout, stderr = grader.communicate(timeout=30)
        seconds = time.monotonic() - interrupted
    finally:
        if grader.poll() is None:
            grader.kill()
            grader.wait()
        for pid in processes_named(marker):
            os.kill(pid, signal.SIGKILL)
    assert grader.returncode == 130, stderr
    assert seconds < 10, f"exit {seconds:.1f} s after Ctrl+C"
    assert "Traceback" not in stderr and "Aborted" not in stderr
    assert "run the same command again" in stderr
    assert [row["submission"] for row in _summary(out)] == ["a_done"]
    assert not (out / "b_hung" / "results.json").exists()
    assert "mean" in stdout  # the printed summary of what finished
