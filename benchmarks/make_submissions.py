"""Build a folder of fake student submissions of the bidirectional-RNN exercise.

Each submission is the solution notebook with the `manual_rnn` cell replaced by a student's
version, written as `OUT/<student>/bidirectional_rnn.ipynb` (the layout `rnn-grader grade` names
by folder and nbgrader expects under `submitted/`). The mix is realistic and deterministic for a
given seed:

* about 70 % correct, written in a few different ways (the solution itself, a precomputed input
  projection with torch.flip, a preallocated output with addmm, F.linear over a loop of
  directions, einsum with both directions in one loop);
* about 25 % buggy: halves swapped, relu instead of tanh, a missing bias, h_0 ignored, reverse
  states not put back in time order, forward weights in the reverse direction, h_n[1] taken at
  the wrong step, reverse output not flipped back;
* about 5 % raising an exception (a shape error, a NameError, an IndexError).

The counts are exact (rounded from the percentages) and their order is shuffled with the seed.
Each submission's kind and variant are recorded in OUT/manifest.json.

By default the self-check cell (`!rnn-grader check ...`) and the markdown that introduces it are
removed: nbgrader's autograde would execute that cell in every submission, which would make it
pay for a whole `rnn-grader check` per notebook. rnn-grader skips that cell anyway (it is tagged
`rnn-grader:skip`), so removing it changes nothing for rnn-grader. `--keep-self-check` keeps it.

    python benchmarks/make_submissions.py --n 100 --seed 0 --out /tmp/submissions
"""

from __future__ import annotations

import argparse
import copy
import json
import random
from dataclasses import asdict, dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SOLUTION = REPO / "solutions" / "bidirectional_rnn.ipynb"
NOTEBOOK_NAME = "bidirectional_rnn.ipynb"
FUNCTION_CELL_ID = "manual_rnn"
SELF_CHECK_CELL_IDS = ("self_check_explained", "self_check")
SKIP_TAG = "rnn-grader:skip"

SHARE_CORRECT, SHARE_BUGGY, SHARE_RAISING = 0.70, 0.25, 0.05

HEADER = 'def manual_rnn():\n    """Run the bidirectional RNN by hand; return (output, h_n)."""\n'

# --- correct variants ----------------------------------------------------------------------

REFERENCE = HEADER + '''\
    L, N, _ = sequence.shape  # sequence: (L, N, I)
    H = w_hh_l0.shape[0]  # same as HIDDEN_SIZE
    dtype = sequence.dtype

    def step(x_t, h_prev, w_ih, b_ih, w_hh, b_hh):
        # x_t: (N, I), h_prev: (N, H) -> new hidden state (N, H)
        return torch.tanh(x_t @ w_ih.T + b_ih + h_prev @ w_hh.T + b_hh)

    with torch.no_grad():
        h = h_0[0].to(dtype)  # (N, H)
        forward_states = []
        for t in range(L):
            h = step(sequence[t], h, w_ih_l0, b_ih_l0, w_hh_l0, b_hh_l0)
            forward_states.append(h)
        h_forward_last = h

        h = h_0[1].to(dtype)  # (N, H)
        reverse_states = [None] * L
        for t in range(L - 1, -1, -1):
            h = step(sequence[t], h, w_r_ih_l0, b_r_ih_l0, w_r_hh_l0, b_r_hh_l0)
            reverse_states[t] = h
        h_reverse_last = h

        forward = torch.stack(forward_states)  # (L, N, H)
        reverse = torch.stack(reverse_states)  # (L, N, H)
        output = torch.cat([forward, reverse], dim=2)  # (L, N, 2H)
        h_n = torch.stack([h_forward_last, h_reverse_last])  # (2, N, H)

    assert output.shape == (L, N, 2 * H)
    return output.to(dtype), h_n.to(dtype)
'''

FLIP = HEADER + '''\
    def run(xs, h, w_ih, b_ih, w_hh, b_hh):
        projected = xs @ w_ih.T + b_ih  # (L, N, H): every input term at once
        states = []
        for x_part in projected:
            h = torch.tanh(x_part + h @ w_hh.T + b_hh)
            states.append(h)
        return torch.stack(states), h

    with torch.no_grad():
        fwd, h_fwd = run(sequence, h_0[0], w_ih_l0, b_ih_l0, w_hh_l0, b_hh_l0)
        bwd, h_bwd = run(torch.flip(sequence, dims=[0]), h_0[1],
                         w_r_ih_l0, b_r_ih_l0, w_r_hh_l0, b_r_hh_l0)
        bwd = torch.flip(bwd, dims=[0])  # back to time order
    return torch.cat((fwd, bwd), dim=-1), torch.stack((h_fwd, h_bwd))
'''

PREALLOCATED = HEADER + '''\
    L, N, _ = sequence.shape
    H = HIDDEN_SIZE
    output = torch.zeros(L, N, 2 * H, dtype=sequence.dtype)
    h_n = torch.zeros(2, N, H, dtype=sequence.dtype)
    with torch.no_grad():
        h = h_0[0].clone()
        for t in range(L):
            h = torch.tanh(torch.addmm(b_ih_l0, sequence[t], w_ih_l0.t())
                           + torch.addmm(b_hh_l0, h, w_hh_l0.t()))
            output[t, :, :H] = h
        h_n[0] = h
        h = h_0[1].clone()
        for t in reversed(range(L)):
            h = torch.tanh(torch.addmm(b_r_ih_l0, sequence[t], w_r_ih_l0.t())
                           + torch.addmm(b_r_hh_l0, h, w_r_hh_l0.t()))
            output[t, :, H:] = h
        h_n[1] = h
    return output, h_n
'''

LINEAR = 'import torch.nn.functional as F\n\n\n' + HEADER + '''\
    directions = [(w_ih_l0, b_ih_l0, w_hh_l0, b_hh_l0)]
    if BIDERECTIONAL:
        directions.append((w_r_ih_l0, b_r_ih_l0, w_r_hh_l0, b_r_hh_l0))
    L = sequence.shape[0]
    outputs, finals = [], []
    for d, (w_ih, b_ih, w_hh, b_hh) in enumerate(directions):
        steps = range(L) if d == 0 else range(L - 1, -1, -1)
        h = h_0[d]
        states = []
        for t in steps:
            h = torch.tanh(F.linear(sequence[t], w_ih, b_ih) + F.linear(h, w_hh, b_hh))
            states.append(h)
        if d == 1:
            states = states[::-1]
        outputs.append(torch.stack(states))
        finals.append(h)
    return torch.cat(outputs, dim=2).detach(), torch.stack(finals).detach()
'''

EINSUM = HEADER + '''\
    L = sequence.shape[0]
    fwd_states, bwd_states = [], []
    h_f, h_b = h_0[0], h_0[1]
    for t in range(L):
        h_f = torch.tanh(torch.einsum("ni,hi->nh", sequence[t], w_ih_l0) + b_ih_l0
                         + torch.einsum("nk,hk->nh", h_f, w_hh_l0) + b_hh_l0)
        fwd_states.append(h_f)
        s = L - 1 - t
        h_b = torch.tanh(torch.einsum("ni,hi->nh", sequence[s], w_r_ih_l0) + b_r_ih_l0
                         + torch.einsum("nk,hk->nh", h_b, w_r_hh_l0) + b_r_hh_l0)
        bwd_states.insert(0, h_b)
    output = torch.cat([torch.stack(fwd_states), torch.stack(bwd_states)], dim=2)
    h_n = torch.stack([h_f, h_b])
    return output.detach(), h_n.detach()
'''

CORRECT = {"reference": REFERENCE, "flip": FLIP, "preallocated": PREALLOCATED,
           "functional_linear": LINEAR, "einsum": EINSUM}
CORRECT_WEIGHTS = {"reference": 4, "flip": 2, "preallocated": 2, "functional_linear": 1,
                   "einsum": 1}

# --- buggy and raising variants: edits of a correct one -------------------------------------

_FORWARD_WEIGHTS = "w_ih_l0, b_ih_l0, w_hh_l0, b_hh_l0)"
_REVERSE_WEIGHTS = "w_r_ih_l0, b_r_ih_l0, w_r_hh_l0, b_r_hh_l0)"

# name: (base variant, [(old, new), ...]); every `old` must occur in the base.
BUGGY = {
    "halves_swapped": ("reference", [("torch.cat([forward, reverse]",
                                      "torch.cat([reverse, forward]")]),
    "relu_not_tanh": ("reference", [("torch.tanh(", "torch.relu(")]),
    "missing_b_hh": ("reference", [("h_prev @ w_hh.T + b_hh)", "h_prev @ w_hh.T)")]),
    "h0_ignored": ("reference", [("h = h_0[0].to(dtype)", "h = torch.zeros(N, H, dtype=dtype)"),
                                 ("h = h_0[1].to(dtype)", "h = torch.zeros(N, H, dtype=dtype)")]),
    "reverse_not_reordered": ("reference", [("reverse_states[t] = h",
                                             "reverse_states[L - 1 - t] = h")]),
    "forward_weights_in_reverse": ("reference", [("h, " + _REVERSE_WEIGHTS,
                                                  "h, " + _FORWARD_WEIGHTS)]),
    "hn_reverse_wrong_step": ("reference", [("h_reverse_last = h",
                                             "h_reverse_last = reverse_states[-1]")]),
    "flip_not_undone": ("flip", [("        bwd = torch.flip(bwd, dims=[0])  # back to time order\n",
                                  "")]),
    "relu_preallocated": ("preallocated", [("torch.tanh(", "torch.relu(")]),
}

RAISING = {
    "shape_error": ("reference", [("x_t @ w_ih.T", "x_t @ w_ih")]),
    "name_error": ("reference", [("h_forward_last = h\n", "h_forward_last = h_last\n")]),
    "index_error": ("reference", [("for t in range(L - 1, -1, -1)", "for t in range(L, -1, -1)")]),
}


def _edited(base: str, edits: list[tuple[str, str]]) -> str:
    source = CORRECT[base]
    for old, new in edits:
        if old not in source:
            raise ValueError(f"edit {old!r} does not apply to variant {base!r}")
        source = source.replace(old, new)
    return source


def variant_source(kind: str, variant: str) -> str:
    """The manual_rnn cell of one variant."""
    if kind == "correct":
        return CORRECT[variant]
    table = BUGGY if kind == "buggy" else RAISING
    return _edited(*table[variant])


@dataclass(frozen=True)
class Submission:
    student: str
    kind: str  # "correct", "buggy" or "raising"
    variant: str
    path: str


def load_solution(solution: Path = SOLUTION) -> dict:
    return json.loads(solution.read_text(encoding="utf-8"))


def _grade_id(cell: dict) -> str | None:
    return cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")


def without_self_check(notebook: dict) -> dict:
    """The notebook without the `!rnn-grader check` cell and the markdown introducing it: the
    source notebook of the nbgrader course, and what the benchmark's students submit."""
    notebook = copy.deepcopy(notebook)
    cells = notebook["cells"]
    drop = {i for i, cell in enumerate(cells) if _grade_id(cell) in SELF_CHECK_CELL_IDS}
    for i, cell in enumerate(cells):  # fallback: an ungraded skip-tagged cell running a shell
        tags = cell.get("metadata", {}).get("tags", [])
        source = "".join(cell.get("source", ""))
        if SKIP_TAG in tags and "rnn-grader check" in source:
            drop.add(i)
            if i > 0 and cells[i - 1]["cell_type"] == "markdown":
                drop.add(i - 1)
    notebook["cells"] = [cell for i, cell in enumerate(cells) if i not in drop]
    return notebook


def with_function(notebook: dict, source: str) -> dict:
    notebook = copy.deepcopy(notebook)
    cells = [cell for cell in notebook["cells"] if _grade_id(cell) == FUNCTION_CELL_ID]
    if len(cells) != 1:
        raise ValueError(f"expected one cell with grade_id {FUNCTION_CELL_ID!r}")
    cells[0]["source"] = source.splitlines(keepends=True)
    cells[0]["outputs"], cells[0]["execution_count"] = [], None
    return notebook


def plan(n: int, seed: int = 0) -> list[tuple[str, str]]:
    """(kind, variant) of each of n submissions, deterministic for the seed."""
    rng = random.Random(seed)
    raising = int(n * SHARE_RAISING + 0.5)
    buggy = int(n * SHARE_BUGGY + 0.5)
    kinds = ["raising"] * raising + ["buggy"] * buggy + ["correct"] * (n - raising - buggy)
    rng.shuffle(kinds)
    chosen = []
    for kind in kinds:
        if kind == "correct":
            names = list(CORRECT_WEIGHTS)
            variant = rng.choices(names, weights=[CORRECT_WEIGHTS[v] for v in names])[0]
        else:
            variant = rng.choice(sorted(BUGGY if kind == "buggy" else RAISING))
        chosen.append((kind, variant))
    return chosen


def make_submissions(n: int, out: Path, seed: int = 0, solution: Path = SOLUTION,
                     keep_self_check: bool = False) -> list[Submission]:
    """Write n submissions as out/<student>/bidirectional_rnn.ipynb plus out/manifest.json."""
    base = load_solution(solution)
    if not keep_self_check:
        base = without_self_check(base)
    out.mkdir(parents=True, exist_ok=True)
    width = max(3, len(str(n)))
    submissions = []
    for number, (kind, variant) in enumerate(plan(n, seed), start=1):
        student = f"student{number:0{width}d}"
        path = out / student / NOTEBOOK_NAME
        path.parent.mkdir(parents=True, exist_ok=True)
        notebook = with_function(base, variant_source(kind, variant))
        path.write_text(json.dumps(notebook, indent=1, ensure_ascii=False) + "\n",
                        encoding="utf-8")
        submissions.append(Submission(student, kind, variant, str(path)))
    (out / "manifest.json").write_text(
        json.dumps([asdict(s) for s in submissions], indent=1) + "\n", encoding="utf-8")
    return submissions


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=100, help="number of submissions (100)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (0)")
    parser.add_argument("--out", type=Path, required=True, help="folder to write into")
    parser.add_argument("--solution", type=Path, default=SOLUTION)
    parser.add_argument("--keep-self-check", action="store_true",
                        help="keep the `!rnn-grader check` cell (nbgrader would run it)")
    args = parser.parse_args(argv)
    submissions = make_submissions(args.n, args.out, args.seed, args.solution,
                                   args.keep_self_check)
    counts: dict[str, int] = {}
    for submission in submissions:
        counts[submission.kind] = counts.get(submission.kind, 0) + 1
    print(f"wrote {len(submissions)} submissions to {args.out} "
          f"({', '.join(f'{k} {v}' for k, v in sorted(counts.items()))}); "
          f"manifest {args.out / 'manifest.json'}")


if __name__ == "__main__":
    main()
