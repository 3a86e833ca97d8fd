"""Build a folder of fake student submissions of one exercise, or of the four mixed.

Each submission is the exercise's solution notebook (solutions/<exercise>.ipynb) with its
function's cell replaced by a student's version, written as `OUT/<student>/<exercise>.ipynb`
(the layout `rnn-grader grade` names by folder and nbgrader expects under `submitted/`). The
function's cell is the one whose nbgrader grade id is the function's name (manual_rnn,
manual_stacked_rnn, manual_lstm, manual_gru): the cells' nbformat ids are random, the grade ids
are what every solution notebook names its cells by. The mix is realistic and deterministic for
a given seed:

* about 70 % correct, written in four or five different ways per exercise (for the
  bidirectional RNN: the solution itself, a precomputed input projection with torch.flip, a
  preallocated output with addmm, F.linear over a loop of directions, einsum with both
  directions in one loop);
* about 25 % buggy, each one of the mistakes the exercise's module in grader/exercises/
  catalogues (for the bidirectional RNN: halves swapped, relu instead of tanh, a missing bias,
  h_0 ignored, reverse states not put back in time order, forward weights in the reverse
  direction, h_n[1] taken at the wrong step, reverse output not flipped back);
* about 5 % raising an exception in every case (a shape error, a NameError, an IndexError).

The variants are source strings, one module per exercise in benchmarks/variants/. The counts
are exact (rounded from the percentages) and their order is shuffled with the seed; with
`--exercise all` the four exercises take turns within each kind, so each gets a quarter of
each kind (to within one). Each submission's kind, variant and exercise are recorded in
OUT/manifest.json. The default exercise, bidirectional_rnn, gives the same notebooks for a
seed as before the other exercises were added.

By default the self-check cell (`!rnn-grader check ...`) and the markdown that introduces it are
removed: nbgrader's autograde would execute that cell in every submission, which would make it
pay for a whole `rnn-grader check` per notebook. rnn-grader skips that cell anyway (it is tagged
`rnn-grader:skip`), so removing it changes nothing for rnn-grader. `--keep-self-check` keeps it.

    python benchmarks/make_submissions.py --n 100 --seed 0 --out /tmp/submissions
    python benchmarks/make_submissions.py --n 100 --exercise lstm --out /tmp/lstm
    python benchmarks/make_submissions.py --n 100 --exercise all --out /tmp/mixed
"""

from __future__ import annotations

import argparse
import copy
import json
import random
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from variants import EXERCISES, KINDS, names, variant_source  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
DEFAULT_EXERCISE = "bidirectional_rnn"
ALL = "all"
SOLUTION = REPO / "solutions" / f"{DEFAULT_EXERCISE}.ipynb"
NOTEBOOK_NAME = f"{DEFAULT_EXERCISE}.ipynb"
SELF_CHECK_CELL_IDS = ("self_check_explained", "self_check")
SKIP_TAG = "rnn-grader:skip"

SHARE_CORRECT, SHARE_BUGGY, SHARE_RAISING = 0.70, 0.25, 0.05


def solution_path(exercise: str) -> Path:
    return REPO / "solutions" / f"{exercise}.ipynb"


def notebook_name(exercise: str) -> str:
    return f"{exercise}.ipynb"


def exercises_of(choice: str) -> list[str]:
    """The exercises `--exercise` names: one, or all four for "all"."""
    if choice == ALL:
        return list(EXERCISES)
    if choice not in EXERCISES:
        raise ValueError(f"unknown exercise {choice!r}; choose one of {', '.join(EXERCISES)} "
                         f"or {ALL}")
    return [choice]


def add_exercise_option(parser: argparse.ArgumentParser,
                        meaning: str = "the exercise, or all to mix the four evenly") -> None:
    """`--exercise NAME|all`, as every benchmark takes it (default bidirectional_rnn)."""
    parser.add_argument("--exercise", default=DEFAULT_EXERCISE, choices=[*EXERCISES, ALL],
                        help=f"{meaning} (default {DEFAULT_EXERCISE})")


def exercises_in(submissions: list[Submission]) -> list[str]:
    """The exercises these submissions are for, in the order of EXERCISES."""
    present = {s.exercise for s in submissions}
    return [name for name in EXERCISES if name in present]


@dataclass(frozen=True)
class Submission:
    student: str
    kind: str  # "correct", "buggy" or "raising"
    variant: str
    path: str
    exercise: str = DEFAULT_EXERCISE


def load_solution(solution: Path = SOLUTION) -> dict:
    return json.loads(solution.read_text(encoding="utf-8"))


def _grade_id(cell: dict) -> str | None:
    return cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")


def without_self_check(notebook: dict) -> dict:
    """The notebook without the `!rnn-grader check` cell and the markdown introducing it: the
    source notebook of the nbgrader course, and what the benchmark's students submit."""
    notebook = copy.deepcopy(notebook)
    cells = notebook["cells"]
    drop = {i for i, cell in enumerate(cells) if _grade_id(cell) in SELF_CHECK_CELL_IDS}
    for i, cell in enumerate(cells):  # fallback: an ungraded skip-tagged cell running a shell
        tags = cell.get("metadata", {}).get("tags", [])
        source = "".join(cell.get("source", ""))
        if SKIP_TAG in tags and "rnn-grader check" in source:
            drop.add(i)
            if i > 0 and cells[i - 1]["cell_type"] == "markdown":
                drop.add(i - 1)
    notebook["cells"] = [cell for i, cell in enumerate(cells) if i not in drop]
    return notebook


def with_function(notebook: dict, source: str, function: str = "manual_rnn") -> dict:
    """The notebook with the cell whose grade id is `function` (the function's cell, in every
    solution notebook) holding `source` instead, unexecuted."""
    notebook = copy.deepcopy(notebook)
    cells = [cell for cell in notebook["cells"] if _grade_id(cell) == function]
    if len(cells) != 1:
        raise ValueError(f"expected one cell with grade_id {function!r}")
    cells[0]["source"] = source.splitlines(keepends=True)
    cells[0]["outputs"], cells[0]["execution_count"] = [], None
    return notebook


def plan(n: int, seed: int = 0, exercise: str = DEFAULT_EXERCISE) -> list[tuple[str, str, str]]:
    """(exercise, kind, variant) of each of n submissions, deterministic for the seed. The
    kinds' counts are exact over the n; with "all", the exercises take turns within each kind
    (so every exercise gets an even share of each kind and of the whole, to within one)."""
    rng = random.Random(seed)
    raising = int(n * SHARE_RAISING + 0.5)
    buggy = int(n * SHARE_BUGGY + 0.5)
    kinds = ["raising"] * raising + ["buggy"] * buggy + ["correct"] * (n - raising - buggy)
    order = exercises_of(exercise)
    if len(order) > 1:
        rng.shuffle(order)
    pairs = [(order[i % len(order)], kind) for i, kind in enumerate(kinds)]
    rng.shuffle(pairs)
    chosen = []
    for name, kind in pairs:
        if kind == "correct":
            tables = EXERCISES[name]
            styles = names(kind, name)
            variant = rng.choices(styles, weights=[tables.CORRECT_WEIGHTS[v] for v in styles])[0]
        else:
            variant = rng.choice(names(kind, name))
        chosen.append((name, kind, variant))
    return chosen


def make_submissions(n: int, out: Path, seed: int = 0, solution: Path | None = None,
                     keep_self_check: bool = False,
                     exercise: str = DEFAULT_EXERCISE) -> list[Submission]:
    """Write n submissions as out/<student>/<exercise>.ipynb plus out/manifest.json.
    `exercise`: one exercise's name, or "all" to mix the four; `solution` replaces the
    solution notebook of a single exercise."""
    chosen = exercises_of(exercise)
    if solution is not None and len(chosen) > 1:
        raise ValueError("--solution replaces one exercise's notebook: give --exercise NAME")
    bases = {}
    for name in chosen:
        base = load_solution(solution or solution_path(name))
        bases[name] = base if keep_self_check else without_self_check(base)
    out.mkdir(parents=True, exist_ok=True)
    width = max(3, len(str(n)))
    submissions = []
    for number, (name, kind, variant) in enumerate(plan(n, seed, exercise), start=1):
        student = f"student{number:0{width}d}"
        path = out / student / notebook_name(name)
        path.parent.mkdir(parents=True, exist_ok=True)
        notebook = with_function(bases[name], variant_source(kind, variant, name),
                                 EXERCISES[name].FUNCTION)
        path.write_text(json.dumps(notebook, indent=1, ensure_ascii=False) + "\n",
                        encoding="utf-8")
        submissions.append(Submission(student, kind, variant, str(path), name))
    (out / "manifest.json").write_text(
        json.dumps([asdict(s) for s in submissions], indent=1) + "\n", encoding="utf-8")
    return submissions


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=100, help="number of submissions (100)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (0)")
    parser.add_argument("--out", type=Path, required=True, help="folder to write into")
    add_exercise_option(parser)
    parser.add_argument("--solution", type=Path, default=None,
                        help="the solution notebook to start from (one exercise only; default "
                        "solutions/<exercise>.ipynb)")
    parser.add_argument("--keep-self-check", action="store_true",
                        help="keep the `!rnn-grader check` cell (nbgrader would run it)")
    args = parser.parse_args(argv)
    if args.solution is not None and args.exercise == ALL:
        parser.error("--solution replaces one exercise's notebook: give --exercise NAME")
    submissions = make_submissions(args.n, args.out, args.seed, args.solution,
                                   args.keep_self_check, args.exercise)
    print(f"wrote {len(submissions)} submissions to {args.out} ({counts(submissions)}); "
          f"manifest {args.out / 'manifest.json'}")


def counts(submissions: list[Submission]) -> str:
    """'correct 70, buggy 25, raising 5', with each exercise's share when they are mixed."""
    text = ", ".join(f"{kind} {sum(s.kind == kind for s in submissions)}"
                     for kind in sorted(KINDS))
    mixed = exercises_in(submissions)
    if len(mixed) > 1:
        text += "; " + ", ".join(f"{name} {sum(s.exercise == name for s in submissions)}"
                                 for name in mixed)
    return text


if __name__ == "__main__":
    main()
