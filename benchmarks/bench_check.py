"""How long a student waits for `rnn-grader check`, against the floor `python -c "import torch"`.

    python benchmarks/bench_check.py [--reps 5] [--exercise NAME|all] [--notebook PATH]

Runs, in the same session and alternating so that both see the same machine load:

    A  rnn-grader check NOTEBOOK        (the student's self-check: six public cases)
    B  python -c "import torch"         (the least any torch-based check can cost)

NOTEBOOK is the exercise's solution, solutions/<exercise>.ipynb (default bidirectional_rnn;
`--notebook` times another notebook of that exercise). One untimed run of each first warms the
file cache, then R timed repetitions of the pair. Prints each repetition, the median wall time
of each, and the ratio A / B. With `--exercise all`, the same for each exercise in turn (each
with its own warm-up and its own pairs), then one line per exercise. `check` exits 1 when a
case fails; this script refuses to time a failing check (the solutions pass all six).
Both run with the folder of sys.executable first on PATH and throwaway Jupyter/IPython folders.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_batch import describe_code  # noqa: E402
from make_submissions import ALL, add_exercise_option, exercises_of, solution_path  # noqa: E402

BIN = Path(sys.executable).parent


def timed(command: list[str], env: dict[str, str], cwd: Path) -> float:
    started = time.perf_counter()
    done = subprocess.run(command, env=env, cwd=cwd, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)} exited {done.returncode}:\n"
                         f"{(done.stdout + done.stderr)[-3000:]}")
    return seconds


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reps", "-r", type=int, default=5, help="timed repetitions (5)")
    add_exercise_option(parser, "whose solution to check, or all for each in turn")
    parser.add_argument("--notebook", type=Path, default=None,
                        help="the notebook to check (one exercise only; default "
                        "solutions/<exercise>.ipynb)")
    args = parser.parse_args(argv)
    if args.notebook is not None and args.exercise == ALL:
        parser.error("--notebook is one exercise's notebook: give --exercise NAME")

    scratch = Path(tempfile.mkdtemp(prefix="bench-rnn-grader-check-"))
    env = dict(os.environ, PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}")
    env.pop("RNN_GRADER_SECRET", None)
    for name in ("JUPYTER_CONFIG_DIR", "JUPYTER_DATA_DIR", "JUPYTER_RUNTIME_DIR", "IPYTHONDIR"):
        (scratch / name.lower()).mkdir()
        env[name] = str(scratch / name.lower())
    rnn_grader = str(BIN / "rnn-grader") if (BIN / "rnn-grader").exists() else "rnn-grader"
    torch_only = [sys.executable, "-c", "import torch"]

    load = " ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"{os.cpu_count()} cores, load average {load}; {args.reps} repetitions, alternating; "
          f"{describe_code()}")
    ratios = {}
    try:
        for exercise in exercises_of(args.exercise):
            notebook = args.notebook or solution_path(exercise)
            check = [rnn_grader, "check", str(notebook.resolve())]
            if args.exercise == ALL:
                print(f"\n## {exercise}")
            ratios[exercise] = measure(args, notebook, check, torch_only, env, scratch)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    if len(ratios) > 1:
        print()
        print(f"{'exercise':18s} {'check s':>8s} {'import torch s':>15s} {'ratio':>7s}")
        for exercise, (a, b) in ratios.items():
            print(f"{exercise:18s} {a:8.2f} {b:15.2f} {a / b:6.2f}x")
    print(f"load average after: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")


def measure(args: argparse.Namespace, notebook: Path, check: list[str], torch_only: list[str],
            env: dict[str, str], scratch: Path) -> tuple[float, float]:
    """The medians of R alternating pairs (check, import torch), after a warm-up of each."""
    timed(check, env, scratch)  # warm the file cache, untimed
    timed(torch_only, env, scratch)
    checks, imports = [], []
    for rep in range(1, args.reps + 1):
        checks.append(timed(check, env, scratch))
        imports.append(timed(torch_only, env, scratch))
        print(f"  rep {rep}: rnn-grader check {checks[-1]:6.2f} s   "
              f"import torch {imports[-1]:6.2f} s", flush=True)
    a, b = statistics.median(checks), statistics.median(imports)
    print()
    print(f"{'command':42s} {'median s':>9s} {'min s':>7s} {'max s':>7s}")
    print(f"{'rnn-grader check ' + notebook.name:42s} {a:9.2f} {min(checks):7.2f} "
          f"{max(checks):7.2f}")
    label = 'python -c "import torch"'
    print(f"{label:42s} {b:9.2f} {min(imports):7.2f} {max(imports):7.2f}")
    print(f"ratio check / import torch (medians): {a / b:.2f}x; "
          f"check costs {a - b:.2f} s beyond importing torch")
    return a, b


if __name__ == "__main__":
    main()
