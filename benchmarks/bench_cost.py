"""How one submission's cost grows with the number of cases and with the sequence length.

    python benchmarks/bench_cost.py [--exercise NAME] [--m 12] [--cases 1 6 12 24]
                                    [--lengths 5 50 200 1000]

Grades the exercise's solution notebook M times per setting, in this process, one submission
at a time (as `rnn-grader grade -j 1` does, with every wall of the sandbox up, children forked
from the warm worker), and prints the median wall time per submission:

* cases: M submissions graded on C hidden cases each (the configuration's `hidden_cases`), at
  the sizes the secret draws for them;
* sequence length: 6 hidden cases, every one of them with the same L steps (batch, input and
  hidden sizes as the notebook's own), so each call walks L steps in the student's loop and
  in the reference.

Each submission gets its own hidden inputs (they are drawn from the notebook's digest, and
each copy of the notebook differs by a comment), as in a real batch. Fixed costs (the warm
worker, torch in this process) are paid before the timing starts.
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SECRET = b"bench-cost-secret"


def notebooks(exercise: str, count: int, folder: Path) -> list[Path]:
    """`count` copies of the solution, each one a different notebook (its metadata differs)."""
    import nbformat

    notebook = nbformat.read(REPO / "solutions" / f"{exercise}.ipynb", as_version=4)
    paths = []
    for number in range(count):
        notebook.metadata["copy"] = number
        path = folder / f"copy{number}" / f"{exercise}.ipynb"
        path.parent.mkdir(parents=True)
        nbformat.write(notebook, path)
        paths.append(path)
    return paths


def median_ms(plan, context, paths: list[Path]) -> float:
    from grader.pipeline import grade_submission

    walls = []
    for path in paths:
        started = time.perf_counter()
        result = grade_submission(path, path.parent.name, plan, context)
        walls.append(time.perf_counter() - started)
        if result.score != result.max_score:
            raise SystemExit(f"{path}: {result.score}/{result.max_score}, not full marks")
    return statistics.median(walls) * 1000


def with_length(cases, steps: int):
    return [dataclasses.replace(case, sizes={**case.sizes, "L": steps}) for case in cases]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--exercise", default="bidirectional_rnn",
                        help="an installed exercise (default bidirectional_rnn)")
    parser.add_argument("--m", type=int, default=12, help="submissions per setting (12)")
    parser.add_argument("--cases", type=int, nargs="+", default=[1, 6, 12, 24])
    parser.add_argument("--lengths", type=int, nargs="+", default=[5, 50, 200, 1000])
    args = parser.parse_args(argv)

    from grader import exercises
    from grader.checking.cases import hidden_cases
    from grader.config import Config
    from grader.isolation.sandbox import worker_context
    from grader.pipeline import GradingPlan

    exercise = exercises.get(args.exercise)
    config = Config()
    context = worker_context("warm")
    with tempfile.TemporaryDirectory(prefix="bench-cost-") as scratch:
        paths = notebooks(exercise.name, args.m + 1, Path(scratch))
        warm_plan = GradingPlan(exercise, hidden_cases(exercise, SECRET, 6), config)
        warm_plan.warm_up()
        median_ms(warm_plan, context, paths[:1])  # the first child waits for the preload
        print(f"{exercise.name}: median wall per submission, -j 1, {args.m} submissions each")
        print("\nhidden cases   ms per submission")
        for count in args.cases:
            plan = GradingPlan(exercise, hidden_cases(exercise, SECRET, count), config)
            print(f"{count:12d}   {median_ms(plan, context, paths[1:]):17.1f}", flush=True)
        print("\nsteps L (6 cases)   ms per submission")
        for steps in args.lengths:
            cases = with_length(hidden_cases(exercise, SECRET, 6), steps)
            plan = GradingPlan(exercise, cases, config)
            print(f"{steps:17d}   {median_ms(plan, context, paths[1:]):17.1f}", flush=True)


if __name__ == "__main__":
    main()
