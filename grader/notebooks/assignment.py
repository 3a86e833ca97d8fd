"""Make the student notebook from the instructor's solution notebook.

nbgrader's own preprocessors do the work: LockCells, ClearSolutions (which stubs each
solution body with `raise NotImplementedError()`), ClearOutput and ComputeChecksums. The
solution notebook already ends with the self-check cell (`self_check_cell`), which students
keep.
"""

from __future__ import annotations

from pathlib import Path

import nbformat

from grader.notebooks.load import SKIP_TAG
from grader.reports.records import write_atomic

SELF_CHECK_TEMPLATE = """\
# Self-check on the public cases: save the notebook first (Ctrl+S), then run this cell.
# It grades the saved file in a separate process, exactly as your instructor will.
# It runs the grader with this notebook's own Python, whatever your PATH holds.
import sys

!"{{sys.executable}}" -m grader check {notebook}"""


def self_check_source(exercise: str = "bidirectional_rnn") -> str:
    """The self-check cell's code for `exercise`'s notebook (`<exercise>.ipynb`)."""
    return SELF_CHECK_TEMPLATE.format(notebook=f"{exercise}.ipynb")


SELF_CHECK_SOURCE = self_check_source()


class AssignmentError(Exception):
    """The solution notebook cannot be turned into an assignment."""


def self_check_cell(exercise: str = "bidirectional_rnn") -> nbformat.NotebookNode:
    """The locked cell that runs `python -m grader check` on the saved notebook (with the
    kernel's own Python, whatever its PATH); never graded."""
    cell = nbformat.v4.new_code_cell(self_check_source(exercise))
    cell.metadata = {"tags": [SKIP_TAG], "nbgrader": {
        "grade": False, "grade_id": "self_check", "locked": True, "schema_version": 3,
        "solution": False, "task": False}}
    return cell


def make_assignment(solution: nbformat.NotebookNode) -> nbformat.NotebookNode:
    from nbgrader.preprocessors import ClearOutput, ClearSolutions, ComputeChecksums, LockCells

    notebook = nbformat.from_dict(solution)
    # The same preprocessors, in the same order, as `nbgrader generate_assignment`, so the
    # result is byte for byte what nbgrader releases.
    for preprocessor in (LockCells(), ClearSolutions(enforce_metadata=True), ClearOutput(),
                         ComputeChecksums()):
        notebook, _ = preprocessor.preprocess(notebook, {})
    return notebook


def write_assignment(solution_path: Path, out: Path, exercise: str | None = None) -> None:
    """The student notebook of `solution_path`; its self-check cell names `exercise`'s
    notebook (default: the exercise the solution is for, grader/exercises/detect.py)."""
    from grader import exercises
    from grader.exercises.detect import detect

    try:
        solution = nbformat.read(solution_path, as_version=4)
    except Exception as error:  # noqa: BLE001 - any unreadable notebook is the same error
        raise AssignmentError(f"{solution_path} is not a readable notebook: {error}") from None
    exercise = exercise or detect(solution_path, exercises.installed())
    for cell in solution.cells:
        if exercise and cell.get("metadata", {}).get("nbgrader", {}).get("grade_id") == \
                "self_check":
            cell.source = self_check_source(exercise)
    write_atomic(out, nbformat.writes(make_assignment(solution)) + "\n")
