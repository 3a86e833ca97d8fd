"""Where the time goes: one submission's wall time by stage, a batch's fixed costs, `check`'s.

    python benchmarks/bench_profile.py [--n 20] [--batch-n 40] [--jobs 2] [--check-reps 3]
                                       [--exercise NAME|all]

Nothing under grader/ is changed: every figure is taken from outside, in the benchmark's own
processes, by wrapping the grader's functions at run time with timers (wall: perf_counter;
the grading thread's CPU: thread_time). A wrapped call's *exclusive* time is charged to its
stage (time spent in a wrapped callee goes to the callee's stage), so the stages of a
submission add up to its wall time; what no wrapper covers is "other".

What happens inside the child is seen from the grading side, at the seams of
grader/isolation/sandbox.py:

    Sandbox.__enter__          temporary folders, pipes, the worker forking the student
                               process into a PID namespace of its own, its pidfd
    Sandbox.admitted (1st)     until the student process has confined itself (descriptors,
                               rlimits, namespaces, mounts, uid, Landlock, seccomp) and the
                               grading process has measured it from /proc; the pipeline
                               reads the code and prepares the references meanwhile
    request {"op": "run"}      running the notebook's cells with IPython
    request {"op": "call"}     one case: encoding, the call of manual_rnn, the answer
    Sandbox.__exit__           "bye", the worker's report of the end, output files, rm -r

Four runs, each in a fresh interpreter (this script re-run with --child MODE), so first-call
costs show as they do in `rnn-grader`:

1. per submission: N submissions (benchmarks/make_submissions.py) graded with -j 1 through
   grader.batch.progress.run, as `rnn-grader grade --quiet` does: median and mean ms per stage,
   share of the wall time, the grading thread's CPU, and the first submission's excess (a cost
   paid once per batch that lands on whoever comes first);
2. the batch: --batch-n submissions with -j J: the fixed costs in seconds (imports, worker
   start, shared references, resume plan, summary, class report) and the wall per submission;
3. the warm worker alone: starting it with its preload (torch, IPython) until a
   first no-op child has run;
4. `check` of the solution: `python -X importtime -m grader check ...` parsed (packages by
   import time, torch against the rest), and `check` run with the same timers: interpreter
   start, imports, fork + sandbox, cells, cases, printing, exit.

`--exercise` (default bidirectional_rnn) names the exercise whose submissions and solution are
profiled; `all` grades a batch mixing the four (as `rnn-grader grade` grades a mixed folder,
one plan per exercise) and profiles `check` of each solution in turn.

The machine's load average is printed before and after; on a loaded machine read the shares
and ratios, not the absolute milliseconds.
"""

from __future__ import annotations

import time

_STARTED = time.time()  # first line: a child mode measures its interpreter's start from here

import argparse  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import re  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import threading  # noqa: E402
from collections import Counter, defaultdict  # noqa: E402
from pathlib import Path  # noqa: E402

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
SECRET = b"benchmark-secret-not-for-real-use"

# Per-submission stages, in the order of the table (a wrapper's label is one of these).
HASH = "hash the notebook (twice)"
LOAD = "load notebook + read code"
FORK = "child start: Sandbox.__enter__ (the worker forks the student)"
CONFINE = "child start: until its walls are measured (confine, /proc)"
SETUP = "run request: until the 1st cell starts (student set-up)"
CELLS = "run the cells (rest of the run request)"
FIRST_CALL = "cases: the 1st call request"
CALLS = "cases: the other call requests"
REFERENCE = "reference preparation (hidden inputs, nn.RNN/LSTM/GRU)"
DECODE = "decode returned arrays"
COMPARE = "comparison (check_output)"
DIAGNOSE = "diagnosis (weigh_mistakes, messages)"
TEARDOWN = "child end: Sandbox.__exit__ (bye, join, rm)"
RESULTS_BUILD = "results.json: build + json.dumps"
RESULTS_WRITE = "results.json: atomic write (fsync)"
HEAT_MAPS = "feedback.html: heat maps (SVG)"
FEEDBACK_BUILD = "feedback.html: render"
FEEDBACK_WRITE = "feedback.html: atomic write (fsync)"
GLUE = "pipeline/batch glue"
OTHER = "other (not wrapped)"
STAGES = (HASH, LOAD, FORK, CONFINE, SETUP, CELLS, FIRST_CALL, CALLS, REFERENCE, DECODE,
          COMPARE, DIAGNOSE, TEARDOWN, RESULTS_BUILD, RESULTS_WRITE, HEAT_MAPS, FEEDBACK_BUILD,
          FEEDBACK_WRITE, GLUE, OTHER)


# --- timing wrappers ---------------------------------------------------------------------------

class Timers:
    """Exclusive wall and CPU time per stage. In a grading thread, between the submission's
    first hash and its feedback.html, time goes to that submission's record; anywhere else
    the outermost wrapped call's inclusive time goes to the batch's fixed costs."""

    def __init__(self) -> None:
        self.local = threading.local()
        self.lock = threading.Lock()
        self.records: list[dict] = []
        self.fixed: dict[str, float] = defaultdict(float)

    def wrap(self, owner: object, name: str, stage, opens: bool = False,
             closes: bool = False) -> None:
        """Replace owner.name by a timed version; `stage` is a label or a function of the
        call's arguments giving one."""
        original = getattr(owner, name)

        def timed(*args, **kwargs):
            label = stage(*args, **kwargs) if callable(stage) else stage
            if opens:
                self._open(args[0])
            frame = self._enter()
            try:
                return original(*args, **kwargs)
            finally:
                self._leave(label, frame)
                if closes:
                    self._close()

        setattr(owner, name, timed)

    def _open(self, submission: object) -> None:
        if threading.current_thread() is threading.main_thread() or \
                getattr(self.local, "record", None) is not None:
            return
        record = {"name": getattr(submission, "name", "?"), "started": time.perf_counter(),
                  "wall": defaultdict(float), "cpu": defaultdict(float)}
        self.local.record = record

    def _close(self) -> None:
        record = getattr(self.local, "record", None)
        if record is None:
            return
        record["total"] = time.perf_counter() - record["started"]
        self.local.record = None
        with self.lock:
            self.records.append(record)

    def _enter(self) -> list[float]:
        stack = self.local.__dict__.setdefault("stack", [])
        frame = [time.perf_counter(), time.thread_time(), 0.0, 0.0]
        stack.append(frame)
        return frame

    def _leave(self, label: str, frame: list[float]) -> None:
        wall = time.perf_counter() - frame[0]
        cpu = time.thread_time() - frame[1]
        stack = self.local.stack
        stack.pop()
        if stack:
            stack[-1][2] += wall
            stack[-1][3] += cpu
        record = getattr(self.local, "record", None)
        if record is not None:
            record["wall"][label] += wall - frame[2]
            record["cpu"][label] += cpu - frame[3]
        elif not stack:
            with self.lock:
                self.fixed[label] += wall


def _request_stage(sandbox, message, *args, **kwargs) -> str:
    if message.get("op") == "run":
        sandbox.bench_run_pending = True  # sent once admitted() has returned
        return CELLS
    first = not getattr(sandbox, "bench_called", False)
    sandbox.bench_called = True
    return FIRST_CALL if first else CALLS


def split_run_request(timers: Timers, sandbox_class: type) -> None:
    """The child says which cell runs before running it: the first such frame ends the
    student process's own set-up (after the go-ahead: the built-in RNN guard, the shell)."""
    original, admitted = sandbox_class._answer, sandbox_class.admitted

    def admitted_then_sent(self):
        measured = admitted(self)
        if getattr(self, "bench_run_pending", False):
            self.bench_run_pending, self.bench_run_sent = False, time.perf_counter()
        return measured

    def _answer(self, raw: bytes):
        answer = original(self, raw)
        sent = getattr(self, "bench_run_sent", None)
        record = getattr(timers.local, "record", None)
        if sent is not None and record is not None and "running_cell" in answer:
            waited = time.perf_counter() - sent
            record["wall"][SETUP] += waited
            record["wall"][CELLS] -= waited  # the run request's timer counts it too
            self.bench_run_sent = None
        return answer

    sandbox_class._answer = _answer
    sandbox_class.admitted = admitted_then_sent


def _admitted_stage(sandbox, *args, **kwargs) -> str:
    return CONFINE if sandbox.isolation is None else GLUE


def wrap_submission_stages(timers: Timers) -> None:
    """The seams of one submission, in the grading process."""
    from grader import pipeline
    from grader.batch import discover, runner
    from grader.checking import mistakes
    from grader.isolation import sandbox
    from grader.reports import feedback, pages, records

    timers.wrap(discover.Submission, "digest", HASH, opens=True)
    timers.wrap(pipeline, "notebook_sha256", HASH)
    for name in ("load_notebook", "forbidden_uses", "review_findings"):
        timers.wrap(pipeline, name, LOAD)
    timers.wrap(sandbox.Sandbox, "__enter__", FORK)
    timers.wrap(sandbox.Sandbox, "admitted", _admitted_stage)
    timers.wrap(sandbox.Sandbox, "request", _request_stage)
    split_run_request(timers, sandbox.Sandbox)
    timers.wrap(sandbox.Sandbox, "__exit__", TEARDOWN)
    timers.wrap(pipeline.GradingPlan, "prepare", REFERENCE)
    timers.wrap(pipeline, "_decode_values", DECODE)
    timers.wrap(pipeline, "check_output", COMPARE)
    timers.wrap(mistakes, "name_mistakes", DIAGNOSE)
    for name in ("_diagnose", "_grade_case", "_grade_cases"):
        timers.wrap(pipeline, name, DIAGNOSE)
    timers.wrap(records, "write_results", RESULTS_BUILD)
    timers.wrap(records, "write_atomic", RESULTS_WRITE)
    timers.wrap(feedback, "heat_maps", HEAT_MAPS)
    timers.wrap(pages, "write_atomic", FEEDBACK_WRITE)
    timers.wrap(runner, "write_feedback", FEEDBACK_BUILD, closes=True)
    for owner, name in ((runner, "_grade"), (runner, "grade_submission"),
                        (pipeline, "grade_submission"), (pipeline, "_grade")):
        timers.wrap(owner, name, GLUE)


def wrap_batch_stages(timers: Timers) -> None:
    """The batch's fixed costs, in the main thread."""
    from grader import pipeline
    from grader.batch import progress, runner
    from grader.reports import records

    timers.wrap(progress, "worker_context", "worker start: spawn the worker (preload async)")
    timers.wrap(pipeline.GradingPlan, "warm_up",
                "warm_up: import torch here (grade: no public references)")
    timers.wrap(runner, "plan_batch", "resume plan (hash every notebook)")
    timers.wrap(runner, "batch_results", "read back every results.json")
    timers.wrap(records, "write_summary", "summary.csv")
    timers.wrap(progress, "write_class_report", "class report (html + csv, SVG charts)")
    timers.wrap(progress, "print_batch_summary", "print the summary (rich)")


# --- child modes -------------------------------------------------------------------------------

def timed_import(fixed: dict[str, float], label: str, modules: list[str]) -> None:
    had_torch = "torch" in sys.modules
    started = time.perf_counter()
    for module in modules:
        __import__(module)
    if not had_torch and "torch" in sys.modules:
        label += " [imports torch]"
    fixed[label] += time.perf_counter() - started


def child_batch(submissions: Path, out: Path, jobs: int, exercise: str) -> dict:
    """Grade a folder as `rnn-grader grade --quiet -j J` does, with every seam timed: one
    exercise's submissions on its plan, or ("all") the four mixed, each on its own plan."""
    timers = Timers()
    timed_import(timers.fixed, "import grader (cli, batch progress: click, rich, numpy)",
                 ["grader.cli", "grader.batch.progress", "grader.isolation.layers"])
    timed_import(timers.fixed, "import the exercise, cases, pipeline",
                 ["grader.checking.cases", "grader.exercises", "grader.pipeline",
                  "grader.batch.discover"])
    from grader import exercises
    from grader.batch import progress
    from grader.batch.discover import discover
    from grader.checking.cases import hidden_cases
    from grader.config import Config
    from grader.isolation import layers
    from grader.pipeline import GradingPlan, Plans

    layers.make_undumpable()  # as the CLI does once it holds the secret
    wrap_submission_stages(timers)
    wrap_batch_stages(timers)
    wanted = list(exercises.BUILT_IN) if exercise == "all" else [exercise]
    started = time.perf_counter()
    found = discover([submissions], wanted, exclude=[out])  # each one's exercise by file name
    timers.fixed["discover the submissions"] += time.perf_counter() - started
    config = Config()
    protected = (str(submissions.resolve()), str(out.resolve()))
    plans = {name: GradingPlan(exercises.get(name),
                               hidden_cases(exercises.get(name), SECRET,
                                            config.scoring.hidden_cases),
                               config, protected_paths=protected) for name in wanted}
    plan = Plans(plans) if len(plans) > 1 else plans[exercise]
    started = time.perf_counter()
    progress.run(found, plan, out, jobs, force=True, quiet=True)
    wall = time.perf_counter() - started
    return {"jobs": jobs, "n": len(found), "wall": wall, "fixed": dict(timers.fixed),
            "records": [{**r, "wall": dict(r["wall"]), "cpu": dict(r["cpu"])}
                        for r in timers.records],
            "execution_time": _execution_times(out), "statuses": _statuses(out)}


def _execution_times(out: Path) -> list[float]:
    return [json.loads(p.read_text())["execution_time"] for p in out.glob("*/results.json")]


def _statuses(out: Path) -> dict[str, int]:
    return dict(Counter(json.loads(p.read_text())["extra_data"]["status"]
                        for p in out.glob("*/results.json")))


def child_worker() -> dict:
    """The warm worker alone: its start (torch, IPython, the warm-up), then an empty
    submission: a student process forked, confined, measured from outside and ended."""
    from grader.config import Config
    from grader.isolation.sandbox import Sandbox, worker_context

    def empty_submission() -> None:
        with Sandbox(context, Config().limits) as sandbox:
            sandbox.admitted()

    started = time.perf_counter()
    context = worker_context("warm")
    spawned = time.perf_counter()
    empty_submission()
    first = time.perf_counter()
    empty_submission()
    return {"spawn": spawned - started, "first_child_total": first - spawned,
            "second_child_total": time.perf_counter() - first}


class CheckExited(BaseException):
    """`check` ending through `cli._exit_now` (os._exit, no interpreter shutdown): caught so
    the figures can be written first; child_main then exits the same way."""

    def __init__(self, code: int) -> None:
        super().__init__(code)
        self.code = code


def _raise_exited(code: int) -> None:
    raise CheckExited(code)


def child_check(notebook: Path) -> dict:
    """`rnn-grader check NOTEBOOK` in this process, every seam timed."""
    entered = time.time()
    timers = Timers()
    timers.local.record = {"name": "check", "started": time.perf_counter(),
                           "wall": defaultdict(float), "cpu": defaultdict(float)}
    record = timers.local.record
    timed_import(record["wall"], "import grader.cli (click, rich)", ["grader.cli"])
    timed_import(record["wall"], "import pipeline, sandbox, terminal, exercise",
                 ["grader.pipeline", "grader.isolation.sandbox", "grader.reports.terminal",
                  "grader.checking.cases", "grader.exercises"])
    from grader import cli
    from grader.isolation import sandbox
    from grader.reports import terminal

    wrap_submission_stages(timers)
    timers.wrap(sandbox, "worker_context", "fork context: import torch + IPython, shell")
    timers.wrap(cli, "_checkable", "check the path (loads the notebook)")
    timers.wrap(terminal, "print_check", "printing (rich)")
    exit_now, cli._exit_now = cli._exit_now, _raise_exited
    code = 0
    try:
        cli.main(["check", str(notebook)], standalone_mode=False)
    except SystemExit as exit_:
        code = exit_.code or 0
    except CheckExited as exited:
        code = exited.code
    cli._exit_now = exit_now
    record["total"] = time.perf_counter() - record["started"]
    return {"entered": entered, "left": time.time(), "code": code,
            "wall": dict(record["wall"]), "total": record["total"]}


def child_torch() -> dict:
    """The baseline `python -c "import torch"`, timed the same way as `check`."""
    entered = time.time()
    started = time.perf_counter()
    import torch  # noqa: F401

    imported = time.perf_counter() - started
    return {"entered": entered, "left": time.time(), "import": imported}


def run_child(mode: str, args: list[str]) -> dict:
    """This script in a fresh interpreter; returns what the child mode measured."""
    with tempfile.NamedTemporaryFile(suffix=".json") as handle:
        launched = time.time()
        done = subprocess.run([sys.executable, __file__, "--child", mode, "--json", handle.name,
                               *args], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                              text=True)
        if done.returncode not in (0, 1):  # 1: a failed check is still measured
            raise SystemExit(f"--child {mode} failed:\n{done.stderr}")
        ended = time.time()
        data = json.loads(Path(handle.name).read_text())
    return {**data, "launched": launched, "ended": ended}


# --- import time -------------------------------------------------------------------------------

ENTRY_POINTS = ("torch", "IPython", "numpy", "nbformat", "jsonschema", "rich", "click",
                "pyseccomp")
IMPORT_LINE = re.compile(r"import time:\s+(\d+) \|\s+(\d+) \|( *)(\S+)")


def import_times(notebook: Path) -> dict:
    """`python -X importtime -m grader check NOTEBOOK`: seconds per top-level package (the
    sum of its modules' own times), who first imported it, and torch's cumulative time."""
    done = subprocess.run([sys.executable, "-X", "importtime", "-m", "grader", "check",
                           str(notebook)], capture_output=True, text=True)
    lines = [(int(m[1]) / 1e6, int(m[2]) / 1e6, len(m[3]), m[4])
             for m in IMPORT_LINE.finditer(done.stderr)]
    parents = _parents(lines)
    packages: Counter[str] = Counter()
    importers: dict[str, str] = {}
    entries: dict[str, float] = {}
    for (own, cumulative, _, name), parent in zip(lines, parents, strict=True):
        root = name.split(".")[0]
        packages[root] += own
        entries.setdefault(name, cumulative)
        if root not in importers and parent.split(".")[0] != root:
            importers[root] = parent  # the package's first way in, from outside it
    return {"packages": dict(packages), "importers": importers,
            "entries": {name: entries.get(name, 0.0) for name in ENTRY_POINTS},
            "torch_cumulative": entries.get("torch", 0.0), "total": sum(packages.values())}


def _parents(lines: list[tuple]) -> list[str]:
    """Who imported each line's module: -X importtime prints a module after the modules it
    imports, indented one level more; read backwards, the output is a tree in pre-order."""
    parents, stack = [], []
    for _, _, depth, name in reversed(lines):
        while stack and stack[-1][0] >= depth:
            stack.pop()
        parents.append(stack[-1][1] if stack else "(top level)")
        stack.append((depth, name))
    return parents[::-1]


# --- printing ----------------------------------------------------------------------------------

def table(headers: list[str], rows: list[list]) -> str:
    widths = [max(len(str(x)) for x in column) for column in zip(headers, *rows, strict=True)]

    def line(cells: list) -> str:
        first, *rest = cells
        return "  ".join([str(first).ljust(widths[0]),
                          *(str(c).rjust(w) for c, w in zip(rest, widths[1:], strict=True))])

    return "\n".join([line(headers), line(["-" * w for w in widths]), *map(line, rows)])


def load_line(when: str) -> str:
    return f"load average {when}: {' '.join(f'{x:.2f}' for x in os.getloadavg())}"


def stage_rows(records: list[dict]) -> tuple[list[list], float]:
    """Per stage: median ms where it ran, mean ms per submission, share, grading CPU, and the
    first submission's excess over the median."""
    for record in records:
        record["wall"][OTHER] = record["total"] - sum(record["wall"].values())
    total = statistics.fmean(r["total"] for r in records)
    rows = []
    for stage in STAGES:
        walls = [r["wall"][stage] for r in records if r["wall"].get(stage, 0) > 0]
        if not walls:
            continue
        mean = sum(walls) / len(records)
        cpu = sum(r["cpu"].get(stage, 0.0) for r in records) / len(records)
        first = walls[0] - statistics.median(walls)  # the first submission where it ran
        rows.append([stage, f"{len(walls)}/{len(records)}", f"{1e3 * statistics.median(walls):.1f}",
                     f"{1e3 * mean:.1f}", f"{100 * mean / total:.1f} %", f"{1e3 * cpu:.1f}",
                     f"{1e3 * first:+.0f}"])
    return rows, total


def print_per_submission(data: dict) -> None:
    records = data["records"]
    rows, total = stage_rows(records)
    print(f"\n## One submission, by stage (-j {data['jobs']}, {len(records)} submissions; "
          f"statuses {data['statuses']})\n")
    print(table(["stage", "ran", "median ms", "mean ms/sub", "share", "grading CPU ms",
                 "1st Δ ms"], rows))
    walls = sorted(r["total"] for r in records)
    print(f"\nwall per submission: mean {1e3 * total:.1f} ms, median "
          f"{1e3 * statistics.median(walls):.1f} ms; median execution_time (results.json) "
          f"{1e3 * statistics.median(data['execution_time']):.1f} ms. 'median ms' is over the "
          "submissions where the stage ran; 'share' is of the mean wall; 'grading CPU' is the "
          "grading thread's own CPU (the rest of the stage is waiting for the child or the "
          "disk); '1st Δ' is the excess over the median of the first submission where it ran.")


def first_call_excess(records: list[dict], at_least: float = 0.02) -> dict[str, float]:
    """Per stage, how much longer it took the first time it ran than its median: a cost paid
    once per batch (a lazy import, the worker still preloading) by whoever comes first."""
    excess = {}
    for stage in STAGES:
        walls = [r["wall"][stage] for r in records if r["wall"].get(stage, 0) > 0]
        if walls and walls[0] - statistics.median(walls) >= at_least:
            excess[stage] = walls[0] - statistics.median(walls)
    return excess


def print_batch(data: dict, per_sub: dict, worker: dict) -> None:
    fixed = dict(data["fixed"])
    for stage, excess in first_call_excess(per_sub["records"]).items():
        fixed[f"1st {stage} (-j 1 run: excess over median)"] = excess
    graded = sum(r["total"] for r in data["records"])
    accounted = sum(fixed.values())
    rows = [[label, f"{seconds:.2f}", f"{100 * seconds / data['wall']:.1f} %"]
            for label, seconds in sorted(fixed.items(), key=lambda item: -item[1])]
    print(f"\n## The batch's fixed costs (-j {data['jobs']}, {data['n']} submissions, "
          f"statuses {data['statuses']})\n")
    print(table(["fixed cost", "s", "share of batch wall"], rows))
    print(f"\nbatch wall (progress.run, after imports) {data['wall']:.2f} s = "
          f"{data['wall'] / data['n'] * 1e3:.0f} ms per submission; fixed costs listed "
          f"{accounted:.2f} s; submissions' own wall summed over threads {graded:.2f} s "
          f"(÷ {data['jobs']} jobs = {graded / data['jobs']:.2f} s); median execution_time "
          f"{1e3 * statistics.median(data['execution_time']):.0f} ms.")
    print(f"warm worker alone (fresh process): spawn {worker['spawn']:.2f} s; preload + first "
          f"no-op child {worker['first_child_total']:.2f} s; a second no-op child "
          f"{1e3 * worker['second_child_total']:.0f} ms.")


def print_torch_baseline(torches: list[dict], check_total: float) -> None:
    def median(key) -> float:
        return statistics.median(map(key, torches))

    start = median(lambda run: run["entered"] - run["launched"])
    exit_ = median(lambda run: run["ended"] - run["left"])
    total = median(lambda run: run["ended"] - run["launched"])
    imported = median(lambda run: run["import"])
    print(f'baseline `python -c "import torch"` (same timers, medians): start '
          f'{1e3 * start:.0f} ms, import torch {1e3 * imported:.0f} ms, exit '
          f'{1e3 * exit_:.0f} ms, wall {total:.2f} s; check ÷ import torch = '
          f'{check_total / total:.2f}×')


def print_check(runs: list[dict], torches: list[dict], imports: dict, notebook: Path) -> None:
    stages: dict[str, list[float]] = defaultdict(list)
    for run in runs:
        stages["interpreter start (to the script's 1st line)"].append(
            run["entered"] - run["launched"])
        for label, seconds in run["wall"].items():
            stages[label].append(seconds)
        stages[OTHER].append(run["total"] - sum(run["wall"].values()))
        stages["exit (report printed to process end; check skips the shutdown)"].append(
            run["ended"] - run["left"])
    totals = [run["ended"] - run["launched"] for run in runs]
    total = statistics.median(totals)
    rows = [[label, f"{1e3 * statistics.median(values):.0f}",
             f"{100 * statistics.median(values) / total:.1f} %"]
            for label, values in stages.items() if statistics.median(values) >= 0.0005]
    print(f"\n## check of {notebook.name}, medians of {len(runs)} runs\n")
    print(table(["stage", "median ms", "share"], rows))
    print(f"\nwall, launch to exit: median {total:.2f} s")
    print_torch_baseline(torches, total)
    packages = sorted(imports["packages"].items(), key=lambda item: -item[1])
    print(f"\n### Imports of check (-X importtime): {imports['total']:.2f} s in all\n")
    print(table(["package", "s", "share of imports", "first imported by"],
                [[name, f"{s:.3f}", f"{100 * s / imports['total']:.1f} %",
                  imports["importers"].get(name, "")] for name, s in packages[:10]]))
    torch_own = imports["packages"].get("torch", 0.0)
    print(f"\ntorch: {torch_own:.2f} s own modules, {imports['torch_cumulative']:.2f} s "
          f"cumulative (with what it imports first); everything else "
          f"{imports['total'] - imports['torch_cumulative']:.2f} s "
          f"({100 * (1 - imports['torch_cumulative'] / imports['total']):.0f} % of import "
          f"time). -X importtime inflates every figure a little.")
    entries = ", ".join(f"{name} {1e3 * s:.0f} ms" for name, s in imports["entries"].items())
    print(f"cumulative where first imported (with what it pulled in then): {entries}")


# --- main --------------------------------------------------------------------------------------

def child_main(args: argparse.Namespace) -> None:
    if args.child == "batch":
        data = child_batch(Path(args.submissions), Path(args.out), args.jobs, args.exercise)
    elif args.child == "worker":
        data = child_worker()
    elif args.child == "torch":
        data = child_torch()
    else:
        data = child_check(Path(args.notebook))
    Path(args.json).write_text(json.dumps(data))
    if args.child == "check":
        from grader import cli

        cli._exit_now(data["code"])  # as check ends: os._exit, without the interpreter's shutdown


def measure(args: argparse.Namespace, scratch: Path) -> None:
    from make_submissions import exercises_of, make_submissions, solution_path

    started = time.time()
    subs = scratch / "submissions"
    make_submissions(max(args.n, args.batch_n), subs, args.seed, exercise=args.exercise)
    one = scratch / "one"
    make_submissions(args.n, one, args.seed, exercise=args.exercise)
    print(load_line("before") + f"; exercise {args.exercise}")
    per_sub = run_child("batch", ["--submissions", str(one), "--out", str(scratch / "out1"),
                                  "--jobs", "1", "--exercise", args.exercise])
    print_per_submission(per_sub)
    batch = run_child("batch", ["--submissions", str(subs), "--out", str(scratch / "outj"),
                                "--jobs", str(args.jobs), "--exercise", args.exercise])
    worker = run_child("worker", [])
    print_batch(batch, per_sub, worker)
    for exercise in exercises_of(args.exercise):
        solution = solution_path(exercise)
        checks, torches = [], []
        for _ in range(args.check_reps):  # alternating, as bench_check.py does
            checks.append(run_child("check", ["--notebook", str(solution)]))
            torches.append(run_child("torch", []))
        print_check(checks, torches, import_times(solution), solution)
    print(f"\n{load_line('after')}; the benchmark took {time.time() - started:.0f} s")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=20, help="submissions for the -j 1 breakdown")
    parser.add_argument("--batch-n", type=int, default=40, help="submissions for the batch")
    parser.add_argument("--jobs", type=int, default=2, help="parallel children in the batch")
    parser.add_argument("--check-reps", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--child", choices=["batch", "worker", "check", "torch"],
                        help=argparse.SUPPRESS)
    for hidden in ("--json", "--submissions", "--out", "--notebook"):
        parser.add_argument(hidden, help=argparse.SUPPRESS)
    if "--child" in (sys.argv[1:] if argv is None else argv):
        parser.add_argument("--exercise", default="bidirectional_rnn", help=argparse.SUPPRESS)
    else:  # the child's interpreter start stays free of the benchmark's own modules
        sys.path.insert(0, str(HERE))
        from make_submissions import add_exercise_option

        add_exercise_option(parser, "the exercise profiled, or all to mix the four evenly")
    args = parser.parse_args(argv)
    if args.child:
        child_main(args)
        return
    with tempfile.TemporaryDirectory(prefix="bench-profile-") as scratch:
        measure(args, Path(scratch))


if __name__ == "__main__":
    main()
