"""The terminal side of reporting: a student's self-check and the instructor's batch summary.

The self-check prints the same story as feedback.html (feedback.py): the verdict and what is
most likely wrong first, a failure's code once, one line per case, the details of the first
failing case, and what to do next. On a terminal, long lines wrap under their own indentation;
anywhere else (`!rnn-grader check` in a notebook, a CI log, a file) lines are never broken, so
the reader's own window wraps them. rich decides whether the terminal takes colour.
"""

from __future__ import annotations

from rich.console import Console
from rich.padding import Padding
from rich.table import Table
from rich.text import Text

from grader.reports.feedback import cases_in_words, story
from grader.results import SubmissionResult


def _say(console: Console, text: str, indent: int = 0, style: str | None = None) -> None:
    """One paragraph: wrapped under its indentation on a terminal, never broken elsewhere."""
    for line in text.splitlines() or [""]:
        if console.is_terminal:
            console.print(Padding(Text(line, style=style, overflow="fold"), (0, 0, 0, indent)))
        else:
            console.print(Text(" " * indent + line, style=style), soft_wrap=True)


def _code(console: Console, lines: list[str], indent: int = 4) -> None:
    """Code and carets: never wrapped, so the caret stays under its column."""
    for line in lines:
        console.print(Text(" " * indent + line, style="cyan"), soft_wrap=True, crop=False)


def print_check(result: SubmissionResult, console: Console | None = None) -> None:
    """The self-check's report, most important first."""
    console = console or Console(highlight=False)
    told = story(result, pictures=False)
    _say(console, f"Self-check of {result.path} on the public cases", style="bold")
    _say(console, told.verdict, style="bold")
    if told.notice and told.notice_first:
        _notice(console, told)
    if told.passed:
        _say(console, "All public cases pass. Hidden cases have the same structure.",
             style="green")
    for named in told.named:
        _say(console, named.lead, style="bold cyan")
        for hint in named.hints:
            _say(console, f"Hint: {hint}", indent=2)
        _code(console, named.where)
    for problem in told.problems:
        _say(console, f"{problem.text} ({cases_in_words(problem.cases, len(told.cases))})",
             style="bold red")
        if problem.trace:
            _say(console, "Where, in your notebook:", indent=2)
            _code(console, [line.strip() if not line.startswith("      ") else "  " + line.strip()
                            for line in problem.trace])
    if not told.named and not told.problems and not told.passed and not told.notice_first:
        _say(console, told.headline, style="bold")
    if told.notice and not told.notice_first:
        _notice(console, told)
    if told.same_for_all:
        numbers = [case.number for case in told.cases]
        _say(console, f"FAIL {cases_in_words(numbers, len(numbers))}, 0 points: "
             f"{told.same_for_all}", style="bold red")
    elif told.cases and told.graded:
        _say(console, "Cases:", style="bold")
        _cases(console, told.cases)
    elif told.cases:
        _say(console, "No case was run.", style="bold")
    first = next((case for case in told.cases if case.details and not case.passed), None)
    if first is not None:
        _say(console, f"Details of case {first.number}:", style="bold")
        for line in first.details.splitlines():  # prose wraps; a table's rows never do
            if line.startswith("    "):
                _code(console, [line], indent=2)
            else:
                _say(console, line, indent=2)
    if told.next_step:
        _say(console, f"Next: {told.next_step}", style="bold")


def _cases(console: Console, cases) -> None:
    """One line per case; on a terminal a grid, so a long line wraps within its column."""
    grid = Table.grid(padding=(0, 1))
    for justify in ("left", "left", "right", "right", "left"):
        grid.add_column(justify=justify)
    for case in cases:
        verdict = Text("PASS", style="bold green") if case.passed else \
            Text("FAIL", style="bold red")
        what = Text.assemble(case.summary, (f"  [{case.label}; {case.sizes}]", "dim"))
        if console.is_terminal:
            grid.add_row("", verdict, str(case.number), case.points, what)
        else:
            console.print(Text.assemble("  ", verdict, f"  {case.number}  {case.points}  ", what),
                          soft_wrap=True)
    if console.is_terminal:
        console.print(grid)


def _notice(console: Console, told) -> None:
    _say(console, told.notice if told.notice_first else f"Also: {told.notice}", style="yellow")
    _code(console, told.notice_detail)


def print_batch_summary(stats: dict[str, float], console: Console) -> None:
    table = Table(title="Batch summary")
    # "not started": the function still raises NotImplementedError; "errors": everything else
    # that kept a submission from being graded on its cases (crashes, limits, invalid files).
    for column in ("submissions", "mean", "median", "full marks", "not started", "errors"):
        table.add_column(column, justify="right")
    table.add_row(str(int(stats["count"])), f"{stats['mean']:.2f}", f"{stats['median']:.2f}",
                  str(int(stats["full_marks"])), str(int(stats["unfinished"])),
                  str(int(stats["errors"])))
    console.print(table)
