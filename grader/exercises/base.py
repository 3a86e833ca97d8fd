"""The interface between the generic grading pipeline and one exercise."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np

Sizes = Mapping[str, int]
Arrays = dict[str, np.ndarray]


@dataclass(frozen=True)
class CasePlan:
    """How one case is made: fixed sizes for public cases, a rule for hidden ones.

    `label` says what the case is for ("one step, one sequence"); `draw_sizes` turns a
    random generator into sizes that keep the case's structure (e.g. N != L).
    """

    label: str
    public_sizes: Sizes
    draw_sizes: Callable[[np.random.Generator], dict[str, int]]
    zero_h0: bool = False


@dataclass(frozen=True)
class Mistake:
    """A catalogued wrong implementation, run in the grading process to diagnose.

    `compute` returns what the mistake would return on these inputs, or None where the mistake
    cannot happen or cannot be told apart from other failures (e.g. one step too few when L=1).
    """

    key: str
    title: str
    hint: str
    compute: Callable[[Mapping[str, np.ndarray]], Arrays | None]
    # How the wrong implementation differs from the right one, for `Exercise.combine_mistakes`
    # (two mistakes made at once); empty when the mistake does not combine.
    variant: Mapping[str, object] = field(default_factory=dict, compare=False)


@dataclass(frozen=True)
class Exercise:
    """Everything the pipeline needs to know about one exercise."""

    name: str
    function: str
    output_names: tuple[str, ...]
    notebook_sizes: Sizes
    case_plans: tuple[CasePlan, ...]
    # Grading-process side: inputs, reference, rounding bound, shapes, diagnosis.
    make_inputs: Callable[[Sizes, int, bool], Arrays]
    reference: Callable[[Mapping[str, np.ndarray]], Arrays]
    rounding_bound: Callable[[Mapping[str, np.ndarray]], Arrays]
    expected_shape: Callable[[str, Sizes], tuple[int, ...]]
    # A wrong shape in words: (mistake key or "", what it usually means); a plain story (no
    # key) is accepted too.
    explain_shape: Callable[[str, tuple[int, ...], Sizes], tuple[str, str] | str]
    split_halves: Callable[[str, np.ndarray], dict[str, np.ndarray]]
    describe_sizes: Callable[[Sizes], str]
    # Child side: turns plain inputs into the notebook's globals (runs in the student's process).
    child_module: str = ""
    nbgrader_grade_cell: str = ""  # the source notebook's autograded cell carrying the points
    mistakes: tuple[Mistake, ...] = ()
    forbidden_calls: tuple[str, ...] = ()
    forbidden_message: str = ""
    # Each axis of an output's half in words, a format with {i} (the index) and {half}
    # ("forward"...): ("t = {i}", "sequence {i}", "{half} unit {i}") reads "t = 0, sequence 0,
    # reverse unit 3"; plain names ("time step", "unit") read "reverse, time step 0, unit 3".
    half_axes: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    # Two catalogued mistakes made at once, as one more mistake (None: they do not combine).
    combine_mistakes: Callable[[Mistake, Mistake], Mistake | None] | None = None
    # Titles of the mistakes named from shapes and code rather than computed ("output holds one
    # direction only", "sizes hard-coded"), by key, for summaries and the class report.
    other_mistakes: Mapping[str, str] = field(default_factory=dict)

    def mistake_title(self, key: str) -> str:
        """A mistake's title from its key (the key itself when unknown)."""
        titles = {mistake.key: mistake.title for mistake in self.mistakes}
        return titles.get(key) or self.other_mistakes.get(key, key.replace("_", " "))

    @property
    def notebook(self) -> str:
        """The assignment's notebook file name."""
        return f"{self.name}.ipynb"
