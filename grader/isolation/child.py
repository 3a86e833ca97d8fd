"""The student process: put up the walls, run the student's cells, answer calls.

One process per submission, forked by the worker (worker.py), which has already imported torch
and IPython. It holds no secret, no hidden seed and no reference: only the case inputs it is
sent. It confines itself (confine.py) before the first line of student code, tells the grading
process it is ready, and waits for the go-ahead: the grading process first measures its walls
from /proc (layers.py). Then it runs the cells with IPython (magics work) and serves framed
JSON requests (wire.py) until "bye".
"""

from __future__ import annotations

import contextlib
import errno
import importlib
import linecache
import os
import sys
import traceback
from typing import Any

import torch
from IPython.core.inputtransformer2 import TransformerManager
from IPython.core.interactiveshell import InteractiveShell
from traitlets.config import Config

from grader.isolation import wire
from grader.isolation.builtin_guard import BuiltinRnnGuard
from grader.isolation.confine import confine

MAX_REQUEST_BYTES = 256 * 2**20
_detach = torch._C.TensorBase.detach  # bound before student code runs, so it cannot be patched


_warm_guard: list[BuiltinRnnGuard] = []  # installed once in the warm worker, inherited by forks


def warm_guard() -> None:
    """Install the built-in RNN guard in the warm worker (tens of ms), not in every child.
    Never in a grading process that computes references: there nn.RNN must stay torch's own."""
    _warm_guard.append(BuiltinRnnGuard())


def warm_shell() -> InteractiveShell:
    """The IPython shell, created once in the worker and inherited by every fork."""
    config = Config()
    config.HistoryManager.enabled = False
    config.InteractiveShell.colors = "nocolor"
    config.InteractiveShell.xmode = "plain"
    shell = GraderShell.instance(config=config)
    shell.input_transformer_manager = KnownTransforms()
    return shell


class GraderShell(InteractiveShell):
    """IPython's shell, but for one check it makes of every cell: whether the cell awaits at
    top level (a second compilation of it). A cell without the words `await` or `async`
    cannot, and runs as IPython would run it."""

    def should_run_async(self, raw_cell: str, *, transformed_cell: str | None = None,
                         preprocessing_exc_tuple: object = None) -> bool:
        code = transformed_cell if transformed_cell is not None else raw_cell
        if "await" not in code and "async" not in code:
            return False
        return super().should_run_async(raw_cell, transformed_cell=transformed_cell,
                                        preprocessing_exc_tuple=preprocessing_exc_tuple)


class KnownTransforms(TransformerManager):
    """IPython's static transformation of a cell (magics, `!`, `?` into Python), taken as the
    grading process sends it: it makes each distinct cell of a batch once (a third of a cell's
    cost here). A cell it did not send, or any cell once the notebook has changed the
    transformers, is transformed here as IPython always does."""

    def __init__(self) -> None:
        super().__init__()
        self.known: dict[str, str] = {}
        self._as_made = self._transformers()

    def _transformers(self) -> tuple[int, ...]:
        return tuple(map(id, (*self.cleanup_transforms, *self.line_transforms,
                              *self.token_transformers)))

    def transform_cell(self, cell: str) -> str:
        known = self.known.get(cell)
        if known is not None and self._transformers() == self._as_made:
            return known
        return super().transform_cell(cell)


def student_main(channel: int, ready_w: int, go_r: int, workdir: str, outdir: str,
                 limits: dict[str, Any], in_user_namespace: bool) -> None:
    """Confine this process, say so on `ready_w` (closing it: from then on it holds exactly
    its own descriptors), wait for the go-ahead on `go_r`, serve; never returns."""
    code = 70
    log = os.open(os.path.join(outdir, "grader.log"), os.O_WRONLY | os.O_CREAT | os.O_APPEND,
                  0o600)
    try:
        probed = confine([channel, log, ready_w, go_r], outdir, workdir, limits,
                         in_user_namespace)
        wire.send_frame(ready_w, wire.dumps(probed))
        os.close(ready_w)
        if os.read(go_r, 2) != b"go":
            os._exit(0)  # refused: the grading process kills us anyway
        os.close(go_r)
        code = Student(channel, limits, log).serve()
    except BaseException:  # noqa: BLE001 - the grader's own failure: to the instructor's log
        with contextlib.suppress(Exception):
            os.write(log, traceback.format_exc().encode()[-8000:])
    finally:
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):  # the student may have replaced the stream
                stream.flush()
        os._exit(code)


class Student:
    """Serves the grading process: run the cells once, then call the function per case."""

    def __init__(self, channel: int, limits: dict[str, Any], log: int) -> None:
        self.channel = channel
        self.limits = limits
        self.log = log
        self.shell = InteractiveShell.instance() if InteractiveShell.initialized() \
            else warm_shell()
        self.guard = _warm_guard[0] if _warm_guard else BuiltinRnnGuard()
        self.cell_of_execution: dict[int, int] = {}
        self.cell_sources: dict[int, str] = {}
        self.current_cell: int | None = None

    def serve(self) -> int:
        while True:
            message = wire.loads(wire.receive_frame(self.channel, MAX_REQUEST_BYTES))
            if message["op"] == "bye":
                return 0
            handler = {"run": self.run_cells, "call": self.call}[message["op"]]
            try:
                answer = wire.dumps(handler(message))
            except MemoryError:  # building the answer itself ran out of memory
                answer = wire.dumps({"error": {"kind": "exception", "type": "MemoryError",
                                               "limit": "memory", "frames": []}})
            except Exception:  # noqa: BLE001 - ours, not the student's: to the instructor's log
                with contextlib.suppress(OSError):
                    os.write(self.log, traceback.format_exc().encode()[-8000:])
                answer = wire.dumps({"error": {
                    "kind": "exception", "type": "GraderError", "frames": [],
                    "message": "the grader could not read what the notebook returned"}})
            wire.send_frame(self.channel, answer)

    def run_cells(self, message: dict[str, Any]) -> dict[str, Any]:
        errors = []
        if isinstance(self.shell.input_transformer_manager, KnownTransforms):
            self.shell.input_transformer_manager.known = {
                cell["source"]: cell["python"] for cell in message["cells"] if "python" in cell}
        for cell in message["cells"]:
            self.cell_of_execution[self.shell.execution_count] = cell["index"]
            self.cell_sources[cell["index"]] = cell["source"]
            self.current_cell = cell["index"]
            # Which cell is running, told before it runs: a time or memory limit can name it.
            wire.send_frame(self.channel, wire.dumps({"running_cell": cell["index"]}))
            result = self.shell.run_cell(cell["source"], store_history=True, silent=False)
            error = result.error_before_exec or result.error_in_exec
            if error is not None:
                errors.append(dict(self.describe_exception(error), cell=cell["index"]))
        function = self.shell.user_ns.get(message["function"])
        return {"errors": errors, "defined": callable(function),
                "builtin_calls": self.guard.calls}

    def call(self, message: dict[str, Any]) -> dict[str, Any]:
        exercise = importlib.import_module(message["exercise_module"])
        arrays = {name: wire.decode_array(value, 10**8)
                  for name, value in message["arrays"].items()}
        namespace = exercise.child_namespace(message["sizes"], arrays)
        for name, value in list(namespace.items()):
            own = self.shell.user_ns.get(name)
            if isinstance(value, torch.nn.Module) and own is not None and \
                    not isinstance(own, torch.nn.Module):
                del namespace[name]  # the student's own function or class of that name stays
        calls_before = self.guard.calls  # before the update: a thread racing it is counted too
        self.shell.user_ns.update(namespace)
        function = self.shell.user_ns.get(message["function"])
        if not callable(function):
            return {"error": {"kind": "missing"}}
        try:
            returned = function()
        except BaseException as error:  # noqa: BLE001 - SystemExit and friends are answers too
            return {"error": self.describe_exception(error),
                    "builtin_calls": self.guard.calls - calls_before}
        flatten = getattr(exercise, "flatten_returned", None)
        answer = self.encode_returned(returned, flatten, message.get("count", 2))
        answer["builtin_calls"] = self.guard.calls - calls_before
        return answer

    def encode_returned(self, returned: object, flatten: Any = None,
                        count: int = 2) -> dict[str, Any]:
        """The returned tensors, encoded: `count` of them side by side, or for a nested return
        what the exercise's `flatten_returned` makes of it (a str: the wrong nesting's key)."""
        if flatten is not None:
            try:  # the student's objects: their own __len__ or __iter__ may raise
                flat = flatten(returned)
            except Exception as error:  # noqa: BLE001 - told like the function's own error
                return {"error": self.describe_exception(error)}
            if isinstance(flat, str):
                return {"error": {"kind": "structure", "key": flat}}
            returned = flat
        elif not isinstance(returned, (tuple, list)) or len(returned) != count:
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
                frames.append(self.syntax_frame(error))
        described = {"kind": "exception", "type": type(error).__name__,
                     "message": message[:2000], "frames": frames[-6:]}
        if isinstance(error, OSError) and error.errno == errno.EFBIG:
            described["limit"] = "output"  # RLIMIT_FSIZE: stdout or stderr is full
        elif isinstance(error, MemoryError) or "can't allocate memory" in message:
            described["limit"] = "memory"  # RLIMIT_AS: Python's or torch's allocator
        return described

    def syntax_frame(self, error: SyntaxError) -> dict[str, Any]:
        """Where a cell does not compile: its line, and the columns of the caret within the
        line's stripped code (Python counts them from the line's start, from 1)."""
        text = (error.text or "").rstrip("\r\n")
        code = text.strip()
        indent = len(text) - len(text.lstrip())
        frame = {"cell": self.current_cell, "line": error.lineno, "function": "", "code": code}
        if isinstance(error.offset, int) and error.offset >= 1:
            frame["column"] = min(max(0, error.offset - 1 - indent), len(code))
            end = getattr(error, "end_offset", None)
            if isinstance(end, int) and end > error.offset and \
                    getattr(error, "end_lineno", error.lineno) == error.lineno:
                frame["end_column"] = min(end - 1 - indent, len(code) + 1)
        return frame

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
