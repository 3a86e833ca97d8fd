"""Compare what the child returned with the reference, the way pytest.approx reports it.

Validation comes first (dtype, shape, finite values), then an element-wise comparison with the
reference's tolerance, split into the exercise's parts (`split_halves`: forward and reverse,
each layer and direction, or the tensor whole) for partial credit.

Public cases show a table of values (yours, the reference's, the difference), largest differences
first, each index also in words ("t = 0, sequence 0, reverse unit 3"). Hidden cases reveal
nothing about their inputs: a mismatch is located (tensor, direction, time step, sequence,
unit) and sized in bands relative to the tolerance, worst band first; never a value, a
difference or a ratio.
A zeros answer therefore learns nothing of |expected|, and even the error ratios kept for the
heat maps are clipped to the bands. Strings the child chose (its dtype name, odd shapes) are
only echoed when they are one of a few known ones.
"""

from __future__ import annotations

import functools

import numpy as np

from grader.checking.reference import Reference
from grader.exercises.base import Exercise
from grader.results import OutputCheck

ACCEPTED_DTYPES = ("float32", "float64")
TABLE_ROWS = 5
# Hidden cases: an element's error in multiples of the tolerance, told only as one of these.
BAND_EDGES = (1.0, 10.0, 1000.0)
BAND_NAMES = ("within the tolerance", "up to 10× the tolerance", "10 to 1000× the tolerance",
              "more than 1000× the tolerance")  # how far off: "off by <band>"
BANDED_RATIO = (0.0, 10.0, 1000.0, 1e6)  # what a hidden case keeps of each element's ratio
MAX_SHOWN_DIMENSIONS = 4


def bands(ratio: np.ndarray) -> np.ndarray:
    """Each element's band: 0 within the tolerance, 1 up to 10×, 2 up to 1000×, 3 beyond
    (NaN and infinity included)."""
    banded = np.digitize(ratio, BAND_EDGES, right=True)
    banded[~np.isfinite(ratio)] = len(BAND_EDGES)
    return banded


def check_output(exercise: Exercise, name: str, got: np.ndarray, torch_dtype: str,
                 reference: Reference, sizes: dict[str, int], hidden: bool) -> OutputCheck:
    expected = reference.values[name]
    where = f"{name} ({exercise.describe_sizes(sizes)})"
    check = OutputCheck(name, tuple(expected.shape), tuple(got.shape), {}, "")
    if torch_dtype not in ACCEPTED_DTYPES:
        shown = f"torch.{torch_dtype}" if not hidden or torch_dtype in _torch_dtypes() else \
            "not a torch dtype"
        check.summary = (f"{where}: dtype is {shown}; expected torch.float32 like "
                         "the inputs (float64 is accepted too).")
        return check
    if got.shape != expected.shape:
        told = exercise.explain_shape(name, tuple(got.shape), sizes)
        check.mistake, story = told if isinstance(told, tuple) else ("", told)  # (key, story)
        check.summary = (f"{where}: shape {_shown_shape(exercise, got.shape, sizes, hidden)}, "
                         f"expected {tuple(expected.shape)}: {story}")
        return check
    values = got.astype(np.float64)
    error = np.abs(values - expected)
    error[~np.isfinite(values)] = np.inf
    ratio = error / reference.tolerance[name]
    wrong = ~(ratio <= 1.0)
    check.error_ratio = np.take(BANDED_RATIO, bands(ratio)) if hidden else ratio
    halves = exercise.split_halves(name, wrong)
    check.halves_ok = {half: not part.any() for half, part in halves.items()}
    check.first_divergence = {half: _first_bad_step(part, half) for half, part in halves.items()
                              if name == "output"}
    if not wrong.any():
        check.summary = f"{where}: matches {exercise.reference_name} " + (
            "(within the tolerance)." if hidden else f"(largest difference {error.max():.1e}).")
        return check
    if hidden:
        check.summary = _hidden_summary(where, values, ratio, wrong, exercise.reference_name)
        check.details = _hidden_table(exercise, name, values, ratio, wrong)
    else:
        check.summary = _mismatch_summary(exercise, name, where, values, error, wrong)
        check.details = _mismatch_table(exercise, name, values, expected, error, wrong)
    return check


def _first_bad_step(wrong: np.ndarray, half: str) -> int | None:
    """First time step, in the direction's own order, where any element is wrong."""
    bad_steps = np.flatnonzero(wrong.reshape(wrong.shape[0], -1).any(axis=1))
    if bad_steps.size == 0:
        return None
    return int(bad_steps.max() if "reverse" in half else bad_steps.min())


@functools.cache
def _torch_dtypes() -> frozenset[str]:
    import torch

    return frozenset(str(value).removeprefix("torch.") for value in vars(torch).values()
                     if isinstance(value, torch.dtype))


def _shown_shape(exercise: Exercise, shape: tuple[int, ...], sizes: dict[str, int],
                 hidden: bool) -> str:
    """The returned shape; in a hidden case only when it is made of the case's own sizes (a
    shape is the child's choice, and an arbitrary one could carry numbers out)."""
    if not hidden:
        return str(tuple(shape))
    known = {0, 1, 2, *exercise.structural_sizes} | {
        n * size for size in (*sizes.values(), *exercise.notebook_sizes.values())
        for n in exercise.shape_multiples}
    if len(shape) <= MAX_SHOWN_DIMENSIONS and all(n in known for n in shape):
        return str(tuple(shape))
    dimensions = str(len(shape)) if len(shape) <= MAX_SHOWN_DIMENSIONS else \
        f"more than {MAX_SHOWN_DIMENSIONS}"
    return f"of {dimensions} dimension(s) that are not the case's sizes"


def _mismatch_summary(exercise: Exercise, name: str, where: str, values: np.ndarray,
                      error: np.ndarray, wrong: np.ndarray) -> str:
    non_finite = _non_finite(where, values)
    if non_finite:
        return non_finite
    worst = np.unravel_index(int(np.argmax(error)), error.shape)
    return (f"{where}: {int(wrong.sum())} of {values.size} values differ from "
            f"{exercise.reference_name}; largest "
            f"difference {error.max():.3g} at {locate(exercise, name, error.shape, worst)} "
            f"(index {list(map(int, worst))}).")


def _non_finite(where: str, values: np.ndarray) -> str:
    count = int((~np.isfinite(values)).sum())
    if not count:
        return ""
    return (f"{where}: {count} of {values.size} values are NaN or infinite; look for a "
            "division, an overflow or an uninitialised tensor (torch.empty).")


def _mismatch_table(exercise: Exercise, name: str, values: np.ndarray, expected: np.ndarray,
                    error: np.ndarray, wrong: np.ndarray) -> list[str]:
    """The largest differences first: index, where in words, yours, the reference's, difference."""
    order = np.argsort(-np.where(wrong, error, -1.0), axis=None, kind="stable")
    rows = [np.unravel_index(int(flat), error.shape) for flat in order[:TABLE_ROWS]]
    located = [(str(list(map(int, at))), locate(exercise, name, error.shape, at), at)
               for at in rows]
    width = max(len(words) for _, words, _ in located)
    index_width = max(len(index) for index, _, _ in located)
    reference = exercise.reference_name
    lines = [f"{'index':{index_width}}  {'where':{width}}  {'yours':<12} {reference:<12} "
             "difference"]
    lines += [f"{index:{index_width}}  {words:{width}}  {values[at]:<12.6g} "
              f"{expected[at]:<12.6g} {error[at]:.3g}" for index, words, at in located]
    if wrong.sum() > TABLE_ROWS:
        lines.append(f"... and {int(wrong.sum()) - TABLE_ROWS} more")
    return lines


def _hidden_summary(where: str, values: np.ndarray, ratio: np.ndarray,
                    wrong: np.ndarray, reference_name: str) -> str:
    """How many values are off and by how much, in bands; no value, difference or position
    of a largest one (with a zeros answer that would point at the largest |expected|)."""
    non_finite = _non_finite(where, values)
    if non_finite:
        return non_finite
    counts = np.bincount(bands(ratio[wrong]), minlength=len(BAND_NAMES))
    by_band = ", ".join(f"{count} by {BAND_NAMES[band]}" for band, count in enumerate(counts)
                        if band and count)
    return (f"{where}: {int(wrong.sum())} of {values.size} values differ from "
            f"{reference_name}: {by_band}.")


def _hidden_table(exercise: Exercise, name: str, values: np.ndarray, ratio: np.ndarray,
                  wrong: np.ndarray) -> list[str]:
    """Wrong elements, worst band first (index order within a band): where each one is, and
    its band. The order tells nothing the bands do not already tell."""
    banded = np.where(wrong, bands(ratio), -1)
    order = np.argsort(-banded, axis=None, kind="stable")
    rows = [np.unravel_index(int(flat), ratio.shape) for flat in order[:TABLE_ROWS]]
    located = [(str(list(map(int, at))), locate(exercise, name, ratio.shape, at),
                BAND_NAMES[int(banded[at])] if np.isfinite(values[at])
                else "yours is NaN or infinite") for at in rows]
    width = max(len(where) for _, where, _ in located)
    index_width = max(len(index) for index, _, _ in located)
    lines = [f"{'index':{index_width}}  {'where':{width}}  off by"]
    lines += [f"{index:{index_width}}  {where:{width}}  {band}" for index, where, band in located]
    if wrong.sum() > TABLE_ROWS:
        lines.append(f"... and {int(wrong.sum()) - TABLE_ROWS} more")
    return lines


def locate(exercise: Exercise, name: str, shape: tuple[int, ...], at: tuple[int, ...]) -> str:
    """An element of output `name` in the exercise's own words: its half (direction) and the
    position within that half, e.g. "t = 2, sequence 0, reverse unit 5"."""
    flat = int(np.ravel_multi_index(tuple(int(i) for i in at), shape))
    positions = np.arange(int(np.prod(shape))).reshape(shape)
    for half, part in exercise.split_halves(name, positions).items():
        hits = np.argwhere(part == flat)
        if hits.size:
            inside = [int(i) for i in hits[0]]
            axes = exercise.half_axes.get(name, ())
            if len(axes) != len(inside):
                return f"{half} {inside}"
            if not any("{" in axis for axis in axes):  # plain axis names: "time step", "unit"
                return f"{half}, " + ", ".join(f"{axis} {i}" for axis, i in
                                               zip(axes, inside, strict=True))
            return ", ".join(axis.format(i=i, half=half)
                             for axis, i in zip(axes, inside, strict=True))
    return ""
