"""The instructor's batch on the terminal: what will be graded and why, progress, a summary.

A progress bar (count, rate, time left) on a terminal; one plain line per submission when
output goes to a file or a pipe; nothing with --quiet but the plan and the final summary.
summary.csv, the printed table and the class report describe this batch's submissions only.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from grader.batch import runner
from grader.batch.discover import Submission
from grader.isolation.sandbox import Workers, worker_context
from grader.pipeline import GradingPlan, Plans
from grader.reports import records
from grader.reports.pages import write_class_report
from grader.reports.terminal import print_batch_summary
from grader.results import SubmissionResult

INTERRUPTED_EXIT = 130  # the shell's code for a command ended by Ctrl+C
LISTED = 10  # names shown in a warning before "and N more"


def run(submissions: Sequence[Submission], plan: GradingPlan | Plans, out: Path, jobs: int,
        force: bool, quiet: bool, context: Workers | None = None) -> None:
    """Grade what is not graded yet, with a progress display, then report; `context` is the
    worker to fork from (a warm one is started here when none is given)."""
    console = Console(stderr=True, highlight=False, soft_wrap=True)
    _warn_about_choices(submissions, console)
    resume = runner.plan_batch(submissions, plan, out, force)
    console.print(resume.describe())
    out.mkdir(parents=True, exist_ok=True)
    interrupted = False
    if resume.todo:
        context = context or worker_context("warm")
        try:
            _grade_with_progress(resume.todo, plan, context, out, jobs, quiet, console)
        except (runner.BatchInterrupted, KeyboardInterrupt):
            interrupted = True
    if context is not None:
        context.close()
    recorded = runner.batch_results(submissions, plan, out)
    _report(submissions, recorded, plan, out, console)
    if interrupted:
        missing = len(submissions) - len(recorded)
        console.print(f"[yellow]interrupted:[/] {len(recorded)} of {len(submissions)} "
                      f"submissions have results; run the same command again to grade the "
                      f"other {missing} (finished results are kept).")
        raise SystemExit(INTERRUPTED_EXIT)


def _grade_with_progress(todo: list[Submission], plan: GradingPlan | Plans, context: Any, out: Path,
                         jobs: int, quiet: bool, console: Console) -> None:
    if quiet:
        runner.grade_batch(todo, plan, context, out, jobs, lambda result: None)
    elif console.is_terminal:
        columns = (TextColumn("grading"), BarColumn(), MofNCompleteColumn(),
                   TextColumn("{task.fields[rate]}"), TimeRemainingColumn())
        with Progress(*columns, console=console) as progress:
            task = progress.add_task("grading", total=len(todo), rate="")

            def advance(result: SubmissionResult) -> None:
                progress.advance(task)
                speed = progress.tasks[0].speed
                progress.update(task, rate=f"{speed:.1f}/s" if speed else "")

            runner.grade_batch(todo, plan, context, out, jobs, advance)
    else:
        runner.grade_batch(todo, plan, context, out, jobs, _line_printer(len(todo), console))


def _line_printer(total: int, console: Console) -> Callable[[SubmissionResult], None]:
    done = [0]

    def line(result: SubmissionResult) -> None:
        done[0] += 1
        console.print(escape(f"[{done[0]}/{total}] {result.name}: {result.score:g}/"
                             f"{result.max_score:g} ({result.status}, {result.seconds:.2f} s)"))

    return line


def _report(submissions: Sequence[Submission], recorded: list[tuple[str, dict[str, Any]]],
            plan: GradingPlan | Plans, out: Path, console: Console) -> None:
    foreign = runner.foreign_results(submissions, out)
    if foreign:
        console.print("[yellow]warning:[/] " + escape(
            f"{len(foreign)} result(s) in {out} belong to no submission of this batch and are "
            f"not counted: {_listed(foreign)}."))
    _warn_about_isolation(recorded, console)
    _warn_about_review(recorded, console)
    rows = records.summary_rows(recorded)
    summary = records.write_summary(out, rows)
    exercises = plan.exercises if isinstance(plan, Plans) else [plan.exercise]
    class_html, class_csv = write_class_report(out, exercises, recorded)
    print_batch_summary(records.batch_statistics(rows), Console(highlight=False))
    console.print(f"results and feedback.html in {out}/<submission>/; gradebook {summary}; "
                  f"class report {class_html} ({class_csv.name})")


def _listed(names: list[str]) -> str:
    shown = ", ".join(names[:LISTED])
    return shown + (f" and {len(names) - LISTED} more" if len(names) > LISTED else "")


def _warn_about_choices(submissions: Sequence[Submission], console: Console) -> None:
    """Per student: which notebook was chosen among several, or why none could be."""
    for submission in submissions:
        if submission.problem:
            names = ", ".join(path.name for path in submission.others)
            console.print(escape(f"warning: {submission.name}: several notebooks ({names}), none "
                                 "is the assignment's; not graded, the student is told why."))
        elif submission.others:
            names = ", ".join(path.name for path in submission.others)
            console.print(escape(f"warning: {submission.name}: grading "
                                 f"{submission.path.name}; also there, not graded: {names}."))


def _warn_about_review(recorded: list[tuple[str, dict]], console: Console) -> None:
    """Name the submissions whose code reaches for the grader's machinery (README: security)."""
    flagged = [folder for folder, data in recorded if data.get("extra_data", {}).get("review")]
    if flagged:
        shown = ", ".join(flagged[:10]) + (", ..." if len(flagged) > 10 else "")
        console.print(f"[yellow]review:[/] {len(flagged)} submission(s) have code that reaches "
                      f"for the grader's machinery or hides what it runs: {shown} (the review "
                      "column of summary.csv; details in extra_data.review of results.json).")


def _warn_about_isolation(recorded: list[tuple[str, dict]], console: Console) -> None:
    """Say which sandbox layers submissions ran without, as measured (README: security)."""
    from grader.isolation.layers import DEFENCE_IN_DEPTH, REQUIRED

    missing: Counter[str] = Counter()
    for _, data in recorded:
        measured = data.get("extra_data", {}).get("isolation") or {}
        if measured:
            missing.update(layer for layer in (*REQUIRED, *DEFENCE_IN_DEPTH)
                           if not measured.get(layer))
    if missing:
        layers = ", ".join(f"{layer.replace('_', ' ')} ({count})"
                           for layer, count in missing.items())
        console.print(f"[yellow]warning:[/] submissions ran without: {layers}; see the "
                      "README's security model for what that means on this machine.")
