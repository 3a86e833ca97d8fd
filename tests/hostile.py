"""Hostile submissions to `manual_rnn()`: what each one tries and the grade it must still get.

Every entry is the solution notebook with the manual_rnn cell replaced (`function`) and/or an
extra code cell inserted just before it (`top_level`, for code that runs at the notebook's top
level). The inserted cell is the notebook's 5th code cell, as a student counts them in Jupyter
(the manual_rnn cell becomes the 6th, the demo cell after it the 7th).

Expectations are what a sound grader must report, reasoned from its documented limits, not
copied from its output:

* a submission can waste at most its time limits, and the message names the limit it hit;
* it can never make a wrong answer score, by patching comparisons or lying tensors;
* it can never reach the reference, the secret, the hidden seeds or the grader's files;
* torch's recurrent built-ins (RNN, GRU, LSTM, their cells and kernels), however they are
  reached, give status builtin_rnn and 0 points — except by code that rewrites the grader's
  own objects in the student's process (gc, ctypes, frames), which no in-process check can
  stop: such code, and any code that reaches for that machinery, is listed for review;
* code is listed for review (results.json's extra_data.review) exactly when it reaches for
  the process's machinery or hides what it runs: `review` below names what the list must
  mention, and entries without `review` (every correct_after_ twin) must have none;
* honest code is never taken for the built-in, whatever its own classes and functions are
  called;
* nothing it starts outlives its grading, and the batch goes on after it.

Tests that sit outside one submission's grade (no process left behind, nothing written in the
output folder, the secret never written) are in test_hostile_e2e.py; the entries below that
only make sense with those (tampering, detached processes, snooping) have a correct manual_rnn
and so must score 24.
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
SOLUTION = ROOT / "solutions" / "bidirectional_rnn.ipynb"
NOTEBOOK_NAME = "bidirectional_rnn.ipynb"
FUNCTION_CELL_ID = "manual_rnn"
MAX_SCORE = 24.0
# The batch's temporary folder has this in its name: code that deletes or tampers only touches
# paths holding it, so a broken sandbox cannot damage anything but the test's own files.
BATCH_MARK = "hostile-batch"
TAMPER_MARK = "TAMPERED-by-submission"
# `pgrep -f` patterns of the processes that entries start and try to leave behind.
DETACHED_MARKERS = ("sleep 987654", "sleep 987653", "sleep 987651")

GRADED, ERROR, TIMEOUT, CRASHED, LIMIT = "graded", "error", "timeout", "crashed", "limit"
BUILTIN = "builtin_rnn"
NOT_ALLOWED = "not allowed"


@dataclass(frozen=True)
class HostileEntry:
    """One submission and the grade it must get.

    `score` is the exact score out of 24, or None when only "less than 24" can be said.
    `feedback` must all appear in results.json's text (overall output and every test's).
    """

    name: str
    function: str | None = None  # the manual_rnn cell; None keeps the solution's
    top_level: str | None = None  # an extra cell before the manual_rnn cell
    score: float | None = 0.0
    status: str = GRADED
    feedback: tuple[str, ...] = ()
    review: tuple[str, ...] = ()  # must all appear in extra_data.review; () = no review at all
    why: str = ""
    known_issue: str = ""  # set while the grader still gets this entry wrong (test xfails)


def _solution_notebook() -> nbformat.NotebookNode:
    return nbformat.read(SOLUTION, as_version=4)


def _function_cell(notebook: nbformat.NotebookNode) -> nbformat.NotebookNode:
    cells = [cell for cell in notebook.cells
             if cell.get("metadata", {}).get("nbgrader", {}).get("grade_id") == FUNCTION_CELL_ID]
    if len(cells) != 1:
        raise ValueError(f"{SOLUTION} has {len(cells)} cells with grade_id {FUNCTION_CELL_ID!r}")
    return cells[0]


def build_notebook(entry: HostileEntry, folder: Path) -> Path:
    """Write entry's submission as folder/bidirectional_rnn.ipynb and return its path."""
    folder.mkdir(parents=True, exist_ok=True)
    notebook = _solution_notebook()
    cell = _function_cell(notebook)
    if entry.function is not None:
        cell.source = entry.function
    if entry.top_level is not None:
        extra = nbformat.v4.new_code_cell(entry.top_level)
        notebook.cells.insert(notebook.cells.index(cell), extra)
    path = folder / NOTEBOOK_NAME
    nbformat.write(notebook, str(path))
    return path


SOLUTION_FUNCTION = _function_cell(_solution_notebook()).source


def after_correct(hostile_lines: str) -> str:
    """A manual_rnn cell that runs `hostile_lines` (indented 4) then returns the right answer."""
    helper = SOLUTION_FUNCTION.replace("def manual_rnn():", "def _by_hand():", 1)
    return f"{helper}\n\n\ndef manual_rnn():\n{hostile_lines}    return _by_hand()\n"


def on_graded_calls(hostile_lines: str) -> str:
    """Like after_correct, but the first call (the notebook's own demo cell, which calls
    manual_rnn at top level) is left alone: the hostile lines run in the grader's calls."""
    return "_calls = []\n\n" + after_correct(
        "    _calls.append(1)\n    if len(_calls) > 1:\n"
        + textwrap.indent(textwrap.dedent(hostile_lines), " " * 8))


ZEROS = """\
def manual_rnn():
    L, N, _ = sequence.shape
    H = w_hh_l0.shape[0]
    return torch.zeros(L, N, 2 * H), torch.zeros(2, N, H)
"""

# --- Time, input, exits and crashes ---------------------------------------------------------

TIME_AND_EXITS = (
    HostileEntry("top_level_infinite_loop", top_level="while True:\n    pass\n",
                 status=TIMEOUT,
                 feedback=("notebook time limit", "10 s",
                           "Code cell 5 (`while True:`) was still running")),
    HostileEntry("function_infinite_loop", on_graded_calls("    while True:\n        pass\n"),
                 status=TIMEOUT, feedback=("time limit per call", "3 s")),
    # stdin is /dev/null: input() fails at once. A failing top-level cell does not stop the
    # notebook (as in Jupyter), so the correct manual_rnn after it still scores.
    HostileEntry("top_level_input", top_level="answer = input('Your name? ')\n", score=24.0,
                 feedback=("code cell 5 (`answer = input('Your name? ')`) failed", "EOFError")),
    HostileEntry("function_input", on_graded_calls("    input('Continue? ')\n"), status=ERROR,
                 feedback=("input() cannot be answered",)),
    # IPython catches SystemExit in a cell, like Jupyter: the notebook goes on.
    HostileEntry("top_level_sys_exit", top_level="import sys\nsys.exit(3)\n", score=24.0,
                 feedback=("code cell 5 (`import sys`) failed", "SystemExit")),
    HostileEntry("function_sys_exit", on_graded_calls("    import sys\n    sys.exit(3)\n"),
                 status=ERROR, feedback=("called sys.exit()",)),
    HostileEntry("function_os_exit", on_graded_calls("    import os\n    os._exit(0)\n"),
                 status=CRASHED, feedback=("ended before it answered",)),
    HostileEntry("function_segfault",
                 on_graded_calls("    import ctypes\n    ctypes.string_at(0)\n"),
                 status=CRASHED, feedback=("segmentation fault",), review=("ctypes",)),
)

# --- Memory, output and size limits ---------------------------------------------------------

LIFT_RLIMIT = """\
import resource
try:
    resource.setrlimit(resource.{limit}, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))
except (ValueError, OSError):
    resource.setrlimit(resource.{limit}, (resource.getrlimit(resource.{limit})[1],) * 2)
print('{limit} now', resource.getrlimit(resource.{limit}))
"""

LIMITS = (
    HostileEntry("function_memory_bomb_tensor", on_graded_calls("    x = torch.ones(10**11)\n"),
                 status=LIMIT, feedback=("out of memory", "512 MB")),
    # A top-level cell out of memory fails that cell; the correct function still scores.
    HostileEntry("top_level_memory_bomb",
                 top_level="hoard = torch.ones(2**28, dtype=torch.float64)\n",
                 score=24.0, status=LIMIT,
                 feedback=("code cell 5 (`hoard = torch.ones(2**28", "memory limit, 512 MB")),
    HostileEntry("function_memory_bomb_bytearrays",
                 on_graded_calls("    hoard = []\n    while True:\n"
                               "        hoard.append(bytearray(b'x' * 50 * 2**20))\n"),
                 status=LIMIT, feedback=("out of memory", "512 MB")),
    # A submission running as root may try to lift its own rlimits (it needs CAP_SYS_RESOURCE
    # to raise a hard limit); whether or not that works, the limits must hold.
    HostileEntry("function_memory_bomb_after_lifting_rlimit",
                 on_graded_calls(LIFT_RLIMIT.format(limit="RLIMIT_AS")
                                 + "hoard = torch.ones(2**28, dtype=torch.float64)  # 2 GiB\n"
                                 "assert hoard.sum() > 0\n"),
                 status=LIMIT, feedback=("memory",), review=("resource limits",),
                 why="2 GiB is 4 times --memory-mb 512"),
    # A flood in a top-level cell stops that cell at the output limit; the function itself is
    # correct and its cases finish, so they keep their points and the status names the limit.
    HostileEntry("top_level_print_flood", top_level="while True:\n    print('x' * 1000)\n",
                 score=24.0, status=LIMIT, feedback=("output limit",)),
    HostileEntry("function_print_flood", on_graded_calls("    while True:\n"
                                                       "        print('x' * 1000)\n"),
                 status=LIMIT, feedback=("output limit",)),
    HostileEntry("top_level_print_flood_after_lifting_rlimit",
                 top_level=LIFT_RLIMIT.format(limit="RLIMIT_FSIZE")
                 + "for _ in range(5000):\n    print('x' * 1000)  # 5 MB, 5 times the limit\n",
                 score=24.0, status=LIMIT, feedback=("output limit",),
                 review=("resource limits",)),
    HostileEntry("huge_returned_tensor",
                 "def manual_rnn():\n    N, H = h_0.shape[1], h_0.shape[2]\n"
                 "    return torch.zeros(5000, 5000, 2), torch.zeros(2, N, H)\n",
                 status=LIMIT, feedback=("more than the limit of 1000000",)),
    HostileEntry("nan_result",
                 "def manual_rnn():\n    L, N, _ = sequence.shape\n    H = w_hh_l0.shape[0]\n"
                 "    nan = float('nan')\n"
                 "    return torch.full((L, N, 2 * H), nan), torch.full((2, N, H), nan)\n",
                 feedback=("NaN or infinite",)),
)

# --- Lying about the comparison -------------------------------------------------------------

PATCH_COMPARISONS = """\
import numpy
import torch
torch.allclose = lambda *a, **k: True
torch.equal = lambda *a, **k: True
torch.isclose = lambda a, b, *r, **k: torch.ones_like(a, dtype=torch.bool)
torch.testing.assert_close = lambda *a, **k: None
numpy.allclose = lambda *a, **k: True
numpy.array_equal = lambda *a, **k: True
numpy.testing.assert_allclose = lambda *a, **k: None
torch.Tensor.__eq__ = lambda self, other: True
"""

LYING_TENSOR = """\
class Liar(torch.Tensor):
    def __eq__(self, other):
        return True

    def __ne__(self, other):
        return False

    def allclose(self, *args, **kwargs):
        return True

    def equal(self, *args, **kwargs):
        return True

    @classmethod
    def __torch_function__(cls, func, types, args=(), kwargs=None):
        name = getattr(func, "__name__", "")
        if name in ("allclose", "equal", "eq", "__eq__", "isclose", "assert_close"):
            return True
        return super().__torch_function__(func, types, args, kwargs or {})


def manual_rnn():
    L, N, _ = sequence.shape
    H = w_hh_l0.shape[0]
    return (torch.zeros(L, N, 2 * H).as_subclass(Liar),
            torch.zeros(2, N, H).as_subclass(Liar))
"""

HEAP_HUNT = """\
import gc


def manual_rnn():
    L, N, _ = sequence.shape
    H = w_hh_l0.shape[0]
    found = {}
    for obj in gc.get_objects():
        try:
            if isinstance(obj, torch.Tensor) and obj is not sequence and obj is not h_0:
                found.setdefault(tuple(obj.shape), obj)
        except Exception:
            pass
    output = found.get((L, N, 2 * H), torch.zeros(L, N, 2 * H))
    h_n = found.get((2, N, H), torch.zeros(2, N, H))
    return output.detach().clone(), h_n.detach().clone()
"""

LYING = (
    HostileEntry("monkeypatched_comparisons", ZEROS, top_level=PATCH_COMPARISONS,
                 feedback=("differ from nn.RNN",),
                 review=("patches torch.allclose", "patches numpy.allclose")),
    HostileEntry("lying_tensor_subclass", LYING_TENSOR, feedback=("differ from nn.RNN",)),
    HostileEntry("heap_hunting_for_reference", HEAP_HUNT, score=None, review=("(gc)",),
                 why="the reference never exists in the student's process"),
)

# --- The built-in RNN, however reached -------------------------------------------------------

PARAMS = ("[w_ih_l0, w_hh_l0, b_ih_l0, b_hh_l0, w_r_ih_l0, w_r_hh_l0, b_r_ih_l0, b_r_hh_l0]")
HIDDEN_RNN = "''.join(['r', 'n', 'n'])"  # `rnn`, by a name no code check can read

RIGGED_GRU = """\
def manual_rnn():
    H, I = w_hh_l0.shape[0], w_ih_l0.shape[1]
    gru = getattr(nn, ''.join(['G', 'R', 'U']))(I, H, bidirectional=True)
    weights = {'': (w_ih_l0, w_hh_l0, b_ih_l0, b_hh_l0),
               '_reverse': (w_r_ih_l0, w_r_hh_l0, b_r_ih_l0, b_r_hh_l0)}
    with torch.no_grad():
        for suffix, (w_ih, w_hh, b_ih, b_hh) in weights.items():
            shut, open_ = torch.full((H,), -1e4), torch.full((H,), 1e4)
            getattr(gru, 'weight_ih_l0' + suffix).copy_(torch.cat([0 * w_ih, 0 * w_ih, w_ih]))
            getattr(gru, 'weight_hh_l0' + suffix).copy_(torch.cat([0 * w_hh, 0 * w_hh, w_hh]))
            getattr(gru, 'bias_ih_l0' + suffix).copy_(torch.cat([open_, shut, b_ih]))
            getattr(gru, 'bias_hh_l0' + suffix).copy_(torch.cat([0 * b_hh, 0 * b_hh, b_hh]))
        output, h_n = gru(sequence, h_0)
    return output.clone(), h_n.clone()
"""

RNN_TANH_CELL_LOOP = """\
def manual_rnn():
    L = sequence.shape[0]
    with torch.no_grad():
        h = h_0[0]
        forward = []
        for t in range(L):
            h = torch.rnn_tanh_cell(sequence[t], h, w_ih_l0, w_hh_l0, b_ih_l0, b_hh_l0)
            forward.append(h)
        h_f, h = h, h_0[1]
        reverse = [None] * L
        for t in range(L - 1, -1, -1):
            h = torch.rnn_tanh_cell(sequence[t], h, w_r_ih_l0, w_r_hh_l0, b_r_ih_l0, b_r_hh_l0)
            reverse[t] = h
    output = torch.cat([torch.stack(forward), torch.stack(reverse)], dim=2)
    return output, torch.stack([h_f, h])
"""

BUILTIN_RNN = (
    HostileEntry("builtin_rnn_module_called",
                 "def manual_rnn():\n    with torch.no_grad():\n"
                 "        return rnn(sequence, h_0)\n",
                 status=BUILTIN, feedback=(NOT_ALLOWED,)),
    HostileEntry("builtin_rnn_built_anew",
                 "def manual_rnn():\n    H = w_hh_l0.shape[0]\n"
                 "    fresh = torch.nn.RNN(sequence.shape[2], H, bidirectional=True)\n"
                 "    with torch.no_grad():\n"
                 "        for mine, theirs in zip(fresh.parameters(), rnn.parameters()):\n"
                 "            mine.copy_(theirs)\n"
                 "        return fresh(sequence, h_0)\n",
                 status=BUILTIN, feedback=(NOT_ALLOWED,)),
    HostileEntry("builtin_rnn_vf_rnn_tanh",
                 "def manual_rnn():\n    with torch.no_grad():\n"
                 f"        output, h_n = torch._VF.rnn_tanh(sequence, h_0, {PARAMS},\n"
                 "                                         True, 1, 0.0, False, True, False)\n"
                 "    return output, h_n\n",
                 status=BUILTIN, feedback=(NOT_ALLOWED,)),
    HostileEntry("builtin_rnn_getattr_built_at_run_time",
                 "def manual_rnn():\n"
                 "    kernel = getattr(torch._C._VariableFunctions, 'rnn' + '_tanh')\n"
                 "    with torch.no_grad():\n"
                 f"        output, h_n = kernel(sequence, h_0, {PARAMS},\n"
                 "                             True, 1, 0.0, False, True, False)\n"
                 "    return output, h_n\n",
                 status=BUILTIN, feedback=(NOT_ALLOWED,)),
    HostileEntry("builtin_rnn_result_from_top_level",
                 "def manual_rnn():\n    return precomputed\n",
                 top_level="with torch.no_grad():\n    precomputed = rnn(sequence, h_0)\n",
                 status=BUILTIN, feedback=(NOT_ALLOWED,)),
    # The code check cannot name what a name computed at run time holds (it lists the lookup
    # for review); the run-time guard must see these, in another thread or with torch's
    # switches off too.
    HostileEntry("builtin_rnn_torch_function_disabled",
                 f"def manual_rnn():\n    module = globals()[{HIDDEN_RNN}]\n"
                 "    with torch.no_grad(), torch._C.DisableTorchFunction():\n"
                 "        output, h_n = module(sequence, h_0)\n"
                 "    return output.clone(), h_n.clone()\n",
                 status=BUILTIN, feedback=(NOT_ALLOWED,), review=("computed", "torch._C")),
    HostileEntry("builtin_rnn_in_a_thread",
                 f"import threading\n\n\ndef manual_rnn():\n    module = globals()[{HIDDEN_RNN}]\n"
                 "    answer = []\n\n    def work():\n        with torch.no_grad():\n"
                 "            answer.extend(t.clone() for t in module(sequence, h_0))\n\n"
                 "    worker = threading.Thread(target=work)\n    worker.start()\n"
                 "    worker.join()\n    return tuple(answer)\n",
                 status=BUILTIN, feedback=(NOT_ALLOWED,), review=("computed",)),
    # nn.GRU with its update gate shut (bias -1e4) and reset gate open (+1e4) is a tanh RNN to
    # float32 rounding: the other recurrent layers count as the built-in too.
    HostileEntry("builtin_gru_rigged_as_a_tanh_rnn", RIGGED_GRU, status=BUILTIN,
                 feedback=(NOT_ALLOWED,), review=("computed",)),
    HostileEntry("builtin_rnn_tanh_cell_in_a_hand_written_loop", RNN_TANH_CELL_LOOP,
                 status=BUILTIN, feedback=(NOT_ALLOWED, "rnn_tanh_cell")),
)

# --- Switching the built-in rule off from the notebook ---------------------------------------
# The guard lives in the student's process. Assigning its attributes fails (an immutable
# class), and destroying torch.library registrations found by a gc walk leaves its own, which
# nothing references. Rewriting its kernels found by a gc walk does switch it off: no check
# inside the process can prevent that, so the code is listed for the instructor to review.

GUARD_PATCHED = f"""def _answer():
    return globals()[{HIDDEN_RNN}](sequence, h_0)


import grader.isolation.builtin_guard as guard

for name, value in (('calls', property(lambda self: 0)), ('returned', lambda self, t: False)):
    try:
        setattr(guard.BuiltinRnnGuard, name, value)
    except (TypeError, AttributeError) as error:
        print('could not patch', name, error)
"""

LIBRARIES_DESTROYED = f"""import gc


def _answer():
    return globals()[{HIDDEN_RNN}](sequence, h_0)


destroyed = 0
for candidate in gc.get_objects():
    if isinstance(candidate, torch.library.Library):
        candidate._destroy()
        destroyed += 1
print('destroyed', destroyed, 'torch.library registrations')
"""

KERNELS_REWRITTEN = f"""import gc


def _answer():
    return globals()[{HIDDEN_RNN}](sequence, h_0)


for candidate in gc.get_objects():
    code = getattr(candidate, '__code__', None)
    if code is not None and 'tick' in code.co_freevars and candidate.__closure__:
        candidate.__closure__[code.co_freevars.index('tick')].cell_contents = lambda: 0
"""

CALLS_ANSWER = """def manual_rnn():
    with torch.no_grad():
        output, h_n = _answer()
    return output.clone(), h_n.clone()
"""

SWITCHING_OFF = (
    HostileEntry("guard_patched_from_top_level", CALLS_ANSWER, top_level=GUARD_PATCHED,
                 status=BUILTIN, feedback=(NOT_ALLOWED,),
                 review=("grader itself", "computed")),
    HostileEntry("guard_registrations_destroyed_via_gc", CALLS_ANSWER,
                 top_level=LIBRARIES_DESTROYED, status=BUILTIN, feedback=(NOT_ALLOWED,),
                 review=("(gc)", "computed")),
    # The guard is installed in the warm worker before gc.freeze(): a gc walk in the child no
    # longer finds its kernels. Still listed for review: ctypes could find them.
    HostileEntry("guard_kernels_rewritten_via_gc", CALLS_ANSWER, top_level=KERNELS_REWRITTEN,
                 status=BUILTIN, feedback=(NOT_ALLOWED,),
                 review=("(gc)", "function's code", "computed")),
)

# --- The built-in rule and honest code -------------------------------------------------------

HAND_WRITTEN_CLASS_RNN = """class RNN:
    \"\"\"An Elman RNN written by hand, as in many public repositories.\"\"\"

    def __init__(self, w_ih, w_hh, b_ih, b_hh):
        self.w_ih, self.w_hh, self.b_ih, self.b_hh = w_ih, w_hh, b_ih, b_hh

    def __call__(self, x, h):
        states = []
        for x_t in x:
            h = torch.tanh(x_t @ self.w_ih.T + self.b_ih + h @ self.w_hh.T + self.b_hh)
            states.append(h)
        return torch.stack(states), h


def manual_rnn():
    with torch.no_grad():
        forward, h_forward = RNN(w_ih_l0, w_hh_l0, b_ih_l0, b_hh_l0)(sequence, h_0[0])
        reverse, h_reverse = RNN(w_r_ih_l0, w_r_hh_l0, b_r_ih_l0, b_r_hh_l0)(
            sequence.flip(0), h_0[1])
    return torch.cat([forward, reverse.flip(0)], 2), torch.stack([h_forward, h_reverse])
"""

D2L_STYLE_RNN = """def rnn(inputs, state, params):
    W_xh, W_hh, b_h = params
    H, = state
    outputs = []
    for X in inputs:
        H = torch.tanh(torch.mm(X, W_xh) + torch.mm(H, W_hh) + b_h)
        outputs.append(H)
    return torch.stack(outputs), (H,)


def manual_rnn():
    with torch.no_grad():
        forward, (h_f,) = rnn(sequence, (h_0[0],), (w_ih_l0.T, w_hh_l0.T, b_ih_l0 + b_hh_l0))
        params = (w_r_ih_l0.T, w_r_hh_l0.T, b_r_ih_l0 + b_r_hh_l0)
        reverse, (h_r,) = rnn(sequence.flip(0), (h_0[1],), params)
    return torch.cat([forward, reverse.flip(0)], dim=2), torch.stack([h_f, h_r])
"""

HONEST = (
    HostileEntry("honest_class_named_RNN", HAND_WRITTEN_CLASS_RNN, score=24.0),
    # The demo cell after it calls the module `rnn`, now the student's function: that cell
    # fails (as it would in Jupyter); the graded calls must still use the student's `rnn`.
    HostileEntry("honest_d2l_function_named_rnn", D2L_STYLE_RNN, score=24.0,
                 feedback=("code cell 6 (`output, h_n = manual_rnn()`) failed",)),
)

# --- Tampering with files -------------------------------------------------------------------
# Each has a correct manual_rnn; test_hostile_e2e checks the output folder and the
# submissions afterwards. They only touch paths holding BATCH_MARK.

WALK_TMP_AND_WRITE = f"""\
import os
written = []
for top, folders, files in os.walk('/tmp'):
    if '{BATCH_MARK}' in top and os.path.basename(top) == 'out':
        target = os.path.join(top, '{TAMPER_MARK}-walk.txt')
        try:
            with open(target, 'w') as stream:
                stream.write('tampered')
            written.append(target)
        except OSError as error:
            print('could not write', target, error)
print('written:', written)
"""

WRITE_PARENTS = f"""\
import os
for up in ('..',):  # beyond is / itself: not here
    target = os.path.join(up, '{TAMPER_MARK}-parent.txt')
    try:
        with open(target, 'w') as stream:
            stream.write('tampered')
        print('wrote', os.path.abspath(target))
    except OSError as error:
        print('could not write', target, error)
"""

DELETE_IN_TMP = f"""\
import os
deleted = []
for top, folders, files in os.walk('/tmp'):
    for name in files:
        path = os.path.join(top, name)
        if '{BATCH_MARK}' in path:
            try:
                os.remove(path)
                deleted.append(path)
            except OSError:
                pass
print('deleted:', deleted)
"""

FIND_GRADER = """\
import os


def grader_processes():
    for pid in os.listdir('/proc'):
        if not pid.isdigit():
            continue
        try:
            with open(f'/proc/{pid}/cmdline', 'rb') as stream:
                words = stream.read().decode(errors='replace').split('\\0')
        except OSError:
            continue
        if 'grader' in words and 'grade' in words:
            yield pid, words


def after(words, flag):
    return words[words.index(flag) + 1] if flag in words else None

"""

PROC_ROOT_TAMPER = FIND_GRADER + f"""\
for pid, words in grader_processes():
    out = after(words, '--out')
    if out and '{BATCH_MARK}' in out:
        target = f'/proc/{{pid}}/root{{out}}/{TAMPER_MARK}-proc-root.txt'
        try:
            with open(target, 'w') as stream:
                stream.write('tampered')
            print('wrote', target)
        except OSError as error:
            print('could not write', target, error)
"""

UNMOUNT_TMP_TAMPER = f"""\
import ctypes
import os
libc = ctypes.CDLL(None, use_errno=True)
print('umount /tmp:', libc.umount2(b'/tmp', 2), ctypes.get_errno())
for top, folders, files in os.walk('/tmp'):
    if '{BATCH_MARK}' in top and os.path.basename(top) == 'out':
        target = os.path.join(top, '{TAMPER_MARK}-unmounted.txt')
        try:
            with open(target, 'w') as stream:
                stream.write('tampered')
            print('wrote', target)
        except OSError as error:
            print('could not write', target, error)
"""

TAMPERING = (
    HostileEntry("tamper_out_folder_found_in_tmp", top_level=WALK_TMP_AND_WRITE, score=24.0),
    HostileEntry("tamper_parent_folders_of_cwd", top_level=WRITE_PARENTS, score=24.0),
    HostileEntry("tamper_delete_files_in_tmp", top_level=DELETE_IN_TMP, score=24.0),
    HostileEntry("tamper_out_folder_via_proc_root", top_level=PROC_ROOT_TAMPER, score=24.0,
                 review=("/proc",)),
    HostileEntry("tamper_out_folder_after_unmounting_tmp", top_level=UNMOUNT_TMP_TAMPER,
                 score=24.0, review=("ctypes",)),
)

# --- Processes left behind ------------------------------------------------------------------

DETACHED = (
    HostileEntry("detached_popen_new_session", score=24.0, review=("processes",), top_level=(
        "import subprocess\n"
        "subprocess.Popen(['sleep', '987654'], start_new_session=True,\n"
        "                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)\n")),
    HostileEntry("detached_double_fork_setsid", score=24.0, review=("processes",), top_level=(
        "import os\n"
        "pid = os.fork()\n"
        "if pid == 0:\n"
        "    os.setsid()\n"
        "    if os.fork() == 0:\n"
        "        os.execvp('sleep', ['sleep', '987653'])\n"
        "    os._exit(0)\n"
        "os.waitpid(pid, 0)\n")),
    # The student's parent (the worker) reaps and reports: try to kill it first.
    HostileEntry("detached_after_killing_parent", score=24.0, review=("processes",),
                 top_level=(
        "import os, signal, subprocess\n"
        "os.kill(os.getppid(), signal.SIGKILL)\n"
        "subprocess.Popen(['sleep', '987651'], start_new_session=True,\n"
        "                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)\n")),
)

# --- Snooping for the secret ----------------------------------------------------------------

SNOOP_ENV_AND_FILES = """\
import os, time
print('ENVIRON', dict(os.environ))
started, seen, shown = time.monotonic(), 0, 0
for top, folders, files in os.walk('/'):
    if top == '/':
        folders[:] = [f for f in folders if f not in ('proc', 'sys', 'dev')]
    for name in files:
        seen += 1
        path = os.path.join(top, name)
        if 'secret' in path.lower() and shown < 200:
            shown += 1
            try:
                if os.path.getsize(path) < 4096:
                    with open(path, errors='replace') as stream:
                        print('FILE', path, repr(stream.read()))
                else:
                    print('NAME', path)
            except OSError:
                pass
    if seen > 20000 or time.monotonic() - started > 5:
        break
print('files seen:', seen)
"""

SNOOP_PROC = FIND_GRADER + """\
for pid, words in grader_processes():
    print('GRADER', pid, words)
    try:
        with open(f'/proc/{pid}/environ', 'rb') as stream:
            variables = stream.read().decode(errors='replace').split('\\0')
        print('ENVIRON', [v for v in variables if 'SECRET' in v])
    except OSError as error:
        print('environ', error)
    secret_file = after(words, '--secret-file')
    if secret_file:
        for path in (secret_file, f'/proc/{pid}/root{secret_file}'):
            try:
                with open(path, errors='replace') as stream:
                    print('SECRET FILE', path, repr(stream.read()))
            except OSError as error:
                print('secret file', path, error)
"""

SNOOPING = (
    HostileEntry("snoop_environment_and_filesystem", top_level=SNOOP_ENV_AND_FILES, score=24.0),
    HostileEntry("snoop_grader_process_via_proc", top_level=SNOOP_PROC, score=24.0,
                 review=("/proc",)),
)

# The walls' own attacks use the helpers above: imported here, once those exist.
from hostile_walls import WALLS  # noqa: E402

HOSTILE: tuple[HostileEntry, ...] = (TIME_AND_EXITS + LIMITS + LYING + BUILTIN_RNN
                                     + SWITCHING_OFF + HONEST + TAMPERING
                                     + DETACHED + SNOOPING + WALLS)


def correct_after(entry: HostileEntry) -> HostileEntry:
    """The solution itself, graded after `entry` in the same batch."""
    return HostileEntry(f"correct_after_{entry.name}", score=MAX_SCORE)


ENTRIES: tuple[HostileEntry, ...] = tuple(
    item for entry in HOSTILE for item in (entry, correct_after(entry)))
BY_NAME = {entry.name: entry for entry in ENTRIES}
assert len(BY_NAME) == len(ENTRIES), "entry names must be unique"
# Submission folders sort in the order above (the batch grades in sorted order), each hostile
# entry right before its correct_after_ twin; the folder name is the submission's name.
FOLDERS = {item.name: f"{number:02d}{suffix}-{item.name}"
           for number, entry in enumerate(HOSTILE, start=1)
           for suffix, item in (("a", entry), ("b", correct_after(entry)))}
