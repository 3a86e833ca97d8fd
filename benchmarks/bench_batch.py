"""Batch grading time and memory: `rnn-grader grade` against `nbgrader autograde`.

    python benchmarks/bench_batch.py --n 100 [--exercise NAME|all] [--nbgrader-n K] [--jobs J]
    python benchmarks/bench_batch.py --scaling [--scaling-ns 10 100 1000] [--nbgrader-n 30]
                                     [--exercise NAME|all]

1. Builds N submissions of the exercise (benchmarks/make_submissions.py: ~70 % correct in
   several styles, ~25 % buggy, ~5 % raising; default bidirectional_rnn; `all` mixes the four
   evenly) in a temporary folder, as <student>/<exercise>.ipynb.
2. rnn-grader: `rnn-grader grade SUBMISSIONS --out OUT --quiet -j J` in a subprocess with
   RNN_GRADER_SECRET set (J defaults to the number of cores + 1, as rnn-grader's own default).
   Wall time, and memory: wait4's peak RSS of the largest process, plus a /proc sampler that
   follows the tree (the grading process, the warm worker it forks submissions from, the
   per-submission processes, and the whole tree's PSS). See benchmarks/procwatch.py.
3. nbgrader: a real course in a temporary folder: nbgrader_config.py, one assignment per
   exercise graded (named like the exercise) with source/<exercise>/<exercise>.ipynb,
   `nbgrader generate_assignment`, the students added to the gradebook (`nbgrader db student
   import` of a CSV: the same rows as N `nbgrader db student add` calls, in one process), the
   same notebooks copied to submitted/<student>/<exercise>/, then `nbgrader autograde
   <exercise>` for each assignment, which executes its submissions one after another in a
   fresh kernel each. Only autograde is timed, each assignment's run separately; their sum is
   nbgrader's time. With --nbgrader-n K only K submissions go to nbgrader: the first K, or with
   several exercises the first of each exercise in turn (as evenly mixed as rnn-grader's batch).

With --scaling, step 2 runs once per N of --scaling-ns (time and memory of each batch), then
step 3 times nbgrader on --nbgrader-n (default 30) of the largest batch's submissions, in the
same run: each N's ratio is nbgrader's seconds per notebook over rnn-grader's.

Fairness. Each nbgrader assignment's source notebook is that exercise's solution notebook
(solutions/<exercise>.ipynb) WITHOUT its final self-check cell (`!rnn-grader check ...`) and
the markdown cell introducing it: nbgrader's autograde would execute that cell in every
submission. The submissions leave those two cells out as well, so both graders receive
byte-identical notebooks (rnn-grader skips the self-check cell anyway: it is tagged
rnn-grader:skip). The work differs by design: nbgrader runs the notebook once with its single
visible test cell (10 points on the notebook's own sizes); rnn-grader runs the notebook's
cells, then calls the function on six hidden cases and compares against nn.RNN, nn.LSTM or
nn.GRU with a rounding-error tolerance. With several exercises, rnn-grader grades them as one
batch (as `rnn-grader grade` does a mixed folder) while nbgrader needs one autograde per
assignment: the ratio is of the combined seconds per notebook; per exercise the output gives
nbgrader's seconds per notebook and rnn-grader's mean grading time per submission
(results.json's execution_time, not wall time: take ratios per exercise from
`--exercise NAME` runs).

Environment: the folder of sys.executable goes first on PATH (nbgrader runs `alembic` and the
kernel's `python` by bare name); JUPYTER_CONFIG_DIR, JUPYTER_DATA_DIR, JUPYTER_RUNTIME_DIR and
IPYTHONDIR point at fresh temporary folders, so no user configuration leaks in.

Both runs are also checked for sanity against the submissions' manifest: rnn-grader must give
full marks to every correct one, less to every buggy one and 0 to every raising one; nbgrader
full marks to correct ones and 0 to the others.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from make_submissions import (  # noqa: E402
    Submission,
    add_exercise_option,
    exercises_in,
    load_solution,
    make_submissions,
    notebook_name,
    solution_path,
    without_self_check,
)
from procwatch import Measurement, run_measured  # noqa: E402

SECRET = "benchmark-secret-not-for-real-use"
BIN = Path(sys.executable).parent


def tool(name: str) -> str:
    found = BIN / name
    if found.exists():
        return str(found)
    which = shutil.which(name)
    if which is None:
        raise SystemExit(f"{name} not found next to {sys.executable} or on PATH")
    return which


def clean_env(scratch: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.pop("RNN_GRADER_SECRET", None)
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    for name in ("JUPYTER_CONFIG_DIR", "JUPYTER_DATA_DIR", "JUPYTER_RUNTIME_DIR", "IPYTHONDIR"):
        folder = scratch / "env" / name.lower()
        folder.mkdir(parents=True, exist_ok=True)
        env[name] = str(folder)
    env["PYTHONUNBUFFERED"] = "1"
    return env


# --- rnn-grader ----------------------------------------------------------------------------

def run_rnn_grader(submissions: Path, out: Path, jobs: int, env: dict[str, str],
                   workers: str = "warm", extra: tuple[str, ...] = ()) -> Measurement:
    command = [tool("rnn-grader"), "grade", str(submissions), "--out", str(out), "--quiet",
               "-j", str(jobs), "--workers", workers, *extra]
    log = out.parent / f"{out.name}.log"
    with open(log, "wb") as stream:
        measurement = run_measured(command, env=dict(env, RNN_GRADER_SECRET=SECRET),
                                   cwd=out.parent, stdout=stream, stderr=subprocess.STDOUT)
    if measurement.returncode != 0:
        raise SystemExit(f"rnn-grader grade failed ({measurement.returncode}); see {log}:\n"
                         + log.read_text(errors="replace")[-3000:])
    return measurement


def rnn_grader_execution_times(out: Path) -> dict[str, float]:
    """Each submission's execution_time from its results.json (its own grading, seconds)."""
    return {path.parent.name: float(json.loads(path.read_text())["execution_time"])
            for path in out.glob("*/results.json")}


def rnn_grader_scores(out: Path) -> dict[str, tuple[float, float]]:
    with open(out / "summary.csv", newline="", encoding="utf-8") as stream:
        return {row["submission"]: (float(row["score"]), float(row["max_score"]))
                for row in csv.DictReader(stream)}


# --- nbgrader ------------------------------------------------------------------------------

NBGRADER_CONFIG = """\
c = get_config()
c.CourseDirectory.course_id = "rnn-benchmark"
c.CourseDirectory.root = {root!r}
c.CourseDirectory.db_url = "sqlite:///" + {db!r}
"""


def _nbgrader(args: list[str], course: Path, env: dict[str, str]) -> None:
    done = subprocess.run([tool("nbgrader"), *args], cwd=course, env=env,
                          capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"nbgrader {' '.join(args)} failed ({done.returncode}):\n"
                         f"{(done.stdout + done.stderr)[-3000:]}")


def setup_nbgrader_course(course: Path, students: list[Submission],
                          env: dict[str, str]) -> list[str]:
    """A course with one assignment per exercise among `students`' submissions, each generated
    from its exercise's solution notebook without the self-check; returns the assignments."""
    assignments = exercises_in(students)
    course.mkdir(parents=True)
    (course / "nbgrader_config.py").write_text(
        NBGRADER_CONFIG.format(root=str(course), db=str(course / "gradebook.db")))
    for assignment in assignments:
        source = course / "source" / assignment
        source.mkdir(parents=True)
        (source / notebook_name(assignment)).write_text(
            json.dumps(without_self_check(load_solution(solution_path(assignment))), indent=1)
            + "\n", encoding="utf-8")
        _nbgrader(["generate_assignment", assignment, "--force"], course, env)
    roster = course / "students.csv"
    with open(roster, "w", newline="", encoding="utf-8") as stream:
        writer = csv.writer(stream)
        writer.writerow(["id", "first_name", "last_name", "email"])
        for student in dict.fromkeys(s.student for s in students):
            writer.writerow([student, "Bench", student, f"{student}@example.org"])
    _nbgrader(["db", "student", "import", str(roster)], course, env)
    for submission in students:
        target = course / "submitted" / submission.student / submission.exercise
        target.mkdir(parents=True)
        shutil.copyfile(submission.path, target / notebook_name(submission.exercise))
    return assignments


def run_nbgrader(course: Path, assignment: str, env: dict[str, str]) -> Measurement:
    log = course / f"autograde-{assignment}.log"
    with open(log, "wb") as stream:
        measurement = run_measured([tool("nbgrader"), "autograde", assignment], env=env,
                                   cwd=course, stdout=stream, stderr=subprocess.STDOUT)
    if measurement.returncode != 0:
        raise SystemExit(f"nbgrader autograde failed ({measurement.returncode}); see {log}:\n"
                         + log.read_text(errors="replace")[-3000:])
    return measurement


def nbgrader_scores(course: Path, graded: list[Submission]) -> dict[str, tuple[float, float]]:
    code = (
        "import json, sys\n"
        "from nbgrader.api import Gradebook\n"
        "db, pairs = sys.argv[1], sys.argv[2:]\n"
        "with Gradebook(db, 'rnn-benchmark') as gb:\n"
        "    scores = {}\n"
        "    for s, assignment in zip(pairs[::2], pairs[1::2]):\n"
        "        sub = gb.find_submission(assignment, s)\n"
        "        scores[s] = (sub.score, sub.max_score)\n"
        "print(json.dumps(scores))\n")
    pairs = [item for s in graded for item in (s.student, s.exercise)]
    done = subprocess.run([sys.executable, "-c", code, f"sqlite:///{course / 'gradebook.db'}",
                           *pairs], capture_output=True, text=True, check=True)
    return {k: tuple(v) for k, v in json.loads(done.stdout).items()}


def nbgrader_share(manifest: list[Submission], k: int) -> list[Submission]:
    """The K submissions nbgrader grades: the first K of one exercise; of several, the first
    of each exercise in turn, so the share of each matches rnn-grader's batch."""
    queues = [[s for s in manifest if s.exercise == name]
              for name in exercises_in(manifest)]
    picked: list[Submission] = []
    while len(picked) < min(k, len(manifest)):
        for queue in queues:
            if queue and len(picked) < k:
                picked.append(queue.pop(0))
    return sorted(picked, key=manifest.index)


# --- checks and tables ---------------------------------------------------------------------

def expected(kind: str, score: float, max_score: float, grader: str) -> bool:
    if kind == "correct":
        return score == max_score
    if kind == "raising" or grader == "nbgrader":
        return score == 0
    return score < max_score


def sanity(manifest, scores: dict[str, tuple[float, float]], grader: str) -> str:
    graded = [s for s in manifest if s.student in scores]
    wrong = [s for s in graded if not expected(s.kind, *scores[s.student], grader)]
    text = f"{len(graded) - len(wrong)}/{len(graded)} scored as expected for their kind"
    exercises = exercises_in(graded)
    if len(exercises) > 1:
        text += " (" + ", ".join(
            f"{name} {sum(s.exercise == name for s in graded if s not in wrong)}/"
            f"{sum(s.exercise == name for s in graded)}" for name in exercises) + ")"
    shown = [f"{s.student} ({s.exercise} {s.kind} {s.variant}: "
             f"{scores[s.student][0]:g}/{scores[s.student][1]:g})" for s in wrong[:10]]
    return text + (f"; unexpected: {', '.join(shown)}" if wrong else "")


def table(headers: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(str(x)) for x in column) for column in zip(headers, *rows, strict=True)]

    def line(cells: list) -> str:
        return "  ".join(str(c).rjust(w) for c, w in zip(cells, widths, strict=True))

    return "\n".join([line(headers), line(["-" * w for w in widths]), *map(line, rows)])


def mb(value: float) -> str:
    return f"{value:.0f}" if value else "-"


def describe_code() -> str:
    """The commit measured, and whether grader/ had uncommitted changes."""
    repo = Path(__file__).resolve().parents[1]
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=repo,
                              capture_output=True, text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "grader", "solutions"],
                               cwd=repo, capture_output=True, text=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "code: not a git checkout"
    return f"code: {head}" + (" + uncommitted changes in grader/ or solutions/" if dirty else "")


def describe_machine() -> str:
    load = " ".join(f"{x:.1f}" for x in os.getloadavg())
    return (f"{platform.node()}: {os.cpu_count()} cores, Python {platform.python_version()}, "
            f"load average {load}; {describe_code()}")


# --- modes ---------------------------------------------------------------------------------

def compare(args: argparse.Namespace, scratch: Path) -> dict:
    env = clean_env(scratch)
    submissions = scratch / "submissions"
    manifest = make_submissions(args.n, submissions, args.seed, exercise=args.exercise)
    kinds = {k: sum(s.kind == k for s in manifest) for k in ("correct", "buggy", "raising")}
    print(f"{describe_machine()}")
    print(f"{args.n} submissions of {describe_exercises(manifest)} (seed {args.seed}): " +
          ", ".join(f"{v} {k}" for k, v in kinds.items()))

    print(f"rnn-grader grade -j {args.jobs} --workers {args.workers} ...", flush=True)
    ours = run_rnn_grader(submissions, scratch / "graded", args.jobs, env, args.workers)
    our_check = sanity(manifest, rnn_grader_scores(scratch / "graded"), "rnn-grader")

    graded = nbgrader_share(manifest, args.nbgrader_n or args.n)
    k = len(graded)
    course = scratch / "course"
    assignments = setup_nbgrader_course(course, graded, env)
    theirs_by: dict[str, Measurement] = {}
    for assignment in assignments:
        count = sum(s.exercise == assignment for s in graded)
        print(f"nbgrader autograde {assignment} on {count} of the {args.n} submissions ...",
              flush=True)
        theirs_by[assignment] = run_nbgrader(course, assignment, env)
    their_check = sanity(graded, nbgrader_scores(course, graded), "nbgrader")

    theirs_seconds = sum(m.seconds for m in theirs_by.values())
    ours_each, theirs_each = ours.seconds / args.n, theirs_seconds / k
    rows = [["rnn-grader grade", args.n, f"-j {args.jobs}", f"{ours.seconds:.1f}",
             f"{ours_each:.3f}", mb(ours.maxrss_mb), mb(ours.tree_pss_peak_mb)]]
    for assignment, m in theirs_by.items():
        count = sum(s.exercise == assignment for s in graded)
        name = "nbgrader autograde" + (f" {assignment}" if len(theirs_by) > 1 else "")
        rows.append([name, count, "1 (serial)", f"{m.seconds:.1f}", f"{m.seconds / count:.3f}",
                     mb(m.maxrss_mb), mb(m.tree_pss_peak_mb)])
    if len(theirs_by) > 1:
        rows.append([f"nbgrader, the {len(theirs_by)} runs", k, "1 (serial)",
                     f"{theirs_seconds:.1f}", f"{theirs_each:.3f}",
                     mb(max(m.maxrss_mb for m in theirs_by.values())),
                     mb(max(m.tree_pss_peak_mb for m in theirs_by.values()))])
    print()
    print(table(["grader", "notebooks", "parallel", "wall s", "s/notebook", "peak RSS MB",
                 "tree PSS MB"], rows))
    print()
    print(f"ratio (nbgrader s/notebook ÷ rnn-grader s/notebook): {theirs_each / ours_each:.1f}x"
          + ("" if k == args.n else f"   (nbgrader timed on {k} of the {args.n})"))
    if len(theirs_by) > 1:
        print_per_exercise(manifest, graded, theirs_by, scratch / "graded")
    print_memory(ours)
    their_main = max(m.peak_mb.get("main", 0) for m in theirs_by.values())
    print(f"nbgrader memory: largest process "
          f"{mb(max(m.maxrss_mb for m in theirs_by.values()))} MB (the kernel), "
          f"nbgrader itself {mb(their_main)} MB")
    print(f"sanity: rnn-grader {our_check}; nbgrader {their_check}")
    print(f"machine after the runs: load average "
          f"{' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    return {"n": args.n, "nbgrader_n": k, "jobs": args.jobs, "exercise": args.exercise,
            "rnn_grader": vars_of(ours),
            "nbgrader": vars_of(next(iter(theirs_by.values()))) if len(theirs_by) == 1 else
            {"seconds": theirs_seconds,
             "maxrss_mb": max(m.maxrss_mb for m in theirs_by.values()),
             "tree_pss_peak_mb": max(m.tree_pss_peak_mb for m in theirs_by.values())},
            "nbgrader_by_exercise": {name: vars_of(m) for name, m in theirs_by.items()},
            "nbgrader_seconds": theirs_seconds, "ratio_per_notebook": theirs_each / ours_each,
            "sanity": {"rnn_grader": our_check, "nbgrader": their_check}}


def describe_exercises(manifest: list[Submission]) -> str:
    counts = {name: sum(s.exercise == name for s in manifest) for name in exercises_in(manifest)}
    if len(counts) == 1:
        return next(iter(counts))
    return "the exercises mixed (" + ", ".join(f"{n} {v}" for n, v in counts.items()) + ")"


def print_per_exercise(manifest: list[Submission], graded: list[Submission],
                       theirs_by: dict[str, Measurement], out: Path) -> None:
    """Per exercise: nbgrader's seconds per notebook (its own autograde run) and rnn-grader's
    mean grading time per submission from results.json (inside one mixed batch: not wall time,
    so no per-exercise ratio is claimed)."""
    times = rnn_grader_execution_times(out)
    rows = []
    for name, m in theirs_by.items():
        ours = [times[s.student] for s in manifest if s.exercise == name and s.student in times]
        count = sum(s.exercise == name for s in graded)
        rows.append([name, len(ours), f"{sum(ours) / max(len(ours), 1):.3f}", count,
                     f"{m.seconds / count:.3f}"])
    print()
    print(table(["exercise", "rnn-grader n", "execution_time s (mean)", "nbgrader n",
                 "nbgrader s/notebook"], rows))
    print("(rnn-grader graded the exercises in one batch: its per-exercise column is each "
          "submission's own grading time, which the -j workers overlap, not a share of the wall "
          "time; run --exercise NAME for a per-exercise ratio.)")


def print_memory(m: Measurement) -> None:
    print(f"rnn-grader memory: grading process peak {mb(m.peak_mb.get('main', 0))} MB; "
          f"warm worker peak {mb(m.peak_mb.get('worker', 0))} MB "
          f"(last seen {mb(m.worker_last_rss_mb)} MB); largest per-submission process "
          f"{mb(m.peak_mb.get('forked', 0))} MB; whole tree peak PSS "
          f"{mb(m.tree_pss_peak_mb)} MB (RSS sum {mb(m.tree_rss_peak_mb)} MB, "
          f"which counts pages shared with the warm worker once per process); "
          f"wait4 maxrss {mb(m.maxrss_mb)} MB")


def vars_of(m: Measurement) -> dict:
    data = dict(vars(m))
    data["worker_pids"] = sorted(m.worker_pids)
    return data


def scaling(args: argparse.Namespace, scratch: Path) -> dict:
    """rnn-grader on each N of --scaling-ns; then, in the same run, nbgrader on --nbgrader-n
    of the largest batch's submissions (default 30; 0 skips it), for the ratio at each N."""
    env = clean_env(scratch)
    print(describe_machine())
    print(f"rnn-grader grade -j {args.jobs} --workers {args.workers}, seed {args.seed}, "
          f"exercise {args.exercise}")
    measured = []
    for n in args.scaling_ns:
        submissions = scratch / f"submissions-{n}"
        manifest = make_submissions(n, submissions, args.seed, exercise=args.exercise)
        print(f"grading {n} ...", flush=True)
        m = run_rnn_grader(submissions, scratch / f"graded-{n}", args.jobs, env, args.workers)
        check = sanity(manifest, rnn_grader_scores(scratch / f"graded-{n}"), "rnn-grader")
        measured.append((n, m, check))
        if n != max(args.scaling_ns):
            shutil.rmtree(submissions, ignore_errors=True)
    theirs_each, their_check = scaling_nbgrader(args, scratch, manifest, env)
    rows, results = [], []
    for n, m, check in measured:
        ratio = f"{theirs_each / (m.seconds / n):.1f}x" if theirs_each else "-"
        results.append({"n": n, **vars_of(m), "sanity": check,
                        "ratio_per_notebook": theirs_each / (m.seconds / n) if theirs_each
                        else None})
        rows.append([n, f"{m.seconds:.1f}", f"{m.seconds / n:.3f}", ratio,
                     mb(m.peak_mb.get("main", 0)), mb(m.peak_mb.get("worker", 0)),
                     mb(m.peak_mb.get("forked", 0)), mb(m.tree_pss_peak_mb), mb(m.maxrss_mb),
                     check.split(" ", 1)[0]])
    print()
    print(table(["N", "wall s", "s/notebook", "× nbgrader", "grader MB", "warm worker MB",
                 "per-submission MB", "tree PSS MB", "wait4 maxrss MB", "as expected"], rows))
    print("\nMB columns are peaks (VmHWM) over the run; tree PSS is the largest total footprint "
          "of all processes at once.")
    if theirs_each:
        print(f"× nbgrader: nbgrader autograde's {theirs_each:.3f} s per notebook ({their_check}), "
              "timed in this run, ÷ rnn-grader's s/notebook at each N")
    print(f"machine after the runs: load average "
          f"{' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    return {"scaling": results, "exercise": args.exercise, "nbgrader_s_per_notebook": theirs_each,
            "nbgrader_sanity": their_check}


def scaling_nbgrader(args: argparse.Namespace, scratch: Path, manifest: list[Submission],
                     env: dict[str, str]) -> tuple[float, str]:
    """nbgrader's seconds per notebook on a share of `manifest` (0.0 when skipped)."""
    wanted = 30 if args.nbgrader_n is None else args.nbgrader_n
    if not wanted:
        return 0.0, "not run"
    graded = nbgrader_share(manifest, wanted)
    course = scratch / "course"
    assignments = setup_nbgrader_course(course, graded, env)
    seconds = 0.0
    for assignment in assignments:
        count = sum(s.exercise == assignment for s in graded)
        print(f"nbgrader autograde {assignment} on {count} submissions ...", flush=True)
        seconds += run_nbgrader(course, assignment, env).seconds
    check = sanity(graded, nbgrader_scores(course, graded), "nbgrader")
    return seconds / len(graded), check


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=100, help="submissions (default 100)")
    parser.add_argument("--nbgrader-n", type=int, default=None,
                        help="grade only K submissions with nbgrader: the first K (with several "
                        "exercises, the first of each in turn); default all N (with --scaling: "
                        "30 of the largest batch; 0 skips nbgrader)")
    parser.add_argument("--jobs", "-j", type=int, default=len(os.sched_getaffinity(0)) + 1,
                        help="rnn-grader's -j (default: number of cores + 1, as its own)")
    parser.add_argument("--workers", choices=("warm", "cold"), default="warm",
                        help="rnn-grader's --workers (default warm)")
    parser.add_argument("--seed", type=int, default=0)
    add_exercise_option(parser)
    parser.add_argument("--scaling", action="store_true",
                        help="for each N of --scaling-ns: rnn-grader's time and memory, and "
                        "its ratio to nbgrader timed on --nbgrader-n of them in the same run")
    parser.add_argument("--scaling-ns", type=int, nargs="+", default=[10, 100, 1000])
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    parser.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    args = parser.parse_args(argv)

    scratch = Path(tempfile.mkdtemp(prefix="bench-rnn-grader-"))
    started = time.perf_counter()
    try:
        figures = scaling(args, scratch) if args.scaling else compare(args, scratch)
    finally:
        if args.keep:
            print(f"kept {scratch}")
        else:
            shutil.rmtree(scratch, ignore_errors=True)
    print(f"(benchmark took {time.perf_counter() - started:.0f} s in all)")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=1) + "\n")


if __name__ == "__main__":
    main()
