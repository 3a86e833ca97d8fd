"""End to end: grade the hostile corpus (tests/hostile.py) in one `grade` batch, as root.

One batch, each hostile submission followed by a correct one, two at a time, with short limits;
then: every submission's grade, the batch's wall time against its limits, no process left
behind, nothing but results in the output folder, no submission touched, the secret and the
hidden seeds written nowhere, and a rerun that skips (or, with --force, regrades).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import secrets
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

import hostile  # noqa: E402
from hostile import (  # noqa: E402
    BATCH_MARK,
    DETACHED_MARKERS,
    ENTRIES,
    FOLDERS,
    MAX_SCORE,
    TAMPER_MARK,
    HostileEntry,
)

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="the sandbox's private mounts need root")

JOBS = 2
NOTEBOOK_SECONDS, CALL_SECONDS, MEMORY_MB = 10, 3, 512
HIDDEN_CASES = 6
# Per submission, beyond the time its limits grant: starting its child, tearing it down
# (the sandbox waits up to 2 + 2 s for a supervisor, 5 s for a dead child's story), reports.
TEARDOWN_SECONDS = 10
STARTUP_SECONDS = 60  # the grading process and the warm worker importing torch
ALLOWED_SUFFIXES = (".html", ".csv", ".png")


def _limit_seconds(submissions: int) -> float:
    """The most a batch may take if every submission used all of its limits."""
    per_submission = NOTEBOOK_SECONDS + HIDDEN_CASES * CALL_SECONDS + TEARDOWN_SECONDS
    return STARTUP_SECONDS + submissions * per_submission / JOBS


@dataclass
class Batch:
    tmp: Path
    submissions: Path
    out: Path
    secret: str
    secret_file: Path
    command: list[str]
    env: dict[str, str]
    completed: subprocess.CompletedProcess[str]
    seconds: float
    survivors: dict[str, list[str]]  # marker -> `pgrep -a` lines found after the batch
    out_files: list[Path]  # every file under out/ right after the batch
    notebooks_before: dict[str, str]
    notebooks_after: dict[str, str]


def _marker_pattern(marker: str) -> str:
    return f"^{marker}$"


def _find(marker: str) -> list[str]:
    found = subprocess.run(["pgrep", "-a", "-f", _marker_pattern(marker)], capture_output=True,
                           text=True)
    return found.stdout.splitlines()


def _kill_found(lines: list[str]) -> None:
    """End processes this test's batch left behind, each by its id."""
    for line in lines:
        pid = int(line.split()[0])
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def _hashes(submissions: Path) -> dict[str, str]:
    return {str(path.relative_to(submissions)): hashlib.sha256(path.read_bytes()).hexdigest()
            for path in sorted(submissions.rglob("*")) if path.is_file()}


def _run(command: list[str], env: dict[str, str], cwd: Path,
         timeout: float) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=timeout)


@pytest.fixture(scope="module")
def batch(tmp_path_factory: pytest.TempPathFactory) -> Batch:
    """Build every entry, grade them all in one batch; record what the batch left behind."""
    before = {marker: _find(marker) for marker in DETACHED_MARKERS}
    tmp = tmp_path_factory.mktemp(BATCH_MARK)
    submissions = tmp / "submissions"
    for entry in ENTRIES:
        hostile.build_notebook(entry, submissions / FOLDERS[entry.name])
    secret = f"hostile-secret-{secrets.token_hex(12)}"
    secret_file = tmp / "instructor" / "grading-secret.txt"
    secret_file.parent.mkdir(mode=0o700)
    secret_file.write_text(secret + "\n")
    out = tmp / "out"
    env = {**os.environ, "RNN_GRADER_SECRET": secret}  # conftest set Jupyter dirs, PATH
    command = [sys.executable, "-m", "grader", "grade", str(submissions), "--out", str(out),
               "-j", str(JOBS), "--quiet", "--notebook-timeout", str(NOTEBOOK_SECONDS),
               "--call-timeout", str(CALL_SECONDS), "--memory-mb", str(MEMORY_MB),
               "--secret-file", str(secret_file)]
    notebooks_before = _hashes(submissions)
    started = time.monotonic()
    try:
        completed = _run(command, env, tmp, _limit_seconds(len(ENTRIES)) + 120)
    finally:
        seconds = time.monotonic() - started
        survivors = {}
        for marker in DETACHED_MARKERS:
            lines = [line for line in _find(marker) if line not in before[marker]]
            survivors[marker] = lines
            _kill_found(lines)
    return Batch(tmp, submissions, out, secret, secret_file, command, env, completed, seconds,
                 survivors, sorted(p for p in out.rglob("*") if p.is_file()),
                 notebooks_before, _hashes(submissions))


def _results(batch: Batch, name: str) -> dict:
    path = batch.out / FOLDERS[name] / "results.json"
    assert path.is_file(), f"no results.json for {name}"
    return json.loads(path.read_text(encoding="utf-8"))


def _text(results: dict) -> str:
    return "\n".join([results.get("output", "")]
                     + [test.get("output", "") for test in results.get("tests", [])])


def test_batch_finishes_with_exit_status_0(batch: Batch) -> None:
    assert batch.completed.returncode == 0, (
        f"exit {batch.completed.returncode}\nstdout:\n{batch.completed.stdout}\n"
        f"stderr:\n{batch.completed.stderr[-4000:]}")


def _entry_param(entry: HostileEntry):
    marks = [pytest.mark.xfail(strict=True, reason=entry.known_issue)] if entry.known_issue \
        else []
    return pytest.param(entry, id=entry.name, marks=marks)


@pytest.mark.parametrize("entry", [_entry_param(entry) for entry in ENTRIES])
def test_entry_gets_its_grade(batch: Batch, entry: HostileEntry) -> None:
    results = _results(batch, entry.name)
    text = _text(results)
    status = results["extra_data"]["status"]
    review = results["extra_data"].get("review", [])
    got = (f"score {results['score']}, status {status}\n--- feedback ---\n{text}\n"
           f"--- review ---\n" + "\n".join(review))
    if entry.score is None:
        assert results["score"] < MAX_SCORE, got
    else:
        assert results["score"] == entry.score, got
    assert status == entry.status, got
    for piece in entry.feedback:
        assert piece in text, f"{piece!r} missing\n{got}"
    for piece in entry.review:
        assert any(piece in finding for finding in review), f"review {piece!r} missing\n{got}"
    if not entry.review:
        assert review == [], f"no review expected\n{got}"


def test_batch_stays_within_the_sum_of_its_limits(batch: Batch) -> None:
    limit = _limit_seconds(len(ENTRIES))
    print(f"batch of {len(ENTRIES)} submissions: {batch.seconds:.1f} s (limits allow {limit:.0f})")
    assert batch.seconds <= limit, f"the batch took {batch.seconds:.0f} s, limits allow {limit:.0f}"


def test_no_detached_process_survives_the_batch(batch: Batch) -> None:
    left = {marker: lines for marker, lines in batch.survivors.items() if lines}
    assert not left, f"still running after the batch (killed by the test since): {left}"


def test_out_folder_holds_only_results(batch: Batch) -> None:
    unexpected = []
    for path in batch.out_files:
        relative = path.relative_to(batch.out)
        if relative.parts in (("summary.csv",),):
            continue
        if len(relative.parts) == 2 and relative.name == "results.json":
            continue
        if path.suffix in ALLOWED_SUFFIXES and TAMPER_MARK not in path.name:
            continue
        unexpected.append(str(relative))
    assert not unexpected, f"unexpected files in the output folder: {unexpected}"
    graded = {path.parent.name for path in batch.out_files if path.name == "results.json"}
    assert graded == set(FOLDERS.values())


def test_submissions_and_temporary_folders_untouched(batch: Batch) -> None:
    assert batch.notebooks_after == batch.notebooks_before
    marked = [str(path) for path in batch.tmp.rglob(f"*{TAMPER_MARK}*")]
    marked += [str(path) for path in Path("/tmp").glob(f"*{TAMPER_MARK}*")]
    marked += [str(path) for path in Path("/").glob(f"*{TAMPER_MARK}*")]
    assert not marked, f"files written by submissions outside their sandbox: {marked}"


def test_secret_and_hidden_seeds_are_written_nowhere(batch: Batch) -> None:
    from grader.cases import hidden_cases
    from grader.exercises import EXERCISE

    seeds = [case.seed for case in hidden_cases(EXERCISE, batch.secret.encode(), HIDDEN_CASES)]
    needles = {"the secret": batch.secret.encode()}
    for number, seed in enumerate(seeds, start=1):
        needles[f"case {number}'s seed"] = str(seed).encode()
        needles[f"case {number}'s seed in hex"] = f"{seed:x}".encode()
    leaks = []
    for path in batch.out_files:
        content = path.read_bytes()
        leaks += [f"{what} in {path.relative_to(batch.out)}" for what, needle in needles.items()
                  if needle in content]
    printed = (batch.completed.stdout + batch.completed.stderr).encode()
    leaks += [f"{what} on the grader's own output" for what, needle in needles.items()
              if needle in printed]
    assert not leaks, "\n".join(leaks)


def test_rerun_grades_nothing(batch: Batch) -> None:
    results = sorted(batch.out.glob("*/results.json"))
    stamps = {path: path.stat().st_mtime_ns for path in results}
    started = time.monotonic()
    rerun = _run(batch.command, batch.env, batch.tmp, 300)
    assert rerun.returncode == 0, rerun.stderr
    assert f"{len(ENTRIES)} already graded" in rerun.stderr, rerun.stderr
    assert "0 to grade" in rerun.stderr, rerun.stderr
    assert {path: path.stat().st_mtime_ns for path in results} == stamps
    assert time.monotonic() - started < STARTUP_SECONDS


def test_force_regrades(batch: Batch) -> None:
    subset = batch.tmp / "subset"
    names = ("nan_result", "correct_after_nan_result")
    for name in names:
        hostile.build_notebook(hostile.BY_NAME[name], subset / FOLDERS[name])
    command = [batch.command[0], "-m", "grader", "grade", str(subset),
               *batch.command[batch.command.index("--out"):]]
    skipped = _run(command, batch.env, batch.tmp, 300)
    assert skipped.returncode == 0 and "2 already graded" in skipped.stderr, skipped.stderr
    stamps = {name: (batch.out / FOLDERS[name] / "results.json").stat().st_mtime_ns
              for name in names}
    forced = _run(command + ["--force"], batch.env, batch.tmp, 300)
    assert forced.returncode == 0, forced.stderr
    assert "already graded" not in forced.stderr, forced.stderr
    for name in names:
        path = batch.out / FOLDERS[name] / "results.json"
        assert path.stat().st_mtime_ns > stamps[name], f"{name} was not regraded"
        assert _results(batch, name)["score"] == hostile.BY_NAME[name].score
