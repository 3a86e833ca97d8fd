"""Run every route to torch's recurrent built-ins under BuiltinRnnGuard; print JSON.

Run as a script (tests/test_builtin_guard.py does, in a child process): the guard replaces
kernels for the rest of the process, so it must not be installed in the test process itself.
Native results are computed first, before the guard exists, to check the by-hand kernels.
"""

from __future__ import annotations

import contextlib
import json
import threading
import warnings

import torch

L, N, I, H = 5, 3, 4, 6  # noqa: E741 - the exercise's own symbols
with torch.random.fork_rng():  # importing this leaves the caller's random state alone
    torch.manual_seed(0)
    X = torch.randn(L, N, I)
    H0 = torch.randn(2, N, H)
    RNN = torch.nn.RNN(I, H, bidirectional=True)
PARAMS = list(RNN._flat_weights)
ARGS = (X, H0, PARAMS, True, 1, 0.0, False, True, False)  # rnn_tanh.input's arguments


def _modules() -> dict[str, tuple[torch.nn.Module, torch.Tensor]]:
    """Recurrent layers and cells of every kind, in float64, with their input."""
    x = torch.randn(6, 3, I, dtype=torch.float64)
    layers = {
        "rnn_tanh_2_layers_bidirectional": torch.nn.RNN(I, H, num_layers=2, bidirectional=True),
        "rnn_relu_batch_first": torch.nn.RNN(I, H, nonlinearity="relu", batch_first=True),
        "rnn_without_bias": torch.nn.RNN(I, H, bias=False, bidirectional=True),
        "gru_2_layers_bidirectional": torch.nn.GRU(I, H, num_layers=2, bidirectional=True),
        "lstm_2_layers_bidirectional": torch.nn.LSTM(I, H, num_layers=2, bidirectional=True),
        "lstm_projection_batch_first": torch.nn.LSTM(I, H, num_layers=2, bidirectional=True,
                                                     proj_size=2, batch_first=True),
        "rnn_cell": torch.nn.RNNCell(I, H),
        "gru_cell_without_bias": torch.nn.GRUCell(I, H, bias=False),
        "lstm_cell": torch.nn.LSTMCell(I, H),
    }
    return {name: (module.double(), x[0] if "cell" in name else x)
            for name, module in layers.items()}


def _flat(value) -> list[torch.Tensor]:
    if isinstance(value, torch.Tensor):
        return [value.detach().clone()]
    return [t for item in value for t in _flat(item)]


with torch.random.fork_rng():
    torch.manual_seed(1)
    MODULES = _modules()
    W3 = torch.randn(3 * H, I), torch.randn(3 * H, H)
    W4 = torch.randn(4 * H, I), torch.randn(4 * H, H)
NATIVE: dict[str, list[torch.Tensor]] = {}  # torch's own results, before the guard exists
GUARD = None  # installed by main() only: importing this module changes nothing


def _thread() -> None:
    worker = threading.Thread(target=lambda: RNN(X, H0))
    worker.start()
    worker.join()


def _disabled_torch_function():
    with torch._C.DisableTorchFunction():
        return RNN(X, H0)


def _inference_mode():
    with torch.inference_mode():
        return RNN(X, H0)


def _python_dispatcher():
    from torch._dispatch.python import enable_python_dispatcher

    with enable_python_dispatcher():
        return RNN(X, H0)


def _excluded_autograd_key():
    keys = torch._C.DispatchKeySet(torch._C.DispatchKey.AutogradCPU)
    with torch._C._ExcludeDispatchKeyGuard(keys):
        return torch.rnn_tanh(*ARGS)


def _make_fx():
    from torch.fx.experimental.proxy_tensor import make_fx

    return make_fx(lambda x, h: RNN(x, h))(X, H0)


class _Recorder(torch.utils._python_dispatch.TorchDispatchMode):
    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        return func(*args, **(kwargs or {}))


def _recording_mode():
    with _Recorder():
        return RNN(X, H0)


ROUTES = {
    "nn.RNN": lambda: RNN(X, H0),
    "nn.RNN relu": lambda: torch.nn.RNN(I, H, nonlinearity="relu")(X),
    "nn.GRU": lambda: torch.nn.GRU(I, H)(X),
    "nn.LSTM": lambda: torch.nn.LSTM(I, H)(X),
    "nn.RNNCell": lambda: torch.nn.RNNCell(I, H)(X[0]),
    "nn.GRUCell": lambda: torch.nn.GRUCell(I, H)(X[0]),
    "nn.LSTMCell": lambda: torch.nn.LSTMCell(I, H)(X[0]),
    "torch.rnn_tanh": lambda: torch.rnn_tanh(*ARGS),
    "torch.rnn_relu": lambda: torch.rnn_relu(*ARGS),
    "torch.rnn_tanh_cell": lambda: torch.rnn_tanh_cell(X[0], H0[0], *PARAMS[:4]),
    "torch.gru_cell": lambda: torch.gru_cell(X[0], H0[0], *W3),
    "torch.lstm_cell": lambda: torch.lstm_cell(X[0], [H0[0], H0[0]], *W4),
    "torch._VF.rnn_tanh": lambda: torch._VF.rnn_tanh(*ARGS),
    "torch._VF.gru": lambda: torch._VF.gru(X, H0[:1], [*W3, PARAMS[2].repeat(3),
                                                       PARAMS[3].repeat(3)],
                                           True, 1, 0.0, False, False, False),
    "torch._C._VariableFunctions.rnn_tanh": lambda: torch._C._VariableFunctions.rnn_tanh(*ARGS),
    "torch.ops.aten.rnn_tanh.input": lambda: torch.ops.aten.rnn_tanh.input(*ARGS),
    "torch.ops.aten.rnn_tanh.input.decompose": lambda: torch.ops.aten.rnn_tanh.input.decompose(
        *ARGS),
    "torch.ops.aten.lstm_cell.default": lambda: torch.ops.aten.lstm_cell.default(
        X[0], [H0[0], H0[0]], *W4),
    "torch.ops.aten._thnn_fused_gru_cell": lambda: torch.ops.aten._thnn_fused_gru_cell(
        X[0], X[0], H0[0]),
    "torch.mkldnn_rnn_layer": lambda: torch.mkldnn_rnn_layer(
        X, *PARAMS[:4], H0[0], H0[0], False, [L], 1, H, 1, False, False, False, False),
    "quantized dynamic LSTM": lambda: torch.ao.nn.quantized.dynamic.LSTM(I, H)(X),
    "quantizable LSTM (Python)": lambda: torch.ao.nn.quantizable.LSTM(I, H)(X),
    "torch._decomp rnn_tanh_input (Python)":
        lambda: torch._decomp.decompositions.rnn_tanh_input(*ARGS),
    "DisableTorchFunction": _disabled_torch_function,
    "inference_mode": _inference_mode,
    "Python dispatcher": _python_dispatcher,
    "AutogradCPU key excluded": _excluded_autograd_key,
    "another thread": _thread,
    "make_fx (refused)": _make_fx,
    "recording TorchDispatchMode (refused)": _recording_mode,
}
NOT_RECURRENT = {
    "hand-written loop": lambda: [torch.tanh(x @ PARAMS[0].T + PARAMS[2] + H0[0] @ PARAMS[1].T
                                             + PARAMS[3]) for x in X],
    "torch.nn.functional and stack": lambda: torch.stack(
        [torch.nn.functional.linear(x, PARAMS[0], PARAMS[2]).tanh() for x in X]),
    "building nn.RNN": lambda: torch.nn.RNN(I, H, bidirectional=True),
    "reading nn.RNN's weights": lambda: RNN.weight_hh_l0 @ RNN.weight_ih_l0,
}


def _count(route) -> dict:
    before = GUARD.calls
    error = None
    try:
        route()
    except Exception as caught:  # noqa: BLE001 - reported to the test
        error = f"{type(caught).__name__}: {caught}"
    return {"calls": GUARD.calls - before, "error": error}


def _replayed_compiled_graph() -> dict:
    """torch.compile with dynamic shapes, compiled at 'top level', then called on new sizes."""
    compiled = torch.compile(lambda x, h: RNN(x, h), backend="aot_eager", dynamic=True)
    with torch.no_grad(), contextlib.suppress(Exception):
        compiled(X, H0)
    x2, h2 = torch.randn(7, 2, I), torch.randn(2, 2, H)
    return _count(lambda: compiled(x2, h2))


def _by_hand_matches_native() -> dict:
    found = {}
    for name, (module, x) in MODULES.items():
        before = GUARD.calls
        mine = _flat(module(x))
        found[name] = {
            "calls": GUARD.calls - before,
            "shapes": [list(t.shape) for t in mine] == [list(t.shape) for t in NATIVE[name]],
            "error": max(float((a - b).abs().max()) for a, b in zip(mine, NATIVE[name],
                                                                     strict=True)),
        }
    x = MODULES["gru_2_layers_bidirectional"][1].clone().requires_grad_()
    MODULES["gru_2_layers_bidirectional"][0](x)[0].sum().backward()
    found["gradient flows"] = bool(x.grad is not None and x.grad.abs().sum() > 0)
    return found


def _returned() -> dict:
    output, h_n = RNN(X, H0)
    found = {"output": GUARD.returned(output), "view of h_n": GUARD.returned(h_n[1]),
             "clone": GUARD.returned(output.clone()),
             "own tensor": GUARD.returned(torch.zeros(3))}
    pointer = output.data_ptr()
    remembered = pointer in GUARD[1]
    del output
    # Freed results are forgotten: a new tensor the allocator puts at the same address is not
    # taken for the built-in's result.
    found["freed result forgotten"] = remembered and pointer not in GUARD[1]
    return found


def _patching() -> dict:
    from grader.isolation.builtin_guard import BuiltinRnnGuard

    globals()["BuiltinRnnGuard"] = BuiltinRnnGuard
    attempts = {
        "class property": "BuiltinRnnGuard.calls = property(lambda self: 0)",
        "class method": "BuiltinRnnGuard.returned = lambda self, tensor: False",
        "instance attribute": "GUARD.calls = 0",
        "object.__setattr__": "object.__setattr__(GUARD, 'calls', 0)",
        "type.__setattr__": "type.__setattr__(BuiltinRnnGuard, 'calls', 0)",
    }
    refused = {}
    for name, code in attempts.items():
        try:
            exec(code, globals())
            refused[name] = False
        except (TypeError, AttributeError):
            refused[name] = True
    return refused


def main() -> None:
    global GUARD
    warnings.simplefilter("ignore")
    NATIVE.update({name: _flat(module(x)) for name, (module, x) in MODULES.items()})
    from grader.isolation.builtin_guard import BuiltinRnnGuard, recurrent_ops

    GUARD = BuiltinRnnGuard()
    report = {
        "ops": list(recurrent_ops()),
        "routes": {name: _count(route) for name, route in ROUTES.items()},
        "not_recurrent": {name: _count(route) for name, route in NOT_RECURRENT.items()},
        "by_hand": _by_hand_matches_native(),
        "returned": _returned(),
        "patching_refused": _patching(),
        "compiled_replay": _replayed_compiled_graph(),
    }
    print(json.dumps(report))


if __name__ == "__main__":
    main()
