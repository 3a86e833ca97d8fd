"""Thirteen typical submissions, one per mistake a student actually makes, to look at the
feedback they get (see render_pages.py).

Each is the solution notebook (self-check cell kept, as students have it) with the
`manual_rnn` cell replaced:

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

    python benchmarks/typical_mistakes.py --out /tmp/typical
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from make_submissions import (  # noqa: E402
    BUGGY,
    NOTEBOOK_NAME,
    RAISING,
    REFERENCE,
    load_solution,
    variant_source,
    with_function,
)

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
    if old not in source:
        raise ValueError(f"{old!r} is not in the source")
    return source.replace(old, new)


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
assert set(BUGGY) and set(RAISING)  # the edits above come from make_submissions' tables


def make_typical(out: Path, names: tuple[str, ...] | None = None) -> list[Path]:
    """Write out/<mistake>/bidirectional_rnn.ipynb for each typical mistake (or those named)."""
    base = load_solution()
    paths = []
    for name, source in TYPICAL.items():
        if names is not None and name not in names:
            continue
        path = out / name / NOTEBOOK_NAME
        path.parent.mkdir(parents=True, exist_ok=True)
        notebook = with_function(base, source)
        path.write_text(json.dumps(notebook, indent=1, ensure_ascii=False) + "\n",
                        encoding="utf-8")
        paths.append(path)
    return paths


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True, help="folder to write into")
    args = parser.parse_args(argv)
    paths = make_typical(args.out)
    print(f"wrote {len(paths)} submissions to {args.out}")


if __name__ == "__main__":
    main()
