"""The terminal side of reporting: a student's self-check and the instructor's batch summary.

rich decides whether the terminal takes colour; piped output is plain text.
"""

from __future__ import annotations

from rich.console import Console
from rich.table import Table
from rich.text import Text

from grader.report import overall_message
from grader.results import SubmissionResult


def print_check(result: SubmissionResult, console: Console) -> None:
    """Each case with its sizes, verdict and feedback, then the score."""
    console.print(Text(f"Self-check of {result.path} on the public cases", style="bold"))
    if result.message:
        console.print(Text(result.message, style="yellow"))
    for case in result.cases:
        verdict = Text("PASS", style="bold green") if case.passed else \
            Text("FAIL", style="bold red")
        sizes = ", ".join(f"{key}={value}" for key, value in case.case.sizes.items())
        line = Text.assemble(verdict, f"  {case.case.title} [{sizes}]  "
                             f"{case.score:g}/{case.max_score:g}")
        console.print(line)
        if not case.passed:
            for feedback_line in case.feedback().splitlines():
                style = "cyan" if feedback_line.startswith("This looks like") else None
                console.print(Text("      " + feedback_line, style=style))
    console.print(Text(overall_message(result).splitlines()[0], style="bold"))
    if result.score >= result.max_score:
        console.print(Text("All public cases pass. Hidden cases have the same structure.",
                           style="green"))


def print_batch_summary(stats: dict[str, float], console: Console) -> None:
    table = Table(title="Batch summary")
    for column in ("submissions", "mean", "median", "full marks", "errors"):
        table.add_column(column, justify="right")
    table.add_row(str(int(stats["count"])), f"{stats['mean']:.2f}", f"{stats['median']:.2f}",
                  str(int(stats["full_marks"])), str(int(stats["errors"])))
    console.print(table)
