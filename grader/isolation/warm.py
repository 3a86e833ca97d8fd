"""Preloaded by the warm worker: pay for torch, IPython and their lazy imports once.

The worker is a fresh interpreter started from an environment without the instructor's
secret; it imports only this, so it holds no secret, hidden seed or reference.
"""

import gc
import importlib

import torch

from grader import exercises
from grader.isolation import child

# Every installed exercise's child side (the case's globals, a nested return's flattening),
# course exercises included: imported here, before the guard and before any child is confined
# (each child's first call would import it otherwise).
for _exercise in exercises.installed().values():
    if _exercise.child_module:
        importlib.import_module(_exercise.child_module)

torch.set_num_threads(1)
child.warm_shell()
child.warm_guard()
# Its first call imports seconds' worth of torch internals; notebooks often use it.
torch.testing.assert_close(torch.zeros(1), torch.zeros(1))
# Children never collect what the worker holds: their garbage collector would otherwise walk
# (and copy on write) every object inherited from this process, a large part of each fork.
gc.freeze()
