"""The student's cells as the student finds them, and what is read from their code.

Jupyter numbers no cell, so a cell is named by its place among the notebook's code cells and
its first line: "code cell 5 (`def manual_rnn():`)". Frames a child reports are checked against
the notebook's own text before they are shown; a syntax error is shown with its line and a
caret; the function's own cell is read for sizes typed in. Nothing here runs student code.
"""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from grader.exercises.base import Exercise
from grader.notebooks.load import Notebook


def code_cell_label(position: int, source: str) -> str:
    """'code cell 5 (`def manual_rnn():`)': the cell's position among the code cells (from 1)
    and its first line, which is how a student finds it in Jupyter."""
    first = next((line.strip() for line in source.splitlines() if line.strip()), "")
    first = first if len(first) <= 50 else first[:49] + "…"
    return f"code cell {position} (`{first}`)" if first else f"code cell {position} (empty)"


def cell_label(index: int, labels: Mapping[int, str] | None) -> str:
    """How the student finds a cell: 'code cell 5 (`def manual_rnn():`)'."""
    return (labels or {}).get(index) or f"cell {index + 1}"


def labels_of(path: Path, notebook: Notebook) -> dict[int, str]:
    """How the student finds each code cell in Jupyter, which numbers no cell: its position
    among the notebook's code cells (skipped ones included) and its first line."""
    try:
        listed = json.loads(path.read_bytes())["cells"]
        code = [index for index, cell in enumerate(listed)
                if isinstance(cell, dict) and cell.get("cell_type") == "code"]
    except (OSError, ValueError, KeyError, TypeError):  # an old notebook format: ours only
        code = [cell.index for cell in notebook.cells]
    sources = {cell.index: cell.source for cell in notebook.cells}
    return {index: code_cell_label(position, sources[index])
            for position, index in enumerate(code, start=1) if index in sources}


def as_jupyter_shows(place: str, labels: dict[int, str]) -> str:
    """"cell 9, line 2: calls rnn(...)" (counting every cell, from 1) in the words the student
    finds it by: "code cell 5 (`def manual_rnn():`), line 2: calls rnn(...)"."""
    found = re.match(r"cell (\d+)(,.*)", place, re.DOTALL)
    if found is None or int(found[1]) - 1 not in labels:
        return place
    return cell_label(int(found[1]) - 1, labels) + found[2]


def format_traceback(error: Mapping[str, Any], cells: Mapping[int, str] | None = None,
                     labels: Mapping[int, str] | None = None) -> list[str]:
    """The student's own frames only: cell, line, function, then the line of code.

    With `cells` (the notebook's code cells by index, as the grading process read them), each
    frame is checked against the notebook instead of being believed: a frame outside the
    notebook is dropped, the code shown is the notebook's own line, and a function is named
    only when the notebook defines it. The child is not trusted to send only its code.
    """
    lines = []
    for frame in error.get("frames", []):
        if not isinstance(frame, Mapping):
            continue
        if cells is not None:
            frame = _checked_frame(frame, cells)
            if frame is None:
                continue
        cell = cell_label(frame["cell"], labels) if type(frame.get("cell")) is int \
            else "your code"
        where = f", in {frame['function']}" if frame.get("function") not in ("", "<module>") \
            else ""
        lines += [f"  {cell}, line {frame['line']}{where}:", f"      {frame['code']}"]
    return lines


def _checked_frame(frame: Mapping[str, Any], cells: Mapping[int, str]) -> dict[str, Any] | None:
    cell, line = frame.get("cell"), frame.get("line")
    if type(cell) is not int or type(line) is not int or cell not in cells:
        return None
    source_lines = cells[cell].splitlines()
    if not 1 <= line <= len(source_lines):
        return None
    function = frame.get("function")
    defined = isinstance(function, str) and function.isidentifier() and any(
        re.search(rf"\bdef\s+{function}\b", source) for source in cells.values())
    return {"cell": cell, "line": line, "function": function if defined else "",
            "code": source_lines[line - 1].strip()}


def syntax_error_lines(error: Mapping[str, Any],
                       cells: Mapping[int, str]) -> tuple[int, list[str]] | None:
    """A cell that does not compile: (its line, [the line, a caret under where Python
    stopped, the error]) from the notebook's own text; None if not one."""
    if not str(error.get("type", "")).endswith(("SyntaxError", "IndentationError", "TabError")):
        return None
    frame = next((f for f in reversed(error.get("frames", [])) if isinstance(f, Mapping)
                  and type(f.get("cell")) is int and type(f.get("line")) is int), None)
    if frame is None or frame["cell"] not in cells:
        return None
    source_lines = cells[frame["cell"]].splitlines()
    line, code = frame["line"], str(frame.get("code", "")).strip()
    for candidate in (line, line + 1):  # a %%time cell's body starts on its second line
        if 1 <= candidate <= len(source_lines) and source_lines[candidate - 1].strip() == code:
            line = candidate
            break
    if not 1 <= line <= len(source_lines):
        return None
    shown = source_lines[line - 1].strip()
    column, end = frame.get("column"), frame.get("end_column")
    lines = [f"  {line:>3} | {shown}"]
    if type(column) is int and 0 <= column <= len(shown):
        width = end - column if type(end) is int and column < end <= len(shown) + 1 else 1
        lines.append(f"      | {' ' * column}{'^' * width}")
    message = (str(error.get("message", "")).strip().splitlines() or [""])[0][:200]
    lines.append(f"{error.get('type')}: {message}")
    return line, lines


def typed_in_sizes(exercise: Exercise, source: str, shown: int = 3) -> list[tuple[int, str]]:
    """Lines of the function's cell holding a number that is one of the notebook's sizes (or
    twice one): (line number in the cell, the line)."""
    from IPython.core.inputtransformer2 import TransformerManager

    sizes = set(exercise.notebook_sizes.values())
    numbers = sizes | {2 * size for size in sizes}
    try:
        tree = ast.parse(TransformerManager().transform_cell(source))
    except SyntaxError:
        return []
    lines = source.splitlines()
    found: dict[int, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef) and node.name == exercise.function:
            body = node.body[1:] if node.body and isinstance(node.body[0], ast.Expr) and \
                isinstance(getattr(node.body[0], "value", None), ast.Constant) else node.body
            for inner in (n for statement in body for n in ast.walk(statement)):
                if isinstance(inner, ast.Constant) and type(inner.value) is int and \
                        inner.value in numbers and 1 <= inner.lineno <= len(lines):
                    found.setdefault(inner.lineno, re.sub(r"\s+#.*$", "",
                                                          lines[inner.lineno - 1].strip()))
    return sorted(found.items())[:shown]


def function_cell(cells: Mapping[int, str], function: str) -> int | None:
    """The index of the cell that defines `function` (the last one, as Jupyter keeps it)."""
    defining = [index for index, source in cells.items()
                if re.search(rf"^\s*def\s+{re.escape(function)}\s*\(", source, re.MULTILINE)]
    return defining[-1] if defining else None
