"""The instructor's batch on the terminal: progress while grading, a summary at the end.

A progress bar (count, rate, time left) on a terminal; one plain line per submission when
output goes to a file or a pipe; nothing with --quiet but the final summary.
"""

from __future__ import annotations

from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from grader import batch, report
from grader.html_report import write_class_report
from grader.pipeline import GradingPlan
from grader.results import SubmissionResult
from grader.sandbox import worker_context
from grader.terminal import print_batch_summary


def run(paths: list[Path], plan: GradingPlan, out: Path, jobs: int, force: bool,
        quiet: bool, workers: str = "warm") -> None:
    console = Console(stderr=True, highlight=False)
    submissions = batch.discover(paths)
    todo = [s for s in submissions if force or not batch.already_graded(out, s)]
    if len(todo) < len(submissions):
        console.print(f"{len(submissions) - len(todo)} already graded (use --force to regrade); "
                      f"{len(todo)} to grade.")
    out.mkdir(parents=True, exist_ok=True)
    context = worker_context(workers)
    if quiet:
        batch.grade_batch(todo, plan, context, out, jobs, lambda result: None)
    elif console.is_terminal:
        columns = (TextColumn("grading"), BarColumn(), MofNCompleteColumn(),
                   TextColumn("{task.fields[rate]}"), TimeRemainingColumn())
        with Progress(*columns, console=console) as progress:
            task = progress.add_task("grading", total=len(todo), rate="")

            def advance(result: SubmissionResult) -> None:
                progress.advance(task)
                speed = progress.tasks[0].speed
                progress.update(task, rate=f"{speed:.1f}/s" if speed else "")

            batch.grade_batch(todo, plan, context, out, jobs, advance)
    else:
        done = [0]

        def line(result: SubmissionResult) -> None:
            done[0] += 1
            console.print(f"[{done[0]}/{len(todo)}] {result.name}: {result.score:g}/"
                          f"{result.max_score:g} ({result.status}, {result.seconds:.2f} s)")

        batch.grade_batch(todo, plan, context, out, jobs, line)
    recorded = report.read_batch(out)
    _warn_about_isolation(recorded, console)
    _warn_about_review(recorded, console)
    rows = report.summary_rows(recorded)
    summary = report.write_summary(out, rows)
    class_html, class_csv = write_class_report(out, plan.exercise, recorded)
    print_batch_summary(report.batch_statistics(rows), Console(highlight=False))
    console.print(f"results and feedback.html in {out}/<submission>/; gradebook {summary}; "
                  f"class report {class_html} ({class_csv.name})")


def _warn_about_review(recorded: list[tuple[str, dict]], console: Console) -> None:
    """Name the submissions whose code reaches for the grader's machinery (README: security)."""
    flagged = [folder for folder, data in recorded if data.get("extra_data", {}).get("review")]
    if flagged:
        shown = ", ".join(flagged[:10]) + (", ..." if len(flagged) > 10 else "")
        console.print(f"[yellow]review:[/] {len(flagged)} submission(s) have code that reaches "
                      f"for the grader's machinery or hides what it runs: {shown} (the review "
                      "column of summary.csv; details in extra_data.review of results.json).")


def _warn_about_isolation(recorded: list[tuple[str, dict]], console: Console) -> None:
    """Say so when submissions ran with the grader's own privileges (README: security)."""
    weak = [folder for folder, data in recorded
            if (isolation := data.get("extra_data", {}).get("isolation")) and
            (isolation.get("uid") == 0 or not isolation.get("private_mounts"))]
    if weak:
        console.print(f"[yellow]warning:[/] {len(weak)} submission(s) ran without an "
                      "unprivileged user or private mounts (not root, or unshare refused); "
                      "see the README's security model for running in a container.")
