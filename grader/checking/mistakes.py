"""Name the mistakes behind a submission's wrong results, for all its cases at once.

Each catalogued mistake is computed in the grading process on the case's own inputs and
compared with what the student returned, part by part (each direction's half of each output).
A mistake is named when it matches in some case and is ruled out in none (a case rules it out
when the mistake would have made a visible difference there and the result does not show it).
When no single mistake fits, two made at once are tried, then a mistake confined to some parts
("in the reverse direction"). Wrong shapes and sizes typed into the code are named too.
The result is a list of findings, most likely first, each with the cases it explains.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from grader.checking.reference import Reference
from grader.exercises.base import Arrays, Exercise, Mistake
from grader.notebooks.cells import typed_in_sizes
from grader.results import CaseResult, Finding

MISTAKE_SLACK = 4.0  # a mistake's own float32 rounding may exceed the reference's bound
Part = tuple[str, str]  # (output name, half): ("output", "reverse")


@dataclass
class Evidence:
    """One case whose call returned tensors: its inputs, nn.RNN's answer, the student's."""

    case: CaseResult
    inputs: Arrays
    reference: Reference
    returned: Arrays


@dataclass
class Weighed:
    """One mistake on one case: which parts it changes, which parts the student's result
    shares with it."""

    differs: dict[Part, bool] = field(default_factory=dict)
    matches: dict[Part, bool] = field(default_factory=dict)

    @property
    def matched(self) -> bool:
        return any(self.differs.values()) and all(self.matches.values())

    @property
    def ruled_out(self) -> bool:
        return any(self.differs.values()) and not all(self.matches.values())


def weigh(exercise: Exercise, mistake: Mistake, inputs: Mapping[str, np.ndarray],
          reference: Reference, returned: Mapping[str, np.ndarray]) -> Weighed:
    """The mistake computed on these inputs, part by part against nn.RNN and the student."""
    predicted = mistake.compute(inputs)
    weighed = Weighed()
    if predicted is None:
        return weighed  # the mistake cannot be told apart from others on these inputs
    for name, want in reference.values.items():
        mine, theirs = predicted.get(name), returned.get(name)
        tolerance = reference.tolerance[name]
        if mine is None or mine.shape != want.shape:  # a mistake of shape: the whole tensor
            weighed.differs[(name, "")] = True
            weighed.matches[(name, "")] = mine is not None and theirs is not None and \
                _close(theirs, mine, tolerance.max(), MISTAKE_SLACK)
            continue
        halves = {key: exercise.split_halves(name, array) for key, array in
                  (("mine", mine), ("want", want), ("tolerance", tolerance))}
        got = exercise.split_halves(name, theirs) if theirs is not None and \
            theirs.shape == want.shape else {}
        for half in halves["want"]:
            tol = halves["tolerance"][half]
            weighed.differs[(name, half)] = not _close(halves["mine"][half],
                                                       halves["want"][half], tol, 1.0)
            weighed.matches[(name, half)] = half in got and \
                _close(got[half], halves["mine"][half], tol, MISTAKE_SLACK)
    return weighed


def matching(exercise: Exercise, inputs: Mapping[str, np.ndarray], reference: Reference,
             returned: Mapping[str, np.ndarray], pairs: bool = False) -> list[str]:
    """Keys of the catalogued mistakes (and, with `pairs`, of two at once) that this result
    matches on these inputs."""
    catalogue = list(exercise.mistakes)
    if pairs and exercise.combine_mistakes is not None:
        catalogue += [both for first, second in itertools.combinations(exercise.mistakes, 2)
                      if (both := exercise.combine_mistakes(first, second)) is not None]
    return [m.key for m in catalogue
            if weigh(exercise, m, inputs, reference, returned).matched]


def weigh_catalogue(exercise: Exercise, inputs: Mapping[str, np.ndarray], reference: Reference,
                    returned: Mapping[str, np.ndarray]) -> tuple[list[str], list[str]]:
    """The catalogued mistakes this result matches on these inputs, and those it rules out
    (the mistake would have made a visible difference, and the result does not show it)."""
    weighed = [(m.key, weigh(exercise, m, inputs, reference, returned)) for m in exercise.mistakes]
    return ([key for key, one in weighed if one.matched],
            [key for key, one in weighed if one.ruled_out])


def consistent(cases: list[tuple[list[str], list[str]]]) -> list[str]:
    """Mistakes matched in some case and ruled out in none, in the order first matched."""
    ruled_out = {key for _, out in cases for key in out}
    found: dict[str, None] = {}
    for matched, _ in cases:
        found.update(dict.fromkeys(key for key in matched if key not in ruled_out))
    return list(found)


def _close(got: np.ndarray, want: np.ndarray, tolerance: np.ndarray | float,
           slack: float) -> bool:
    got, want = np.squeeze(got).astype(np.float64), np.squeeze(want)
    if got.shape != want.shape:
        return False
    allowed = slack * np.asarray(tolerance) + 1e-5 * np.abs(want)
    return bool(np.all(np.abs(got - want) <= allowed))


def name_mistakes(exercise: Exercise, cases: list[CaseResult], evidence: list[Evidence],
                  function_source: str = "", where_code: str = "") -> list[Finding]:
    """Findings, most likely first; each case's `mistakes` lists the keys that explain it."""
    failing = [one for one in evidence if not one.case.passed]
    findings = [f for f in (_sizes_typed_in(exercise, cases, function_source, where_code),)
                if f is not None]
    if failing:
        findings += _computed(exercise, evidence, failing)
    findings += _shapes(exercise, cases, findings)
    order = {"code": 0, "catalogued": 1, "compound": 1, "part": 2, "shape": 3}
    findings.sort(key=lambda f: (f.kind != "code", -len(f.cases), order[f.kind]))
    for case in cases:
        case.mistakes = list(dict.fromkeys(
            key for finding in findings if case.case.number in finding.cases
            for key in finding.keys))
    return findings


def _computed(exercise: Exercise, evidence: list[Evidence],
              failing: list[Evidence]) -> list[Finding]:
    """Catalogued mistakes, alone, two at once, or confined to some parts."""
    catalogue = list(exercise.mistakes)
    memo: dict[tuple[str, int], Weighed] = {}

    def weighed(mistake: Mistake, upto: int = len(evidence)) -> list[Weighed]:
        """The mistake on the first `upto` cases, each computed once."""
        for index in range(upto):
            if (mistake.key, index) not in memo:
                memo[mistake.key, index] = _weigh(exercise, mistake, evidence[index])
        return [memo[mistake.key, index] for index in range(upto)]

    def single(mistake: Mistake) -> bool:
        # Most of the catalogue is ruled out by the first case it is weighed on: stop there.
        for upto in range(1, len(evidence) + 1):
            if weighed(mistake, upto)[-1].ruled_out:
                return False
        return _consistent(weighed(mistake), evidence)

    singles = [m for m in catalogue if single(m)]
    if singles:
        return [_finding([m], _explained(weighed(m), evidence), "catalogued") for m in singles]
    if exercise.combine_mistakes is not None:
        best: tuple[int, list[Mistake], list[int]] | None = None
        for first, second in itertools.combinations(catalogue, 2):
            both = exercise.combine_mistakes(first, second)
            if both is None:
                continue
            on_cases = []
            for one in failing + [e for e in evidence if e.case.passed]:  # likeliest out first
                on_cases.append(_weigh(exercise, both, one))
                if on_cases[-1].ruled_out:
                    break
            else:
                on_cases = [_weigh(exercise, both, one) for one in evidence]
            if len(on_cases) == len(evidence) and _consistent(on_cases, evidence):
                explained = _explained(on_cases, evidence)
                if best is None or len(explained) > best[0]:
                    best = (len(explained), [first, second], explained)
        if best is not None:
            return [_finding(best[1], best[2], "compound")]
    return _by_part(catalogue, {m.key: weighed(m) for m in catalogue}, evidence)


def _weigh(exercise: Exercise, mistake: Mistake, one: Evidence) -> Weighed:
    return weigh(exercise, mistake, one.inputs, one.reference, one.returned)


def _consistent(on_cases: list[Weighed], evidence: list[Evidence]) -> bool:
    """Matched in some failing case, ruled out in none (a passing case can only rule out)."""
    matched = any(w.matched for w, one in zip(on_cases, evidence, strict=True)
                  if not one.case.passed)
    return matched and not any(w.ruled_out for w in on_cases)


def _explained(on_cases: list[Weighed], evidence: list[Evidence]) -> list[int]:
    return [one.case.case.number for w, one in zip(on_cases, evidence, strict=True)
            if w.matched and not one.case.passed]


def _finding(mistakes: list[Mistake], cases: list[int], kind: str, where: str = "") -> Finding:
    title = " and ".join(m.title for m in mistakes) + (f" ({where})" if where else "")
    return Finding([m.key for m in mistakes], title, [m.hint for m in mistakes], cases, kind)


def _by_part(catalogue: list[Mistake], weighed: dict[str, list[Weighed]],
             evidence: list[Evidence]) -> list[Finding]:
    """A mistake that fits some parts in every case (say, the reverse direction), where the
    other parts are right or wrong for another reason."""
    covered: set[Part] = set()
    found = []
    scored = []
    for mistake in catalogue:
        parts: dict[Part, list[int]] = {}
        for part in {p for w in weighed[mistake.key] for p in w.differs}:
            hits = [one.case.case.number for w, one in zip(weighed[mistake.key], evidence,
                                                           strict=True)
                    if w.differs.get(part) and w.matches.get(part) and not one.case.passed]
            missed = any(w.differs.get(part) and not w.matches.get(part)
                         for w in weighed[mistake.key])
            if hits and not missed and part[1]:
                parts[part] = hits
        if parts:
            scored.append((sum(len(c) for c in parts.values()), mistake, parts))
    for _, mistake, parts in sorted(scored, key=lambda s: -s[0]):
        mine = {p: c for p, c in parts.items() if p not in covered}
        if mine:
            covered |= set(mine)
            cases = sorted({n for c in mine.values() for n in c})
            found.append(_finding([mistake], cases, "part", _parts_in_words(set(mine))))
    return found


def _parts_in_words(parts: set[Part]) -> str:
    names = sorted({name for name, _ in parts})
    halves = sorted({half for _, half in parts})
    if len(halves) == 1 and len(names) > 1:
        return f"in the {halves[0]} direction only"
    return "in " + " and ".join(f"{name}'s {half} half" for name, half in sorted(parts)) + " only"


def _shapes(exercise: Exercise, cases: list[CaseResult], named: list[Finding]) -> list[Finding]:
    """Wrong shapes the exercise knows a story for, one finding per kind of shape."""
    by_key: dict[str, Finding] = {}
    told = {key for finding in named for key in finding.keys}
    for case in cases:
        for check in case.checks:
            if check.mistake and check.mistake not in told:
                story = check.summary.split(": ", 2)[-1]
                finding = by_key.setdefault(check.mistake, Finding(
                    [check.mistake], exercise.mistake_title(check.mistake), [story], [],
                    "shape"))
                if case.case.number not in finding.cases:
                    finding.cases.append(case.case.number)
    return list(by_key.values())


def _sizes_typed_in(exercise: Exercise, cases: list[CaseResult], source: str,
                    where_code: str) -> Finding | None:
    """The case at the notebook's own sizes passes while cases of other sizes fail with an
    exception or a wrong shape, and the code types in the notebook's sizes (or returns the
    notebook's shape)."""
    own = [c for c in cases if c.case.sizes == dict(exercise.notebook_sizes)]
    others = [c for c in cases if c.case.sizes != dict(exercise.notebook_sizes)
              and not c.passed and (c.problem or any(ch.got_shape != ch.expected_shape
                                                     for ch in c.checks))]
    if not own or not all(c.passed for c in own) or not others:
        return None
    lines = typed_in_sizes(exercise, source)
    shaped = any(ch.mistake == "sizes_hardcoded" for c in others for ch in c.checks)
    if not lines and not shaped:
        return None
    where = [text for number, code in lines for text in (f"{where_code}, line {number}:",
                                                          f"    {code}")]
    return Finding(["sizes_hardcoded"], exercise.mistake_title("sizes_hardcoded"), [
        "The case at the notebook's own sizes passes and cases of other sizes fail: read every "
        "size from the inputs' shapes (or the size globals) instead of typing the numbers in."],
        [c.case.number for c in others], "code", where)
