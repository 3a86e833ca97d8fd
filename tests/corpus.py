"""A corpus of submissions to `manual_rnn()` with the grade each one must get.

Every entry is a whole manual_rnn cell (or raw bytes for a broken file) together with the
exact score out of 24 and the feedback it must produce. The scores are reasoned from the
rubric, case by case, not copied from the grader's output:

    6 hidden cases x 4 points: output's forward half 1, output's reverse half 1, h_n[0] 1,
    h_n[1] 1. A tensor of the wrong shape (or dtype) scores 0 for both of its halves; a call
    that raises or returns something that is not two tensors scores 0 for the case.

The hidden sizes come from the secret. With SECRET below the six cases are (CASE_SIZES):

    case 1  L=5 N=3 I=4 H=6   the notebook's own sizes, random h_0
    case 2  L=1 N=1 I=2 H=6   one step, one sequence, random h_0
    case 3  L=1 N=5 I=5 H=4   one step, a batch, h_0 = 0
    case 4  L=8 N=1 I=3 H=2   one long sequence, random h_0
    case 5  L=2 N=4 I=2 H=6   more sequences than steps, h_0 = 0
    case 6  L=5 N=2 I=3 H=10  a wide hidden state, random h_0

The plans fix the structure whatever the secret (case 1 is always the notebook's sizes,
cases 2 and 3 always have L = 1, case 4 N = 1, cases 3 and 5 h_0 = 0, case 5 N > L, case 6
H >= 8 and N != L). Only two entries depend on more than that; their comments say so, and
tests/test_corpus_e2e.py checks that the secret still gives CASE_SIZES.

The hidden *values* are drawn per notebook, from the secret and the notebook file's SHA-256:
each entry's notebook has inputs of its own. One entry's reasoning (bug_h0_ignored, case 4)
depends on those values; test_corpus_e2e.py recomputes it from the entry's own inputs.

"Generically wrong" below means: a different formula, on random float32 inputs, differs from
nn.RNN by far more than the tolerance (twice the float32 rounding bound plus 1e-6, so about
1e-6..1e-5); for these inputs the smallest such difference is above 1e-4.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import nbformat

SOLUTION = Path(__file__).resolve().parents[1] / "solutions" / "bidirectional_rnn.ipynb"
NOTEBOOK_NAME = "bidirectional_rnn.ipynb"
FUNCTION_CELL_ID = "manual_rnn"
SECRET = "corpus-e2e-secret"
CASE_SIZES = (  # (L, N, I, H) of hidden cases 1..6 for SECRET
    (5, 3, 4, 6), (1, 1, 2, 6), (1, 5, 5, 4), (8, 1, 3, 2), (2, 4, 2, 6), (5, 2, 3, 10))
MAX_SCORE = 24.0

GRADED, ERROR, NOT_IMPLEMENTED = "graded", "error", "not_implemented"
INVALID, BUILTIN = "invalid_notebook", "builtin_rnn"

# Public cases show "yours / nn.RNN" values; hidden cases must never show expected values.
EXPECTED_VALUES_HEADER = "yours        nn.RNN"


@dataclass(frozen=True)
class CorpusEntry:
    """One submission and the grade it must get.

    `source` is the full manual_rnn cell; `raw` (bytes) replaces the whole file instead;
    `remove_cell` deletes the manual_rnn cell. `case_scores` is the per-case reasoning
    behind `score` (its sum); `feedback` must all appear in the results' text (top-level
    output and every test's output), `absent` must not.
    """

    name: str
    source: str
    score: float
    status: str
    feedback: tuple[str, ...] = ()
    absent: tuple[str, ...] = ()
    case_scores: tuple[float, ...] | None = None
    raw: bytes | None = None
    remove_cell: bool = False


def build_notebook(entry: CorpusEntry, folder: Path) -> Path:
    """Write entry's submission as folder/bidirectional_rnn.ipynb and return its path."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / NOTEBOOK_NAME
    if entry.raw is not None:
        path.write_bytes(entry.raw)
        return path
    notebook = nbformat.read(SOLUTION, as_version=4)
    cells = [cell for cell in notebook.cells
             if cell.get("metadata", {}).get("nbgrader", {}).get("grade_id") == FUNCTION_CELL_ID]
    if len(cells) != 1:
        raise ValueError(f"{SOLUTION} has {len(cells)} cells with grade_id {FUNCTION_CELL_ID!r}")
    if entry.remove_cell:
        notebook.cells.remove(cells[0])
    else:
        cells[0].source = entry.source
    nbformat.write(notebook, str(path))
    return path


def _variant(base: str, *edits: tuple[str, str]) -> str:
    """base with each (old, new) edit applied; each old text must occur exactly once."""
    for old, new in edits:
        if base.count(old) != 1:
            raise ValueError(f"edit target occurs {base.count(old)} times: {old!r}")
        base = base.replace(old, new)
    return base


# --- Correct submissions, written in different ways: 24 / 24 each ---------------------------

LOOP = '''\
def manual_rnn():
    """Run the bidirectional RNN by hand; return (output, h_n)."""
    L, N, _ = sequence.shape
    forward, reverse = [], [None] * L
    h = h_0[0]
    for t in range(L):
        h = torch.tanh(sequence[t] @ w_ih_l0.T + b_ih_l0 + h @ w_hh_l0.T + b_hh_l0)
        forward.append(h)
    h_forward = h
    h = h_0[1]
    for t in range(L - 1, -1, -1):
        h = torch.tanh(sequence[t] @ w_r_ih_l0.T + b_r_ih_l0 + h @ w_r_hh_l0.T + b_r_hh_l0)
        reverse[t] = h
    h_reverse = h
    output = torch.cat([torch.stack(forward), torch.stack(reverse)], dim=2)
    h_n = torch.stack([h_forward, h_reverse])
    return output, h_n
'''

FUNCTIONAL_LINEAR = '''\
import torch.nn.functional as F


def manual_rnn():
    L = sequence.shape[0]

    def run(order, h, w_ih, b_ih, w_hh, b_hh):
        states = {}
        for t in order:
            h = torch.tanh(F.linear(sequence[t], w_ih, b_ih) + F.linear(h, w_hh, b_hh))
            states[t] = h
        return torch.stack([states[t] for t in range(L)]), h

    forward, h_forward = run(range(L), h_0[0], w_ih_l0, b_ih_l0, w_hh_l0, b_hh_l0)
    reverse, h_reverse = run(reversed(range(L)), h_0[1],
                             w_r_ih_l0, b_r_ih_l0, w_r_hh_l0, b_r_hh_l0)
    return torch.cat((forward, reverse), dim=-1), torch.stack((h_forward, h_reverse))
'''

FLOAT64_INTERNAL = '''\
def manual_rnn():
    dtype = sequence.dtype
    x = sequence.double()
    weights = [[w.detach().double() for w in ws] for ws in (
        (w_ih_l0, b_ih_l0, w_hh_l0, b_hh_l0), (w_r_ih_l0, b_r_ih_l0, w_r_hh_l0, b_r_hh_l0))]
    L = x.shape[0]
    halves, finals = [], []
    for direction, (w_ih, b_ih, w_hh, b_hh) in enumerate(weights):
        h = h_0[direction].double()
        states = [None] * L
        steps = range(L) if direction == 0 else range(L - 1, -1, -1)
        for t in steps:
            h = torch.tanh(x[t] @ w_ih.T + b_ih + h @ w_hh.T + b_hh)
            states[t] = h
        halves.append(torch.stack(states))
        finals.append(h)
    return torch.cat(halves, dim=2).to(dtype), torch.stack(finals).to(dtype)
'''

PREALLOCATED = '''\
def manual_rnn():
    L, N, _ = sequence.shape
    H = w_hh_l0.shape[0]
    output = torch.zeros(L, N, 2 * H, dtype=sequence.dtype)
    h_n = torch.empty(2, N, H, dtype=sequence.dtype)
    h = h_0[0]
    for t in range(L):
        h = torch.tanh(sequence[t] @ w_ih_l0.T + b_ih_l0 + h @ w_hh_l0.T + b_hh_l0)
        output[t, :, :H] = h
    h_n[0] = h
    h = h_0[1]
    for t in reversed(range(L)):
        h = torch.tanh(sequence[t] @ w_r_ih_l0.T + b_r_ih_l0 + h @ w_r_hh_l0.T + b_r_hh_l0)
        output[t, :, H:] = h
    h_n[1] = h
    return output, h_n
'''

LIST_STACK = '''\
def manual_rnn():
    with torch.no_grad():
        forward_states, reverse_states = [], []
        h_f, h_r = h_0[0], h_0[1]
        for x_t in sequence:
            h_f = torch.tanh(x_t @ w_ih_l0.T + b_ih_l0 + h_f @ w_hh_l0.T + b_hh_l0)
            forward_states.append(h_f)
        for x_t in torch.flip(sequence, dims=[0]):
            h_r = torch.tanh(x_t @ w_r_ih_l0.T + b_r_ih_l0 + h_r @ w_r_hh_l0.T + b_r_hh_l0)
            reverse_states.append(h_r)
        reverse_states = reverse_states[::-1]  # back to time order
        output = torch.cat([torch.stack(forward_states, dim=0),
                            torch.stack(reverse_states, dim=0)], dim=-1)
        h_n = torch.stack([h_f, h_r], dim=0)
    return output, h_n
'''

SIZE_GLOBALS = '''\
def manual_rnn():
    output = torch.zeros(SEQUENCE_LENGTH, BATCH_SIZE, D * HIDDEN_SIZE)
    h_n = torch.zeros(D * NUM_LAYERS, BATCH_SIZE, HIDDEN_SIZE)
    directions = [(w_ih_l0, b_ih_l0, w_hh_l0, b_hh_l0, range(SEQUENCE_LENGTH)),
                  (w_r_ih_l0, b_r_ih_l0, w_r_hh_l0, b_r_hh_l0,
                   range(SEQUENCE_LENGTH - 1, -1, -1))]
    with torch.no_grad():
        for d, (w_ih, b_ih, w_hh, b_hh, steps) in enumerate(directions):
            h = h_0[d]
            for t in steps:
                h = torch.tanh(sequence[t] @ w_ih.T + b_ih + h @ w_hh.T + b_hh)
                output[t, :, d * HIDDEN_SIZE:(d + 1) * HIDDEN_SIZE] = h
            h_n[d] = h
    return output, h_n
'''

VECTORISED_FLOAT64 = '''\
def manual_rnn():
    """Input projections of every step at once, in float64; only the recurrence loops."""
    x = sequence.detach().double()  # (L, N, I)
    L = x.shape[0]
    results = []
    for d, (w_ih, b_ih, w_hh, b_hh) in enumerate([
            (w_ih_l0, b_ih_l0, w_hh_l0, b_hh_l0), (w_r_ih_l0, b_r_ih_l0, w_r_hh_l0, b_r_hh_l0)]):
        projected = torch.einsum("lni,hi->lnh", x, w_ih.detach().double()) \\
            + (b_ih + b_hh).detach().double()  # (L, N, H)
        w_hh = w_hh.detach().double()
        h = h_0[d].double()
        states = torch.zeros_like(projected)
        for t in (range(L) if d == 0 else range(L - 1, -1, -1)):
            h = torch.tanh(projected[t] + h @ w_hh.T)
            states[t] = h
        results.append((states, h))
    output = torch.cat([results[0][0], results[1][0]], dim=2).float()
    h_n = torch.stack([results[0][1], results[1][1]]).float()
    return output, h_n
'''

CORRECT = (
    CorpusEntry("correct_loop_tanh_matmul", LOOP, 24, GRADED),
    CorpusEntry("correct_functional_linear", FUNCTIONAL_LINEAR, 24, GRADED),
    CorpusEntry("correct_float64_internal", FLOAT64_INTERNAL, 24, GRADED),
    CorpusEntry("correct_preallocated_inplace", PREALLOCATED, 24, GRADED),
    CorpusEntry("correct_list_stack", LIST_STACK, 24, GRADED),
    CorpusEntry("correct_size_globals", SIZE_GLOBALS, 24, GRADED),
    CorpusEntry("correct_vectorised_float64", VECTORISED_FLOAT64, 24, GRADED),
    # IPython magic in the cell: the grader runs cells with IPython, so both must work.
    CorpusEntry("correct_line_magic_time", "%time warm_up = torch.zeros(1)\n" + LOOP, 24, GRADED),
    CorpusEntry("correct_cell_magic_time", "%%time\n" + LOOP, 24, GRADED),
)
CORRECT = tuple(
    CorpusEntry(entry.name, entry.source, entry.score, entry.status,
                feedback=("Score: 24 / 24", "6 of 6 cases fully right", "matches nn.RNN"),
                absent=("known mistake", "differ from nn.RNN", "failed:", "raised",
                        "largest difference"),
                case_scores=(4,) * 6)
    for entry in CORRECT)
# Returns float64: the notebook asks for sequence's dtype, but the values are right; the
# demo cell compares values only, and the grader accepts float64 -> 24.
CORRECT += (
    CorpusEntry("correct_returns_float64",
                _variant(LOOP, ("    return output, h_n\n",
                                "    return output.double(), h_n.double()\n")), 24, GRADED,
                feedback=("Score: 24 / 24", "6 of 6 cases fully right"),
                absent=("known mistake", "differ from nn.RNN", "failed:"),
                case_scores=(4,) * 6),
)


# --- Typical bugs ----------------------------------------------------------------------------

FORWARD_ONLY = _variant(
    LOOP,
    ("    output = torch.cat([torch.stack(forward), torch.stack(reverse)], dim=2)\n"
     "    h_n = torch.stack([h_forward, h_reverse])\n",
     "    output = torch.stack(forward)  # (L, N, H)\n"
     "    h_n = h_forward.unsqueeze(0)  # (1, N, H)\n"))

SIZES_HARDCODED = '''\
def manual_rnn():
    L, N, H = 5, 3, 6  # the notebook's sizes, typed in
    output = torch.zeros(L, N, 2 * H)
    h_n = torch.zeros(2, N, H)
    h = h_0[0]
    for t in range(L):
        h = torch.tanh(sequence[t] @ w_ih_l0.T + b_ih_l0 + h @ w_hh_l0.T + b_hh_l0)
        output[t, :, :H] = h
    h_n[0] = h
    h = h_0[1]
    for t in range(L - 1, -1, -1):
        h = torch.tanh(sequence[t] @ w_r_ih_l0.T + b_r_ih_l0 + h @ w_r_hh_l0.T + b_r_hh_l0)
        output[t, :, H:] = h
    h_n[1] = h
    return output, h_n
'''

ONE_STEP_TOO_FEW = _variant(
    PREALLOCATED,
    ("    for t in range(L):\n", "    for t in range(L - 1):\n"),
    ("    for t in reversed(range(L)):\n", "    for t in range(L - 1, 0, -1):\n"))

NAN_RESULT = '''\
def manual_rnn():
    L, N, _ = sequence.shape
    H = w_hh_l0.shape[0]
    output = torch.full((L, N, 2 * H), float("nan"))  # to be filled in... never is
    h_n = torch.full((2, N, H), float("nan"))
    return output, h_n
'''

RAISES = '''\
def manual_rnn():
    L, N, _ = sequence.shape
    if h_0.shape[0] != 1:
        raise ValueError(f"expected one initial state, got {h_0.shape[0]}")
    return sequence, h_0
'''

ZEROS = '''\
def manual_rnn():
    L, N, _ = sequence.shape
    H = HIDDEN_SIZE
    output = torch.zeros(L, N, 2 * H)  # TODO: fill in
    h_n = torch.zeros(2, N, H)
    return output, h_n
'''

STUB = '''\
def manual_rnn():
    """Run the bidirectional RNN by hand; return (output, h_n)."""
    # YOUR CODE HERE
    raise NotImplementedError()'''

TUTORIAL_STYLE = '''\
def manual_rnn():
    L, N, _ = sequence.shape
    H = w_hh_l0.shape[0]
    h_f, h_b = torch.zeros(N, H), torch.zeros(N, H)
    out_f, out_b = [], []
    for t in range(L):
        h_f = torch.tanh(sequence[t] @ w_ih_l0.T + b_ih_l0 + h_f @ w_hh_l0.T + b_hh_l0)
        out_f.append(h_f)
        h_b = torch.tanh(sequence[L - 1 - t] @ w_r_ih_l0.T + b_r_ih_l0
                         + h_b @ w_r_hh_l0.T + b_r_hh_l0)
        out_b.append(h_b)
    output = torch.cat([torch.stack(out_f), torch.stack(out_b)], dim=2)
    h_n = torch.stack([h_f, h_b])
    return output, h_n
'''

HIDDEN = ("known mistake", EXPECTED_VALUES_HEADER)  # handy absent/feedback pieces

BUGS = (
    # Output (L, N, H) and h_n (1, N, H): both shapes wrong in every case (H >= 2) -> 0.
    CorpusEntry("bug_forward_only", FORWARD_ONLY, 0, GRADED,
                feedback=("only one direction: the reverse half is missing",
                          "only one direction's final state", "only the forward direction"),
                absent=(EXPECTED_VALUES_HEADER,), case_scores=(0,) * 6),
    # output right (2 per case); h_n is (N, H), a wrong shape -> 0 for h_n. 6 x 2 = 12.
    CorpusEntry("bug_hn_one_direction",
                _variant(LOOP, ("h_n = torch.stack([h_forward, h_reverse])",
                                "h_n = h_forward  # (N, H)")),
                12, GRADED,
                feedback=("h_n stacks the forward and the reverse final states",
                          "output (L=5, N=3, I=4, H=6): matches nn.RNN"),
                case_scores=(2,) * 6),
    # h_n concatenated, (N, 2H): wrong shape, output right -> 2 per case.
    CorpusEntry("bug_hn_concatenated",
                _variant(LOOP, ("h_n = torch.stack([h_forward, h_reverse])",
                                "h_n = torch.cat([h_forward, h_reverse], dim=1)")),
                12, GRADED, feedback=("the final states are concatenated",),
                case_scores=(2,) * 6),
    # output (L, N, 2, H): wrong shape, h_n right -> 2 per case.
    CorpusEntry("bug_directions_stacked_new_axis",
                _variant(LOOP, ("torch.cat([torch.stack(forward), torch.stack(reverse)], dim=2)",
                                "torch.stack([torch.stack(forward), torch.stack(reverse)], "
                                "dim=2)")),
                12, GRADED, feedback=("the directions are stacked on a new axis",),
                case_scores=(2,) * 6),
    # Output (N, L, 2H); h_n right (2 points everywhere). The output shape is right only
    # when N == L, i.e. case 2 (L = N = 1), where transposing changes nothing -> 4.
    # Cases 1 (5,3), 3 (1,5), 4 (8,1), 5 (2,4), 6 (5,2) have N != L by their plans -> 2.
    CorpusEntry("bug_batch_time_swapped",
                _variant(LOOP, ("torch.cat([torch.stack(forward), torch.stack(reverse)], dim=2)",
                                "torch.cat([torch.stack(forward, dim=1), "
                                "torch.stack(reverse, dim=1)], dim=2)")),
                14, GRADED, feedback=("batch and time are swapped",),
                case_scores=(2, 4, 2, 2, 2, 2)),
    # L, N, H = 5, 3, 6 typed in, tensors preallocated with them. Case 1 (the notebook's
    # sizes) is right -> 4. Every other case raises in the forward loop -> 0: in case 2
    # (N=1, H=6) the (1, 6) state broadcasts into output[0, :, :6], a (3, 6) slot, and then
    # sequence[1] raises IndexError (L = 1); in cases 3 (5, 4), 4 (1, 2), 5 (4, 6) and 6
    # (2, 10) the (N, H) state does not fit the (3, 6) slot at t = 0: RuntimeError. Any
    # secret gives 4: every plan but the first has L < 5 (IndexError at t = L at the latest)
    # or H != 6 (the state never fits the 6-wide slot).
    CorpusEntry("bug_sizes_hardcoded", SIZES_HARDCODED, 4, ERROR,
                feedback=("manual_rnn raised IndexError", "manual_rnn raised RuntimeError",
                          "Score: 4 / 24"),
                case_scores=(4, 0, 0, 0, 0, 0)),
    # Only L = 5 typed in (range(5) loops, list + stack). Depends on the hidden L:
    # L = 5 (cases 1 and 6) -> fully right, 4 each. L < 5 (cases 2, 3, 5) -> sequence[L]
    # raises IndexError -> 0. Case 4 (L = 8): output is (5, 1, 4), wrong shape -> 0; h_n[0] is
    # the state after t = 4, not t = 7 -> wrong; h_n[1] starts at t = 4 from h_0[1] instead of
    # from the state after x_7..x_5: with H = 2 that start is mostly forgotten after 5 steps,
    # but not enough: on this notebook's inputs it is off by about 1e-2, far above the ~1e-6
    # tolerance -> 0. Total 8. Hidden cases show the exception's type and the line, never its
    # message ("index 1 is out of bounds..."), which could hold hidden values.
    CorpusEntry("bug_sequence_length_hardcoded",
                _variant(LOOP, ("    L, N, _ = sequence.shape\n",
                                "    L = 5  # SEQUENCE_LENGTH, typed in\n")),
                8, ERROR,
                feedback=("manual_rnn raised IndexError (hidden case",
                          "code cell 5 (`def manual_rnn():`), line 7, in manual_rnn:",
                          "h = torch.tanh(sequence[t]",
                          "sizes hard-coded to the notebook's", "line 3:\n    L = 5"),
                absent=("index 1 is out of bounds",),
                case_scores=(4, 0, 0, 0, 0, 4)),
    # Reverse states appended in visiting order (t = L-1 first) and stacked as they are:
    # output's reverse half is flipped in time -> wrong when L > 1; h_n[1] is still the state
    # after t = 0 -> right. L = 1 (cases 2, 3): nothing to flip -> 4. Others 3.
    CorpusEntry("bug_reverse_at_forward_index",
                _variant(LOOP, ("forward, reverse = [], [None] * L", "forward, reverse = [], []"),
                         ("        reverse[t] = h\n", "        reverse.append(h)\n")),
                20, GRADED,
                feedback=("reverse outputs stored at the forward time index",),
                absent=(EXPECTED_VALUES_HEADER,),
                case_scores=(3, 4, 4, 3, 3, 3)),
    # The reverse direction walks t = 0..L-1 (with its own weights and h_0[1]): its output
    # half and h_n[1] are wrong when L > 1 -> 2; with L = 1 walking either way is the same
    # single step -> 4 (cases 2, 3).
    CorpusEntry("bug_reverse_reads_forward_order",
                _variant(LOOP, ("for t in range(L - 1, -1, -1):", "for t in range(L):")),
                16, GRADED,
                feedback=("reverse direction reads the sequence in forward order",),
                case_scores=(2, 4, 4, 2, 2, 2)),
    # output = [reverse | forward]: both halves wrong in every case (different weights,
    # even with L = 1); h_n right -> 2 per case.
    CorpusEntry("bug_halves_swapped",
                _variant(LOOP, ("torch.cat([torch.stack(forward), torch.stack(reverse)], dim=2)",
                                "torch.cat([torch.stack(reverse), torch.stack(forward)], dim=2)")),
                12, GRADED, feedback=("forward and reverse halves swapped in output",),
                case_scores=(2,) * 6),
    # A missing bias shifts every pre-activation of both directions: everything wrong -> 0.
    CorpusEntry("bug_missing_b_ih",
                _variant(LOOP, ("sequence[t] @ w_ih_l0.T + b_ih_l0 + ",
                                "sequence[t] @ w_ih_l0.T + "),
                         ("sequence[t] @ w_r_ih_l0.T + b_r_ih_l0 + ",
                          "sequence[t] @ w_r_ih_l0.T + ")),
                0, GRADED, feedback=("the input bias b_ih left out",),
                absent=("the hidden bias b_hh left out", EXPECTED_VALUES_HEADER),
                case_scores=(0,) * 6),
    CorpusEntry("bug_missing_both_biases",
                _variant(LOOP, ("sequence[t] @ w_ih_l0.T + b_ih_l0 + ",
                                "sequence[t] @ w_ih_l0.T + "),
                         ("sequence[t] @ w_r_ih_l0.T + b_r_ih_l0 + ",
                          "sequence[t] @ w_r_ih_l0.T + "),
                         ("h @ w_hh_l0.T + b_hh_l0", "h @ w_hh_l0.T"),
                         ("h @ w_r_hh_l0.T + b_r_hh_l0", "h @ w_r_hh_l0.T")),
                0, GRADED, feedback=("both biases left out",),
                absent=("the input bias b_ih left out", EXPECTED_VALUES_HEADER),
                case_scores=(0,) * 6),
    CorpusEntry("bug_missing_b_hh",
                _variant(LOOP, (" + h @ w_hh_l0.T + b_hh_l0)", " + h @ w_hh_l0.T)"),
                         (" + h @ w_r_hh_l0.T + b_r_hh_l0)", " + h @ w_r_hh_l0.T)")),
                0, GRADED, feedback=("the hidden bias b_hh left out",),
                absent=("the input bias b_ih left out",), case_scores=(0,) * 6),
    # relu / identity instead of tanh change every value (no pre-activation is ~0) -> 0.
    CorpusEntry("bug_relu_activation",
                LOOP.replace("torch.tanh(", "torch.relu("),
                0, GRADED, feedback=("relu instead of tanh",), case_scores=(0,) * 6),
    CorpusEntry("bug_no_activation",
                _variant(LOOP,
                         ("h = torch.tanh(sequence[t] @ w_ih_l0.T + b_ih_l0 + h @ w_hh_l0.T "
                          "+ b_hh_l0)",
                          "h = sequence[t] @ w_ih_l0.T + b_ih_l0 + h @ w_hh_l0.T + b_hh_l0"),
                         ("h = torch.tanh(sequence[t] @ w_r_ih_l0.T + b_r_ih_l0 + h @ "
                          "w_r_hh_l0.T + b_r_hh_l0)",
                          "h = sequence[t] @ w_r_ih_l0.T + b_r_ih_l0 + h @ w_r_hh_l0.T "
                          "+ b_r_hh_l0")),
                0, GRADED, feedback=("no activation function",), case_scores=(0,) * 6),
    # Forward half and h_n[0] right; reverse half and h_n[1] use the wrong weights -> 2.
    CorpusEntry("bug_forward_weights_in_reverse",
                _variant(LOOP, ("sequence[t] @ w_r_ih_l0.T + b_r_ih_l0 + h @ w_r_hh_l0.T + "
                                "b_r_hh_l0", "sequence[t] @ w_ih_l0.T + b_ih_l0 + h @ w_hh_l0.T "
                                "+ b_hh_l0")),
                12, GRADED, feedback=("forward weights used for the reverse direction",),
                case_scores=(2,) * 6),
    # Both directions start from zeros. Cases 3 and 5 have h_0 = 0 -> fully right, 4 each.
    # Cases 1, 2, 6: output's first step of each direction differs, and h_n too (L <= 5
    # steps, H >= 6: h_0 still moves h_n by >= 3e-2) -> 0.
    # Case 4 (L = 8, H = 2) cannot be seen from the rubric alone: the output halves are wrong
    # at their first steps (by ~0.2), but after 8 steps with a 2x2 W_hh (entries within
    # +-0.71) the final states may have forgotten h_0, depending on the values, which are
    # drawn per notebook. On this notebook's inputs, in float64, h_n moves by 5e-3 forward
    # (about 1000 tolerances) and 6e-6 in reverse (1.6 tolerances): both halves wrong -> 0.
    # Total 8. test_corpus_e2e.py recomputes case 4 from the entry's own inputs (they change
    # when the notebook's bytes do, e.g. with the solution notebook or nbformat).
    CorpusEntry("bug_h0_ignored",
                _variant(LOOP, ("    h = h_0[0]\n", "    h = torch.zeros_like(h_0[0])\n"),
                         ("    h = h_0[1]\n", "    h = torch.zeros_like(h_0[1])\n")),
                8, GRADED, feedback=("h_0 ignored (state starts at zero)",),
                case_scores=(0, 0, 4, 0, 4, 0)),
    # h_n[1] = reverse[L-1], the reverse state after its FIRST step: same as after its last
    # when L = 1 (cases 2, 3 -> 4); otherwise only h_n[1] is wrong -> 3.
    CorpusEntry("bug_hn_reverse_at_last_step",
                _variant(LOOP, ("h_n = torch.stack([h_forward, h_reverse])",
                                "h_n = torch.stack([h_forward, reverse[-1]])")),
                20, GRADED,
                feedback=("h_n's reverse half taken at the last time step",),
                case_scores=(3, 4, 4, 3, 3, 3)),
    # The reverse direction starts from h_0[0], the forward one's initial state. Forward half
    # and h_n[0] right everywhere (2 per case). Cases 3 and 5 have h_0 = 0, both slices zeros
    # -> 4. Cases 1, 2 and 6 (random h_0, L <= 5, H >= 6): the reverse half's first step starts
    # from the wrong state and h_n[1] still carries it (as for bug_h0_ignored) -> 2. Case 4
    # (L = 8, H = 2): output's reverse half is wrong at t = 7; whether h_n[1] has forgotten its
    # start after 8 steps depends on the values, drawn per notebook: on this notebook's inputs
    # it has not (test_corpus_e2e.py recomputes it) -> 2.
    CorpusEntry("bug_reverse_starts_from_h0_forward",
                _variant(LOOP, ("    h = h_0[1]\n", "    h = h_0[0]\n")),
                16, GRADED, feedback=("the reverse direction starts from h_0[0]",
                                      "the reverse one from h_0[1]"),
                case_scores=(2, 2, 4, 2, 4, 2)),
    # Two mistakes at once, as in a tutorial's hand-written bidirectional RNN: both directions
    # start from zeros (h_0 ignored) and the reverse states are appended in visiting order
    # (never put back in time order). Case 3 (L = 1, h_0 = 0): neither shows -> 4. Case 5
    # (L = 2, h_0 = 0): only the flip shows, in output's reverse half -> 3. Cases 1, 2 and 6
    # (random h_0): every half wrong (output's halves at their first steps, h_n carries h_0
    # as in bug_h0_ignored) -> 0. Case 4 (L = 8, H = 2): output's halves wrong; after 8 steps
    # one of h_n's halves has forgotten its zero start on this notebook's own inputs, the other
    # has not (recomputed by test_corpus_e2e.py) -> 1.
    # Each catalogued mistake alone is ruled out by the cases where the other one shows too;
    # the pair is named.
    CorpusEntry("bug_h0_ignored_and_reverse_not_flipped", TUTORIAL_STYLE, 8, GRADED,
                feedback=("two mistakes at once", "reverse outputs stored at the forward time "
                          "index and h_0 ignored (state starts at zero)"),
                case_scores=(0, 0, 4, 1, 3, 0)),
    # relu in the reverse direction only: the forward half and h_n[0] right (2 per case), the
    # reverse half and h_n[1] wrong in every case (relu(z) != tanh(z) for any z != 0) -> 12.
    # No catalogued mistake fits both directions; relu fits the reverse one and is named there.
    CorpusEntry("bug_relu_in_reverse_only",
                _variant(LOOP, ("h = torch.tanh(sequence[t] @ w_r_ih_l0.T",
                                "h = torch.relu(sequence[t] @ w_r_ih_l0.T")),
                12, GRADED, feedback=("relu instead of tanh (in the reverse direction only)",),
                case_scores=(2,) * 6),
    # Preallocated zeros, loops of L - 1 steps: forward never writes t = L-1, reverse never
    # writes t = 0 (those slots stay 0, never tanh's value), and h_n holds states one step
    # early (or h_0 itself when L = 1). Every half is wrong in every case -> 0.
    CorpusEntry("bug_one_step_too_few", ONE_STEP_TOO_FEW, 0, GRADED,
                feedback=("one step too few",), case_scores=(0,) * 6),
    # Not a pair of tensors: no values to check in any case -> 0, and each call is an error.
    CorpusEntry("bug_returns_list_of_three",
                _variant(LOOP, ("    return output, h_n\n",
                                "    return [output, h_n, h_n[-1]]\n")),
                0, ERROR, feedback=("must return a tuple of two tensors",
                                    "it returned a list of 3 items"),
                case_scores=(0,) * 6),
    CorpusEntry("bug_returns_numpy",
                _variant(LOOP, ("    return output, h_n\n",
                                "    return output.detach().numpy(), h_n.detach().numpy()\n")),
                0, ERROR, feedback=("is a ndarray, not a torch.Tensor",), case_scores=(0,) * 6),
    # Right shapes and dtype, all values NaN: every half wrong -> 0; the call itself worked.
    CorpusEntry("bug_returns_nan", NAN_RESULT, 0, GRADED,
                feedback=("values are NaN or infinite",), case_scores=(0,) * 6),
    # int64: the dtype check fails before any value is compared -> 0 for both tensors.
    # .long() truncates every tanh value to 0, so the values say nothing about the bug: no
    # catalogued mistake should be claimed (see bug_returns_zeros_placeholder).
    CorpusEntry("bug_returns_int64",
                _variant(LOOP, ("    return output, h_n\n",
                                "    return output.long(), h_n.long()\n")),
                0, GRADED, feedback=("dtype is torch.int64",), absent=("one step too few",),
                case_scores=(0,) * 6),
    # A placeholder that returns zeros of the right shapes: tanh of random pre-activations is
    # never 0 -> every half wrong -> 0. It computes nothing, so it must not be told it
    # "visits one step too few" (that catalogued mistake, on an L = 1 case with h_0 = 0 such
    # as case 3, predicts all zeros).
    # Hidden cases size its errors in bands of the tolerance only: nothing of |expected|.
    CorpusEntry("bug_returns_zeros_placeholder", ZEROS, 0, GRADED,
                feedback=("values differ from nn.RNN", "more than 1000× the tolerance",
                          "t = 0, sequence 0, forward unit 0"),
                absent=("one step too few", "largest difference", EXPECTED_VALUES_HEADER),
                case_scores=(0,) * 6),
    # The function cell is the notebook's 5th code cell (cell 9 counting markdown, which
    # Jupyter shows no number for); the raise is on line 4 of that cell. The notebook's own
    # demo cell (code cell 6) fails with the message in full: no hidden input exists yet.
    # Hidden cases tell the type and the line, never the message; the line once for all six.
    CorpusEntry("bug_raises_value_error", RAISES, 0, ERROR,
                feedback=("code cell 6 (`output, h_n = manual_rnn()`) failed: ValueError: "
                          "expected one initial state, got 2",
                          "manual_rnn raised ValueError (hidden case",
                          "code cell 5 (`def manual_rnn():`), line 4, in manual_rnn:",
                          'raise ValueError(f"expected one', "(all 6 cases)"),
                absent=("manual_rnn raised ValueError: expected", "cell 9", "cell 10"),
                case_scores=(0,) * 6),
    # The same raise with %%time cell magic on top: the raise is now on line 5 of the cell,
    # whose first line is the magic.
    CorpusEntry("bug_raises_value_error_in_cell_magic", "%%time\n" + RAISES, 0, ERROR,
                feedback=("manual_rnn raised ValueError (hidden case",
                          "code cell 5 (`%%time`), line 5, in manual_rnn:"),
                absent=("manual_rnn raised ValueError: expected",),
                case_scores=(0,) * 6),
    # Does not compile: the cell fails, so no manual_rnn exists in any case -> 0. The student
    # is shown the line and a caret under where Python stopped, and not told to keep a
    # `def manual_rnn():` cell they have.
    CorpusEntry("bug_syntax_error", "def manual_rnn(:\n    return sequence, h_0\n", 0, ERROR,
                feedback=("Code cell 5 (`def manual_rnn(:`) does not compile: SyntaxError on "
                          "line 1", "  1 | def manual_rnn(:\n      |                ^",
                          "manual_rnn is not defined because its cell failed"),
                absent=("defines no function manual_rnn()",),
                case_scores=(0,) * 6),
    CorpusEntry("stub_not_implemented", STUB, 0, NOT_IMPLEMENTED,
                feedback=("not implemented yet",), case_scores=(0,) * 6),
    CorpusEntry("manual_rnn_missing", "", 0, ERROR, remove_cell=True,
                feedback=("defines no function manual_rnn()",), case_scores=(0,) * 6),
    # Calling the built-in RNN, seen in the code before anything runs.
    CorpusEntry("builtin_rnn_called",
                'def manual_rnn():\n    return rnn(sequence, h_0)\n', 0, BUILTIN,
                feedback=("calling the built-in RNN", "calls rnn(...)"),
                case_scores=(0,) * 6),
    # The same, hidden from the code check: only the run-time watch can see it.
    CorpusEntry("builtin_rnn_hidden_name",
                'def manual_rnn():\n    module = globals()["".join(["r", "n", "n"])]\n'
                '    return module(sequence, h_0)\n', 0, BUILTIN,
                feedback=("calling the built-in RNN", "seen while it ran"),
                case_scores=(0,) * 6),
)

# --- Files that are not notebooks ------------------------------------------------------------

VALID_JSON_NOT_NOTEBOOK = json.dumps({"name": "bidirectional_rnn", "answers": [1, 2, 3]})

BROKEN = (
    CorpusEntry("invalid_not_json", "", 0, INVALID,
                raw=b'{"cells": [{"cell_type": "code", "source": "def manual_rnn(',
                feedback=("not valid JSON",), case_scores=(0,) * 6),
    CorpusEntry("invalid_empty_file", "", 0, INVALID, raw=b"",
                feedback=("is empty",), case_scores=(0,) * 6),
    CorpusEntry("invalid_json_not_notebook", "", 0, INVALID,
                raw=VALID_JSON_NOT_NOTEBOOK.encode(),
                feedback=("not a Jupyter notebook",), case_scores=(0,) * 6),
)

ENTRIES: tuple[CorpusEntry, ...] = CORRECT + BUGS + BROKEN
BY_NAME = {entry.name: entry for entry in ENTRIES}
assert len(BY_NAME) == len(ENTRIES), "entry names must be unique"
