"""torch's own recurrent layers holding a case's weights, for the built-in exercises: the
reference (`torch_reference`: nn.RNN, nn.GRU or nn.LSTM itself, in float64, in the grading
process) and the notebook's globals for one case (`notebook_globals`: the sizes, a fresh
float32 module and its weights under the notebook's names, in the student's process).

An exercise names its layer ("RNN", "GRU", "LSTM"), its options (bidirectional=True,
num_layers=2...), its `weights` (notebook global -> the module's parameter) and its initial
states ("h_0", or "h_0" and "c_0" for the LSTM's pair). torch is imported only when called.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Mapping

import numpy as np

from grader.exercises.base import Arrays, Sizes
from grader.exercises.shapes import sizes_of


def loaded_module(layer: str, sizes: Sizes, arrays: Mapping[str, np.ndarray],
                  weights: Mapping[str, str], dtype=None, **options):
    """torch.nn.<layer>(I, H, **options), in `dtype` when one is given (float32 otherwise),
    holding the case's weights: each `weights` global's array copied into its parameter."""
    import torch

    module = getattr(torch.nn, layer)(sizes["I"], sizes["H"], **options)
    if dtype is not None:
        module = module.to(dtype)
    with torch.no_grad():
        for global_name, parameter in weights.items():
            getattr(module, parameter).copy_(torch.from_numpy(arrays[global_name]))
    return module


def torch_reference(layer: str, inputs: Mapping[str, np.ndarray], weights: Mapping[str, str],
                    states: tuple[str, ...] = ("h_0",), **options) -> Arrays:
    """torch.nn.<layer> itself, in float64, on the case's float32 values: `sequence` and the
    initial `states` in (one tensor, or the pair (h_0, c_0)); output and each final state out,
    named after its initial one (h_0 -> h_n, c_0 -> c_n)."""
    import torch

    sizes = sizes_of(inputs)
    sequence, *initial = (torch.from_numpy(inputs[name].astype(np.float64))
                          for name in ("sequence", *states))
    with _REFERENCE_LOCK, torch.no_grad():  # the module is shared by the batch's threads
        module = _reference_module(layer, sizes["I"], sizes["H"], tuple(sorted(options.items())))
        _check_weights_cover(module, weights)
        for global_name, parameter in weights.items():
            getattr(module, parameter).copy_(torch.from_numpy(inputs[global_name]))
        output, finals = module(sequence, initial[0] if len(initial) == 1 else tuple(initial))
    finals = (finals,) if len(initial) == 1 else finals
    return {"output": output.numpy(),
            **{name[:-2] + "_n": final.numpy() for name, final in zip(states, finals, strict=True)}}


_REFERENCE_LOCK = threading.Lock()


@functools.lru_cache(maxsize=64)
def _reference_module(layer: str, inputs: int, hidden: int, options: tuple):
    """One float64 module per layer, sizes and options, made once per batch (making one costs
    more than running it on a case); every parameter is overwritten before each use."""
    import torch

    return getattr(torch.nn, layer)(inputs, hidden, dtype=torch.float64, **dict(options))


def _check_weights_cover(module, weights: Mapping[str, str]) -> None:
    missing = {name for name, _ in module.named_parameters()} - set(weights.values())
    if missing:
        raise ValueError(f"the exercise's weights do not cover {sorted(missing)}")


def notebook_globals(sizes: Sizes, arrays: Mapping[str, np.ndarray], module_name: str, module,
                     weights: Mapping[str, str], states: tuple[str, ...] = ("h_0",),
                     **constants: object) -> dict[str, object]:
    """The notebook's globals for one case: the size globals, `constants` (NUM_LAYERS...), the
    module as `module_name`, `sequence` and the initial states as float32 tensors of their own,
    and each weight global bound to the module's parameter (so both hold the same tensor)."""
    import torch

    namespace: dict[str, object] = {
        "SEQUENCE_LENGTH": sizes["L"], "BATCH_SIZE": sizes["N"], "INPUT_SIZE": sizes["I"],
        "HIDDEN_SIZE": sizes["H"], **constants, module_name: module}
    namespace.update({name: torch.from_numpy(arrays[name].copy())
                      for name in ("sequence", *states)})  # (L, N, I), then (D * layers, N, H)
    namespace.update({name: getattr(module, parameter) for name, parameter in weights.items()})
    return namespace
