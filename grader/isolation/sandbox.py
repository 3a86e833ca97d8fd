"""Run a submission in isolation: one fresh student process per submission, from a worker.

The grading process only ever exchanges framed JSON with the student process (see wire.py):
every read has a deadline and a size cap, so no answer (or lack of one) can block or swell it.
It measures the student process's walls itself, from /proc, before letting its code start
(layers.py); it learns from the worker how the student process ended, and kills it through a
pidfd when it must.
"""

from __future__ import annotations

import contextlib
import functools
import itertools
import json
import os
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import weakref
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from grader.config import Limits
from grader.isolation import layers, wire

TEMP_PREFIX = "rnn-grader-"
SIGNAL_STORIES = {
    signal.SIGSEGV: "crashed with a segmentation fault",
    signal.SIGABRT: "aborted",
    signal.SIGXFSZ: "wrote more output than the output limit allows",
    signal.SIGKILL: "was killed",
    signal.SIGBUS: "crashed with a bus error",
    signal.SIGFPE: "crashed with a floating-point exception",
}


# Root gives each submission a uid of its own, from a range no real account uses.
UID_BASE, UID_RANGE = 2_000_000_000, 100_000_000
_serial = itertools.count()


class SandboxFailure(Exception):
    """The student process did not answer: it timed out, died, or sent something malformed;
    or it could not be started or measured ("isolation")."""

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
STUDENT_FDS = 6  # stdin, stdout, stderr, the channel, the grader log, the go-ahead pipe
READY_SECONDS = 30.0  # confinement is milliseconds; this only bounds a wedged start
WORKER_SECONDS = 60.0  # a worker answers in milliseconds once it has preloaded
PRELOAD_SECONDS = 600.0  # importing torch: seconds, or minutes on a loaded machine


def worker_context(mode: str) -> Workers:
    """Where each submission's student process comes from.

    warm  one worker per batch, a fresh interpreter started from a clean environment and
          preloaded with torch and IPython: start-up is paid once, and no student process
          shares memory with this process
    cold  a fresh worker per submission (pays torch's import every time; for comparison)
    fork  one worker forked from this very process, torch already imported: only where this
          process holds nothing secret and no reference yet (`check` on public cases)
    """
    if mode not in WORKER_MODES:
        raise ValueError(f"unknown worker mode {mode!r}")
    return Workers(mode)


class Workers:
    """The worker(s) student processes are forked from (worker.py), seen from this process."""

    def __init__(self, mode: str) -> None:
        self.mode = mode
        self._lock = threading.Lock()
        self._started_lock = threading.Lock()  # end_students runs while threads start more
        self._started: weakref.WeakSet[StudentProcess] = weakref.WeakSet()
        self._worker: _Worker | None = None
        if mode == "fork":
            from grader.isolation import child  # torch and IPython, once, before forking

            child.warm_shell()
        if mode != "cold":
            self._worker = self._new_worker()  # it imports torch while references are prepared

    def start_student(self, request: dict[str, Any], fds: list[int]) -> StudentProcess:
        """Have a worker fork one student process with these descriptors (the result channel,
        the ready and go-ahead pipes' student ends, the status pipe's write end)."""
        if self.mode == "cold":
            worker = self._new_worker()
            try:
                student = worker.start_student(request, fds)
            finally:
                worker.close()  # it exits once its only student process has
        else:
            with self._lock:
                if self._worker is None or not self._worker.alive():
                    self._worker = self._new_worker()
                student = self._worker.start_student(request, fds)
        with self._started_lock:
            self._started.add(student)
        return student

    def end_students(self) -> None:
        """Kill every student process started so far and not yet closed (Ctrl+C)."""
        with self._started_lock:
            students = list(self._started)
        for student in students:
            student.kill()

    def _new_worker(self) -> _Worker:
        # Only a batch's worker pays for the warm-up: it serves many submissions. A cold one
        # serves one; a forked one (check) serves one and has torch and IPython already.
        preload = "grader.isolation.warm" if self.mode == "warm" else "grader.isolation.child"
        return _Worker(preload, fork=self.mode == "fork")

    def close(self) -> None:
        if self._worker is not None:
            self._worker.close()


class _Worker:
    """One worker process and its control socket (requests are answered one at a time)."""

    def __init__(self, preload: str, fork: bool) -> None:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self.control = ours
        self.process: subprocess.Popen[bytes] | None = None
        self.pid = 0
        self.preloaded = False
        self.requests = itertools.count()
        if fork:
            self.pid = os.fork()
            if self.pid == 0:
                try:
                    from grader.isolation import worker

                    ours.close()
                    worker.run(theirs.detach(), preload)
                finally:
                    os._exit(70)  # never back into the grading code it was forked from
        else:
            command = [sys.executable, *subprocess._args_from_interpreter_flags(), "-c",
                       "from grader.isolation.worker import main; main()",
                       "--control", str(theirs.fileno()), "--preload", preload,
                       "--sys-path", json.dumps(sys.path)]
            # Its own session: Ctrl+C reaches this process, which ends the batch in order.
            # Started in / : `python -c` imports from its working folder first.
            self.process = subprocess.Popen(command, pass_fds=[theirs.fileno()], cwd="/",
                                            start_new_session=True)
            self.pid = self.process.pid
        theirs.close()

    def start_student(self, request: dict[str, Any], fds: list[int]) -> StudentProcess:
        """One request, one answer. Requests are numbered: the late answer to one that timed
        out is recognised by the next request (and the student it started is killed)."""
        number = str(next(self.requests))
        # The request travels in a file of its own: a datagram could not hold, say, the
        # thousands of protected paths a batch given as notebook files has.
        body = os.memfd_create("rnn-grader-request", os.MFD_CLOEXEC)
        try:
            self._wait_preloaded()
            os.write(body, json.dumps(request).encode())
            self.control.settimeout(WORKER_SECONDS)
            socket.send_fds(self.control, [number.encode()], [*fds, body])
            answer, pidfd = self._answer_to(number)
        except (OSError, ValueError) as error:
            raise SandboxFailure("isolation", "the sandbox could not be set up (the worker "
                                 f"did not answer: {error})") from None
        finally:
            os.close(body)
        if pidfd is None:
            reason = answer.get("error", "the worker has ended")
            raise SandboxFailure("isolation", f"the sandbox could not be set up ({reason})")
        try:
            return StudentProcess(pidfd)
        except BaseException:
            _kill_and_close(pidfd)
            raise

    def _wait_preloaded(self) -> None:
        if not self.preloaded:
            self.control.settimeout(PRELOAD_SECONDS)
            data, received, _, _ = socket.recv_fds(self.control, 64, 1)
            for fd in received:
                os.close(fd)
            if json.loads(data or b"{}") != {"preloaded": True}:
                raise OSError("the worker ended before it was ready (see its errors above)")
            self.preloaded = True

    def _answer_to(self, number: str) -> tuple[dict[str, Any], int | None]:
        """The answer with this number, and the pidfd it carries; answers to earlier requests
        (given up on) are dropped, their students killed."""
        while True:
            data, received, _, _ = socket.recv_fds(self.control, 65536, 1)
            if not data:
                return {}, None  # the worker has ended
            answer = json.loads(data)
            pidfd = received[0] if received else None
            if answer.get("request") == number:
                return answer, pidfd
            if pidfd is not None:
                _kill_and_close(pidfd)

    def alive(self) -> bool:
        if self.process is not None:
            return self.process.poll() is None
        with contextlib.suppress(ChildProcessError):
            return os.waitpid(self.pid, os.WNOHANG)[0] == 0
        return False

    def close(self) -> None:
        """Close the control socket: the worker exits once its student processes have."""
        self.control.close()


class StudentProcess:
    """A student process, held by a pidfd: signals never reach a reused PID."""

    def __init__(self, pidfd: int) -> None:
        self.pidfd = pidfd
        self.pid = _pid_of(pidfd)

    def kill(self) -> None:
        with contextlib.suppress(OSError):
            signal.pidfd_send_signal(self.pidfd, signal.SIGKILL)

    def alive(self) -> bool:
        poller = select.poll()
        poller.register(self.pidfd, select.POLLIN)
        return not poller.poll(0)  # a pidfd becomes readable when its process exits

    def close(self) -> None:
        if self.pidfd >= 0:
            os.close(self.pidfd)
            self.pidfd = -1


def _kill_and_close(pidfd: int) -> None:
    with contextlib.suppress(OSError):
        signal.pidfd_send_signal(pidfd, signal.SIGKILL)
    os.close(pidfd)


def _pid_of(pidfd: int) -> int:
    """The process's PID as this process sees it (the worker lives in another namespace)."""
    with open(f"/proc/self/fdinfo/{pidfd}") as info:
        for line in info:
            if line.startswith("Pid:"):
                return int(line.split()[1])
    raise SandboxFailure("isolation", "the sandbox could not be set up (no pidfd support)")


class Sandbox:
    """One submission's isolated student process; use as a context manager."""

    def __init__(self, context: Workers, limits: Limits,
                 protected_paths: tuple[str, ...] = (), allow_weak: bool = False) -> None:
        self.context = context
        self.limits = limits
        self.protected_paths = protected_paths
        self.allow_weak = allow_weak
        self.captured = Captured()
        self.isolation: dict[str, Any] | None = None
        self.ended: dict[str, int] | None = None
        self.grader_log = ""
        self.running_cell: int | None = None  # as the student process last told it (a claim)
        self._killed_by_us = False

    def __enter__(self) -> Sandbox:
        _sweep_stale_folders()
        self.root = Path(tempfile.mkdtemp(prefix=f"{TEMP_PREFIX}{os.getpid()}-"))
        self.root.chmod(0o711)  # an unprivileged child may enter work/ but not list or read out/
        (self.root / "work").mkdir()
        (self.root / "out").mkdir(mode=0o700)
        self.conn, child_channel = socket.socketpair()
        self.ready_r, ready_w = os.pipe()
        go_r, self.go_w = os.pipe()
        self.status_r, status_w = os.pipe()
        for fd in (self.conn.fileno(), self.ready_r, self.status_r):
            os.set_blocking(fd, False)
        uid = UID_BASE + (os.getpid() * 1000 + next(_serial)) % UID_RANGE
        limits = dict(asdict(self.limits), protected_paths=list(self.protected_paths),
                      uid=uid, allow_weak=self.allow_weak)
        request = {"workdir": str(self.root / "work"), "outdir": str(self.root / "out"),
                   "limits": limits}
        try:
            self.student: StudentProcess | None = self.context.start_student(
                request, [child_channel.fileno(), ready_w, go_r, status_w])
        except SandboxFailure as failure:
            self.student = None
            self.isolation = {"error": failure.message}
        except Exception as error:  # noqa: BLE001 - a worker that could not start (EAGAIN...)
            self.student = None
            self.isolation = {"error": f"the sandbox could not be set up ({error})"}
        finally:
            child_channel.close()
            for fd in (ready_w, go_r, status_w):
                os.close(fd)
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
        """The walls of the student process, measured before any student code ran; raises
        when it was refused for a missing layer (or could not be started)."""
        if self.isolation is None:
            self.isolation = self._admit()
        if self.isolation.get("refused") or self.isolation.get("error") or not self.isolation:
            missing = ", ".join(self.isolation.get("refused", [])) or "unknown"
            raise SandboxFailure("isolation", "the sandbox could not be set up "
                                 f"(missing: {missing}); the instructor has the details")
        return self.isolation

    def _admit(self) -> dict[str, Any]:
        """Wait until the student process has confined itself, measure it from /proc, and let
        its code start only if every required layer is there (or the instructor accepted less).
        """
        assert self.student is not None
        try:
            probed = self._read_ready()
            if probed is None:
                self.stop()
                return {"error": "the sandbox could not be set up (see the grader log)"}
            try:
                measured = layers.measure(self.student.pid, _outside(), STUDENT_FDS, probed)
            except OSError:
                measured = {}
            if not measured or not self.student.alive():  # its PID may name another process
                self.stop()
                return {"error": "the student process ended before it was measured"}
            absent = layers.missing(measured)
            if absent and not self.allow_weak:
                self.stop()
                measured["refused"] = absent
            else:
                with contextlib.suppress(OSError):
                    os.write(self.go_w, b"go")
            return measured
        finally:
            os.close(self.go_w)
            self.go_w = -1

    def _read_ready(self) -> dict[str, Any] | None:
        """The student process's probe, once it has also closed its end: from then on it holds
        exactly its own descriptors. None when it died, hung or said more than one thing."""
        deadline = time.monotonic() + READY_SECONDS
        try:
            probed = wire.loads(wire.receive_frame(self.ready_r, 4096, deadline))
        except wire.WireError:
            return None
        try:
            wire.receive_frame(self.ready_r, 0, deadline)
        except wire.WireClosed:
            return probed
        except wire.WireError:
            return None
        return None

    def _read_status(self, seconds: float) -> dict[str, Any] | None:
        """The worker's account of how the student process ended; None when none came in time."""
        try:
            raw = wire.receive_frame(self.status_r, 4096, time.monotonic() + seconds)
            return wire.loads(raw)
        except wire.WireError:
            return None

    def death(self) -> SandboxFailure:
        """Say how the student process ended, from the worker's account."""
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
        """Read the worker's report if it is due: `ended` stays None until one arrives."""
        if self.ended is None and self.student is not None:
            self.ended = self._read_status(seconds)

    def stop(self) -> None:
        """Kill the student process (as PID 1 of its namespace, everything in it dies too)."""
        if self.student is not None:
            self._killed_by_us = True
            self.student.kill()

    def __exit__(self, *exc_info: object) -> None:
        try:
            if self.go_w >= 0:  # never let in: it reads the end of the pipe and exits
                os.close(self.go_w)
                self.go_w = -1
            if self.student is not None:
                if not self._killed_by_us:
                    with contextlib.suppress(wire.WireError, OSError):
                        wire.send_frame(self.conn.fileno(), wire.dumps({"op": "bye"}),
                                        time.monotonic() + 1.0)
                self.wait_for_status(2.0)
                if self.ended is None:  # it would not exit: end it the hard way
                    self.student.kill()
                    self.wait_for_status(2.0)
                self.student.close()
            self.captured = self._read_output()
            self.grader_log = self._read_file("grader.log", 8000)
        finally:
            self.conn.close()
            for fd in (self.ready_r, self.go_w, self.status_r):
                if fd >= 0:
                    os.close(fd)
            shutil.rmtree(self.root, ignore_errors=True)

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


@functools.cache
def _outside() -> dict[str, str]:
    """The namespaces this process runs in: a student process's must all differ."""
    return layers.namespace_ids()
