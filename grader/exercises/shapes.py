"""Sizes and shapes as the built-in exercises say them alike: a case's sizes read back from its
inputs, the sizes in words, and the stories of a wrong shape that no exercise-specific story
fits (sizes hard-coded to the notebook's, or nothing known). Shapes: L time steps, N sequences
in the batch, I input features, H hidden features."""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np

from grader.exercises.base import Sizes

UNKNOWN_SHAPE = "compare each axis with the shapes in the notebook's explanation."


def sizes_of(inputs: Mapping[str, np.ndarray]) -> dict[str, int]:
    """L, N and I from `sequence` (L, N, I), H from `w_hh_l0` (H or a multiple of it, H)."""
    steps, batch, features = inputs["sequence"].shape
    return {"L": steps, "N": batch, "I": features, "H": inputs["w_hh_l0"].shape[1]}


def describe_sizes(sizes: Sizes) -> str:
    return f"L={sizes['L']}, N={sizes['N']}, I={sizes['I']}, H={sizes['H']}"


def hardcoded_sizes(name: str, got: tuple[int, ...], sizes: Sizes, notebook_sizes: Sizes,
                    expected_shape: Callable[[str, Sizes], tuple[int, ...]],
                    hidden_from: str = "the weights") -> str | None:
    """The story of `got` when it is `name`'s shape at the notebook's own sizes while the case's
    sizes differ (I aside): the sizes look hard-coded. None when it is not."""
    notebook = dict(notebook_sizes, I=sizes["I"])
    if got != expected_shape(name, notebook_sizes) or dict(sizes) == notebook:
        return None
    return ("this is the shape for the notebook's own sizes "
            f"({describe_sizes(notebook_sizes)}): sizes look hard-coded. Read L and N from "
            f"sequence.shape and H from {hidden_from} (or the size globals), so the function "
            "works for any sizes.")
