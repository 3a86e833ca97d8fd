"""Preloaded by the warm worker: pay for torch, IPython and their lazy imports once.

The worker is a fresh interpreter started from an environment without the instructor's
secret; it imports only this, so it holds no secret, hidden seed or reference.
"""

import contextlib
import gc
import importlib
import io

import torch

from grader import exercises
from grader.isolation import child, seccomp_policy

# Every installed exercise's child side (the case's globals, a nested return's flattening),
# course exercises included: imported here, before the guard and before any child is confined
# (each child's first call would import it otherwise).
for _exercise in exercises.installed().values():
    if _exercise.child_module:
        importlib.import_module(_exercise.child_module)

# What every child's first cell would otherwise pay: IPython's first run of a cell, its display
# of a value, a module's construction, the tensor operations of a recurrence. Neutral code, no
# notebook's: whatever runs here, every child can find in its memory.
WARM_UP_CELLS = ("1", """
import torch
from torch import nn
module = nn.RNN(3, 2, bidirectional=True)
sequence = torch.zeros(2, 1, 3)
def loop(sequence):
    h = torch.zeros(1, 2)
    steps = []
    for t in range(sequence.shape[0]):
        h = torch.tanh(sequence[t] @ module.weight_ih_l0.T + module.bias_ih_l0
                       + h @ module.weight_hh_l0.T + module.bias_hh_l0)
        steps.append(h)
    return torch.stack(steps), torch.cat(steps, 1).flip(0)
print(tuple(module(sequence)[0].shape), tuple(loop(sequence)[0].shape))
torch.testing.assert_close(loop(sequence)[0], loop(sequence)[0])
""")

torch.set_num_threads(1)
# torch.testing.assert_close, which notebooks use for their own self-checks, first imports
# torch.distributed.tensor (and sympy) to unwrap distributed tensors: 0.65 s of every batch's
# start and 40 MB that every fork would copy. A sandboxed notebook cannot make a distributed
# tensor (no process group without sockets), so the unwrapping is skipped: for every other
# tensor assert_close behaves exactly as before.
if hasattr(torch.testing._comparison, "_HAS_DTENSOR"):
    torch.testing._comparison._HAS_DTENSOR = False
_shell = child.warm_shell()
with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
    for _cell in WARM_UP_CELLS:
        _shell.run_cell(_cell, store_history=True).raise_error()  # ours: it must not fail
_shell.reset(new_session=True)  # In[1] again, an empty namespace, as in a fresh interpreter
# What reset leaves of the history: the last inputs (_i, _ii, _iii) and the unwritten cache.
_history = _shell.history_manager
_history._i00 = _history._i = _history._ii = _history._iii = ""
_history.db_input_cache.clear()
_history.db_output_cache.clear()
torch.manual_seed(torch.initial_seed())  # the generator as a fresh interpreter has it
child.warm_guard()  # after the warm-up: it counts no call of ours
if seccomp_policy.available():
    seccomp_policy.compiled(1)  # each student process is PID 1 of its own PID namespace
# Children never collect what the worker holds: their garbage collector would otherwise walk
# (and copy on write) every object inherited from this process, a large part of each fork.
gc.freeze()
