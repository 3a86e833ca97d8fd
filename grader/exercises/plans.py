"""How the cases of a one-layer recurrence are made: the six case plans every such exercise
shares, and its inputs drawn the way torch initialises its modules. The plans' coverage:
the notebook's own sizes, one step and one sequence, one step and a batch, one long sequence,
more sequences than steps, a wide hidden state; I differs from H throughout, and two plans
start from zero initial states. Hidden cases draw their sizes with these rules. The stacked
exercise has plans of its own but draws its inputs with `draw_inputs` too."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from grader.exercises.base import Arrays, CasePlan, Sizes


def draw_inputs(seed: int, sizes: Sizes, weight_shapes: Mapping[str, tuple[int, ...]],
                state_rows: Mapping[str, int], zero_states: bool) -> Arrays:
    """Weights uniform in ±1/√H (torch's own initialisation), in the order given; then a normal
    sequence (L, N, I); then each initial state (rows, N, H), normal or zero. float32. The
    order of the draws is part of the inputs: hidden cases depend on it."""
    rng = np.random.default_rng(seed)
    steps, batch, inputs, hidden = sizes["L"], sizes["N"], sizes["I"], sizes["H"]
    bound = 1.0 / np.sqrt(hidden)
    arrays: Arrays = {name: rng.uniform(-bound, bound, size=shape).astype(np.float32)
                      for name, shape in weight_shapes.items()}
    arrays["sequence"] = rng.standard_normal((steps, batch, inputs)).astype(np.float32)
    for name, rows in state_rows.items():
        drawn = np.zeros((rows, batch, hidden)) if zero_states else \
            rng.standard_normal((rows, batch, hidden))
        arrays[name] = drawn.astype(np.float32)
    return arrays


def distinct(rng: np.random.Generator, low: int, high: int, *avoid: int) -> int:
    """A whole number from low to high, none of `avoid`."""
    choices = [v for v in range(low, high + 1) if v not in avoid]
    return int(rng.choice(choices))


def draw_one_step(rng: np.random.Generator) -> dict[str, int]:
    hidden = int(rng.integers(2, 7))
    return {"L": 1, "N": 1, "I": distinct(rng, 2, 7, hidden), "H": hidden}


def draw_batch_of_steps_one(rng: np.random.Generator) -> dict[str, int]:
    hidden = int(rng.integers(2, 6))
    return {"L": 1, "N": int(rng.integers(2, 6)), "I": distinct(rng, 2, 6, hidden), "H": hidden}


def draw_one_sequence(rng: np.random.Generator) -> dict[str, int]:
    hidden = int(rng.integers(2, 6))
    return {"L": int(rng.integers(4, 9)), "N": 1, "I": distinct(rng, 2, 6, hidden), "H": hidden}


def draw_batch_longer(rng: np.random.Generator) -> dict[str, int]:
    steps = int(rng.integers(2, 5))
    hidden = int(rng.integers(3, 7))
    return {"L": steps, "N": int(rng.integers(steps + 1, 8)),
            "I": distinct(rng, 2, 7, hidden), "H": hidden}


def draw_wide_hidden(rng: np.random.Generator) -> dict[str, int]:
    steps = int(rng.integers(3, 8))
    return {"L": steps, "N": distinct(rng, 2, 5, steps), "I": int(rng.integers(2, 7)),
            "H": int(rng.integers(8, 17))}


def one_layer_case_plans(notebook_sizes: Sizes, zero_states: str = "") -> tuple[CasePlan, ...]:
    """The six plans; `zero_states` is added to the labels of the two that start from zero
    (", zero initial states" where there is more than h_0)."""
    own = dict(notebook_sizes)
    return (
        CasePlan("the notebook's own sizes", own, lambda rng: dict(own)),
        CasePlan("one time step, one sequence", {"L": 1, "N": 1, "I": 3, "H": 2},
                 draw_one_step),
        CasePlan(f"one time step, a batch of sequences{zero_states}",
                 {"L": 1, "N": 4, "I": 2, "H": 3}, draw_batch_of_steps_one, zero_h0=True),
        CasePlan("one long sequence", {"L": 7, "N": 1, "I": 2, "H": 5}, draw_one_sequence),
        CasePlan(f"more sequences than time steps{zero_states}",
                 {"L": 2, "N": 5, "I": 6, "H": 3}, draw_batch_longer, zero_h0=True),
        CasePlan("a wide hidden state", {"L": 4, "N": 2, "I": 3, "H": 10}, draw_wide_hidden),
    )
