"""The tolerance is sound: correct code never fails through rounding, wrong code always fails.

Over 1,000 random seeds and sizes, correct implementations computing in float32 (several
summation orders) or float64 stay inside the tolerance; every catalogued mistake that makes a
difference on the inputs falls outside it.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from grader.checking.reference import compute_reference
from grader.config import Tolerance
from grader.exercises.bidirectional_rnn import EXERCISE

SEEDS = range(1000)


def _inputs(seed: int) -> dict[str, np.ndarray]:
    plan = EXERCISE.case_plans[seed % len(EXERCISE.case_plans)]
    sizes = plan.draw_sizes(np.random.default_rng(seed))
    return EXERCISE.make_inputs(sizes, seed, zero_h0=seed % 3 == 0)


def _loop(inputs, dtype: torch.dtype, fused: bool) -> dict[str, np.ndarray]:
    """A correct bidirectional RNN written by hand, in `dtype`."""
    t = {name: torch.from_numpy(value).to(dtype) for name, value in inputs.items()}
    steps = t["sequence"].shape[0]
    halves, finals = [], []
    for direction, prefix in ((0, ""), (1, "r_")):
        w_ih, b_ih = t[f"w_{prefix}ih_l0"], t[f"b_{prefix}ih_l0"]
        w_hh, b_hh = t[f"w_{prefix}hh_l0"], t[f"b_{prefix}hh_l0"]
        h = t["h_0"][direction]  # (N, H)
        states = [None] * steps
        for step in (range(steps - 1, -1, -1) if direction else range(steps)):
            if fused:  # one matmul over [x, h], biases summed first: another rounding order
                joined = torch.cat([t["sequence"][step], h], dim=1)  # (N, I + H)
                h = torch.tanh(joined @ torch.cat([w_ih, w_hh], dim=1).T + (b_hh + b_ih))
            else:
                h = torch.tanh(t["sequence"][step] @ w_ih.T + b_ih + h @ w_hh.T + b_hh)
            states[step] = h
        halves.append(torch.stack(states))  # (L, N, H)
        finals.append(h)
    return {"output": torch.cat(halves, dim=2).numpy(), "h_n": torch.stack(finals).numpy()}


def _within(got: dict, reference) -> bool:
    return all(np.all(np.abs(got[name].astype(np.float64) - reference.values[name])
                      <= reference.tolerance[name]) for name in reference.values)


def test_correct_code_never_fails_through_rounding_over_1000_seeds() -> None:
    failures = []
    for seed in SEEDS:
        inputs = _inputs(seed)
        reference = compute_reference(EXERCISE, inputs, Tolerance())
        for dtype, fused in ((torch.float32, False), (torch.float32, True), (torch.float64, False)):
            if not _within(_loop(inputs, dtype, fused), reference):
                failures.append((seed, dtype, fused))
    assert failures == []


def test_torch_allclose_defaults_would_have_failed_some_correct_code() -> None:
    """Why the tolerance is computed, not torch.allclose's default: on long sequences the
    float32 error of correct code exceeds atol=1e-8 + rtol=1e-5 for some seeds."""
    rejected = 0
    for seed in range(200):
        inputs = _inputs(seed)
        ours = _loop(inputs, torch.float32, fused=True)
        reference = compute_reference(EXERCISE, inputs, Tolerance())
        rejected += not all(np.allclose(ours[k], reference.values[k], rtol=1e-5, atol=1e-8)
                            for k in ours)
    assert rejected > 0


@pytest.mark.parametrize("mistake", EXERCISE.mistakes, ids=lambda m: m.key)
def test_every_mistake_falls_outside_the_tolerance(mistake) -> None:
    caught = distinguishable = 0
    for seed in range(100):
        inputs = _inputs(seed)
        reference = compute_reference(EXERCISE, inputs, Tolerance())
        wrong = mistake.compute(inputs)
        if wrong is None:
            continue  # the mistake cannot happen at these sizes
        same_shapes = all(wrong[k].shape == reference.values[k].shape for k in wrong)
        if same_shapes and all(np.allclose(wrong[k], reference.values[k], atol=1e-9)
                               for k in wrong):
            continue  # e.g. reverse-order bugs with L = 1: nothing to catch
        distinguishable += 1
        caught += not (same_shapes and _within(wrong, reference))
    assert distinguishable > 0
    assert caught == distinguishable


def test_the_catalogue_never_diagnoses_correct_code() -> None:
    """A correct float32 result matches no catalogued mistake on any of 1,000 seeds, even
    where a mistake makes no difference (those are set aside as no evidence); nor, on the
    first 100, any two mistakes made at once."""
    from grader.checking.mistakes import matching

    for seed in SEEDS:
        inputs = _inputs(seed)
        reference = compute_reference(EXERCISE, inputs, Tolerance())
        matched = matching(EXERCISE, inputs, reference,
                           _loop(inputs, torch.float32, fused=seed % 2 == 0),
                           pairs=seed in SEEDS[:100])
        assert matched == [], seed
