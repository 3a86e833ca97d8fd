"""The worker: a trusted process that forks every student process of a batch, and reaps them.

    grading process ── control socket ──▶ worker (PID 1 of a PID namespace of its own)
                                            └── student process, one per submission, PID 1 of
                                                a PID namespace of its own (child.py)

The worker is a fresh interpreter started from an environment without the instructor's
secret; it holds no secret, hidden seed or reference, only torch and IPython (warm.py), and it
never runs student code. Each request carries one submission's descriptors (result channel,
handshake pipes, status pipe) and a file holding its settings. The worker forks the student
process straight into a new PID namespace (unshare, fork, back with setns: no intermediate
process), answers with a pidfd, and, once the student process has ended, writes how on the
submission's status pipe.

Killing, measuring and letting the student's code start are the grading process's (sandbox.py),
through that pidfd: a PID the kernel may reuse is never signalled. Should the worker die, the
kernel ends every student process with it (they are in its PID namespace); it dies with the
grading process (its parent death signal); once the control socket closes, it exits as soon as
its last student process has ended.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import importlib
import json
import os
import select
import signal
import socket
import sys
from typing import Any, NoReturn

CLONE_NEWUSER, CLONE_NEWPID = 0x10000000, 0x20000000
PR_SET_PDEATHSIG = 1
MAX_REQUEST_BYTES = 64 << 20
PRELOADED = b'{"preloaded": true}'
STUDENT_DESCRIPTORS = 4  # result channel, ready pipe (write end), go-ahead pipe (read end), status
_libc = ctypes.CDLL(None, use_errno=True)


def main(argv: list[str] | None = None) -> NoReturn:
    """`python -c 'from grader.isolation.worker import main; main()' --control FD ...`"""
    parser = argparse.ArgumentParser(prog="rnn-grader worker")
    parser.add_argument("--control", type=int, required=True)
    parser.add_argument("--preload", default="grader.isolation.warm")
    parser.add_argument("--sys-path", default=None, help="the grading process's sys.path, JSON")
    args = parser.parse_args(argv)
    if args.sys_path:
        sys.path[:] = json.loads(args.sys_path)
    run(args.control, args.preload)


def run(control_fd: int, preload: str) -> NoReturn:
    """Become the worker: own namespaces first, then the preload, then serve. The kernel makes
    a user namespace only for a single-threaded process: this module imports nothing that
    starts threads (numpy's BLAS does) before `_own_namespaces`."""
    _libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    in_user_namespace = _own_namespaces()
    server_pid = os.fork()  # the server is PID 1 of the new PID namespace; this one waits
    if server_pid:
        os.close(control_fd)
        _, status = os.waitpid(server_pid, 0)
        os._exit(0 if os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0 else 70)
    code = 70
    try:
        _libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        importlib.import_module(preload)
        server = Server(socket.socket(fileno=control_fd), in_user_namespace)
        # Told once the preload is done: until then the grading process waits without the
        # per-request timeout (importing torch can take long on a busy machine).
        socket.send_fds(server.control, [PRELOADED], [])
        server.serve()
        code = 0
    finally:
        os._exit(code)


def _own_namespaces() -> bool:
    """A PID namespace for the worker's own children (root); for anyone else a user namespace
    too, where the kernel allows it, so that each student can have its own PID, mount and
    network namespaces. Returns whether we are now in a new user namespace."""
    if os.geteuid() == 0:
        _libc.unshare(CLONE_NEWPID)
        return False
    uid, gid = os.getuid(), os.getgid()
    if _libc.unshare(CLONE_NEWUSER | CLONE_NEWPID) != 0:
        return False
    for name, text in (("setgroups", "deny"), ("uid_map", f"{uid} {uid} 1"),
                       ("gid_map", f"{gid} {gid} 1")):
        with open(f"/proc/self/{name}", "w") as mapping:
            mapping.write(text)
    return True


def _read_request(fd: int) -> bytes:
    """The request's JSON, from the file the grading process wrote it to (closed here)."""
    with os.fdopen(fd, "rb") as body:
        body.seek(0)
        data = body.read(MAX_REQUEST_BYTES + 1)
    if len(data) > MAX_REQUEST_BYTES:
        raise ValueError("the request is too large")
    return data


class Server:
    """Forks a student process per request; reports each one's end on its status pipe."""

    def __init__(self, control: socket.socket, in_user_namespace: bool) -> None:
        self.control = control
        self.in_user_namespace = in_user_namespace
        self.own_pid_namespace = os.open("/proc/self/ns/pid", os.O_RDONLY | os.O_CLOEXEC)
        self.running: dict[int, tuple[int, int]] = {}  # pidfd: (pid, status pipe)
        self.poller = select.poll()
        self.broken = ""  # once set, no more students: why

    def serve(self) -> None:
        """Until the control socket closes and every student process has ended."""
        self.poller.register(self.control, select.POLLIN)
        listening = True
        try:
            while listening or self.running:
                for fd, _ in self.poller.poll():
                    if fd != self.control.fileno():
                        self._report_end(fd)
                    elif listening and not self._answer_request():
                        listening = False
                        self.poller.unregister(self.control)
        finally:
            self._end_all()

    def _answer_request(self) -> bool:
        try:
            data, fds, _, _ = socket.recv_fds(self.control, 64, STUDENT_DESCRIPTORS + 1)
        except OSError:
            return False
        if not data:
            return False  # the grading process closed its end (or ended)
        number = data.decode(errors="replace")  # the request's number, echoed in the answer
        try:
            if len(fds) != STUDENT_DESCRIPTORS + 1 or self.broken:
                raise OSError(self.broken or "the request did not carry its descriptors")
            request = json.loads(_read_request(fds.pop()))
            pidfd = self._start_student(request, fds)
        except (OSError, ValueError) as error:
            for fd in fds:
                os.close(fd)
            answer = {"request": number, "error": str(error)}
            socket.send_fds(self.control, [json.dumps(answer).encode()], [])
            return True
        answer = {"request": number, "started": True}
        socket.send_fds(self.control, [json.dumps(answer).encode()], [pidfd])
        return True

    def _start_student(self, request: dict[str, Any], fds: list[int]) -> int:
        channel, ready_w, go_r, status_w = fds
        new_namespace = _libc.unshare(CLONE_NEWPID) == 0
        pid = os.fork()
        if pid == 0:
            self._become_student(request, channel, ready_w, go_r)
        if new_namespace and _libc.setns(self.own_pid_namespace, CLONE_NEWPID) != 0:
            # The next student would share this one's namespace: refuse every later request.
            self.broken = f"setns failed (errno {ctypes.get_errno()})"
        for fd in (channel, ready_w, go_r):
            os.close(fd)
        pidfd = os.pidfd_open(pid)
        self.running[pidfd] = (pid, status_w)
        self.poller.register(pidfd, select.POLLIN)
        return pidfd

    def _become_student(self, request: dict[str, Any], channel: int, ready_w: int,
                        go_r: int) -> NoReturn:
        try:
            from grader.isolation import child

            os.setsid()  # no terminal's signals; confine closes every descriptor not its own
            child.student_main(channel, ready_w, go_r, request["workdir"], request["outdir"],
                               request["limits"], self.in_user_namespace)
        finally:
            os._exit(70)

    def _report_end(self, pidfd: int) -> None:
        from grader.isolation import wire  # numpy: only once the namespaces are made

        pid, status_w = self.running.pop(pidfd)
        self.poller.unregister(pidfd)
        os.close(pidfd)
        try:
            _, status = os.waitpid(pid, 0)
            ended = {"signal": os.WTERMSIG(status)} if os.WIFSIGNALED(status) \
                else {"exit": os.WEXITSTATUS(status)}
        except ChildProcessError:
            ended = {"signal": signal.SIGKILL}
        # The grading process may have stopped listening (it gave up on this submission):
        # that is never a reason to end the batch's other students.
        with contextlib.suppress(OSError, wire.WireError):
            os.set_blocking(status_w, False)
            wire.send_frame(status_w, wire.dumps(ended))
        os.close(status_w)

    def _end_all(self) -> None:
        for pidfd in list(self.running):
            with contextlib.suppress(OSError):
                signal.pidfd_send_signal(pidfd, signal.SIGKILL)
            self._report_end(pidfd)
