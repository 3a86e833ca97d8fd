"""Grade one submission: load → run isolated → case inputs → reference → compare → diagnose.

The stages never call each other; this module passes each one's result to the next. The report
stage is left to the caller (terminal for `check`, files for `grade`).
"""

from __future__ import annotations

import time
import traceback
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np

from grader import diagnose, results, wire
from grader.cases import Case, make_inputs
from grader.compare import ACCEPTED_DTYPES, check_output
from grader.config import Config
from grader.exercises.base import Arrays, Exercise
from grader.notebook import (
    Notebook,
    NotebookError,
    forbidden_uses,
    load_notebook,
    review_findings,
)
from grader.reference import Reference, compute_reference
from grader.results import CaseResult, SubmissionResult
from grader.sandbox import Sandbox, SandboxFailure


@dataclass(frozen=True)
class PreparedCase:
    case: Case
    inputs: Arrays
    reference: Reference

    @cached_property
    def wire_inputs(self) -> dict[str, dict]:
        """The inputs as sent to every child: encoded once per batch, not per submission."""
        return {name: wire.encode_array(values) for name, values in self.inputs.items()}


@dataclass
class GradingPlan:
    """What every submission of a batch is graded on. Cases are prepared once, lazily, so a
    plain-fork sandbox can start before any reference exists in this process."""

    exercise: Exercise
    cases: list[Case]
    config: Config
    protected_paths: tuple[str, ...] = ()  # hidden from submissions where the OS allows

    @cached_property
    def prepared(self) -> list[PreparedCase]:
        prepared = []
        for case in self.cases:
            inputs = make_inputs(self.exercise, case)
            reference = compute_reference(self.exercise, inputs, self.config.tolerance)
            prepared.append(PreparedCase(case, inputs, reference))
        return prepared

    @property
    def max_score(self) -> float:
        return self.config.scoring.points_per_case * len(self.cases)


def grade_submission(path: Path, name: str, plan: GradingPlan, context) -> SubmissionResult:
    """Always returns a result, even when the grader itself fails on this submission."""
    started = time.monotonic()
    result = SubmissionResult(name, str(path), results.GRADED, plan.max_score)
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
    forbidden = forbidden_uses(notebook, exercise.function, exercise.forbidden_calls)
    result.review = review_findings(notebook)  # for the instructor; the score is the cases'
    with Sandbox(context, limits, plan.protected_paths) as sandbox:
        try:
            ran = _run_cells(sandbox, notebook, plan)
        except SandboxFailure as failure:
            status = _FAILURE_OUTCOMES.get(failure.kind, results.CRASHED)
            _fail(result, plan, status, f"Running the notebook's cells: {_limit_story(failure)}"
                  f"{' (notebook time limit)' if failure.kind == 'timeout' else ''}.")
        else:
            result.isolation = {key: ran.get("isolation", {}).get(key)
                                for key in ("uid", "private_mounts")}
            result.message = _cell_errors_message(ran, exercise)
            result.cases = _grade_cases(sandbox, plan)
            _diagnose(exercise, result.cases)
            if any(error.get("limit") for error in ran.get("errors", [])):
                result.status = results.LIMIT  # the cases it finished keep their points
    result.stdout, result.stderr = sandbox.captured.stdout, sandbox.captured.stderr
    runtime_builtin = any(case.outcome == results.FORBIDDEN for case in result.cases)
    if forbidden or runtime_builtin:
        where = "; ".join(forbidden) if forbidden else "seen while it ran"
        _fail(result, plan, results.FORBIDDEN, f"{exercise.forbidden_message} ({where})")
        return
    if result.cases:
        result.score = round(sum(case.score for case in result.cases), 6)
        result.status = _status_from_cases(result.cases, result.status)


def _run_cells(sandbox: Sandbox, notebook: Notebook, plan: GradingPlan) -> dict:
    cells = [{"index": cell.index, "source": cell.source} for cell in notebook.cells]
    return sandbox.request({"op": "run", "cells": cells, "function": plan.exercise.function},
                           plan.config.limits.notebook_seconds)


def _cell_errors_message(ran: dict, exercise: Exercise) -> str:
    errors = ran.get("errors", [])
    if not errors:
        return ""
    first = errors[0]
    cell = f"cell {first.get('cell', 0) + 1}"
    if first.get("limit") == "output":
        detail = "it printed more than the output limit allows (output limit)"
    elif first.get("type") == "NotImplementedError":
        detail = diagnose.explain_exception(exercise.function, first, 0)
    else:
        message = (str(first.get("message", "")).strip().splitlines() or [""])[0]
        detail = f"{first.get('type')}: {message}"
    more = f" ({len(errors) - 1} more cell(s) failed too)" if len(errors) > 1 else ""
    return f"While running the notebook, {cell} failed: {detail}{more}"


def _grade_cases(sandbox: Sandbox, plan: GradingPlan) -> list[CaseResult]:
    graded: list[CaseResult] = []
    dead: str | None = None
    for prepared in plan.prepared:
        case_result = CaseResult(prepared.case, plan.config.scoring.points_per_case)
        if dead:
            case_result.problem, case_result.outcome = f"Not run: {dead}", results.CRASHED
        else:
            try:
                _grade_case(sandbox, prepared, plan, case_result)
            except SandboxFailure as failure:
                story = _limit_story(failure)
                suffix = " (time limit per call)" if failure.kind == "timeout" else ""
                case_result.problem = f"{plan.exercise.function}: {story}{suffix}."
                case_result.outcome = _FAILURE_OUTCOMES.get(failure.kind, results.CRASHED)
                dead = f"an earlier case stopped the notebook's process ({story})."
        graded.append(case_result)
    return graded


_FAILURE_OUTCOMES = {"timeout": results.TIMEOUT, "output_limit": results.LIMIT,
                     "too_large": results.LIMIT}


def _limit_story(failure: SandboxFailure) -> str:
    if failure.kind == "output_limit":
        return "the notebook printed more than the output limit allows"
    if failure.kind == "timeout":
        return f"{failure.message}; look for a loop that never ends or input()"
    return failure.message


def _grade_case(sandbox: Sandbox, prepared: PreparedCase, plan: GradingPlan,
                case_result: CaseResult) -> None:
    exercise, limits, case = plan.exercise, plan.config.limits, prepared.case
    answer = sandbox.request(
        {"op": "call", "function": exercise.function, "exercise_module": exercise.child_module,
         "sizes": case.sizes,
         "arrays": prepared.wire_inputs},
        limits.call_seconds)
    sizes = f"[{exercise.describe_sizes(case.sizes)}] "
    if answer.get("builtin_calls") or answer.get("builtin_result"):
        case_result.problem = sizes + "the built-in RNN was used to compute the result."
        case_result.outcome = results.FORBIDDEN
        return
    if "error" in answer:
        case_result.problem = sizes + diagnose.explain_call_problem(
            exercise, answer["error"], limits.memory_mb, limits.max_elements)
        case_result.outcome = diagnose.outcome_of(answer["error"])
        return
    try:
        returned = _decode_values(answer, exercise, limits.max_elements)
    except wire.WireError as error:
        case_result.problem = sizes + f"the returned values could not be read ({error})."
        case_result.outcome = results.ERROR
        return
    case_result.checks = [
        check_output(exercise, name, values, dtype, prepared.reference, case.sizes, case.hidden)
        for name, (values, dtype) in returned.items()]
    part = case_result.max_score / (2 * len(case_result.checks))
    case_result.score = part * sum(ok for check in case_result.checks
                                   for ok in check.halves_ok.values())
    comparable = all(dtype in ACCEPTED_DTYPES for _, dtype in returned.values())
    if case_result.score < case_result.max_score and comparable:
        arrays = {name: values for name, (values, _) in returned.items()}
        case_result.matched, case_result.ruled_out = diagnose.weigh_mistakes(
            exercise, prepared.inputs, prepared.reference, arrays)


def _diagnose(exercise: Exercise, cases: list[CaseResult]) -> None:
    """Name a catalogued mistake only where every case agrees with it; else localise."""
    consistent = diagnose.consistent_mistakes([(c.matched, c.ruled_out) for c in cases])
    for case in cases:
        if case.problem is not None or case.passed:
            continue
        case.mistakes = [key for key in case.matched if key in consistent]
        case.diagnosis = diagnose.describe_mistakes(exercise, case.mistakes) \
            or diagnose.localise(case.checks, case.case.sizes["L"])


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
            decoded[name] = (np.zeros(value.get("shape", []), dtype=np.float32), dtype)
        else:
            decoded[name] = (wire.decode_array(value, max_elements), dtype)
    return decoded


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
    result.cases = [CaseResult(case, plan.config.scoring.points_per_case, problem="Not graded.")
                    for case in plan.cases]
