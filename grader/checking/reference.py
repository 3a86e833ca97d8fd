"""Compute the reference answer and its tolerance, in the grading process only.

The tolerance is not a guess: it is the exercise's bound on the rounding error of any float32
evaluation (see the exercise's `rounding_bound`), times a safety factor, plus a floor.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from grader.config import Tolerance
from grader.exercises.base import Arrays, Exercise


@dataclass(frozen=True)
class Reference:
    """The expected values of each output and the largest error accepted, element by element."""

    values: Arrays
    tolerance: Arrays


def compute_reference(exercise: Exercise, inputs: Mapping[str, np.ndarray],
                      tolerance: Tolerance) -> Reference:
    values = exercise.reference(inputs)
    bound = exercise.rounding_bound(inputs)
    allowed = {name: tolerance.factor * bound[name] + tolerance.floor for name in values}
    return Reference(values, allowed)
