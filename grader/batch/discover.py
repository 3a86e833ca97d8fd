"""Find the submissions in the paths given to `grade`, and name each one by a fixed rule.

The rule (README, "Names") looks at where each notebook is, never at what else is in the batch:

* everything under a sub-folder of a folder you give is one student's submission, named after
  that sub-folder, whatever the notebook is called (`submissions/alice/*.ipynb` -> `alice`);
* a notebook lying directly in a folder you give, or given by itself, is named after its file
  (`submissions/alice.ipynb` -> `alice`), unless it is an exercise's notebook
  (`lstm.ipynb`, or a copy such as `lstm (1).ipynb`): then it is one student's folder, named
  after the folder that holds it;
* a folder holding the notebooks of several exercises (by their file names, as the folder is
  on disk, whatever the batch) gives one submission per exercise, named
  `<folder>__<exercise>` (`solutions/lstm.ipynb` next to `solutions/gru.ipynb` ->
  `solutions__lstm`, `solutions__gru`), a student's folder as well as a folder you give.

A student's folder holding several notebooks has its exercise's notebook graded and the others
reported; when none is an exercise's, it is not graded and its result says why. Two different
submissions that would share a name are a usage error, never a silent rename.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

SUFFIX = ".ipynb"


class DiscoveryError(Exception):
    """The paths given cannot be graded as they are; the message says what to do."""


@dataclass(frozen=True)
class Submission:
    """One student's submission: the notebook graded, under a name that never changes."""

    name: str
    path: Path  # the notebook graded; with a problem, the student's folder
    others: tuple[Path, ...] = ()  # more notebooks in the student's folder, not graded
    problem: str = ""  # why nothing is graded (several notebooks, none the assignment's)
    exercise: str = ""  # the exercise its file name names, if any (a hint: see detect.py)

    def digest(self) -> str:
        """SHA-256 of the notebook graded (of every notebook in the folder, with a problem)."""
        if not self.problem:
            return _sha256(self.path)
        combined = hashlib.sha256()
        for notebook in self.others:
            where = os.path.relpath(notebook, self.path)
            combined.update(f"{where}\0{_sha256(notebook)}\0".encode())
        return combined.hexdigest()


def _sha256(path: Path) -> str:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return ""


def safe_name(name: str) -> str:
    """A name usable as a folder and a CSV cell: letters, digits, '.', '_', '-'."""
    return re.sub(r"[^\w.-]+", "_", name).strip("._") or "submission"


def is_assignment_notebook(path: Path, assignment: str) -> bool:
    """The assignment's notebook or a copy of it (`x (1).ipynb`, `x-Copy1.ipynb`)."""
    pattern = rf"{re.escape(assignment)}(?:\s*\(\d+\)|-Copy\d+)?{re.escape(SUFFIX)}"
    return re.fullmatch(pattern, path.name, flags=re.IGNORECASE) is not None


def discover(paths: Sequence[Path], exercises: Sequence[str] | str,
             exclude: Sequence[Path] = ()) -> list[Submission]:
    """Every submission under `paths`, sorted by name; DiscoveryError when there is none.
    `exercises`: the installed exercises' names (their notebooks' names)."""
    names = (exercises,) if isinstance(exercises, str) else tuple(exercises)
    skipped = {path.resolve() for path in exclude}
    units: dict[tuple[Path, str], Unit] = {}  # (folder or lone notebook, exercise) -> unit
    for given in paths:
        for notebook, key, unit in _placed(given, names, skipped):
            units.setdefault(key, unit).notebooks.setdefault(notebook.resolve(), notebook)
    if not units:
        shown = ", ".join(str(path) for path in paths)
        raise DiscoveryError(f"no notebooks (*{SUFFIX}) in {shown}: give the folder that holds "
                             "the students' folders or notebooks, or the notebooks themselves.")
    _refuse_shared_names(units)
    submissions = []
    for unit in units.values():
        chosen = choose(unit.name, unit.folder, list(unit.notebooks.values()),
                        unit.exercise or names)
        submissions.append(replace(chosen, exercise=unit.exercise or _named(chosen.path, names)))
    return sorted(submissions, key=lambda submission: submission.name)


@dataclass
class Unit:
    """What becomes one submission: a name, its folder, the notebooks found there."""

    name: str
    folder: Path
    exercise: str = ""  # the exercise this unit is for, when file names tell
    notebooks: dict[Path, Path] = field(default_factory=dict)  # resolved -> as found


def _named(path: Path, names: Sequence[str]) -> str:
    """The exercise whose notebook `path` is, by its file name ("" for none)."""
    return next((name for name in names if is_assignment_notebook(path, name)), "")


def _exercises_in(folder: Path, names: Sequence[str]) -> list[str]:
    """The exercises whose notebooks lie directly in `folder`, as it is on disk."""
    try:
        found = {_named(path, names) for path in folder.iterdir()
                 if path.name.endswith(SUFFIX) and path.is_file()}
    except OSError:
        return []
    return [name for name in names if name in found]


def _student_units(folder: Path, name: str, names: Sequence[str],
                   notebooks: list[Path]) -> Iterator[tuple[Path, tuple[Path, str], Unit]]:
    """A student's folder: one unit, or one per exercise when its notebooks are several
    exercises' (a notebook of no exercise goes with each, to be reported)."""
    named = {_named(notebook, names) for notebook in notebooks} - {""}
    if len(named) < 2:
        unit = Unit(name, folder, next(iter(named), ""))
        for notebook in notebooks:
            yield notebook, (folder.resolve(), ""), unit
        return
    for exercise in sorted(named, key=names.index):
        unit = Unit(safe_name(f"{name}__{exercise}"), folder, exercise)
        for notebook in notebooks:
            if _named(notebook, names) in (exercise, ""):
                yield notebook, (folder.resolve(), exercise), unit


def _placed(given: Path, names: Sequence[str],
            skipped: set[Path]) -> Iterator[tuple[Path, tuple[Path, str], Unit]]:
    """(notebook, unit key, unit) for each notebook under `given`."""
    if given.is_dir():
        students: dict[str, list[Path]] = {}
        for notebook in _walk(given, skipped):
            parts = notebook.relative_to(given).parts
            if len(parts) > 1:  # inside a student's folder
                students.setdefault(parts[0], []).append(notebook)
            else:
                yield _lone(notebook, names)
        for folder, notebooks in students.items():
            yield from _student_units(given / folder, safe_name(folder), names, notebooks)
    elif given.is_file():
        if given.suffix != SUFFIX:
            raise DiscoveryError(f"{given} is not a notebook ({SUFFIX}); give notebooks or the "
                                 "folders that hold them.")
        readable(given)
        yield _lone(given, names)
    elif given.exists() or given.is_symlink():
        raise DiscoveryError(f"cannot read {given}: it is neither a file nor a folder (or a "
                             "broken link); give notebooks or the folders that hold them.")
    else:
        raise DiscoveryError(f"{given} does not exist; check the path.")


def _lone(notebook: Path, names: Sequence[str]) -> tuple[Path, tuple[Path, str], Unit]:
    exercise = _named(notebook, names)
    if exercise:
        folder = notebook.resolve().parent
        name = safe_name(folder.name)
        if len(_exercises_in(folder, names)) > 1:
            name = safe_name(f"{folder.name}__{exercise}")
        return notebook, (folder, exercise), Unit(name, notebook.parent, exercise)
    return notebook, (notebook.resolve(), ""), Unit(safe_name(notebook.stem), notebook.parent)


def _walk(root: Path, skipped: set[Path]) -> Iterator[Path]:
    """Notebooks under `root`, skipping hidden folders (.ipynb_checkpoints) and `skipped`."""

    def refuse(error: OSError) -> None:
        raise DiscoveryError(f"cannot read {error.filename}: {error.strerror}; make it readable "
                             "or leave it out.")

    for folder, subfolders, files in os.walk(root, onerror=refuse):
        here = Path(folder)
        subfolders[:] = sorted(name for name in subfolders if not name.startswith(".")
                               and (here / name).resolve() not in skipped)
        for name in sorted(files):
            path = here / name
            if name.endswith(SUFFIX) and not name.startswith(".") and path.is_file():
                readable(path)
                yield path


def readable(path: Path) -> None:
    """DiscoveryError unless the file can be opened for reading."""
    try:
        with open(path, "rb"):
            pass
    except OSError as error:
        raise DiscoveryError(f"cannot read {path}: {error.strerror}; make it readable or leave "
                             "it out.") from None


def _refuse_shared_names(units: dict[tuple[Path, str], Unit]) -> None:
    by_name: dict[str, list[Path]] = {}
    for (key, _), unit in units.items():
        by_name.setdefault(unit.name, []).append(key)
    for name, keys in by_name.items():
        if len(keys) > 1:
            shown = ", ".join(str(key) for key in sorted(keys))
            raise DiscoveryError(
                f"{len(keys)} submissions would be named {name!r} ({shown}): give the folder "
                "that holds the students' folders (each is named after its folder), or grade "
                "them in separate runs with different --out folders.")


def choose(name: str, folder: Path, notebooks: list[Path],
           assignment: str | Sequence[str]) -> Submission:
    """The notebook graded in one student's folder, and the ones left aside. `assignment`:
    the exercise's notebook name, or several when the folder's exercise is not known yet."""
    notebooks = sorted(notebooks)
    if len(notebooks) == 1:
        return Submission(name, notebooks[0])
    wanted = (assignment,) if isinstance(assignment, str) else tuple(assignment)

    def rank(path: Path) -> tuple[int, int]:
        exact = any(path.name == f"{one}{SUFFIX}" for one in wanted)
        copy = any(is_assignment_notebook(path, one) for one in wanted)
        return (0 if exact else 1 if copy else 2, len(path.parts))

    ranked = sorted(notebooks, key=rank)
    best = ranked[0]
    if rank(best)[0] < 2 and rank(ranked[1]) != rank(best):
        return Submission(name, best, tuple(ranked[1:]))
    shown = ", ".join(os.path.relpath(path, folder) for path in notebooks)
    return Submission(name, folder, tuple(notebooks), problem=(
        f"Not graded: your folder holds {len(notebooks)} notebooks ({shown}) and the grader "
        f"cannot tell which one to grade. Submit only "
        f"{' or '.join(one + SUFFIX for one in wanted)}."))
