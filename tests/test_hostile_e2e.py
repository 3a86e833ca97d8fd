"""End to end: grade the hostile corpus (tests/hostile.py, hostile_walls.py) in one `grade`
batch as root, and again as an ordinary user (tests/unprivileged.py).

One batch each, each hostile submission followed by a correct one, two at a time, with short
limits; then: every submission's grade, the batch's wall time against its limits, no process
left behind, nothing but results in the output folder, no submission, host file or Python
installation touched, the grader's terminal not flooded, every required wall measured around
every submission, the secret and the hidden seeds written nowhere, and a rerun that skips
(or, with --force, regrades).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import sysconfig
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

import hostile  # noqa: E402
import unprivileged  # noqa: E402
from hostile import (  # noqa: E402
    BATCH_MARK,
    DETACHED_MARKERS,
    ENTRIES,
    FOLDERS,
    MAX_SCORE,
    TAMPER_MARK,
    HostileEntry,
)
from hostile_walls import PTH_NAME, SHM_CANARY  # noqa: E402

from grader.isolation.layers import REQUIRED  # noqa: E402
from tests.conftest import visible_text  # noqa: E402

JOBS = 2
NOTEBOOK_SECONDS, CALL_SECONDS, MEMORY_MB = 10, 3, 512
HIDDEN_CASES = 6
# Per submission, beyond the time its limits grant: starting its child, tearing it down
# (the sandbox waits up to 2 + 2 s for a student process to end, 5 s for a dead one's
# story), reports.
TEARDOWN_SECONDS = 10
STARTUP_SECONDS = 60  # the grading process and the warm worker importing torch
ALLOWED_SUFFIXES = (".html", ".csv", ".png")
GRADER_OUTPUT_BYTES = 200_000  # the grader's own terminal output for the whole batch, at most


def _limit_seconds(submissions: int) -> float:
    """The most a batch may take if every submission used all of its limits."""
    per_submission = NOTEBOOK_SECONDS + HIDDEN_CASES * CALL_SECONDS + TEARDOWN_SECONDS
    return STARTUP_SECONDS + submissions * per_submission / JOBS


@dataclass
class Batch:
    user: str  # "root" or "ordinary user"
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
    host_before: dict[str, bytes | None]
    host_after: dict[str, bytes | None]


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


def _as(user: str, command: list[str], tmp: Path) -> list[str]:
    """The command as `user` runs it: as the ordinary user, everything under tmp is theirs."""
    if user == "root" or os.geteuid() != 0:
        return command
    unprivileged.give_to_user(tmp)
    (tmp / "instructor").chmod(0o700)
    return unprivileged.command_as_user(command, tmp)


def _host_files() -> dict[str, bytes | None]:
    """Files of the instructor's machine that entries try to change, and their contents."""
    import numpy

    paths = [SHM_CANARY, numpy.__file__, "/root/.bashrc",
             *(str(Path(folder) / PTH_NAME) for folder in (sysconfig.get_paths()["purelib"],
                                                           os.path.dirname(os.__file__)))]
    contents = {}
    for path in paths:
        try:
            contents[path] = Path(path).read_bytes()
        except OSError:
            contents[path] = None
    return contents


@pytest.fixture(scope="module", params=["root", "ordinary user"])
def batch(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Batch:
    """Build every entry, grade them all in one batch; record what the batch left behind."""
    user = request.param
    if user == "root" and os.geteuid() != 0:
        pytest.skip("run the suite as root to grade as root too")
    before = {marker: _find(marker) for marker in DETACHED_MARKERS}
    Path(SHM_CANARY).write_text("canary")
    Path(SHM_CANARY).chmod(0o666)
    host_before = _host_files()
    if user == "root" or os.geteuid() != 0:
        tmp = tmp_path_factory.mktemp(BATCH_MARK)
    else:  # pytest's own temporary folders are closed to other users
        tmp = Path(tempfile.mkdtemp(prefix=f"{BATCH_MARK}-user-"))
        request.addfinalizer(lambda: shutil.rmtree(tmp, ignore_errors=True))
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
        completed = _run(_as(user, command, tmp), env, tmp, _limit_seconds(len(ENTRIES)) + 120)
    finally:
        seconds = time.monotonic() - started
        survivors = {}
        for marker in DETACHED_MARKERS:
            lines = [line for line in _find(marker) if line not in before[marker]]
            survivors[marker] = lines
            _kill_found(lines)
    host_after = _host_files()
    Path(SHM_CANARY).unlink(missing_ok=True)
    return Batch(user, tmp, submissions, out, secret, secret_file, command, env, completed,
                 seconds, survivors, sorted(p for p in out.rglob("*") if p.is_file()),
                 notebooks_before, _hashes(submissions), host_before, host_after)


def _results(batch: Batch, name: str) -> dict:
    path = batch.out / FOLDERS[name] / "results.json"
    assert path.is_file(), f"no results.json for {name}"
    return json.loads(path.read_text(encoding="utf-8"))


def _text(results: dict) -> str:
    return visible_text(results)


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
    """Neither the secret, nor a case's seed key, nor any submission's input seeds."""
    from grader.checking.cases import hidden_cases
    from grader.exercises import EXERCISE

    cases = hidden_cases(EXERCISE, batch.secret.encode(), HIDDEN_CASES)
    needles = {"the secret": batch.secret.encode()}
    digests = {json.loads(path.read_text())["extra_data"]["notebook_sha256"]
               for path in batch.out.glob("*/results.json")} - {""}
    for case in cases:
        assert case.seed_key is not None
        needles[f"case {case.number}'s seed key"] = case.seed_key
        needles[f"case {case.number}'s seed key in hex"] = case.seed_key.hex().encode()
        for digest in digests:
            seed = case.input_seed(digest)
            needles[f"case {case.number}'s seed for {digest[:8]}"] = str(seed).encode()
            needles[f"case {case.number}'s seed for {digest[:8]} in hex"] = f"{seed:x}".encode()
    leaks = []
    for path in batch.out_files:
        content = path.read_bytes()
        leaks += [f"{what} in {path.relative_to(batch.out)}" for what, needle in needles.items()
                  if needle in content]
    printed = (batch.completed.stdout + batch.completed.stderr).encode()
    leaks += [f"{what} on the grader's own output" for what, needle in needles.items()
              if needle in printed]
    assert not leaks, "\n".join(leaks)


def test_host_files_and_python_installation_untouched(batch: Batch) -> None:
    changed = [path for path, content in batch.host_before.items()
               if batch.host_after[path] != content]
    assert not changed, f"changed by submissions: {changed}"


def test_grader_terminal_is_not_flooded(batch: Batch) -> None:
    printed = batch.completed.stdout + batch.completed.stderr
    assert len(printed) < GRADER_OUTPUT_BYTES, f"{len(printed)} characters printed"
    assert "TERMINAL FLOOD" not in printed and "\x1b[2J" not in printed


def test_every_submission_ran_behind_every_required_wall(batch: Batch) -> None:
    for folder in FOLDERS.values():
        results = json.loads((batch.out / folder / "results.json").read_text())
        measured = results["extra_data"]["isolation"]
        assert all(measured.get(layer) for layer in REQUIRED), (folder, measured)
        assert measured["network_namespace"] and measured["pid_namespace"], (folder, measured)
        if batch.user == "root":
            assert measured["own_uid"], (folder, measured)


def test_rerun_grades_nothing(batch: Batch) -> None:
    results = sorted(batch.out.glob("*/results.json"))
    stamps = {path: path.stat().st_mtime_ns for path in results}
    started = time.monotonic()
    rerun = _run(_as(batch.user, batch.command, batch.tmp), batch.env, batch.tmp, 300)
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
    skipped = _run(_as(batch.user, command, batch.tmp), batch.env, batch.tmp, 300)
    assert skipped.returncode == 0 and "2 already graded" in skipped.stderr, skipped.stderr
    stamps = {name: (batch.out / FOLDERS[name] / "results.json").stat().st_mtime_ns
              for name in names}
    forced = _run(_as(batch.user, command + ["--force"], batch.tmp), batch.env, batch.tmp, 300)
    assert forced.returncode == 0, forced.stderr
    assert "already graded" not in forced.stderr, forced.stderr
    for name in names:
        path = batch.out / FOLDERS[name] / "results.json"
        assert path.stat().st_mtime_ns > stamps[name], f"{name} was not regraded"
        assert _results(batch, name)["score"] == hostile.BY_NAME[name].score
