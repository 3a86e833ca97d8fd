"""Catch the built-in RNN at run time, in the student process, whatever path reaches it.

The fused kernels (`aten::rnn_tanh`, `aten::rnn_relu`) are replaced in PyTorch's dispatcher
with a by-hand equivalent that also counts the call and remembers the storage of what it
returned. Every route ends in the dispatcher — `rnn(...)`, `nn.RNN`, `torch.rnn_tanh`,
`torch._VF`, `torch._C._VariableFunctions`, inside `DisableTorchFunction`, in another thread —
so every route is counted. The notebook's own top-level comparison with `rnn` still works.
"""

from __future__ import annotations

import warnings

import torch

ACTIVATIONS = {"rnn_tanh": torch.tanh, "rnn_relu": torch.relu}


class BuiltinRnnGuard:
    """Counts calls of the fused RNN kernels and remembers their results' storage."""

    def __init__(self) -> None:
        self.calls = 0
        self.storages: set[int] = set()
        self._library = torch.library.Library("aten", "IMPL")
        with warnings.catch_warnings():  # overriding an aten kernel warns, on purpose here
            warnings.simplefilter("ignore")
            for name, activation in ACTIVATIONS.items():
                self._library.impl(f"{name}.input", self._by_hand(activation),
                                   "CompositeImplicitAutograd")
                self._library.impl(f"{name}.data", self._refuse_packed,
                                   "CompositeImplicitAutograd")

    def returned(self, tensor: torch.Tensor) -> bool:
        """Whether `tensor` shares storage with something a fused kernel returned."""
        return tensor.untyped_storage().data_ptr() in self.storages

    def _by_hand(self, activation):
        def kernel(input, hx, params, has_biases, num_layers, dropout, train, bidirectional,
                   batch_first):
            self.calls += 1
            output, h_n = _recurrence(activation, input, hx, params, has_biases, num_layers,
                                      bidirectional, batch_first)
            self.storages.update(t.untyped_storage().data_ptr() for t in (output, h_n))
            return output, h_n

        return kernel

    def _refuse_packed(self, *args):
        self.calls += 1
        raise RuntimeError("packed sequences are not available while grading")


def _recurrence(activation, input, hx, params, has_biases: bool, num_layers: int,
                bidirectional: bool, batch_first: bool) -> tuple[torch.Tensor, torch.Tensor]:
    x = input.transpose(0, 1) if batch_first else input  # (L, N, I)
    directions = 2 if bidirectional else 1
    per_direction = 4 if has_biases else 2
    steps = x.shape[0]
    finals = []
    for layer in range(num_layers):
        halves = []
        for direction in range(directions):
            index = layer * directions + direction
            w_ih, w_hh, *biases = params[index * per_direction:(index + 1) * per_direction]
            b_ih, b_hh = biases if has_biases else (0.0, 0.0)
            h = hx[index]  # (N, H)
            states: list[torch.Tensor] = [h] * steps
            for t in (range(steps - 1, -1, -1) if direction else range(steps)):
                h = activation(x[t] @ w_ih.T + b_ih + h @ w_hh.T + b_hh)
                states[t] = h
            halves.append(torch.stack(states))  # (L, N, H)
            finals.append(h)
        x = torch.cat(halves, dim=2)  # (L, N, D*H)
    output = x.transpose(0, 1) if batch_first else x
    return output, torch.stack(finals)
