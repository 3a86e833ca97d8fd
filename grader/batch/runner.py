"""Grade many submissions: keep what would grade the same, run the rest in parallel, record.

Each finished submission is written at once (atomically), so a batch stopped half way and run
again grades only what is missing or out of date (see resume.py). Ctrl+C ends the children in
flight within a second or two; what they were doing is not recorded, what finished is kept.
"""

from __future__ import annotations

import itertools
import json
import signal
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from pathlib import Path
from typing import Any

from grader.batch import resume
from grader.batch.discover import Submission
from grader.isolation.sandbox import Workers
from grader.pipeline import GradingPlan, Plans, grade_submission, plan_of
from grader.reports import records
from grader.reports.pages import write_feedback
from grader.results import SEVERAL_NOTEBOOKS, CaseResult, SubmissionResult


class BatchInterrupted(Exception):
    """Ctrl+C: the children in flight were ended; finished results are on disk."""


def fingerprint(plan: GradingPlan) -> dict[str, str]:
    return resume.fingerprint(plan.exercise.name, plan.config, plan.secret_id)


def results_path(out: Path, submission: Submission) -> Path:
    return out / submission.name / records.RESULTS_FILE


def plan_batch(submissions: Sequence[Submission], plan: GradingPlan | Plans, out: Path,
               force: bool) -> resume.ResumePlan:
    """Which submissions of this batch to grade now, and why; which results to keep."""
    return resume.plan_resume(submissions, lambda s: resume.read_recorded(results_path(out, s)),
                              Submission.digest, lambda s: fingerprint(plan_of(plan, s)), force)


def batch_results(submissions: Sequence[Submission], plan: GradingPlan | Plans,
                  out: Path) -> list[tuple[str, dict[str, Any]]]:
    """The current result of each submission of this batch that has one: (name, results.json).
    A result left from other settings or another notebook is not this batch's."""
    current = []
    for submission in submissions:
        expected = fingerprint(plan_of(plan, submission))
        try:
            data = json.loads(results_path(out, submission).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        extra = data.get("extra_data") if isinstance(data, dict) else None
        if isinstance(extra, dict) and \
                resume.stale_reason(extra, submission.digest(), expected) is None:
            current.append((submission.name, data))
    return current


def foreign_results(submissions: Sequence[Submission], out: Path) -> list[str]:
    """Folders under `out` holding a results.json of no submission of this batch."""
    ours = {submission.name for submission in submissions}
    return sorted(path.parent.name for path in out.glob(f"*/{records.RESULTS_FILE}")
                  if path.parent.name not in ours)


def grade_batch(submissions: Sequence[Submission], plans: GradingPlan | Plans, context: Workers,
                out: Path, jobs: int, on_done: Callable[[SubmissionResult], None]) -> None:
    """Grade in `jobs` parallel children, each submission on its exercise's plan; write each
    result as soon as it is known. Raises BatchInterrupted on Ctrl+C, once the children in
    flight have ended."""
    plans.warm_up()  # what every submission shares is prepared before the threads start
    stop, busy = threading.Event(), _Count()

    def grade_one(submission: Submission) -> SubmissionResult | None:
        with busy:
            if stop.is_set():
                return None
            plan = plan_of(plans, submission)
            digest = submission.digest()
            result = _grade(submission, plan, context)
            if stop.is_set():
                return None  # ended by Ctrl+C: not this submission's result
            provenance = {"notebook_sha256": digest, **fingerprint(plan)}
            records.write_results(out / submission.name, result, provenance)
            write_feedback(out / submission.name, result, plan.exercise)
            return result

    # A bounded window of submissions in flight: a finished result is reported and dropped,
    # so memory does not grow with the size of the batch.
    waiting = iter(submissions)
    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        try:
            running = {pool.submit(grade_one, s) for s in itertools.islice(waiting, 2 * jobs)}
            while running:
                finished, running = wait(running, return_when=FIRST_COMPLETED)
                for future in finished:
                    result = future.result()
                    if result is not None:
                        on_done(result)
                    running |= {pool.submit(grade_one, s) for s in itertools.islice(waiting, 1)}
        except KeyboardInterrupt:
            _stop(stop, pool, context, busy)
            raise BatchInterrupted from None


class _Count:
    """How many threads are inside a `with` block of it."""

    def __init__(self) -> None:
        self._lock, self.value = threading.Lock(), 0

    def __enter__(self) -> None:
        with self._lock:
            self.value += 1

    def __exit__(self, *exc_info: object) -> None:
        with self._lock:
            self.value -= 1


def _stop(stop: threading.Event, pool: ThreadPoolExecutor, context: Workers,
          busy: _Count) -> None:
    """Cancel what has not started, end every child in flight, wait for their threads (a child
    starting at the moment of one sweep is caught by the next). A second Ctrl+C does not cut
    this short: it takes a second or two, and leaving children running would take longer."""
    main = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN) if main else None
    try:
        stop.set()
        pool.shutdown(wait=False, cancel_futures=True)
        while busy.value:
            context.end_students()
            time.sleep(0.05)
    finally:
        if main:
            signal.signal(signal.SIGINT, previous)


def _grade(submission: Submission, plan: GradingPlan, context: Workers) -> SubmissionResult:
    if submission.problem:
        return _not_graded(submission, plan)
    result = grade_submission(submission.path, submission.name, plan, context)
    if submission.others:
        names = ", ".join(path.name for path in submission.others)
        note = f"Graded {submission.path.name}; also in your folder, not graded: {names}."
        result.message = f"{result.message}\n{note}" if result.message else note
    return result


def _not_graded(submission: Submission, plan: GradingPlan) -> SubmissionResult:
    result = SubmissionResult(submission.name, str(submission.path), SEVERAL_NOTEBOOKS,
                              plan.max_score,
                              message=submission.problem)
    result.cases = [CaseResult(case, plan.config.scoring.points_per_case, problem="Not graded.")
                    for case in plan.cases]
    return result
