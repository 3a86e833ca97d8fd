"""The interface between the generic grading pipeline and one exercise."""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping, Sequence
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


MODULE_NAMES = {  # Exercise field -> the name `Exercise.from_module` takes it from
    "notebook_sizes": "NOTEBOOK_SIZES", "case_plans": "CASE_PLANS", "make_inputs": "make_inputs",
    "reference": "reference", "rounding_bound": "rounding_bound",
    "expected_shape": "expected_shape", "explain_shape": "explain_shape",
    "split_halves": "split_halves", "describe_sizes": "describe_sizes", "mistakes": "MISTAKES",
    "forbidden_calls": "FORBIDDEN_CALLS",
    # Optional: taken when the module defines them.
    "combine_mistakes": "combine_mistakes", "structure_stories": "STRUCTURE_STORIES",
    "localise": "localise",
}


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
    # --- Extensions with defaults: an exercise shaped like the bidirectional RNN needs none. ---
    # What the messages call the reference ("nn.LSTM"): "matches nn.LSTM", "nn.LSTM's" column.
    reference_name: str = "the reference"
    # The return as students write it, for messages: "(output, (h_n, c_n))". Default: the
    # output names as a flat tuple, "(output, h_n)".
    returns: str = ""
    # Points by part: (tensor, part, share of a case's points), the parts being those
    # `split_halves` returns, shares summing to 1. Empty: every tensor weighs the same and
    # each of its parts an equal share of it (two halves each: a quarter of the points).
    scoring_parts: tuple[tuple[str, str, float], ...] = ()
    # A nested return: the child module defines `flatten_returned(returned)` giving the
    # tensors in `output_names` order, or a key of these stories saying what nesting it got.
    structure_stories: Mapping[str, str] = field(default_factory=dict)
    # Where a wrong result departs, from the case's OutputChecks and its L, when no catalogued
    # mistake matches; None: diagnose.localise (each part of output, output against h_n).
    localise: Callable[[Sequence, int], list[str]] | None = None
    # Numbers a shape may hold besides multiples of the case's sizes (stacked h_n's 4 = layers
    # x directions), so a wrong shape made of them is shown in hidden cases; and the
    # multiples of a size worth showing (the LSTM's 3H and 4H gate blocks).
    structural_sizes: tuple[int, ...] = ()
    shape_multiples: tuple[int, ...] = (1, 2, 4)
    # One line for `rnn-grader exercises` and the README's table.
    summary: str = ""

    @classmethod
    def from_module(cls, module: str, **fields: object) -> Exercise:
        """The exercise the module `module` (its `__name__`, called at its end) defines under
        the names of MODULE_NAMES (`reference`, `CASE_PLANS`, `MISTAKES`...), with that module
        as `child_module`; `fields` give the rest and override. Calling the constructor with
        every field works as well."""
        defined = vars(sys.modules[module])
        found = {name: defined[attribute] for name, attribute in MODULE_NAMES.items()
                 if attribute in defined}
        return cls(**{**found, "child_module": module, **fields})  # type: ignore[arg-type]

    def mistake_title(self, key: str) -> str:
        """A mistake's title from its key (the key itself when unknown)."""
        titles = {mistake.key: mistake.title for mistake in self.mistakes}
        return titles.get(key) or self.other_mistakes.get(key, key.replace("_", " "))

    def __post_init__(self) -> None:
        if self.scoring_parts:
            total = sum(share for _, _, share in self.scoring_parts)
            if abs(total - 1.0) > 1e-9:
                raise ValueError(f"{self.name}: scoring_parts' shares sum to {total}, not 1")
            unknown = {tensor for tensor, _, _ in self.scoring_parts} - set(self.output_names)
            if unknown:
                raise ValueError(f"{self.name}: scoring_parts name unknown tensors {unknown}")

    @property
    def notebook(self) -> str:
        """The assignment's notebook file name."""
        return f"{self.name}.ipynb"

    @property
    def returns_text(self) -> str:
        """How the function returns its result, as students write it."""
        return self.returns or f"({', '.join(self.output_names)})"

    def score_fraction(self, parts_ok: Mapping[str, Mapping[str, bool]]) -> float:
        """The share of a case's points earned, from which parts of which tensors are right
        (a tensor of the wrong shape has no parts, so earns nothing)."""
        if self.scoring_parts:
            return sum(share for tensor, part, share in self.scoring_parts
                       if parts_ok.get(tensor, {}).get(part, False))
        per_tensor = 1.0 / len(self.output_names)
        return sum(per_tensor * sum(ok.values()) / len(ok)
                   for name, ok in parts_ok.items() if ok and name in self.output_names)
