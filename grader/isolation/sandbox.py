"""Run a submission in isolation: one fresh child per submission, forked from a warm worker.

The grading process only ever exchanges framed JSON with the child (see wire.py): every read
has a deadline and a size cap, so no answer (or lack of one) can block or swell it. It learns
from the child's trusted supervisor what isolation the student process got, measured from
outside, and how it ended.
"""

from __future__ import annotations

import contextlib
import functools
import itertools
import multiprocessing
import multiprocessing.forkserver
import os
import shutil
import signal
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from grader.config import Limits
from grader.isolation import wire

TEMP_PREFIX = "rnn-grader-"
SIGNAL_STORIES = {
    signal.SIGSEGV: "crashed with a segmentation fault",
    signal.SIGABRT: "aborted",
    signal.SIGXFSZ: "wrote more output than the output limit allows",
    signal.SIGKILL: "was killed",
    signal.SIGBUS: "crashed with a bus error",
    signal.SIGFPE: "crashed with a floating-point exception",
}


ISOLATION_SECONDS = 60.0  # the supervisor's measurement arrives in milliseconds; a bound only
# Root gives each submission a uid of its own, from a range no real account uses.
UID_BASE, UID_RANGE = 2_000_000_000, 100_000_000
_serial = itertools.count()


class SandboxFailure(Exception):
    """The child did not answer: it timed out, died, or sent something malformed."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        # "timeout", "died", "output_limit", "protocol", "too_large", "isolation"
        self.kind = kind
        self.message = message


@dataclass
class Captured:
    """What the submission printed, cut to the kept length."""

    stdout: str = ""
    stderr: str = ""


WORKER_MODES = ("warm", "cold", "fork")


def worker_context(mode: str) -> multiprocessing.context.BaseContext:
    """Where each submission's child comes from.

    warm  a forkserver started from a clean environment and preloaded with torch and IPython:
          start-up is paid once per batch, and no child shares memory with this process
    cold  a fresh interpreter per submission (pays torch's import every time; for comparison)
    fork  a fork of this very process, torch already imported: only where this process holds
          nothing secret and no reference yet (`check` on public cases)
    """
    if mode == "fork":
        from grader.isolation import child  # import torch and IPython here, once, before forking

        child.warm_shell()

        return multiprocessing.get_context("fork")
    if mode == "cold":
        return multiprocessing.get_context("spawn")
    context = multiprocessing.get_context("forkserver")
    # Each child re-runs the `rnn-grader` script (multiprocessing's main fix-up; preloading
    # "__main__" does not work before Python 3.13): with grader.cli loaded that costs nothing.
    context.set_forkserver_preload(["grader.isolation.warm", "grader.cli"])
    # Start it now: it imports torch while this process prepares the references.
    multiprocessing.forkserver.ensure_running()
    return context


class Sandbox:
    """One submission's isolated child; use as a context manager."""

    def __init__(self, context: multiprocessing.context.BaseContext, limits: Limits,
                 protected_paths: tuple[str, ...] = (), allow_weak: bool = False) -> None:
        self.context = context
        self.limits = limits
        self.protected_paths = protected_paths
        self.allow_weak = allow_weak
        self.captured = Captured()
        self.isolation: dict[str, Any] | None = None
        self.ended: dict[str, int] | None = None
        self.grader_log = ""
        self.running_cell: int | None = None  # as the child last told it (a claim)
        self._killed_by_us = False

    def __enter__(self) -> Sandbox:
        _sweep_stale_folders()
        self.root = Path(tempfile.mkdtemp(prefix=f"{TEMP_PREFIX}{os.getpid()}-"))
        self.root.chmod(0o711)  # an unprivileged child may enter work/ but not list or read out/
        (self.root / "work").mkdir()
        (self.root / "out").mkdir(mode=0o700)
        self.conn, child_conn = self.context.Pipe(duplex=True)
        self.status, status_child = self.context.Pipe(duplex=False)
        os.set_blocking(self.conn.fileno(), False)
        os.set_blocking(self.status.fileno(), False)
        uid = UID_BASE + (os.getpid() * 1000 + next(_serial)) % UID_RANGE
        limits = dict(asdict(self.limits), protected_paths=list(self.protected_paths),
                      uid=uid, allow_weak=self.allow_weak)
        self.process = self.context.Process(
            target=_supervise, daemon=True,
            args=(child_conn, status_child, str(self.root / "work"), str(self.root / "out"),
                  limits))
        self.process.start()
        child_conn.close()
        status_child.close()
        return self

    def request(self, message: dict[str, Any], seconds: float) -> dict[str, Any]:
        """Send one request and wait at most `seconds` for its answer. While cells run, the
        child says which one is running (`running_cell`, for messages about limits)."""
        self.admitted()
        max_bytes = self.limits.max_elements * 8 * 3 + 1_000_000  # two tensors, base64, text
        deadline = time.monotonic() + seconds
        try:
            wire.send_frame(self.conn.fileno(), wire.dumps(message), deadline)
            while True:
                answer = self._answer(wire.receive_frame(self.conn.fileno(), max_bytes,
                                                         deadline))
                if set(answer) != {"running_cell"}:
                    return answer
                self.running_cell = answer["running_cell"]
        except wire.WireTimeout:
            self.stop()
            raise SandboxFailure("timeout", f"did not finish within {seconds:g} s") from None
        except wire.WireClosed:
            self.stop()
            raise self.death() from None
        except wire.WireTooLarge:
            self.stop()
            raise SandboxFailure("too_large", "sent back more data than the limit allows") from None

    def _answer(self, raw: bytes) -> dict[str, Any]:
        try:
            return wire.loads(raw)
        except wire.WireError as error:
            self.stop()
            raise SandboxFailure("protocol", f"sent back a malformed answer ({error})") from None

    def admitted(self) -> dict[str, Any]:
        """The supervisor's measurement of the walls, before any student code ran; raises
        when the student process was refused for a missing layer."""
        if self.isolation is None:
            self.isolation = (self._read_status(ISOLATION_SECONDS) or {}).get("isolation", {})
        if self.isolation.get("refused") or self.isolation.get("error") or not self.isolation:
            missing = ", ".join(self.isolation.get("refused", [])) or "unknown"
            raise SandboxFailure("isolation", "the sandbox could not be set up "
                                 f"(missing: {missing}); the instructor has the details")
        return self.isolation

    def _read_status(self, seconds: float) -> dict[str, Any] | None:
        """The supervisor's next report; None when none came in time (or it was unreadable)."""
        try:
            raw = wire.receive_frame(self.status.fileno(), 65536, time.monotonic() + seconds)
            return wire.loads(raw)
        except wire.WireError:
            return None

    def death(self) -> SandboxFailure:
        """Say how the child ended, from its supervisor's account."""
        self.wait_for_status(5.0)
        ended = self.ended or {}
        if "signal" in ended:
            number = ended["signal"]
            if number == signal.SIGXFSZ:
                return SandboxFailure("output_limit", SIGNAL_STORIES[number])
            story = SIGNAL_STORIES.get(number, f"was stopped by signal {number}")
            return SandboxFailure("died", f"the notebook's process {story}")
        code = ended.get("exit")
        if code is None:
            return SandboxFailure("died", "the notebook's process ended without a word")
        return SandboxFailure("died", f"the notebook's process exited with code {code} "
                              "(sys.exit, os._exit or a crash) before it answered")

    def wait_for_status(self, seconds: float) -> None:
        """Read the supervisor's reports still due: `ended` stays None until one arrives."""
        if self.isolation is None:
            first = self._read_status(seconds)
            if first is None:
                return
            self.isolation = first.get("isolation", {})
        if self.ended is None:
            self.ended = self._read_status(seconds)

    def stop(self) -> None:
        """Ask the supervisor to kill everything the submission started."""
        if self.process.is_alive():
            self._killed_by_us = True
            self.process.terminate()

    def __exit__(self, *exc_info: object) -> None:
        try:
            if self.process.is_alive() and not self._killed_by_us:
                with contextlib.suppress(wire.WireError):
                    wire.send_frame(self.conn.fileno(), wire.dumps({"op": "bye"}),
                                    time.monotonic() + 1.0)
            # The supervisor reports how the student ended only once everything the submission
            # started is gone; its own exit (milliseconds of unmapping) is not waited for here:
            # multiprocessing reaps it, and ends it with this process at the latest.
            self.wait_for_status(2.0)
            if self.ended is None:
                self._end_supervisor()
            self.captured = self._read_output()
            self.grader_log = self._read_file("grader.log", 8000)
        finally:
            self.conn.close()
            self.status.close()
            shutil.rmtree(self.root, ignore_errors=True)

    def _end_supervisor(self) -> None:
        """The supervisor did not report: end it (and so, through its PID namespace and its
        kill of everything it started, the student) the hard way."""
        for end in (self.process.terminate, self.process.kill):
            if not self.process.is_alive():
                break
            end()
            self.process.join(2.0)
        self.wait_for_status(0.5)

    def _read_output(self) -> Captured:
        keep = self.limits.kept_output_chars
        return Captured(self._read_file("stdout", keep), self._read_file("stderr", keep))

    def _read_file(self, name: str, keep: int) -> str:
        """At most `keep` characters of one of the child's output files."""
        try:
            with open(self.root / "out" / name, "rb") as stream:
                raw = stream.read(keep * 4 + 4)
                more = bool(stream.read(1))
        except OSError:
            return ""
        text = raw.decode("utf-8", errors="replace")
        if len(text) > keep or more:
            text = text[:keep] + "\n… (output cut here)"
        return text


@functools.cache
def _sweep_stale_folders() -> None:
    """Remove sandbox folders left by grading processes that were killed (once per process)."""
    for folder in Path(tempfile.gettempdir()).glob(f"{TEMP_PREFIX}*-*"):
        owner = folder.name.removeprefix(TEMP_PREFIX).split("-", 1)[0]
        if owner.isdigit() and not Path(f"/proc/{owner}").exists():
            shutil.rmtree(folder, ignore_errors=True)


def _supervise(conn, status, *args: Any) -> None:
    # Imported in the child only: the grading process never loads the student's side.
    from grader.isolation import child

    channel, status_fd = os.dup(conn.fileno()), os.dup(status.fileno())
    conn.close()
    status.close()
    child.supervise(channel, status_fd, *args)
