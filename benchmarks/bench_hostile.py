"""What a hostile submission in the middle of a parallel batch costs the others: its limits.

    python benchmarks/bench_hostile.py [--n 60] [--jobs J] [--exercise NAME]

Grades the same N submissions (benchmarks/make_submissions.py) twice with `rnn-grader grade`,
short limits for both runs (--notebook-timeout 5 --call-timeout 2): once as they are, once with
four of them, in the middle of the order, replaced by hostile notebooks:

    endless cell      a cell that never ends                      costs the notebook time limit
    endless call      the function never returns                  costs the call time limit
    memory bomb       a cell allocating without end               stops at the memory limit
    output flood      a cell printing without end                 stops at the output limit

It prints both walls and their difference against what the hostile notebooks' limits allow:
their time limits divided by the jobs, plus the longest one (a batch cannot end before its
last submission: Graham's bound for list scheduling); their statuses; the largest
per-submission process (the memory bomb's, at the memory limit); and whether every other
submission scored exactly as in the clean run.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_batch import (  # noqa: E402
    clean_env,
    describe_machine,
    mb,
    rnn_grader_scores,
    run_rnn_grader,
    table,
)
from make_submissions import add_exercise_option, make_submissions  # noqa: E402

NOTEBOOK_SECONDS, CALL_SECONDS = 5.0, 2.0
LIMITS = ("--notebook-timeout", str(NOTEBOOK_SECONDS), "--call-timeout", str(CALL_SECONDS))
HOSTILE = {  # name -> (cell appended at the end of the notebook, seconds it may hold a job)
    "endless cell": ("while True:\n    pass\n", NOTEBOOK_SECONDS),
    "endless call": ("def {function}():\n    while True:\n        pass\n", CALL_SECONDS),
    "memory bomb": ("hoard = []\nwhile True:\n    hoard.append(bytearray(50_000_000))\n", 0.0),
    "output flood": ("while True:\n    print('x' * 10_000)\n", 0.0),
}


def make_hostile(path: Path, cell: str) -> None:
    """The notebook with one more code cell at its end (the function's name filled in)."""
    notebook = json.loads(path.read_text(encoding="utf-8"))
    function = next(cell["metadata"]["nbgrader"]["grade_id"] for cell in notebook["cells"]
                    if cell["metadata"].get("nbgrader", {}).get("grade_id", "").startswith(
                        "manual_"))
    notebook["cells"].append({"cell_type": "code", "execution_count": None, "metadata": {},
                              "outputs": [], "source": cell.format(function=function)})
    path.write_text(json.dumps(notebook), encoding="utf-8")


def statuses(out: Path, names: list[str]) -> dict[str, str]:
    return {name: json.loads((out / name / "results.json").read_text())["extra_data"]["status"]
            for name in names}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=60, help="submissions (default 60)")
    parser.add_argument("--jobs", "-j", type=int, default=len(os.sched_getaffinity(0)) + 1)
    parser.add_argument("--seed", type=int, default=0)
    add_exercise_option(parser)
    args = parser.parse_args(argv)

    scratch = Path(tempfile.mkdtemp(prefix="bench-hostile-"))
    try:
        env = clean_env(scratch)
        print(describe_machine())
        clean, hostile = scratch / "clean", scratch / "hostile"
        manifest = make_submissions(args.n, clean, args.seed, exercise=args.exercise)
        shutil.copytree(clean, hostile)
        middle = args.n // 2 - len(HOSTILE) // 2
        replaced = {}
        chosen = manifest[middle:middle + len(HOSTILE)]
        for submission, (name, (cell, _)) in zip(chosen, HOSTILE.items(), strict=True):
            make_hostile(hostile / Path(submission.path).relative_to(clean), cell)
            replaced[submission.student] = name
        print(f"{args.n} submissions, -j {args.jobs}, limits: notebook {NOTEBOOK_SECONDS:g} s, "
              f"call {CALL_SECONDS:g} s; hostile: " + ", ".join(
                  f"{student} ({name})" for student, name in replaced.items()), flush=True)
        runs = {label: run_rnn_grader(folder, scratch / f"graded-{label}", args.jobs, env,
                                      extra=LIMITS)
                for label, folder in (("clean", clean), ("hostile", hostile))}
        scores = {label: rnn_grader_scores(scratch / f"graded-{label}") for label in runs}
        others = [name for name in scores["clean"] if name not in replaced]
        same = sum(scores["clean"][name] == scores["hostile"][name] for name in others)
        rows = [[label, f"{m.seconds:.1f}", mb(m.peak_mb.get("forked", 0)),
                 mb(m.tree_pss_peak_mb)] for label, m in runs.items()]
        print()
        print(table(["batch", "wall s", "largest per-submission MB", "tree PSS MB"], rows))
        limits = [seconds for _, seconds in HOSTILE.values()]
        bound = sum(limits) / args.jobs + max(limits)  # Graham: list scheduling's makespan
        extra = runs["hostile"].seconds - runs["clean"].seconds
        print(f"\nextra wall with the hostile notebooks: {extra:.1f} s; at most their time "
              f"limits ÷ jobs + the longest limit (it may end last): {bound:.1f} s")
        found = statuses(scratch / "graded-hostile", list(replaced))
        print("hostile notebooks ended as: " + ", ".join(
            f"{replaced[student]} → {status}" for student, status in found.items()))
        print(f"the other {len(others)} submissions: {same} scored exactly as in the clean run")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
