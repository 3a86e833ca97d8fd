"""Grade many submissions: find them, skip what is already graded, run in parallel, record.

Each finished submission is written at once (atomically), so a batch stopped half way and run
again grades only what is missing; a notebook changed since its result was written is regraded.
"""

from __future__ import annotations

import hashlib
import itertools
import re
from collections import Counter
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path

from grader import report
from grader.html_report import write_feedback
from grader.pipeline import GradingPlan, grade_submission
from grader.results import SubmissionResult


@dataclass(frozen=True)
class Submission:
    name: str
    path: Path


def discover(paths: list[Path]) -> list[Submission]:
    """Notebooks given directly, or found under folders (checkpoints ignored), with names."""
    found: list[Submission] = []
    for path in paths:
        if path.is_dir():
            notebooks = sorted(p for p in path.rglob("*.ipynb")
                               if ".ipynb_checkpoints" not in p.parts)
            found += _name_within(path, notebooks)
        else:
            found.append(Submission(_safe(path.stem), path))
    return _unique(found)


def _name_within(root: Path, notebooks: list[Path]) -> list[Submission]:
    same_file_name = len({p.name for p in notebooks}) == 1 and len(notebooks) > 1
    submissions = []
    for notebook in notebooks:
        relative = notebook.relative_to(root)
        if same_file_name and len(relative.parts) > 1:
            relative = relative.parent  # submissions/alice/hw.ipynb -> "alice"
        else:
            relative = relative.with_suffix("")
        submissions.append(Submission(_safe("__".join(relative.parts)), notebook))
    return submissions


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._") or "submission"


def _unique(submissions: list[Submission]) -> list[Submission]:
    """Names that collide get their folder's name in front, then a number if need be."""
    counts = Counter(submission.name for submission in submissions)
    seen: Counter[str] = Counter()
    unique = []
    for submission in submissions:
        name = submission.name
        if counts[name] > 1:
            name = _safe(f"{submission.path.resolve().parent.name}__{name}")
        seen[name] += 1
        unique.append(Submission(name if seen[name] == 1 else f"{name}-{seen[name]}",
                                 submission.path))
    return unique


def fingerprint(path: Path) -> str:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return ""


def already_graded(out: Path, submission: Submission) -> bool:
    import json

    results = out / submission.name / report.RESULTS_FILE
    try:
        recorded = json.loads(results.read_text(encoding="utf-8"))["extra_data"]
    except (OSError, ValueError, KeyError, TypeError):
        return False
    return recorded.get("notebook_sha256") == fingerprint(submission.path)


def grade_batch(submissions: list[Submission], plan: GradingPlan, context, out: Path,
                jobs: int, on_done: Callable[[SubmissionResult], None]) -> None:
    """Grade in `jobs` parallel children; write each result as soon as it is known."""
    plan.warm_up()  # what every submission shares is prepared before the threads start

    def grade_one(submission: Submission) -> SubmissionResult:
        digest = fingerprint(submission.path)
        result = grade_submission(submission.path, submission.name, plan, context)
        report.write_results(out / submission.name, result, digest)
        write_feedback(out / submission.name, result, plan.exercise)
        return result

    # A bounded window of submissions in flight: a finished result is reported and dropped,
    # so memory does not grow with the size of the batch.
    waiting = iter(submissions)
    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        running = {pool.submit(grade_one, s) for s in itertools.islice(waiting, 2 * jobs)}
        while running:
            finished, running = wait(running, return_when=FIRST_COMPLETED)
            for future in finished:
                on_done(future.result())
                running |= {pool.submit(grade_one, s) for s in itertools.islice(waiting, 1)}
