"""Load a submitted notebook: read it safely, pick the cells to run, read the function's code.

Every way a file can fail to be a notebook (missing, empty, huge, not UTF-8, not JSON, not a
notebook, an nbformat too old to upgrade) becomes one `NotebookError` with a message that
says what to do. Nothing here executes the student's code.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path

# jsonschema, which nbformat imports, compiles an IRI grammar at import when the optional
# rfc3987-syntax is installed (as nbgrader's dependencies do): seconds of start-up for a format
# the notebook schema never uses. Marking it absent makes jsonschema skip that checker.
sys.modules.setdefault("rfc3987_syntax", None)  # type: ignore[arg-type]

import nbformat  # noqa: E402

SKIP_TAG = "rnn-grader:skip"  # the self-check and nbgrader's own test cells
MAX_NOTEBOOK_BYTES = 20 * 2**20


class NotebookError(Exception):
    """The file cannot be graded as a notebook; the message says why and what to do."""


@dataclass(frozen=True)
class CodeCell:
    index: int  # position among all cells, from 0
    source: str


@dataclass(frozen=True)
class Notebook:
    path: Path
    cells: tuple[CodeCell, ...]


def load_notebook(path: Path, max_bytes: int = MAX_NOTEBOOK_BYTES) -> Notebook:
    raw = _read_bytes(path, max_bytes)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise NotebookError(f"{path.name} is not UTF-8 text (byte {error.start}); save it again "
                            "from Jupyter, which always writes UTF-8.") from None
    if not text.strip():
        raise NotebookError(f"{path.name} is empty; save the notebook in Jupyter (File > Save) "
                            "and submit it again.")
    try:
        document = json.loads(text)
    except json.JSONDecodeError as error:
        raise NotebookError(f"{path.name} is not valid JSON (line {error.lineno}, column "
                            f"{error.colno}): the file is damaged or was edited by hand. Open "
                            "it in Jupyter, or start again from the assignment.") from None
    if not isinstance(document, dict) or "cells" not in document and "worksheets" not in document:
        raise NotebookError(f"{path.name} is JSON but not a Jupyter notebook (it has no cells); "
                            "submit the .ipynb file you worked in.")
    try:
        notebook = nbformat.reads(text, as_version=4)
    except Exception as error:  # noqa: BLE001 - nbformat raises many kinds for bad files
        version = document.get("nbformat", "unknown")
        raise NotebookError(f"{path.name} could not be read as a notebook (nbformat {version}): "
                            f"{_first_line(error)}. Open and save it in a current Jupyter."
                            ) from None
    cells = tuple(CodeCell(index, _source(cell)) for index, cell in enumerate(notebook.cells)
                  if cell.get("cell_type") == "code" and not _skipped(cell))
    return Notebook(path, cells)


def _read_bytes(path: Path, max_bytes: int) -> bytes:
    try:
        size = path.stat().st_size
        if size > max_bytes:
            raise NotebookError(f"{path.name} is {size / 2**20:.0f} MB, more than the "
                                f"{max_bytes / 2**20:.0f} MB a notebook may have; clear its "
                                "outputs (Edit > Clear All Outputs) and save it again.")
        return path.read_bytes()
    except FileNotFoundError:
        raise NotebookError(f"{path} does not exist.") from None
    except IsADirectoryError:
        raise NotebookError(f"{path} is a folder, not a notebook.") from None
    except PermissionError:
        raise NotebookError(f"{path} cannot be read (permission denied).") from None


def _source(cell: dict) -> str:
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else str(source)


def _skipped(cell: dict) -> bool:
    metadata = cell.get("metadata", {})
    nbgrader = metadata.get("nbgrader", {})
    is_test_cell = nbgrader.get("grade", False) and not nbgrader.get("solution", False)
    return SKIP_TAG in metadata.get("tags", []) or bool(is_test_cell)


def _first_line(error: Exception) -> str:
    return (str(error).strip().splitlines() or [type(error).__name__])[0][:200]


def forbidden_uses(notebook: Notebook, function: str, forbidden: tuple[str, ...]) -> list[str]:
    """Places where the function (or what it reaches) calls one of torch's recurrent built-ins,
    names resolved through the notebook's cells (grader.notebooks.code_reading)."""
    from grader.notebooks import code_reading

    return code_reading.forbidden_uses(notebook, function, forbidden)


def review_findings(notebook: Notebook) -> list[str]:
    """Code anywhere in the notebook that reaches for the grader's machinery or hides what it
    runs, for the instructor to look at (grader.notebooks.code_reading)."""
    from grader.notebooks import code_reading

    return code_reading.review_findings(notebook)
