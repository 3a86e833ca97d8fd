"""Make each case's inputs: public cases from fixed seeds, hidden ones from the secret.

Hidden seeds and sizes are derived from the instructor's secret with HMAC, in the grading
process only; the child receives the resulting numbers and nothing else.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

import numpy as np

from grader.exercises.base import Arrays, Exercise

PUBLIC_SEED_BASE = 20_240


class SecretError(ValueError):
    """No usable instructor secret was given for hidden cases."""


@dataclass(frozen=True)
class Case:
    """One call of the student's function.

    `number` counts from 1 in reports; `hidden` cases never show expected values; `seed`
    makes the inputs and stays in the grading process.
    """

    number: int
    label: str
    hidden: bool
    sizes: dict[str, int]
    zero_h0: bool
    seed: int

    @property
    def title(self) -> str:
        kind = "hidden" if self.hidden else "public"
        return f"Case {self.number} ({kind}): {self.label}"


def public_cases(exercise: Exercise) -> list[Case]:
    return [Case(number, plan.label, False, dict(plan.public_sizes), plan.zero_h0,
                 PUBLIC_SEED_BASE + number)
            for number, plan in enumerate(exercise.case_plans, start=1)]


def hidden_cases(exercise: Exercise, secret: bytes, count: int) -> list[Case]:
    """`count` cases cycling through the exercise's plans, drawn from the secret."""
    if len(secret.strip()) < 8:
        raise SecretError("the secret is shorter than 8 characters; choose a longer one")
    cases = []
    for number in range(1, count + 1):
        plan = exercise.case_plans[(number - 1) % len(exercise.case_plans)]
        digest = hmac.new(secret.strip(), f"{exercise.name}/case/{number}".encode(),
                          hashlib.sha256).digest()
        seed = int.from_bytes(digest[:8], "big")
        sizes = plan.draw_sizes(np.random.default_rng(seed))
        cases.append(Case(number, plan.label, True, sizes, plan.zero_h0, seed))
    return cases


def make_inputs(exercise: Exercise, case: Case) -> Arrays:
    return exercise.make_inputs(case.sizes, case.seed, case.zero_h0)
