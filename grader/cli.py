"""The command line: `rnn-grader check`, `grade`, `assign`, `gradescope` and `exercises`.

Every command works for every installed exercise (grader/exercises): `check` and `grade` find
each notebook's exercise by the rule in grader/exercises/detect.py, or take `--exercise NAME`.

Bad input of every kind (a missing or unreadable path, nothing to grade, --out naming a file, a
missing secret, a broken config) ends in one line that says what to do and exit status 2, never
a traceback. Every configuration key has a flag (FLAGS). Ctrl+C exits with status 130.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, cast

import click
from rich.console import Console

from grader.config import Config, ConfigError, load_config

if TYPE_CHECKING:
    from grader.batch.discover import Submission

SECRET_ENV = "RNN_GRADER_SECRET"


# Every configuration key has a flag: (section, key) -> flag. Flags override grader.toml.
FLAGS: dict[tuple[str, str], str] = {
    ("limits", "notebook_seconds"): "--notebook-timeout",
    ("limits", "call_seconds"): "--call-timeout",
    ("limits", "memory_mb"): "--memory-mb",
    ("limits", "output_bytes"): "--output-limit",
    ("limits", "kept_output_chars"): "--kept-output-chars",
    ("limits", "max_elements"): "--max-elements",
    ("limits", "disk_mb"): "--disk-mb",
    ("tolerance", "factor"): "--tolerance-factor",
    ("tolerance", "floor"): "--tolerance-floor",
    ("scoring", "points_per_case"): "--points-per-case",
    ("scoring", "hidden_cases"): "--hidden-cases",
}


class UsageProblem(click.ClickException):
    """Bad usage: one line that says what to do, exit status 2."""

    exit_code = 2


class _Group(click.Group):
    """Ctrl+C outside a batch (which handles it itself) ends with exit 130, not `Aborted!`."""

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except KeyboardInterrupt:
            click.echo("interrupted.", err=True)
            ctx.exit(130)


class _OutOption(click.Option):
    """--out of `grade`: required, except with --nbgrader; --help says so."""

    def get_help_extra(self, ctx: click.Context) -> dict:  # type: ignore[override]
        extra = dict(super().get_help_extra(ctx))
        extra["required"] = "required unless --nbgrader"
        return extra


def _config_options(command):
    """A flag for every configuration key, then --config."""
    from dataclasses import fields

    options = []
    for section in fields(Config):
        for key in fields(section.default_factory):
            flag = FLAGS[(section.name, key.name)]
            options.append(click.option(
                flag, f"{section.name}__{key.name}", type=type(key.default), default=None,
                help=f"{key.metadata['description'].capitalize()} "
                     f"([{section.name}] {key.name}, default {key.default!r})."))
    options.append(click.option(
        "--config", "config_path", type=click.Path(path_type=Path),
        help="grader.toml (or pyproject.toml with [tool.rnn-grader]); default ./grader.toml."))
    for option in reversed(options):
        command = option(command)
    return command


def _config(config_path: Path | None, **flags) -> Config:
    if config_path is None and Path("grader.toml").is_file():
        config_path = Path("grader.toml")
    try:
        config = load_config(config_path)
        for section in ("limits", "tolerance", "scoring"):
            prefix = f"{section}__"
            config = config.override(section, **{name[len(prefix):]: value
                                                 for name, value in flags.items()
                                                 if name.startswith(prefix)})
        return config
    except ConfigError as error:
        raise UsageProblem(str(error)) from None


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="rnn-grader")
def main() -> None:
    """Grade recurrent networks written by hand in Jupyter notebooks."""


def _exercise_option(command):
    return click.option(
        "--exercise", "exercise_name", metavar="NAME", default=None,
        help="The exercise to grade against (`rnn-grader exercises` lists them); default: "
             "found from each notebook (the manual_* function it defines, its nbgrader grade "
             "ids, its file name).")(command)


def _exercise(name: str):
    """The installed exercise called `name`, or a usage error naming the installed ones."""
    from grader import exercises

    try:
        return exercises.get(name)
    except exercises.ExerciseError as error:
        raise UsageProblem(str(error)) from None


def _undetected(notebook: Path) -> str:
    from grader import exercises

    functions = ", ".join(f"{one.function}()" for one in exercises.installed().values())
    return (f"cannot tell which exercise {notebook} is for: it defines none of {functions} "
            "(or several), and neither its nbgrader cells nor its file name name one; pass "
            f"--exercise NAME (installed: {', '.join(exercises.names())}).")


@main.command("exercises")
def list_exercises() -> None:
    """List the installed exercises: name, function, notebook, module."""
    from grader import exercises

    rows = [("exercise", "function", "notebook", "module", "what")]
    for name in exercises.names():
        try:
            one = exercises.get(name)
        except exercises.ExerciseError as error:
            rows.append((name, "-", "-", exercises.target(name), f"cannot load: {error}"))
            continue
        rows.append((name, f"{one.function}()", one.notebook, exercises.target(name),
                     one.summary))
    widths = [max(len(row[column]) for row in rows) for column in range(4)]
    for row in rows:
        click.echo("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=False))
                   + ("  " + row[4] if row[4] else "").rstrip())


@main.command()
@click.argument("notebook", type=click.Path(path_type=Path))
@_exercise_option
@_config_options
def check(notebook: Path, exercise_name: str | None, config_path: Path | None, **flags) -> None:
    """Self-check NOTEBOOK on the public cases (exit 0 when all pass)."""
    from grader import exercises
    from grader.checking.cases import public_cases
    from grader.exercises.detect import detect
    from grader.isolation.sandbox import worker_context
    from grader.pipeline import GradingPlan, grade_submission
    from grader.reports.terminal import print_check

    config = _config(config_path, **flags)
    exercise = _exercise(exercise_name) if exercise_name else None
    _checkable(notebook)
    if exercise is None:
        found = detect(notebook, exercises.installed())
        if found is None:
            raise UsageProblem(_undetected(notebook))
        exercise = _exercise(found)
    # The student's own code on public cases: the sandbox is put up as far as the machine
    # allows, and a missing layer does not stop a self-check.
    plan = GradingPlan(exercise, public_cases(exercise), config, allow_weak=True)
    # Public cases only and no secret here: fork this process, torch already imported.
    result = grade_submission(notebook, notebook.stem, plan, worker_context("fork"))
    print_check(result, Console(highlight=False))
    _exit_now(0 if result.score >= result.max_score else 1)


def _exit_now(code: int) -> None:
    """Exit without the interpreter's own shutdown: finalising torch's and IPython's hundreds
    of thousands of objects costs most of a second, and nothing is left to write (the results
    are on disk, the report printed; the worker ends once its control socket closes)."""
    for stream in (sys.stdout, sys.stderr):
        stream.flush()
    os._exit(code)


def _checkable(notebook: Path) -> None:
    """A usage error unless `notebook` is a notebook file that can be read."""
    from grader.batch.discover import SUFFIX, DiscoveryError, readable
    from grader.notebooks.load import NotebookError, load_notebook

    if notebook.is_dir():
        inside = sorted(path.name for path in notebook.glob(f"*{SUFFIX}"))
        hint = f" (there: {', '.join(inside)})" if inside else ""
        raise UsageProblem(f"{notebook} is a folder; give the notebook file in it{hint}.")
    if not notebook.exists():
        raise UsageProblem(f"{notebook} does not exist; give the path of your {SUFFIX} file.")
    if notebook.suffix != SUFFIX:
        raise UsageProblem(f"{notebook} is not a notebook; give the {SUFFIX} file you work in.")
    if not notebook.is_file():
        raise UsageProblem(f"cannot read {notebook}: it is not a regular file; give the "
                           f"{SUFFIX} file you work in.")
    try:
        readable(notebook)
        load_notebook(notebook)
    except (DiscoveryError, NotebookError) as error:
        raise UsageProblem(str(error)) from None


def _require_nbgrader() -> None:
    try:
        import nbgrader  # noqa: F401
    except ImportError:
        raise UsageProblem("this needs nbgrader: pip install 'rnn-grader[nbgrader]' "
                           "(or pip install nbgrader)") from None


def _read_secret(secret_file: Path | None) -> bytes:
    """The secret from --secret-file or the environment, removed from the environment (and
    from the copy /proc shows) at once, so that no child process inherits it and no process
    of the same user can read it from ours."""
    from grader.isolation.layers import make_undumpable, scrub_initial_environment

    from_env = os.environ.pop(SECRET_ENV, None)
    scrub_initial_environment(SECRET_ENV)
    make_undumpable()
    if secret_file is not None:
        try:
            return secret_file.read_bytes().strip()
        except OSError as error:
            raise UsageProblem(f"cannot read --secret-file {secret_file}: "
                               f"{error.strerror}") from None
    if from_env:
        return from_env.encode()
    raise UsageProblem(f"grading hidden cases needs the instructor's secret: set "
                       f"{SECRET_ENV} or pass --secret-file FILE.")


@main.command()
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@click.option("--out", type=click.Path(path_type=Path), cls=_OutOption,
              help="Folder for results.json per submission and summary.csv.")
@click.option("--nbgrader", "course", nargs=2, type=(click.Path(path_type=Path), str),
              default=None, metavar="COURSE_DIR ASSIGNMENT",
              help="Grade submitted/ of an nbgrader course; scores go to its gradebook.")
@click.option("--secret-file", type=click.Path(path_type=Path),
              help=f"File holding the hidden cases' secret (or set {SECRET_ENV}).")
@click.option("-j", "--jobs", type=click.IntRange(min=1), default=None,
              help="Submissions graded at once (default: number of cores + 1).")
@click.option("--force", is_flag=True,
              help="Regrade submissions whose results would be reused (same notebook, same "
              "grading settings).")
@click.option("--quiet", is_flag=True, help="No progress display.")
@click.option("--allow-weak-isolation", is_flag=True,
              help="Grade even where this machine lacks a required layer of the sandbox "
              "(Landlock, seccomp); every result records what was missing.")
@click.option("--workers", type=click.Choice(["warm", "cold"]), default="warm", show_default=True,
              help="warm: fork each submission from one preloaded worker; cold: a fresh "
              "interpreter per submission (slower, for comparison).")
@_exercise_option
@_config_options
def grade(paths: tuple[Path, ...], out: Path | None, course: tuple[Path, str] | None,
          secret_file: Path | None, jobs: int | None, force: bool, quiet: bool,
          allow_weak_isolation: bool, workers: str, exercise_name: str | None,
          config_path: Path | None, **flags) -> None:
    """Grade notebooks (or folders of them) on the hidden cases, into --out; or an nbgrader
    course's submissions with --nbgrader COURSE_DIR ASSIGNMENT."""
    if course is None and (not paths or out is None):
        raise UsageProblem("give notebooks or folders and --out DIR, or "
                           "--nbgrader COURSE_DIR ASSIGNMENT.")
    if course is not None and (paths or out is not None):
        raise UsageProblem("--nbgrader grades the course's submitted/ folder: give no "
                           "PATHs and no --out with it.")
    secret = _read_secret(secret_file)
    context = None
    if course is None:
        from grader.isolation.sandbox import worker_context

        # Started first, the secret out of the environment: the worker imports torch while
        # this process imports the rest, finds, hashes and reads the notebooks and prepares
        # the references.
        context = worker_context(workers)
    from grader import exercises
    from grader.batch import resume
    from grader.checking.cases import SecretError, hidden_cases
    from grader.pipeline import GradingPlan, Plans

    forced = _exercise(exercise_name) if exercise_name else None
    config = _config(config_path, **flags)
    _require_walls(allow_weak_isolation)
    if course is None:
        submissions = _with_exercises(_discover(paths, out, exercises.names()), forced)
        wanted = list(dict.fromkeys(submission.exercise for submission in submissions))
    else:
        submissions, wanted = [], [(forced or _course_exercise(*course)).name]
    try:
        cases = {name: hidden_cases(_exercise(name), secret, config.scoring.hidden_cases)
                 for name in wanted}
    except SecretError as error:
        raise UsageProblem(str(error)) from None
    secret_id = resume.secret_id(secret)
    del secret
    # One more than the cores: while a child waits on this process (reading the code, the
    # references, the diagnosis), another child's cells keep the cores busy.
    jobs = jobs or len(os.sched_getaffinity(0)) + 1  # the cores this process may use
    if course is not None:
        _grade_course(course, _exercise(wanted[0]), cases[wanted[0]], config, secret_id, jobs,
                      force, secret_file, allow_weak_isolation)
        return
    from grader.batch import progress

    out = cast(Path, out)  # given whenever --nbgrader is not
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise UsageProblem(f"cannot create --out {out}: {error.strerror}; give a folder you "
                           "can write to.") from None
    protected = tuple(str(p.resolve()) for p in (*paths, out, secret_file) if p is not None)
    plans = Plans({name: GradingPlan(_exercise(name), cases[name], config,
                                     protected_paths=protected, secret_id=secret_id,
                                     allow_weak=allow_weak_isolation) for name in wanted})
    progress.run(submissions, plans, out, jobs, force, quiet, context)
    _exit_now(0)  # every result is written and fsynced, the summary printed


def _with_exercises(submissions: list[Submission], forced) -> list[Submission]:
    """Each submission with its exercise: --exercise; else found from its notebook
    (grader/exercises/detect.py); else the exercise most of the batch's others are for (the
    first installed one on a tie, or when none is found at all)."""
    from collections import Counter
    from dataclasses import replace

    from grader import exercises
    from grader.exercises.detect import detect

    if forced is not None:
        return [replace(submission, exercise=forced.name) for submission in submissions]
    installed = exercises.installed()
    found = [detect(submission.path, installed) if submission.path.is_file()
             else submission.exercise or None for submission in submissions]
    counts = Counter(name for name in found if name)
    order = list(installed)
    fallback = max(counts, key=lambda name: (counts[name], -order.index(name))) if counts \
        else order[0]
    return [replace(submission, exercise=name or fallback)
            for submission, name in zip(submissions, found, strict=True)]


def _course_exercise(course_dir: Path, assignment: str):
    """An nbgrader assignment's exercise: the one whose notebook its source (or release)
    folder holds, else the one named like the assignment; else a usage error."""
    from grader import exercises

    names = exercises.names()
    for step in ("source", "release"):
        folder = course_dir / step / assignment
        found = [name for name in names if (folder / f"{name}.ipynb").is_file()]
        if len(found) == 1:
            return _exercise(found[0])
    if assignment in names:
        return _exercise(assignment)
    raise UsageProblem(f"cannot tell which exercise nbgrader assignment {assignment!r} is: "
                       f"{course_dir}/source/{assignment}/ holds no single exercise notebook "
                       f"({', '.join(name + '.ipynb' for name in names)}); pass --exercise NAME.")


def _discover(paths: tuple[Path, ...], out: Path | None,
              assignment: str | list[str]) -> list[Submission]:
    """The batch's submissions, or a usage error (nothing to grade, unreadable, --out a file)."""
    from grader.batch.discover import DiscoveryError, discover

    if out is not None and out.exists() and not out.is_dir():
        raise UsageProblem(f"--out {out} is a file; give a folder for the results (created if "
                           "missing).")
    try:
        return discover(list(paths), assignment, exclude=[out] if out is not None else [])
    except DiscoveryError as error:
        raise UsageProblem(str(error)) from None


def _require_walls(allow_weak: bool) -> None:
    """Refuse, in one message, to grade where a required layer of the sandbox is missing."""
    from grader.isolation import layers

    absent = [layer for layer, present in layers.machine_layers().items() if not present]
    if absent and not allow_weak:
        raise UsageProblem(layers.refusal(absent))
    if absent:
        click.echo(f"warning: grading without {', '.join(absent)}; every result records it.",
                   err=True)


def _grade_course(course: tuple[Path, str], exercise, cases, config: Config, secret_id: str,
                  jobs: int, force: bool, secret_file: Path | None, allow_weak: bool) -> None:
    _require_nbgrader()
    from grader.batch.runner import BatchInterrupted
    from grader.courses.nbgrader_course import CourseError, grade_course
    from grader.isolation.sandbox import worker_context
    from grader.pipeline import GradingPlan

    course_dir, assignment = course
    protected = tuple(str(p.resolve()) for p in (course_dir, secret_file) if p is not None)
    plan = GradingPlan(exercise, cases, config, protected_paths=protected, secret_id=secret_id,
                       allow_weak=allow_weak)
    try:
        done = grade_course(course_dir, assignment, plan, worker_context("warm"), jobs,
                            lambda r: click.echo(f"{r.name}: {r.score:g}/{r.max_score:g} "
                                                 f"({r.status})", err=True),
                            notebook=exercise.name, force=force,
                            on_plan=lambda text: click.echo(text, err=True))
    except CourseError as error:
        raise UsageProblem(str(error)) from None
    except BatchInterrupted:
        click.echo("interrupted: the students graded so far are in the gradebook; run the same "
                   "command again to grade the others.", err=True)
        raise SystemExit(130) from None
    click.echo(f"graded {len(done)} submission(s) into the gradebook; next: "
               f"`nbgrader export` or `nbgrader release_feedback {assignment}`")


@main.command()
@click.argument("solution", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--out", type=click.Path(path_type=Path), required=True,
              help="Where to write the student notebook.")
@_exercise_option
def assign(solution: Path, out: Path, exercise_name: str | None) -> None:
    """Make the student notebook from the instructor's SOLUTION notebook."""
    _require_nbgrader()
    from grader.notebooks.assignment import AssignmentError, write_assignment

    if exercise_name:
        _exercise(exercise_name)
    try:
        write_assignment(solution, out, exercise_name)
    except AssignmentError as error:
        raise UsageProblem(str(error)) from None
    click.echo(f"wrote {out}")


@main.command()
@click.argument("assignment", default="bidirectional_rnn", metavar="EXERCISE")
@click.option("--out", type=click.Path(path_type=Path), required=True,
              help="Where to write the archive (autograder.zip).")
@click.option("--secret-file", type=click.Path(path_type=Path),
              help=f"File holding the hidden cases' secret (or set {SECRET_ENV}).")
@click.option("--config", "config_path", type=click.Path(exists=True, path_type=Path),
              help="grader.toml to bake into the archive.")
@click.option("--exercise-package", "package", type=click.Path(path_type=Path), metavar="PATH",
              help="For a course's own exercise: the folder of its package (with its "
                   "pyproject.toml), carried in the archive and installed by setup.sh. "
                   "Default: the folder the package was pip-installed from.")
def gradescope(assignment: str, out: Path, secret_file: Path | None,
               config_path: Path | None, package: Path | None) -> None:
    """Build Gradescope's autograder archive for EXERCISE (`rnn-grader exercises`)."""
    import grader
    from grader.courses.gradescope import (
        ArchiveError,
        ExercisePackageError,
        build_archive,
        exercise_package,
    )
    from grader.reports.records import write_bytes_atomic

    exercise = _exercise(assignment)
    try:
        package = exercise_package(exercise.name, package)
    except ExercisePackageError as error:
        raise UsageProblem(str(error)) from None
    secret = _read_secret(secret_file)
    if config_path is not None:
        _config(config_path)  # refuse a broken configuration now, not on Gradescope
    try:
        data = build_archive(Path(grader.__file__).resolve().parent.parent, secret, config_path,
                             exercise.name, package)
    except ArchiveError as error:
        raise UsageProblem(f"{error}; build the archive from a clone of rnn-grader "
                           "installed with `pip install -e .`") from None
    write_bytes_atomic(out, data)
    click.echo(f"wrote {out}: upload it as the autograder of a Gradescope programming "
               "assignment (Ubuntu 22.04 base image).")
    if package is not None:
        click.echo(f"it carries {exercise.name}'s package from {package}; setup.sh installs it "
                   "after the grader, without its dependencies.")


@main.command("gradescope-run", hidden=True)
@click.option("--root", type=click.Path(path_type=Path), default=Path("/autograder"))
def gradescope_run(root: Path) -> None:
    """Inside Gradescope: grade root/submission into root/results/results.json."""
    from grader.courses.gradescope import run_autograder

    config_file = root / "source" / "grader.toml"
    named = root / "source" / "exercise"  # written by `rnn-grader gradescope NAME`
    exercise = _exercise(named.read_text(encoding="utf-8").strip() if named.is_file()
                         else "bidirectional_rnn")
    config = _config(config_file if config_file.is_file() else None)
    if not (root / "source" / "secret").is_file():
        raise UsageProblem(f"{root}/source/secret is missing; rebuild the archive with "
                           "`rnn-grader gradescope`.")
    run_autograder(root, exercise, config)
