"""The child's side of the sandbox: run the student's cells, then answer calls to their function.

This module runs inside processes forked per submission from a warm worker that has already
imported torch and IPython. Such a process holds no secret, no hidden seed and no reference:
only the case inputs it is sent. Two processes per submission:

    supervisor  trusted; a subreaper in its own session, it waits for the student process and
                then kills everything the submission started, detached processes included
    student     resource-limited, unprivileged when we are root, in a fresh working folder;
                runs the cells with IPython (magics work) and serves JSON requests
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import importlib
import json
import linecache
import os
import signal
import sys
import traceback
from typing import Any

import torch
from IPython.core.interactiveshell import InteractiveShell
from traitlets.config import Config

from grader import wire
from grader.builtin_guard import BuiltinRnnGuard
from grader.confine import confine

PR_SET_CHILD_SUBREAPER = 36
_detach = torch._C.TensorBase.detach  # bound before student code runs, so it cannot be patched


def warm_shell() -> InteractiveShell:
    """The IPython shell, created once in the warm worker and inherited by every fork."""
    config = Config()
    config.HistoryManager.enabled = False
    config.InteractiveShell.colors = "nocolor"
    config.InteractiveShell.xmode = "plain"
    return InteractiveShell.instance(config=config)


# --- supervisor ----------------------------------------------------------------------------

def supervise(conn, status_conn, workdir: str, outdir: str, limits: dict[str, Any]) -> None:
    """Entry point of the forked child: start the student process, clean up after it."""
    os.setsid()
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    student: list[int] = []
    signal.signal(signal.SIGTERM, lambda *_: student and _kill_group(student[0]))
    pid = os.fork()
    if pid == 0:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        status_conn.close()
        _student_main(conn, workdir, outdir, limits)
    student.append(pid)
    conn.close()
    try:
        _, status = os.waitpid(pid, 0)
    except ChildProcessError:
        status = signal.SIGKILL
    _kill_everything(pid)
    status_conn.send_bytes(json.dumps(_describe_status(status)).encode())


def _describe_status(status: int) -> dict[str, int]:
    if os.WIFSIGNALED(status):
        return {"signal": os.WTERMSIG(status)}
    return {"exit": os.WEXITSTATUS(status)}


def _kill_group(student_pid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(student_pid, signal.SIGKILL)


def _kill_everything(student_pid: int) -> None:
    """Kill the student's process group, then every orphan reparented to us, until none."""
    _kill_group(student_pid)
    for _ in range(100):
        children = _children_of(os.getpid())
        for pid in children:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        try:
            while os.waitpid(-1, os.WNOHANG)[0] > 0:
                pass
        except ChildProcessError:
            return
        if not children:
            return


def _children_of(parent: int) -> list[int]:
    """Direct children, from the kernel's own list (no scan of every process in /proc)."""
    try:
        with open(f"/proc/{parent}/task/{parent}/children") as listing:
            return [int(pid) for pid in listing.read().split()]
    except OSError:  # kernels without CONFIG_PROC_CHILDREN: scan /proc
        return [pid for pid in _all_pids() if _parent_of(pid) == parent]


def _all_pids() -> list[int]:
    return [int(entry) for entry in os.listdir("/proc") if entry.isdigit()]


def _parent_of(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            return int(stat.read().rsplit(b")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return None


# --- student process -----------------------------------------------------------------------

def _student_main(conn, workdir: str, outdir: str, limits: dict[str, Any]) -> None:
    code = 70
    try:
        isolation = confine(workdir, outdir, limits)
        code = Student(conn, limits, isolation).serve()
    except BaseException:  # noqa: BLE001 - report, then exit with the failure code below
        traceback.print_exc()
    finally:
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):  # the student may have replaced the stream
                stream.flush()
        os._exit(code)


class Student:
    """Serves the grading process: run the cells once, then call the function per case."""

    def __init__(self, conn, limits: dict[str, Any], isolation: dict[str, Any]) -> None:
        self.conn = conn
        self.limits = limits
        self.isolation = isolation
        self.shell = InteractiveShell.instance() if InteractiveShell.initialized() \
            else warm_shell()
        self.guard = BuiltinRnnGuard()
        self.cell_of_execution: dict[int, int] = {}
        self.cell_sources: dict[int, str] = {}
        self.current_cell: int | None = None

    def serve(self) -> int:
        while True:
            message = wire.loads(self.conn.recv_bytes())
            if message["op"] == "bye":
                return 0
            handler = {"run": self.run_cells, "call": self.call}[message["op"]]
            self.conn.send_bytes(wire.dumps(handler(message)))

    def run_cells(self, message: dict[str, Any]) -> dict[str, Any]:
        errors = []
        for cell in message["cells"]:
            self.cell_of_execution[self.shell.execution_count] = cell["index"]
            self.cell_sources[cell["index"]] = cell["source"]
            self.current_cell = cell["index"]
            result = self.shell.run_cell(cell["source"], store_history=True, silent=False)
            error = result.error_before_exec or result.error_in_exec
            if error is not None:
                errors.append(dict(self.describe_exception(error), cell=cell["index"]))
        function = self.shell.user_ns.get(message["function"])
        return {"errors": errors, "defined": callable(function),
                "builtin_calls": self.guard.calls, "isolation": self.isolation}

    def call(self, message: dict[str, Any]) -> dict[str, Any]:
        exercise = importlib.import_module(message["exercise_module"])
        arrays = {name: wire.decode_array(value, 10**8)
                  for name, value in message["arrays"].items()}
        self.shell.user_ns.update(exercise.child_namespace(message["sizes"], arrays))
        function = self.shell.user_ns.get(message["function"])
        if not callable(function):
            return {"error": {"kind": "missing"}}
        calls_before = self.guard.calls
        try:
            returned = function()
        except BaseException as error:  # noqa: BLE001 - SystemExit and friends are answers too
            return {"error": self.describe_exception(error),
                    "builtin_calls": self.guard.calls - calls_before}
        answer = self.encode_returned(returned)
        answer["builtin_calls"] = self.guard.calls - calls_before
        return answer

    def encode_returned(self, returned: object) -> dict[str, Any]:
        if not isinstance(returned, (tuple, list)) or len(returned) != 2:
            length = len(returned) if isinstance(returned, (tuple, list)) else None
            return {"error": {"kind": "not_pair", "type": type(returned).__name__,
                              "length": length}}
        values, builtin_result = [], False
        for position, item in enumerate(returned):
            if not isinstance(item, torch.Tensor):
                return {"error": {"kind": "not_tensor", "position": position,
                                  "type": type(item).__name__}}
            with torch._C.DisableTorchFunctionSubclass():
                tensor = _detach(item)
                builtin_result |= self.guard.returned(tensor)
                if tensor.numel() > self.limits["max_elements"]:
                    return {"error": {"kind": "too_large", "position": position,
                                      "elements": tensor.numel()}}
                values.append(self.encode_tensor(tensor))
        return {"values": values, "builtin_result": builtin_result}

    @staticmethod
    def encode_tensor(tensor: torch.Tensor) -> dict[str, Any]:
        dtype = str(tensor.dtype).removeprefix("torch.")
        if tensor.is_complex() or dtype not in wire.ALLOWED_DTYPES:
            return {"dtype": dtype, "unsupported": True, "shape": list(tensor.shape)}
        widened = tensor.cpu().float() if dtype == "bfloat16" else tensor.cpu()
        encoded = wire.encode_array(widened.contiguous().numpy())
        encoded["torch_dtype"] = dtype
        return encoded

    def describe_exception(self, error: BaseException) -> dict[str, Any]:
        """Type, message and the traceback trimmed to the student's own cells."""
        frames = [located for frame in traceback.extract_tb(error.__traceback__)
                  if (located := self.locate(frame)) is not None]
        message = str(error)
        if isinstance(error, SyntaxError):
            message = error.msg or message  # str() names IPython's internal file
            if error.lineno is not None:
                frames.append({"cell": self.current_cell, "line": error.lineno, "function": "",
                               "code": (error.text or "").strip()})
        described = {"kind": "exception", "type": type(error).__name__,
                     "message": message[:2000], "frames": frames[-6:]}
        if isinstance(error, OSError) and error.errno == errno.EFBIG:
            described["limit"] = "output"  # RLIMIT_FSIZE: stdout or stderr is full
        return described

    def locate(self, frame: traceback.FrameSummary) -> dict[str, Any] | None:
        """Map a frame to a notebook cell, or None when it is not the student's code."""
        if frame.filename.startswith("<ipython-input-"):
            cell = self.cell_of_execution.get(int(frame.filename.split("-")[2]))
            code = linecache.getline(frame.filename, frame.lineno).strip()
            return {"cell": cell, "line": frame.lineno, "function": frame.name, "code": code}
        if frame.filename == "<timed exec>":  # the body of a %%time cell, after its first line
            for index, source in self.cell_sources.items():
                lines = source.splitlines()
                defines = frame.name == "<module>" or f"def {frame.name}" in source
                if lines and lines[0].startswith("%%time") and defines:
                    body = lines[1:]
                    code = body[frame.lineno - 1].strip() if frame.lineno <= len(body) else ""
                    return {"cell": index, "line": frame.lineno + 1, "function": frame.name,
                            "code": code}
        return None
