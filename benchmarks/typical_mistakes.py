"""Typical submissions, one per mistake a student actually makes, to look at the feedback they
get (see render_pages.py).

Each is the solution notebook (self-check cell kept, as students have it) with the function's
cell replaced. For the bidirectional RNN (the default), thirteen:

    correct                   the solution's loop
    syntax_error              `def manual_rnn()` without its colon
    timeout_in_demo           a while loop whose counter never moves: the notebook's own demo
                              cell, which calls manual_rnn, runs until the notebook time limit
    reverse_not_flipped       reverse states stored in visiting order (t = L-1 first)
    halves_swapped            torch.cat([reverse, forward])
    h0_ignored                both directions start from zeros
    h0_ignored_not_flipped    a hand-written implementation as found in tutorials: zeros for
                              h_0 and reverse states never put back in time order (two
                              mistakes at once)
    sizes_hardcoded           L, N, H = 5, 3, 6 typed in
    h0_forward_for_both       the reverse direction starts from h_0[0]
    hn_concatenated           h_n of shape (N, 2H)
    relu                      relu instead of tanh
    missing_b_hh              the hidden bias left out
    shape_error               x_t @ w_ih instead of x_t @ w_ih.T: raises in every case

For the other exercises (`--exercise stacked_birnn|lstm|gru`): the solution, the syntax error,
the endless loop, then every buggy and raising variant of benchmarks/variants/<exercise>.py
(the mistakes grader/exercises/<exercise>.py catalogues). `--exercise all` writes the four
sets, each submission's folder prefixed with its exercise (`lstm-g_sigmoid`).

    python benchmarks/typical_mistakes.py --out /tmp/typical [--exercise NAME|all]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from make_submissions import (  # noqa: E402
    DEFAULT_EXERCISE,
    add_exercise_option,
    exercises_of,
    load_solution,
    notebook_name,
    solution_path,
    with_function,
)
from variants import EXERCISES, edited, variant_source  # noqa: E402
from variants import names as variant_names  # noqa: E402
from variants.bidirectional_rnn import REFERENCE  # noqa: E402

TUTORIAL_STYLE = '''\
def manual_rnn():
    """Run the bidirectional RNN by hand; return (output, h_n)."""
    L, N, _ = sequence.shape
    H = HIDDEN_SIZE
    h_f = torch.zeros(N, H)
    h_b = torch.zeros(N, H)
    out_f, out_b = [], []
    for t in range(L):
        h_f = torch.tanh(sequence[t] @ w_ih_l0.T + b_ih_l0 + h_f @ w_hh_l0.T + b_hh_l0)
        out_f.append(h_f)
        h_b = torch.tanh(sequence[L - 1 - t] @ w_r_ih_l0.T + b_r_ih_l0
                         + h_b @ w_r_hh_l0.T + b_r_hh_l0)
        out_b.append(h_b)
    output = torch.cat([torch.stack(out_f), torch.stack(out_b)], dim=2)
    h_n = torch.stack([h_f, h_b])
    return output.detach(), h_n.detach()
'''

SIZES_HARDCODED = '''\
def manual_rnn():
    """Run the bidirectional RNN by hand; return (output, h_n)."""
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
    return output.detach(), h_n.detach()
'''

TIMEOUT = '''\
def manual_rnn():
    """Run the bidirectional RNN by hand; return (output, h_n)."""
    L, N, _ = sequence.shape
    h = h_0[0]
    t = 0
    while t < L:  # t never moves on
        h = torch.tanh(sequence[t] @ w_ih_l0.T + b_ih_l0 + h @ w_hh_l0.T + b_hh_l0)
    return h, h
'''


def _edited(source: str, old: str, new: str) -> str:
    return edited(source, [(old, new)])


TYPICAL = {
    "correct": REFERENCE,
    "syntax_error": _edited(REFERENCE, "def manual_rnn():", "def manual_rnn()"),
    "timeout_in_demo": TIMEOUT,
    "reverse_not_flipped": variant_source("buggy", "reverse_not_reordered"),
    "halves_swapped": variant_source("buggy", "halves_swapped"),
    "h0_ignored": variant_source("buggy", "h0_ignored"),
    "h0_ignored_not_flipped": TUTORIAL_STYLE,
    "sizes_hardcoded": SIZES_HARDCODED,
    "h0_forward_for_both": _edited(REFERENCE, "h = h_0[1].to(dtype)", "h = h_0[0].to(dtype)"),
    "hn_concatenated": _edited(REFERENCE, "h_n = torch.stack([h_forward_last, h_reverse_last])",
                               "h_n = torch.cat([h_forward_last, h_reverse_last], dim=1)"),
    "relu": variant_source("buggy", "relu_not_tanh"),
    "missing_b_hh": variant_source("buggy", "missing_b_hh"),
    "shape_error": variant_source("raising", "shape_error"),
}


def typical(exercise: str = DEFAULT_EXERCISE) -> dict[str, str]:
    """Mistake name -> the function's cell, for one exercise."""
    if exercise == DEFAULT_EXERCISE:
        return TYPICAL
    tables = EXERCISES[exercise]
    reference = tables.CORRECT["reference"]
    endless = tables.HEADER + (
        "    t = 0\n"
        "    while t < SEQUENCE_LENGTH:  # t never moves on\n"
        "        h = torch.tanh(h_0[0])\n"
        "    return h, h\n")
    found = {"correct": reference,
             "syntax_error": _edited(reference, f"def {tables.FUNCTION}():",
                                     f"def {tables.FUNCTION}()"),
             "timeout_in_demo": endless}
    for kind in ("buggy", "raising"):
        found.update((name, variant_source(kind, name, exercise))
                     for name in variant_names(kind, exercise))
    return found


def make_typical(out: Path, names: tuple[str, ...] | None = None,
                 exercise: str = DEFAULT_EXERCISE) -> list[Path]:
    """Write out/<mistake>/<exercise>.ipynb for each typical mistake (or those named); with
    "all", out/<exercise>-<mistake>/<exercise>.ipynb for every exercise."""
    chosen = exercises_of(exercise)
    paths = []
    for name in chosen:
        base = load_solution(solution_path(name))
        for mistake, source in typical(name).items():
            if names is not None and mistake not in names:
                continue
            folder = f"{name}-{mistake}" if len(chosen) > 1 else mistake
            path = out / folder / notebook_name(name)
            path.parent.mkdir(parents=True, exist_ok=True)
            notebook = with_function(base, source, EXERCISES[name].FUNCTION)
            path.write_text(json.dumps(notebook, indent=1, ensure_ascii=False) + "\n",
                            encoding="utf-8")
            paths.append(path)
    return paths


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True, help="folder to write into")
    add_exercise_option(parser, "the exercise, or all for the four")
    args = parser.parse_args(argv)
    paths = make_typical(args.out, exercise=args.exercise)
    print(f"wrote {len(paths)} submissions to {args.out}")


if __name__ == "__main__":
    main()
