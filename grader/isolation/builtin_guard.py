"""Catch torch's built-in recurrent layers at run time, in the student process, whatever path
reaches them.

Every operator in PyTorch's dispatcher that runs a recurrence — `rnn_tanh`, `rnn_relu`, `gru`,
`lstm`, their `*_cell`s, the quantized, mkldnn, cuDNN, MIOpen and MPS variants and the backward
kernels — is enumerated from the installed torch and replaced, for every overload and every
dispatch key it has a kernel for, by a kernel that counts the call. Every route ends there:
`rnn(...)`, `nn.RNN`/`nn.GRU`/`nn.LSTM` and their cells, `torch.rnn_tanh`, `torch._VF`,
`torch._C._VariableFunctions`, `torch.ops.aten.*` (`decompose()` and the Python dispatcher
included), inside `DisableTorchFunction` or `inference_mode`, in another thread. torch's own
Python implementations of the same recurrences (`torch._decomp`'s RNN decompositions and
`torch.ao.nn.quantizable.LSTM`) count too.

The plain tanh and relu RNNs, GRU and LSTM layers and cells are still computed (by hand, with
ordinary differentiable tensor operations), so the notebook's own top-level comparison with
`rnn` keeps working; the other kernels raise a RuntimeError that names them. A recurrent
built-in refuses to run while it is being traced or compiled (fake or proxy tensors, a
dispatch mode, a tensor subclass, the JIT tracer): a recording of the by-hand computation could
otherwise be replayed later without calling it.

The guard also remembers (weakly) the storage of everything a built-in returned, so a result
computed at the notebook's top level and returned later by the student's function is seen.

What it cannot do: it lives in the process the student controls. Code that reaches for the
process's own machinery (ctypes, `gc` walks, frames, the dispatcher's registrations) can undo
anything here; the grading process reads the notebook for such code and flags it for review
(`grader.notebooks.code_reading.review_findings`).
"""

from __future__ import annotations

import ctypes
import itertools
import re
import sys
import warnings
import weakref
from collections.abc import Callable, Iterable
from typing import Any

import torch
import torch.nn.functional as F

# Operator names that match and run no recurrence — weight packing and reordering, and the query
# nn.RNN's flatten_parameters makes — are left alone.
RECURRENT_NAME = re.compile(r"rnn|gru|lstm|_cell", re.IGNORECASE)
NOT_RECURRENT = frozenset({
    "aten::_use_cudnn_rnn_flatten_weight",
    "aten::_cudnn_rnn_flatten_weight",
    "aten::_cudnn_rnn_flatten_weight.out",
    "mkldnn::_reorder_mkldnn_rnn_layer_weight",
    "quantized::make_quantized_cell_params",
    "quantized::make_quantized_cell_params_dynamic",
    "quantized::make_quantized_cell_params_fp16",
})
# Dispatch keys whose kernels only record, cast or convert, then redispatch to the keys below.
PASS_THROUGH_KEYS = ("Tracer", "Autocast", "Functionalize", "ADInplaceOrView")
# torch's Python implementations of the recurrences (the decompositions used when tracing).
PYTHON_RECURRENCES = re.compile(r"rnn|gru|lstm|hidden_for_packed")
PLAIN_TENSORS = (torch.Tensor, torch.nn.Parameter)


def recurrent_ops() -> tuple[str, ...]:
    """Every overload in the installed torch's dispatcher that runs a recurrence (or its
    backward): `aten::rnn_tanh.input`, `aten::lstm_cell`, `quantized::quantized_gru_cell_dynamic`,
    ..."""
    return tuple(sorted(name for name in torch._C._dispatch_get_all_op_names()
                        if RECURRENT_NAME.search(name.split("::", 1)[1])
                        and name not in NOT_RECURRENT))


class BuiltinRnnGuard(tuple):
    """Counts calls of torch's recurrent built-ins and remembers their results' storage.

    Creating one installs the kernels for the rest of the process (there is no uninstall: the
    registrations are deliberately unreachable from Python). `calls` only ever grows. The
    guard is an immutable object of an immutable class: a notebook cannot set its attributes.
    """

    __slots__ = ()

    def __new__(cls) -> BuiltinRnnGuard:
        counter = itertools.count()
        results: dict[int, weakref.ref] = {}
        remember = _rememberer(results)
        _install_dispatcher_kernels(counter.__next__, remember)
        _patch_python_recurrences(counter.__next__)
        return super().__new__(cls, (counter, results))

    @property
    def calls(self) -> int:
        """How many times a recurrent built-in has been called in this process, in any thread."""
        return int(repr(self[0])[len("count("):-1])

    def returned(self, tensor: torch.Tensor) -> bool:
        """Whether `tensor` shares storage with something a recurrent built-in returned."""
        try:
            storage = tensor.untyped_storage()
            pointer = storage.data_ptr()
        except (RuntimeError, NotImplementedError, TypeError):
            return False
        reference = self[1].get(pointer)
        return pointer != 0 and reference is not None and reference() is storage


# --- counting -------------------------------------------------------------------------------

def _rememberer(results: dict[int, weakref.ref]) -> Callable[[Any], None]:
    ref = weakref.ref

    def forget(pointer: int, reference: weakref.ref) -> None:
        if results.get(pointer) is reference:
            del results[pointer]

    def remember(value: Any) -> None:
        for tensor in _tensors(value):
            storage = tensor.untyped_storage()
            pointer = storage.data_ptr()
            if pointer:
                results[pointer] = ref(storage, lambda dead, p=pointer: forget(p, dead))

    return remember


def _tensors(value: Any) -> Iterable[torch.Tensor]:
    if isinstance(value, torch.Tensor):
        yield value
    elif isinstance(value, (tuple, list)):
        for item in value:
            yield from _tensors(item)


def _being_traced(args: Iterable[Any]) -> bool:
    """A graph capture is watching: fake, proxy or subclass tensors, a dispatch mode, JIT."""
    if torch._C._len_torch_dispatch_stack() or torch._C._get_tracing_state() is not None:
        return True
    for value in args:
        items = value if isinstance(value, (tuple, list)) else (value,)
        for item in items:
            if isinstance(item, torch.Tensor) and type(item) not in PLAIN_TENSORS:
                return True
            if type(item).__module__.startswith("torch.fx"):
                return True
    return False


TRACED_MESSAGE = ("{name} cannot be traced or compiled while grading: it is a built-in "
                  "recurrent layer, not allowed in the function you write.")


def _guarded(name: str, compute: Callable[..., Any] | None, tick: Callable[[], int],
             remember: Callable[[Any], None] | None) -> Callable[..., Any]:
    """A kernel that counts the call, refuses tracing, then computes by hand (or refuses)."""
    being_traced = _being_traced
    message = f"{name} is a built-in recurrent kernel, not available while grading."

    def kernel(*args: Any, **kwargs: Any) -> Any:
        tick()
        if being_traced(args) or being_traced(kwargs.values()):
            raise RuntimeError(TRACED_MESSAGE.format(name=name))
        if compute is None:
            raise RuntimeError(message)
        result = compute(*args, **kwargs)
        if remember is not None:
            remember(result)
        return result

    kernel.__name__ = kernel.__qualname__ = name.replace("::", "_").replace(".", "_")
    return kernel


# --- the dispatcher --------------------------------------------------------------------------

def _install_dispatcher_kernels(tick: Callable[[], int], remember: Callable[[Any], None]) -> None:
    libraries: dict[str, Any] = {}
    computed = _by_hand()
    with warnings.catch_warnings():  # overriding an aten kernel warns, on purpose here
        warnings.simplefilter("ignore")
        for qualified, keys in DISPATCHER_PLAN:
            namespace, name = qualified.split("::", 1)
            compute = computed.get(name)
            if compute is None and name.endswith(".data"):
                compute = _refuse_packed
            kernel = _guarded(qualified, compute, tick, remember)
            if namespace not in libraries:
                libraries[namespace] = torch._C._dispatch_library("IMPL", namespace, "",
                                                                  __file__, 0)
            for key in keys:
                libraries[namespace].impl(name, key, kernel, False)
            _clear_python_kernels(namespace, name)
    for library in libraries.values():
        # Kept alive forever and referenced from nowhere: a gc walk cannot find it to undo
        # the registrations (the child process is short-lived).
        ctypes.pythonapi.Py_IncRef(ctypes.py_object(library))


def _dispatch_keys(qualified: str) -> tuple[str, ...]:
    """CompositeImplicitAutograd (every key without a kernel of its own) and every key that
    has one, except those that only redispatch."""
    dump = torch._C._dispatch_dump(qualified)
    registered = re.findall(r"^(\w+)(?:\[alias\])?: registered", dump, re.MULTILINE)
    keys = ["CompositeImplicitAutograd"]
    for key in registered:
        if key != "debug" and key not in keys and not key.startswith(PASS_THROUGH_KEYS):
            keys.append(key)
    return tuple(keys)


def _clear_python_kernels(namespace: str, name: str) -> None:
    """Drop torch's Python kernels for the op (used by the Python dispatcher, `decompose()`,
    tracing), so every route reaches the dispatcher's kernel, ours."""
    op_name, _, overload = name.partition(".")
    try:
        packet = getattr(getattr(torch.ops, namespace), op_name)
        operator = getattr(packet, overload or "default")
    except (AttributeError, RuntimeError):
        return
    for table in ("py_kernels", "python_key_table", "functorch_table"):
        getattr(operator, table, {}).clear()
    operator._dispatch_cache.clear()


def _refuse_packed(*args: Any, **kwargs: Any) -> Any:
    raise RuntimeError("packed sequences are not available while grading")


# --- python implementations inside torch -----------------------------------------------------

def _patch_python_recurrences(tick: Callable[[], int]) -> None:
    """torch's decompositions of the recurrent ops and its Python LSTM count as the built-in."""
    decompositions = sys.modules.get("torch._decomp.decompositions")
    if decompositions is None:
        import torch._decomp.decompositions as decompositions
    replaced: dict[int, Callable[..., Any]] = {}
    for name, value in list(vars(decompositions).items()):
        if callable(value) and getattr(value, "__module__", "") == decompositions.__name__ \
                and PYTHON_RECURRENCES.search(name):
            wrapper = _guarded(f"torch._decomp.decompositions.{name}", value, tick, None)
            replaced[id(value)] = wrapper
            setattr(decompositions, name, wrapper)
    for table, operator in DECOMPOSITION_ENTRIES:
        function = table[operator]
        table[operator] = replaced.get(id(function)) or _guarded(str(operator), function, tick,
                                                                 None)
    quantizable = sys.modules.get("torch.ao.nn.quantizable.modules.rnn")
    if quantizable is None:
        import torch.ao.nn.quantizable.modules.rnn as quantizable
    for value in list(vars(quantizable).values()):
        if isinstance(value, type) and issubclass(value, torch.nn.Module) \
                and value.__module__ == quantizable.__name__ and "forward" in vars(value):
            value.forward = _guarded(f"{value.__module__}.{value.__name__}.forward",
                                     vars(value)["forward"], tick, None)


# --- by hand --------------------------------------------------------------------------------

def _by_hand() -> dict[str, Callable[..., Any]]:
    """The recurrences computed with ordinary differentiable ops, by operator overload name."""
    return {
        "rnn_tanh.input": _layers(_elman(torch.tanh)),
        "rnn_relu.input": _layers(_elman(torch.relu)),
        "gru.input": _layers(_gru_step),
        "lstm.input": _lstm_layers,
        "rnn_tanh_cell": _cell(_elman(torch.tanh)),
        "rnn_relu_cell": _cell(_elman(torch.relu)),
        "gru_cell": _cell(_gru_step),
        "lstm_cell": _lstm_cell,
    }


def _elman(activation: Callable[[torch.Tensor], torch.Tensor]):
    def step(x, h, w_ih, w_hh, b_ih=None, b_hh=None):
        return activation(F.linear(x, w_ih, b_ih) + F.linear(h, w_hh, b_hh))

    return step


def _gru_step(x, h, w_ih, w_hh, b_ih=None, b_hh=None):
    i_r, i_z, i_n = F.linear(x, w_ih, b_ih).chunk(3, -1)
    h_r, h_z, h_n = F.linear(h, w_hh, b_hh).chunk(3, -1)
    reset = torch.sigmoid(i_r + h_r)
    update = torch.sigmoid(i_z + h_z)
    new = torch.tanh(i_n + reset * h_n)
    return new + update * (h - new)


def _lstm_step(x, state, w_ih, w_hh, b_ih=None, b_hh=None, w_hr=None):
    h, c = state
    i, f, g, o = (F.linear(x, w_ih, b_ih) + F.linear(h, w_hh, b_hh)).chunk(4, -1)
    c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
    h = torch.sigmoid(o) * torch.tanh(c)
    return (h if w_hr is None else F.linear(h, w_hr)), c


def _cell(step):
    def cell(input, hx, w_ih, w_hh, b_ih=None, b_hh=None):
        return step(input, hx, w_ih, w_hh, b_ih, b_hh)

    return cell


def _lstm_cell(input, hx, w_ih, w_hh, b_ih=None, b_hh=None):
    return _lstm_step(input, tuple(hx), w_ih, w_hh, b_ih, b_hh)


def _layers(step):
    def layers(input, hx, params, has_biases, num_layers, dropout, train, bidirectional,
               batch_first):
        stride = 4 if has_biases else 2
        states = list(hx.unbind(0))
        output, finals = _recurrence(step, input, states, params, has_biases, stride,
                                     num_layers, dropout, train, bidirectional, batch_first)
        return output, torch.stack(finals)

    return layers


def _lstm_layers(input, hx, params, has_biases, num_layers, dropout, train, bidirectional,
                 batch_first):
    plain = (4 if has_biases else 2)
    directions = 2 if bidirectional else 1
    stride = plain + (len(params) != plain * num_layers * directions)  # w_hr with proj_size
    h_0, c_0 = hx
    states = list(zip(h_0.unbind(0), c_0.unbind(0), strict=True))
    output, finals = _recurrence(_lstm_step, input, states, params, has_biases, stride,
                                 num_layers, dropout, train, bidirectional, batch_first)
    return (output, torch.stack([h for h, _ in finals]), torch.stack([c for _, c in finals]))


def _recurrence(step, input, states, params, has_biases: bool, stride: int, num_layers: int,
                dropout: float, train: bool, bidirectional: bool, batch_first: bool):
    """Layers of one or two directions over time; returns (output, final state per
    layer and direction). `states[layer * directions + direction]` starts each."""
    x = input.transpose(0, 1) if batch_first and input.dim() == 3 else input  # (L, N, I)
    directions = 2 if bidirectional else 1
    steps = x.shape[0]
    finals = []
    for layer in range(num_layers):
        if layer and dropout and train:
            x = F.dropout(x, dropout, training=True)
        halves = []
        for direction in range(directions):
            index = layer * directions + direction
            weights = list(params[index * stride:(index + 1) * stride])
            w_ih, w_hh = weights[:2]
            b_ih, b_hh = weights[2:4] if has_biases else (None, None)
            extra = weights[4 if has_biases else 2:]
            state = states[index]
            outputs: list[Any] = [None] * steps
            for t in (range(steps - 1, -1, -1) if direction else range(steps)):
                state = step(x[t], state, w_ih, w_hh, b_ih, b_hh, *extra)
                outputs[t] = state[0] if isinstance(state, tuple) else state
            halves.append(torch.stack(outputs))  # (L, N, H)
            finals.append(state)
        x = torch.cat(halves, dim=-1)  # (L, N, D*H)
    output = x.transpose(0, 1) if batch_first and x.dim() == 3 else x
    return output, finals


# --- computed once per process that imports this (the warm worker), not per submission ----

def _decomposition_entries() -> tuple[tuple[dict, Any], ...]:
    """(table, operator) for every recurrent operator in torch's decomposition tables."""
    from torch._decomp import global_decomposition_table

    recurrent = set(recurrent_ops())
    entries = []
    for table in global_decomposition_table.values():
        for operator in table:
            qualified = str(getattr(operator, "_name", "")).removesuffix(".default")
            if qualified in recurrent:
                entries.append((table, operator))
    return tuple(entries)


DISPATCHER_PLAN: tuple[tuple[str, tuple[str, ...]], ...] = tuple(
    (qualified, _dispatch_keys(qualified)) for qualified in recurrent_ops())
DECOMPOSITION_ENTRIES = _decomposition_entries()


# --- the class cannot be patched from Python ---------------------------------------------------

def _make_immutable(cls: type) -> None:
    """Set CPython's Py_TPFLAGS_IMMUTABLETYPE on `cls`: assigning its attributes (methods,
    properties) from Python then raises TypeError, as for built-in types. Best effort."""
    immutable = 1 << 8
    flags = cls.__flags__
    base = id(cls)
    word = ctypes.sizeof(ctypes.c_ulong)
    for offset in range(0, 64 * word, word):
        cell = ctypes.c_ulong.from_address(base + offset)
        if cell.value == flags:
            cell.value = flags | immutable
            if cls.__flags__ & immutable:
                return
            cell.value = flags  # not tp_flags after all
    return


if sys.implementation.name == "cpython":
    _make_immutable(BuiltinRnnGuard)
