"""Make each case's inputs: public cases from fixed seeds, hidden ones per submission.

Hidden cases are derived from the instructor's secret with HMAC, in the grading process only:

* sizes from HMAC(secret, "<exercise>/case/<n>"): the same for every submission, so the
  summary's per-case columns stay comparable (sizes are shown to students anyway);
* a per-case *seed key* HMAC(secret, "<exercise>/case/<n>/values"), a one-way value: the raw
  secret is not kept anywhere once the cases exist;
* the values from HMAC(seed key, notebook SHA-256): other inputs for every notebook, the same
  ones when the same notebook is graded again. What a probing submission learns about its
  inputs is of no use to any changed notebook.

The child receives the resulting numbers and nothing else: never a seed, a key or the secret.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass, field

import numpy as np

from grader.exercises.base import Arrays, Exercise

PUBLIC_SEED_BASE = 20_240


class SecretError(ValueError):
    """No usable instructor secret was given for hidden cases."""


@dataclass(frozen=True)
class Case:
    """One call of the student's function.

    `number` counts from 1 in reports; `hidden` cases never show expected values. A public
    case's inputs come from its fixed `seed`; a hidden case's from its `seed_key` and the
    notebook's SHA-256 (see `input_seed`). Both stay in the grading process.
    """

    number: int
    label: str
    hidden: bool
    sizes: dict[str, int]
    zero_h0: bool
    seed: int | None = None
    seed_key: bytes | None = field(default=None, repr=False)

    @property
    def title(self) -> str:
        kind = "hidden" if self.hidden else "public"
        return f"Case {self.number} ({kind}): {self.label}"

    @property
    def per_submission(self) -> bool:
        """Whether the inputs depend on the notebook graded (hidden cases)."""
        return self.seed_key is not None

    def input_seed(self, notebook_sha256: str = "") -> int:
        if self.seed_key is None:
            if self.seed is None:
                raise ValueError(f"case {self.number} has neither a seed nor a seed key")
            return self.seed
        if not notebook_sha256:
            raise ValueError(f"hidden case {self.number} needs the notebook's SHA-256")
        digest = hmac.new(self.seed_key, notebook_sha256.encode("ascii"),
                          hashlib.sha256).digest()
        return int.from_bytes(digest[:8], "big")


def public_cases(exercise: Exercise) -> list[Case]:
    return [Case(number, plan.label, False, dict(plan.public_sizes), plan.zero_h0,
                 seed=PUBLIC_SEED_BASE + number)
            for number, plan in enumerate(exercise.case_plans, start=1)]


def hidden_cases(exercise: Exercise, secret: bytes, count: int) -> list[Case]:
    """`count` cases cycling through the exercise's plans: sizes drawn from the secret, and
    a seed key per case for the values; the returned cases hold no copy of the secret."""
    if len(secret.strip()) < 8:
        raise SecretError("the secret is shorter than 8 characters; choose a longer one")
    cases = []
    for number in range(1, count + 1):
        plan = exercise.case_plans[(number - 1) % len(exercise.case_plans)]
        label = f"{exercise.name}/case/{number}"
        sizes_digest = hmac.new(secret.strip(), label.encode(), hashlib.sha256).digest()
        sizes = plan.draw_sizes(np.random.default_rng(int.from_bytes(sizes_digest[:8], "big")))
        seed_key = hmac.new(secret.strip(), f"{label}/values".encode(), hashlib.sha256).digest()
        cases.append(Case(number, plan.label, True, sizes, plan.zero_h0, seed_key=seed_key))
    return cases


def make_inputs(exercise: Exercise, case: Case, notebook_sha256: str = "") -> Arrays:
    """The case's inputs; hidden cases need the SHA-256 of the notebook being graded."""
    return exercise.make_inputs(case.sizes, case.input_seed(notebook_sha256), case.zero_h0)
