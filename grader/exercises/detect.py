"""Which exercise a notebook is for, by one fixed rule (README, "Which exercise").

In order, the first rule that names exactly one installed exercise decides:

1. the function it defines: a code cell with `def manual_lstm(` names `lstm` (what is graded
   is that function, so this survives a renamed file);
2. its nbgrader metadata: a cell whose grade id is an exercise's autograded cell
   (`test_manual_lstm`) or solution cell (`manual_lstm`) — locked cells students keep even
   when they empty the function's cell;
3. its file name: `lstm.ipynb`, or a copy such as `lstm (1).ipynb` or `lstm-Copy1.ipynb`.

Nothing names one (or a rule names several and no later rule settles it): None, and the caller
decides (`check` asks for --exercise; `grade` uses --exercise, else the exercise most of the
batch's other notebooks are for). Nothing here runs the notebook: it is read as JSON.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path

from grader.exercises.base import Exercise

SUFFIX = ".ipynb"
MAX_BYTES = 20 * 2**20


def _cells(path: Path) -> list[dict]:
    try:
        if path.stat().st_size > MAX_BYTES:
            return []
        document = json.loads(path.read_bytes().decode("utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        return []
    cells = document.get("cells") if isinstance(document, dict) else None
    return [cell for cell in cells if isinstance(cell, dict)] if isinstance(cells, list) else []


def _source(cell: dict) -> str:
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else str(source)


def _grade_id(cell: dict) -> str:
    metadata = cell.get("metadata")
    nbgrader = metadata.get("nbgrader") if isinstance(metadata, dict) else None
    grade_id = nbgrader.get("grade_id") if isinstance(nbgrader, dict) else None
    return grade_id if isinstance(grade_id, str) else ""


def by_function(cells: list[dict], exercises: Mapping[str, Exercise]) -> list[str]:
    code = "\n".join(_source(cell) for cell in cells if cell.get("cell_type") == "code")
    return [name for name, exercise in exercises.items()
            if re.search(rf"^[ \t]*def[ \t]+{re.escape(exercise.function)}[ \t]*\(", code,
                         flags=re.MULTILINE)]


def by_metadata(cells: list[dict], exercises: Mapping[str, Exercise]) -> list[str]:
    ids = {_grade_id(cell) for cell in cells} - {""}
    return [name for name, exercise in exercises.items()
            if ids & ({exercise.nbgrader_grade_cell, exercise.function} - {""})]


def by_file_name(path: Path, exercises: Mapping[str, Exercise]) -> list[str]:
    return [name for name in exercises if is_exercise_notebook(path, name)]


def is_exercise_notebook(path: Path, name: str) -> bool:
    """`name`.ipynb or a copy of it (`name (1).ipynb`, `name-Copy1.ipynb`), any case."""
    pattern = rf"{re.escape(name)}(?:\s*\(\d+\)|-Copy\d+)?{re.escape(SUFFIX)}"
    return re.fullmatch(pattern, path.name, flags=re.IGNORECASE) is not None


def detect(path: Path, exercises: Mapping[str, Exercise]) -> str | None:
    """The exercise `path` is for, by the rule above; None when it cannot be told."""
    cells = _cells(path)
    candidates = list(exercises)
    for rule in (lambda: by_function(cells, exercises), lambda: by_metadata(cells, exercises),
                 lambda: by_file_name(path, exercises)):
        named = [name for name in rule() if name in candidates]
        if len(named) == 1:
            return named[0]
        if named:
            candidates = named  # several: a later rule may settle between these
    return None
