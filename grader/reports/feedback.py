"""What a student reads, in the order it matters, whatever it is rendered into.

One `Story` per submission, shared by the terminal, feedback.html and results.json: the
verdict and the most likely mistake (with the cases it explains) first, then anything else
named, each failure of a call told once with the cases it hit, then one compact line per case
with the details (tables of differences) after it, and pictures only where they add to the
words. Nothing here is HTML or ANSI; templates and rich do the rendering.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from grader import results
from grader.reports.figures import Figure, heat_maps
from grader.results import NOT_GRADED, CaseResult, Finding, SubmissionResult


@dataclass
class Named:
    """A finding as it is told: the lead line, its hints, and the code it points at."""

    lead: str
    hints: list[str]
    where: list[str] = field(default_factory=list)


@dataclass
class Problem:
    """Calls that failed the same way: what happened (once), where, and in which cases."""

    text: str
    trace: list[str]
    cases: list[int]


@dataclass
class CaseLine:
    number: int
    kind: str  # "hidden" or "public"
    label: str
    sizes: str
    points: str
    passed: bool
    summary: str
    details: str = ""


@dataclass
class Story:
    name: str
    verdict: str
    headline: str
    passed: bool
    graded: bool = True  # some case was run
    notice: str = ""
    notice_detail: list[str] = field(default_factory=list)
    notice_first: bool = False
    named: list[Named] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    cases: list[CaseLine] = field(default_factory=list)
    # All cases failed the same way: one line says it for all of them.
    same_for_all: str = ""
    figures: list[Figure] = field(default_factory=list)
    next_step: str = ""


def story(result: SubmissionResult, pictures: bool = True) -> Story:
    graded = [case for case in result.cases if case.problem != NOT_GRADED]
    passed = bool(result.cases) and all(case.passed for case in result.cases)
    right = sum(case.passed for case in result.cases)
    verdict = f"Score: {result.score:g} / {result.max_score:g}"
    if graded:
        verdict += f" — {right} of {len(result.cases)} cases fully right."
    told = Story(result.name, verdict, "", passed, bool(graded), result.message,
                 list(result.detail))
    told.named = [_named(finding, len(result.cases), first=index == 0)
                  for index, finding in enumerate(result.findings)]
    told.problems = _problems(result.cases)
    told.cases = [_case_line(case) for case in result.cases]
    told.notice_first = bool(result.message) and (not graded or _function_missing(result))
    if told.notice_first:  # the cell that failed is the story; "not defined" follows from it
        told.problems = [p for p in told.problems if not _is_missing(p, result.cases)]
    summaries = {(line.summary, line.points) for line in told.cases}
    if told.graded and len(told.cases) > 1 and len(summaries) == 1 and not told.passed and \
            not any(line.details for line in told.cases):  # failed calls: nothing per case
        told.same_for_all = told.cases[0].summary
    if pictures:
        told.figures = heat_maps(result.cases, result.exercise)
    told.headline, told.next_step = _headline(told, result)
    return told


def _function_missing(result: SubmissionResult) -> bool:
    failing = [case for case in result.cases if not case.passed]
    return bool(failing) and all(case.group == "missing" for case in failing)


def _is_missing(problem: Problem, cases: list[CaseResult]) -> bool:
    return all(case.group == "missing" for case in cases if case.case.number in problem.cases)


def cases_in_words(numbers: list[int], total: int) -> str:
    if len(numbers) == total and total > 1:
        return f"all {total} cases"
    if len(numbers) == 1:
        return f"case {numbers[0]}"
    return "cases " + ", ".join(str(n) for n in numbers[:-1]) + f" and {numbers[-1]}"


def _named(finding: Finding, total: int, first: bool) -> Named:
    cases = cases_in_words(finding.cases, total)
    if finding.kind == "shape":
        lead = f"{finding.title}, in {cases}."
        return Named(("Most likely: " if first else "Also: ") + lead, finding.hints, [])
    if finding.kind == "compound":
        lead = (f"two mistakes at once: {finding.title} — together they explain {cases}.")
    else:
        lead = f"{finding.title} — explains {cases}."
    return Named(("Most likely: " if first else "Also: ") + lead, finding.hints, finding.where)


def _problems(cases: list[CaseResult]) -> list[Problem]:
    grouped: dict[str, Problem] = {}
    for case in cases:
        if case.problem is None or case.problem == NOT_GRADED:
            continue
        key = case.group or case.problem
        problem = grouped.setdefault(key, Problem(case.problem, case.trace, []))
        problem.cases.append(case.case.number)
    return list(grouped.values())


def _case_line(case: CaseResult) -> CaseLine:
    kind = "hidden" if case.case.hidden else "public"
    sizes = ", ".join(f"{key}={value}" for key, value in case.case.sizes.items())
    details = "" if case.problem or case.passed else case.feedback(trace=False)
    return CaseLine(case.case.number, kind, case.case.label, sizes,
                    f"{case.score:g}/{case.max_score:g}", case.passed, _summary(case), details)


def _summary(case: CaseResult) -> str:
    if case.passed:
        return "right"
    if case.problem:
        return short(case.problem)
    parts = []
    for check in case.checks:
        if check.got_shape != check.expected_shape:
            parts.append(f"{check.name}: wrong shape")
        elif not check.halves_ok:
            parts.append(f"{check.name}: wrong dtype")
        elif check.ok:
            parts.append(f"{check.name} right")
        else:
            wrong = [part for part, ok in check.halves_ok.items() if not ok]
            if len(check.halves_ok) == 1:  # one part, the whole tensor (an LSTM's h_n)
                what = "wrong"
            elif len(wrong) == len(check.halves_ok):
                what = "both halves wrong" if len(wrong) == 2 else "every part wrong"
            else:
                what = ", ".join(wrong) + (" half wrong" if len(check.halves_ok) == 2
                                           else " wrong")
            nan = " (NaN or infinite values)" if "NaN or infinite" in check.summary else ""
            parts.append(f"{check.name}: {what}{nan}")
    return "; ".join(parts)


def short(text: str) -> str:
    """The first clause of a message: 'manual_rnn raised IndexError'."""
    first = re.split(r" \(|; |\. ", text.strip().splitlines()[0], maxsplit=1)[0]
    return first if len(first) <= 100 else first[:99] + "…"


def gist(headline: str) -> str:
    """A headline's first clause, for a roster: 'Code cell 5 (`def manual_rnn()`) does not
    compile'."""
    first = re.split(r": |; | — ", headline.strip(), maxsplit=1)[0].rstrip(".")
    return first if len(first) <= 120 else first[:119] + "…"


def _headline(told: Story, result: SubmissionResult) -> tuple[str, str]:
    """The line that matters most, and what to do next."""
    if told.notice_first:
        first = told.notice.splitlines()[0]
        return first, ("Fix that, save the notebook, and check again."
                       if result.status not in (results.INVALID, results.GRADER_ERROR) else "")
    if told.passed:
        return "Every case is right.", ""
    if told.named:
        return told.named[0].lead, f"Start with: {told.named[0].hints[0]}"
    if told.problems:
        problem = told.problems[0]
        lead = f"{short(problem.text)} in {cases_in_words(problem.cases, len(result.cases))}."
        where = problem.trace[0].strip().rstrip(":") if problem.trace else ""
        return lead, f"Fix the error at {where}." if where else "Fix that error first."
    return ("No known mistake explains the failing cases; each case's line below says where "
            "it departs from nn.RNN."), "Start with the first failing case below."
