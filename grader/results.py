"""What grading produces: checks of each output, each case, each submission. Plain dataclasses.

Everything here can be shown to the student it belongs to, except `stdout`/`stderr` (what the
notebook printed, and the grader's own traceback when it fails), which go to the instructor
only. Hidden cases' expected values are never stored in these objects: only positions, shapes
and error sizes in bands (see compare.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from grader.checking.cases import Case

# Submission statuses, as they appear in summary.csv.
GRADED = "graded"
NOT_IMPLEMENTED = "not_implemented"
ERROR = "error"
TIMEOUT = "timeout"
CRASHED = "crashed"
LIMIT = "limit"
INVALID = "invalid_notebook"
FORBIDDEN = "builtin_rnn"
GRADER_ERROR = "grader_error"
SEVERAL_NOTEBOOKS = "several_notebooks"  # none of them the assignment's: not graded
# The same in words, for people (the class report).
STATUS_WORDS = {
    GRADED: "graded", NOT_IMPLEMENTED: "not implemented (the stub)",
    ERROR: "raised an error", TIMEOUT: "hit the time limit", CRASHED: "crashed",
    LIMIT: "hit a memory or output limit", INVALID: "not a readable notebook",
    FORBIDDEN: "used the built-in RNN", GRADER_ERROR: "the grader failed (not the student)",
    SEVERAL_NOTEBOOKS: "several notebooks, none the assignment's",
}
# A case's problem when the submission was not graded at all (an unreadable notebook...).
NOT_GRADED = "Not graded."
# Statuses an instructor should look at by hand.
NEEDS_A_LOOK = (CRASHED, TIMEOUT, LIMIT, GRADER_ERROR, INVALID, FORBIDDEN, SEVERAL_NOTEBOOKS)


@dataclass
class OutputCheck:
    """One returned tensor against the reference."""

    name: str
    expected_shape: tuple[int, ...]
    got_shape: tuple[int, ...] | None
    halves_ok: dict[str, bool]
    summary: str
    details: list[str] = field(default_factory=list)
    # For pictures: error / tolerance per element; hidden cases keep only its band (compare.py).
    error_ratio: np.ndarray | None = None
    first_divergence: dict[str, int | None] = field(default_factory=dict)
    mistake: str = ""  # a wrong shape's mistake key ("output_one_direction"), if it has one

    @property
    def ok(self) -> bool:
        return bool(self.halves_ok) and all(self.halves_ok.values())


@dataclass
class CaseResult:
    """One case: what came back, how it compares, what it means, and its points."""

    case: Case
    max_score: float
    score: float = 0.0
    checks: list[OutputCheck] = field(default_factory=list)
    problem: str | None = None  # the call itself failed: exception, timeout, not a tuple...
    trace: list[str] = field(default_factory=list)  # where it failed, in the notebook's cells
    group: str = ""  # shared by the cases whose calls failed the same way (told once)
    outcome: str = GRADED  # a submission status: why this case could not be compared
    diagnosis: list[str] = field(default_factory=list)  # where it departs (no mistake named)
    mistakes: list[str] = field(default_factory=list)  # mistakes named for this case

    @property
    def passed(self) -> bool:
        return self.problem is None and self.score >= self.max_score

    def feedback(self, trace: bool = True) -> str:
        """The student-visible text for this case (`trace`: with where the call failed, which a
        report that tells it once for several cases leaves out)."""
        lines = []
        if self.problem:
            lines.append(self.problem)
            if trace and self.trace:
                lines += ["Where, in your notebook:", *self.trace]
        for check in self.checks:
            lines.append(check.summary)
            lines.extend(f"    {detail}" for detail in check.details)
        lines.extend(self.diagnosis)
        return "\n".join(lines)


@dataclass
class Finding:
    """A mistake named for the whole submission: what it is, what to do, the cases it explains.

    `keys` are what summary.csv and the class report count (two for two mistakes made at
    once); `where` quotes the student's own code when that is where it shows (sizes typed in).
    """

    keys: list[str]
    title: str
    hints: list[str]
    cases: list[int]
    kind: str = "catalogued"  # "catalogued", "compound", "part", "shape", "code"
    where: list[str] = field(default_factory=list)


@dataclass
class SubmissionResult:
    """A whole submission's grade and feedback."""

    name: str
    path: str
    status: str
    max_score: float
    score: float = 0.0
    message: str = ""
    detail: list[str] = field(default_factory=list)  # under `message`: the code and the caret
    cases: list[CaseResult] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)  # most likely first
    stdout: str = ""
    stderr: str = ""
    seconds: float = 0.0
    # The walls the grading process measured around the student process (layers.py).
    isolation: dict[str, object] = field(default_factory=dict)
    grader_log: str = ""  # the grader's own failures inside the child: instructor only
    notebook_sha256: str = ""  # of the file graded; with the secret, it makes hidden inputs
    exercise: str = ""  # the exercise's name: its parts lay out the pictures
    # Code that reaches for the grader's machinery, for the instructor (never changes the score).
    review: list[str] = field(default_factory=list)

    @property
    def mistakes(self) -> list[str]:
        seen: dict[str, None] = {}
        for finding in self.findings:
            seen.update(dict.fromkeys(finding.keys))
        for case in self.cases:
            seen.update(dict.fromkeys(case.mistakes))
        return list(seen)
