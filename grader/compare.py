"""Compare what the child returned with the reference, the way pytest.approx reports it.

Validation comes first (dtype, shape, finite values), then an element-wise comparison with the
reference's tolerance, split into the exercise's halves (forward and reverse) for partial
credit. Hidden cases report error sizes and positions, never expected values.
"""

from __future__ import annotations

import numpy as np

from grader.exercises.base import Exercise
from grader.reference import Reference
from grader.results import OutputCheck

ACCEPTED_DTYPES = ("float32", "float64")
TABLE_ROWS = 5


def check_output(exercise: Exercise, name: str, got: np.ndarray, torch_dtype: str,
                 reference: Reference, sizes: dict[str, int], hidden: bool) -> OutputCheck:
    expected = reference.values[name]
    where = f"{name} ({exercise.describe_sizes(sizes)})"
    check = OutputCheck(name, tuple(expected.shape), tuple(got.shape), {}, "")
    if torch_dtype not in ACCEPTED_DTYPES:
        check.summary = (f"{where}: dtype is torch.{torch_dtype}; expected torch.float32 like "
                         "the inputs (float64 is accepted too).")
        return check
    if got.shape != expected.shape:
        check.summary = (f"{where}: shape {tuple(got.shape)}, expected "
                         f"{tuple(expected.shape)}: "
                         f"{exercise.explain_shape(name, tuple(got.shape), sizes)}")
        return check
    values = got.astype(np.float64)
    error = np.abs(values - expected)
    error[~np.isfinite(values)] = np.inf
    ratio = error / reference.tolerance[name]
    check.error_ratio = ratio
    wrong = ~(ratio <= 1.0)
    halves = exercise.split_halves(name, wrong)
    check.halves_ok = {half: not part.any() for half, part in halves.items()}
    check.first_divergence = {half: _first_bad_step(part, half) for half, part in halves.items()
                              if name == "output"}
    if not wrong.any():
        check.summary = f"{where}: matches nn.RNN (largest difference {error.max():.1e})."
        return check
    check.summary = _mismatch_summary(where, values, error, wrong)
    check.details = _mismatch_table(values, expected, error, wrong, hidden)
    return check


def _first_bad_step(wrong: np.ndarray, half: str) -> int | None:
    """First time step, in the direction's own order, where any element is wrong."""
    bad_steps = np.flatnonzero(wrong.reshape(wrong.shape[0], -1).any(axis=1))
    if bad_steps.size == 0:
        return None
    return int(bad_steps.max() if half == "reverse" else bad_steps.min())


def _mismatch_summary(where: str, values: np.ndarray, error: np.ndarray,
                      wrong: np.ndarray) -> str:
    non_finite = int((~np.isfinite(values)).sum())
    if non_finite:
        return (f"{where}: {non_finite} of {values.size} values are NaN or infinite; look for a "
                "division, an overflow or an uninitialised tensor (torch.empty).")
    worst = np.unravel_index(int(np.argmax(error)), error.shape)
    return (f"{where}: {int(wrong.sum())} of {values.size} values differ from nn.RNN; largest "
            f"difference {error.max():.3g} at index {list(map(int, worst))}.")


def _mismatch_table(values: np.ndarray, expected: np.ndarray, error: np.ndarray,
                    wrong: np.ndarray, hidden: bool) -> list[str]:
    rows = np.argwhere(wrong)[:TABLE_ROWS]
    if hidden:
        lines = ["index            difference"]
        lines += [f"{str(list(map(int, at))):16} {error[tuple(at)]:.3g}" for at in rows]
    else:
        lines = ["index            yours        nn.RNN       difference"]
        lines += [f"{str(list(map(int, at))):16} {values[tuple(at)]:<12.6g} "
                  f"{expected[tuple(at)]:<12.6g} {error[tuple(at)]:.3g}" for at in rows]
    if wrong.sum() > TABLE_ROWS:
        lines.append(f"... and {int(wrong.sum()) - TABLE_ROWS} more")
    return lines
