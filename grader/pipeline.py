"""Grade one submission: load → run isolated → case inputs → reference → compare → diagnose.

The stages never call each other; this module passes each one's result to the next. The report
stage is left to the caller (terminal for `check`, files for `grade`).
"""

from __future__ import annotations

import contextlib
import hashlib
import re
import time
import traceback
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from grader import results
from grader.checking import diagnose, mistakes
from grader.checking.cases import Case, make_inputs
from grader.checking.compare import ACCEPTED_DTYPES, check_output
from grader.checking.reference import Reference, compute_reference
from grader.config import Config
from grader.exercises.base import Arrays, Exercise
from grader.isolation import wire
from grader.isolation.sandbox import Sandbox, SandboxFailure
from grader.notebooks import cells as cell_words
from grader.notebooks import code_reading
from grader.notebooks.load import (
    CodeCell,
    Notebook,
    NotebookError,
    forbidden_uses,
    load_notebook,
    review_findings,
)
from grader.results import CaseResult, SubmissionResult


@dataclass(frozen=True)
class PreparedCase:
    """One case ready to grade: its inputs and the reference's answer, in the grading process."""

    case: Case
    inputs: Arrays
    reference: Reference

    @cached_property
    def wire_inputs(self) -> dict[str, dict]:
        """The inputs as sent to the child: for public cases encoded once per batch."""
        return {name: wire.encode_array(values) for name, values in self.inputs.items()}


@dataclass
class GradingPlan:
    """What every submission of a batch is graded on: the cases (sizes, and for hidden cases
    a seed key each, never the secret), the configuration and the paths to hide.

    `prepare(notebook_sha256)` makes one submission's cases. Hidden cases get inputs of their
    own for every notebook (and the same again for the same notebook), so they are computed
    per submission; public cases are the same for all and computed once. Nothing is computed
    before the first `prepare` or `warm_up`, so a plain-fork sandbox can start before any
    reference exists in this process."""

    exercise: Exercise
    cases: list[Case]
    config: Config
    protected_paths: tuple[str, ...] = ()  # hidden from submissions where the OS allows
    secret_id: str = ""  # one-way id of the hidden cases' secret (resume.secret_id), for resume
    allow_weak: bool = False  # grade even where a required sandbox layer is missing

    def prepare(self, notebook_sha256: str) -> list[PreparedCase]:
        """The cases of the notebook whose file has this SHA-256 (hex)."""
        shared = self._shared
        return [self._prepare(case, notebook_sha256) if case.per_submission
                else shared[case.number] for case in self.cases]

    def warm_up(self) -> None:
        """Prepare what all submissions share (and import the reference's torch) before
        threads start."""
        self._shared  # noqa: B018
        if any(case.per_submission for case in self.cases):
            import torch  # noqa: F401 - what computing a reference imports, once

    @cached_property
    def _shared(self) -> dict[int, PreparedCase]:
        return {case.number: self._prepare(case, "") for case in self.cases
                if not case.per_submission}

    def _prepare(self, case: Case, notebook_sha256: str) -> PreparedCase:
        inputs = make_inputs(self.exercise, case, notebook_sha256)
        return PreparedCase(case, inputs,
                            compute_reference(self.exercise, inputs, self.config.tolerance))

    @property
    def max_score(self) -> float:
        return self.config.scoring.points_per_case * len(self.cases)


class Plans(dict):
    """A batch mixing exercises: one GradingPlan per exercise, by the exercise's name; each
    submission is graded on the plan of its own exercise (`Submission.exercise`)."""

    def of(self, submission) -> GradingPlan:
        return self[submission.exercise]

    def warm_up(self) -> None:
        for plan in self.values():
            plan.warm_up()

    @property
    def exercises(self) -> list[Exercise]:
        return [plan.exercise for plan in self.values()]


def plan_of(plans: GradingPlan | Plans, submission) -> GradingPlan:
    """The plan `submission` is graded on: the only one, or its exercise's."""
    return plans.of(submission) if isinstance(plans, Plans) else plans


def notebook_sha256(path: Path) -> str:
    """What hidden inputs are drawn from, with the plan's keys: the notebook file's SHA-256,
    as results.json records it."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def grade_submission(path: Path, name: str, plan: GradingPlan, context) -> SubmissionResult:
    """Always returns a result, even when the grader itself fails on this submission."""
    started = time.monotonic()
    result = SubmissionResult(name, str(path), results.GRADED, plan.max_score,
                              exercise=plan.exercise.name)
    try:
        _grade(path, plan, context, result)
    except Exception:  # noqa: BLE001 - one submission must never stop a batch
        result.status = results.GRADER_ERROR
        result.message = ("The grader failed on this submission; this is not your fault. "
                          "Your instructor has the details.")
        result.stderr = traceback.format_exc()[-4000:]
        result.cases, result.score = [], 0.0
    result.seconds = time.monotonic() - started
    return result


def _grade(path: Path, plan: GradingPlan, context, result: SubmissionResult) -> None:
    exercise, limits = plan.exercise, plan.config.limits
    try:
        notebook = load_notebook(path)
    except NotebookError as error:
        _fail(result, plan, results.INVALID, str(error))
        return
    # Before the notebook runs: it cannot change what its inputs are drawn from.
    digest = result.notebook_sha256 = notebook_sha256(path)
    with Sandbox(context, limits, plan.protected_paths, plan.allow_weak) as sandbox:
        # Read the code and draw the cases while the child forks and confines itself.
        cells = {cell.index: cell.source for cell in notebook.cells}
        labels = cell_words.labels_of(path, notebook)
        forbidden = forbidden_uses(notebook, exercise.function, exercise.forbidden_calls)
        # For the instructor, in the words Jupyter shows; the score is the cases'.
        result.review = [cell_words.as_jupyter_shows(finding, labels)
                         for finding in review_findings(notebook)]
        prepared = plan.prepare(digest)
        try:
            ran = _run_cells(sandbox, notebook, plan)
        except SandboxFailure as failure:
            status = _FAILURE_OUTCOMES.get(failure.kind, results.CRASHED)
            _fail(result, plan, status, _cells_stopped(failure, exercise.function, limits,
                                                       cells, labels, sandbox.running_cell))
        else:
            # Cells run before any case's input exists: their errors are told in full.
            errors = ran.get("errors", [])
            result.message, result.detail = diagnose.explain_cell_errors(
                errors, exercise.function, limits.memory_mb, cells, labels)
            result.cases, evidence = _grade_cases(sandbox, plan, prepared, cells, labels)
            result.findings = _diagnose(exercise, result.cases, evidence, cells, labels, errors)
            if any(error.get("limit") for error in errors):
                result.status = results.LIMIT  # the cases it finished keep their points
    result.stdout, result.stderr = sandbox.captured.stdout, sandbox.captured.stderr
    result.isolation, result.grader_log = sandbox.isolation or {}, sandbox.grader_log
    runtime_builtin = any(case.outcome == results.FORBIDDEN for case in result.cases)
    if forbidden or runtime_builtin:
        where = "; ".join(cell_words.as_jupyter_shows(place, labels) for place in forbidden) \
            if forbidden else "seen while it ran"
        _fail(result, plan, results.FORBIDDEN, f"{exercise.forbidden_message} ({where})")
        return
    if result.cases:
        result.score = round(sum(case.score for case in result.cases), 6)
        result.status = _status_from_cases(result.cases, result.status)


def _run_cells(sandbox: Sandbox, notebook: Notebook, plan: GradingPlan) -> dict:
    cells = [_cell_message(cell) for cell in notebook.cells]
    return sandbox.request({"op": "run", "cells": cells, "function": plan.exercise.function},
                           plan.config.limits.notebook_seconds)


def _cell_message(cell: CodeCell) -> dict[str, Any]:
    """A cell to run, with IPython's static transformation of it (cached across the batch, so
    each student process need not tokenize every cell again)."""
    message: dict[str, Any] = {"index": cell.index, "source": cell.source}
    with contextlib.suppress(Exception):  # the student process meets the same error itself
        message["python"] = code_reading.as_python(cell.source)
    return message


def _cells_stopped(failure: SandboxFailure, function: str, limits, cells: dict[int, str],
                   labels: dict[int, str], running: int | None) -> str:
    """The notebook's cells did not finish: which cell was running (the child says which; the
    words come from the notebook's own text), and where to look."""
    if running not in cells:
        limit = " (notebook time limit)" if failure.kind == "timeout" else ""
        return f"Running the notebook's cells: {_limit_story(failure)}{limit}."
    cell = cell_words.cell_label(running, labels)
    calls = re.search(rf"\b{re.escape(function)}\s*\(", cells[running]) and \
        not re.search(rf"\bdef\s+{re.escape(function)}\b", cells[running])
    where = (f"; it calls {function}(), so look there for a loop that never ends" if calls
             else ": look for a loop that never ends") + " (or input())"
    if failure.kind == "timeout":
        return (f"{cell[:1].upper()}{cell[1:]} was still running when the notebook time limit "
                f"of {limits.notebook_seconds:g} s ran out{where}.")
    return f"Running the notebook's cells: {_limit_story(failure)}, while {cell} was running."


def _grade_cases(sandbox: Sandbox, plan: GradingPlan, prepared_cases: list[PreparedCase],
                 cells: dict[int, str], labels: dict[int, str] | None = None,
                 ) -> tuple[list[CaseResult], list[mistakes.Evidence]]:
    graded: list[CaseResult] = []
    evidence: list[mistakes.Evidence] = []
    dead: str | None = None
    for prepared in prepared_cases:
        case_result = CaseResult(prepared.case, plan.config.scoring.points_per_case)
        if dead:
            case_result.problem, case_result.outcome = f"Not run: {dead}", results.CRASHED
            case_result.group = "not run"
        else:
            try:
                returned = _grade_case(sandbox, prepared, plan, case_result, cells, labels)
            except SandboxFailure as failure:
                story = _limit_story(failure, prepared.case.hidden)
                suffix = " (time limit per call)" if failure.kind == "timeout" else ""
                case_result.problem = f"{plan.exercise.function}: {story}{suffix}."
                case_result.outcome = _FAILURE_OUTCOMES.get(failure.kind, results.CRASHED)
                case_result.group = f"failure:{failure.kind}"
                dead = f"an earlier case stopped the notebook's process ({story})."
            else:
                if returned is not None:
                    evidence.append(mistakes.Evidence(case_result, prepared.inputs,
                                                      prepared.reference, returned))
        graded.append(case_result)
    return graded, evidence


_FAILURE_OUTCOMES = {"timeout": results.TIMEOUT, "output_limit": results.LIMIT,
                     "too_large": results.LIMIT, "isolation": results.GRADER_ERROR}
# A hidden case's failure, told without what the child chose (exit code, signal, bytes sent).
_HIDDEN_DEATH = ("the notebook's process ended before it answered (sys.exit, os._exit, a crash "
                 "or a signal)")


def _limit_story(failure: SandboxFailure, hidden: bool = False) -> str:
    if failure.kind == "output_limit":
        return "the notebook printed more than the output limit allows"
    if failure.kind == "timeout":
        return f"{failure.message}; look for a loop that never ends or input()"
    if hidden and failure.kind == "protocol":
        return "the notebook's process sent back a malformed answer"
    if hidden and failure.kind == "died" and any(c.isdigit() for c in failure.message):
        return _HIDDEN_DEATH
    return failure.message


def _grade_case(sandbox: Sandbox, prepared: PreparedCase, plan: GradingPlan,
                case_result: CaseResult, cells: dict[int, str],
                labels: dict[int, str] | None) -> Arrays | None:
    """Call the function on one case and compare; returns what it returned, if comparable."""
    exercise, limits, case = plan.exercise, plan.config.limits, prepared.case
    answer = sandbox.request(
        {"op": "call", "function": exercise.function, "exercise_module": exercise.child_module,
         "count": len(exercise.output_names), "sizes": case.sizes,
         "arrays": prepared.wire_inputs},
        limits.call_seconds)
    if answer.get("builtin_calls") or answer.get("builtin_result"):
        case_result.problem = (f"the built-in {exercise.reference_name} (or another "
                               "recurrent built-in) was used to compute the result.")
        case_result.outcome, case_result.group = results.FORBIDDEN, "builtin"
        return None
    if "error" in answer:
        error = answer["error"] if isinstance(answer["error"], dict) else {}
        case_result.problem, case_result.trace, case_result.group = diagnose.explain_call(
            exercise, error, limits.memory_mb, limits.max_elements, case.hidden, cells, labels)
        case_result.outcome = diagnose.outcome_of(error)
        return None
    try:
        returned = _decode_values(answer, exercise, limits.max_elements)
    except wire.WireError as error:
        detail = "" if case.hidden else f" ({error})"
        case_result.problem = f"the returned values could not be read{detail}."
        case_result.outcome, case_result.group = results.ERROR, "unreadable"
        return None
    case_result.checks = [
        check_output(exercise, name, values, dtype, prepared.reference, case.sizes, case.hidden)
        for name, (values, dtype) in returned.items()]
    fraction = exercise.score_fraction({check.name: check.halves_ok
                                        for check in case_result.checks})
    case_result.score = round(case_result.max_score * fraction, 9)
    comparable = all(dtype in ACCEPTED_DTYPES for _, dtype in returned.values())
    return {name: values for name, (values, _) in returned.items()} if comparable else None


def _diagnose(exercise: Exercise, cases: list[CaseResult], evidence: list[mistakes.Evidence],
              cells: dict[int, str], labels: dict[int, str],
              cell_errors: list[dict]) -> list[results.Finding]:
    """Name mistakes where every case agrees; localise the cases no mistake explains; say so
    when the function is missing because the cell defining it failed."""
    if all(case.passed for case in cases):
        return []
    definer = cell_words.function_cell(cells, exercise.function)
    where = cell_words.cell_label(definer, labels) if definer is not None else ""
    if definer in {error.get("cell") for error in cell_errors}:
        for case in cases:
            if case.group == "missing":
                case.problem = (f"{exercise.function} is not defined because its cell failed "
                                f"({where}; see above).")
    findings = mistakes.name_mistakes(exercise, cases, evidence,
                                      cells.get(definer, "") if definer is not None else "",
                                      where)
    for case in cases:
        if case.problem is None and not case.passed and not case.mistakes:
            localise = exercise.localise or diagnose.localise
            case.diagnosis = localise(case.checks, case.case.sizes["L"])
    return findings


def _decode_values(answer: dict, exercise: Exercise,
                   max_elements: int) -> dict[str, tuple[np.ndarray, str]]:
    values = answer.get("values")
    if not isinstance(values, list) or len(values) != len(exercise.output_names):
        raise wire.WireError("expected one value per output")
    decoded = {}
    for name, value in zip(exercise.output_names, values, strict=True):
        dtype = str(value.get("torch_dtype", value.get("dtype"))) if isinstance(value, dict) \
            else "?"
        if isinstance(value, dict) and value.get("unsupported"):
            decoded[name] = (np.zeros(_checked_shape(value.get("shape"), max_elements),
                                      dtype=np.float32), dtype)
        else:
            decoded[name] = (wire.decode_array(value, max_elements), dtype)
    return decoded


def _checked_shape(shape: object, max_elements: int) -> tuple[int, ...]:
    """The shape of a tensor sent without its values (an unsupported dtype), within limits."""
    if not isinstance(shape, list) or len(shape) > 8 or \
            not all(type(n) is int and n >= 0 for n in shape):
        raise wire.WireError("shape must be a list of at most 8 non-negative integers")
    if int(np.prod(shape, dtype=np.float64)) > max_elements:
        raise wire.WireError(f"more elements than the limit of {max_elements}")
    return tuple(shape)


STATUS_PRECEDENCE = (results.FORBIDDEN, results.TIMEOUT, results.LIMIT, results.CRASHED,
                     results.ERROR, results.NOT_IMPLEMENTED)


def _status_from_cases(cases: list[CaseResult], current: str) -> str:
    outcomes = {case.outcome for case in cases}
    if outcomes == {results.NOT_IMPLEMENTED}:
        return results.NOT_IMPLEMENTED
    outcomes.add(current)
    return next((status for status in STATUS_PRECEDENCE if status in outcomes), current)


def _fail(result: SubmissionResult, plan: GradingPlan, status: str, message: str) -> None:
    result.status, result.message, result.score = status, message, 0.0
    result.cases = [CaseResult(case, plan.config.scoring.points_per_case,
                               problem=results.NOT_GRADED)
                    for case in plan.cases]
