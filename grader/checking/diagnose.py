"""Turn failures into feedback a student can act on: why a call or a cell failed, and where.

Why a call failed (exceptions, wrong return types, limits) and why a cell did not run, told
with the student's own cells as the student finds them in Jupyter (cells.py), with the line
and, for a syntax error, a caret under it; and, when no mistake is named (mistakes.py), where
the result departs from the reference.
"""

from __future__ import annotations

import builtins
import re
from collections.abc import Mapping
from typing import Any

from grader import results
from grader.exercises.base import Exercise
from grader.notebooks.cells import cell_label, format_traceback, syntax_error_lines
from grader.results import OutputCheck

MEMORY_WORDS = ("can't allocate memory", "cannot allocate memory", "out of memory")


def is_memory_error(error: Mapping[str, Any]) -> bool:
    message = str(error.get("message", "")).lower()
    return error.get("type") == "MemoryError" or any(word in message for word in MEMORY_WORDS)


def outcome_of(problem: Mapping[str, Any]) -> str:
    """The submission status a failed call stands for."""
    if problem.get("type") == "NotImplementedError":
        return results.NOT_IMPLEMENTED
    if problem.get("kind") == "too_large" or is_memory_error(problem) or problem.get("limit"):
        return results.LIMIT
    return results.ERROR


def explain_cell_errors(errors: list[Mapping[str, Any]], function: str, memory_mb: int,
                        cells: Mapping[int, str], labels: Mapping[int, str] | None,
                        ) -> tuple[str, list[str]]:
    """Cells that failed while the notebook ran, before any case's input existed (so told in
    full): the first one in words, and below it the code (with a caret for a syntax error)."""
    if not errors:
        return "", []
    first = errors[0]
    index = first.get("cell")
    cell = cell_label(index, labels) if type(index) is int else "a cell"
    more = "" if len(errors) < 2 else \
        f"; {len(errors) - 1} more cell{'s' if len(errors) > 2 else ''} failed after it"
    syntax = syntax_error_lines(first, cells)
    if syntax is not None:
        line, lines = syntax
        defines = type(index) is int and re.search(
            rf"^\s*def\s+{re.escape(function)}\s*\(", cells.get(index, ""), re.MULTILINE)
        after = f", so {function} is not defined" if defines else ""
        return (f"{cell[:1].upper()}{cell[1:]} does not compile: {first.get('type')} on line "
                f"{line} (below). None of the cell ran{after}{more}.", lines)
    if first.get("limit") == "output":
        return (f"While running the notebook, {cell} failed: it printed more than the output "
                f"limit allows (output limit){more}.", [])
    if is_memory_error(first):
        return (f"While running the notebook, {cell} failed: it ran out of memory (memory "
                f"limit, {memory_mb} MB): look for tensors that grow with every step{more}."), []
    if first.get("type") == "NotImplementedError":
        what, _ = explain_exception(function, first, 0)
        return f"While running the notebook, {cell} failed: {what.rstrip('.')}{more}.", []
    message = (str(first.get("message", "")).strip().splitlines() or [""])[0][:300]
    # Where, when it is somewhere else than the cell itself (in manual_rnn, say): the student
    # reads the cell's own lines in the notebook.
    elsewhere = any(isinstance(f, Mapping) and f.get("cell") != index
                    for f in first.get("frames", []))
    trace = format_traceback(first, cells, labels) if elsewhere else []
    return (f"While running the notebook, {cell} failed: {first.get('type')}: {message}{more}",
            ["Where, in your notebook:", *trace] if trace else [])


# Exception names told in hidden cases; any other (a class the notebook made up, whose name
# could spell out numbers) is not repeated.
KNOWN_EXCEPTIONS = frozenset(
    name for name, value in vars(builtins).items()
    if isinstance(value, type) and issubclass(value, BaseException)) | frozenset(
    ("StdinNotImplementedError", "OutOfMemoryError", "LinAlgError", "AxisError"))
# Types told in hidden cases when the function returns something else than its tensors.
KNOWN_TYPES = frozenset(
    name for name, value in vars(builtins).items()
    if isinstance(value, type) and not issubclass(value, BaseException)) | frozenset(
    ("NoneType", "Tensor", "Parameter", "ndarray", "generator", "function", "method",
     "module", "float32", "float64", "int64", "dict_keys", "dict_values", "dict_items"))
HIDDEN_MESSAGE = "hidden case: no message, which could hold its inputs; the self-check shows it"


def explain_exception(function: str, error: Mapping[str, Any], memory_mb: int,
                      hidden: bool = False, cells: Mapping[int, str] | None = None,
                      labels: Mapping[int, str] | None = None,
                      returns: str = "its result") -> tuple[str, list[str]]:
    """A failed call in words, and where in the notebook. In a hidden case nothing of the
    exception's message is told (it may hold the hidden inputs), only its type and the
    notebook's own cell, line and code (checked against `cells`)."""
    kind, message = error.get("type", ""), error.get("message", "")
    if kind == "NotImplementedError":
        return (f"{function} is not implemented yet: replace `raise NotImplementedError()` in "
                "its cell with your code."), []
    if kind == "SystemExit":
        return f"{function} called sys.exit(); return {returns} instead.", []
    if kind in ("EOFError", "StdinNotImplementedError"):
        return "input() cannot be answered while grading; remove calls to input().", []
    if error.get("limit") == "output":
        return (f"{function} printed more than the output limit allows; remove prints "
                "inside loops (output limit)."), []
    if is_memory_error(error):
        return (f"{function} ran out of memory (memory limit, {memory_mb} MB): look for tensors "
                "that grow with every step or sizes multiplied by mistake."), []
    if hidden:
        told = kind if kind in KNOWN_EXCEPTIONS else "an exception of a class of its own"
        return f"{function} raised {told} ({HIDDEN_MESSAGE}).", \
            format_traceback(error, cells or {}, labels)
    return f"{function} raised {kind}: {message}", format_traceback(error, cells, labels)


def explain_call(exercise: Exercise, problem: Mapping[str, Any], memory_mb: int,
                 max_elements: int, hidden: bool = False, cells: Mapping[int, str] | None = None,
                 labels: Mapping[int, str] | None = None) -> tuple[str, list[str], str]:
    """A call answered with an error instead of values: (what, where, a key shared by calls
    that failed the same way). In a hidden case, what the child chose freely (type names,
    counts) is told only when it is one of a few known ones."""
    function, names = exercise.function, exercise.output_names
    kind = problem.get("kind")
    if kind == "missing":
        return (f"The notebook defines no function {function}(); keep the cell that starts "
                f"with `def {function}():` and its name."), [], "missing"
    if kind == "not_pair":
        length, returned = problem.get("length"), _type_name(problem.get("type"), hidden)
        if hidden and length is not None and not (type(length) is int and 0 <= length <= 9):
            got = f"{returned} of more than 9 items"
        else:
            got = f"{returned} of {length} items" if length is not None else returned
        count = {2: "two", 3: "three"}.get(len(names), str(len(names)))
        return (f"{function} must return a tuple of {count} tensors, "
                f"{exercise.returns_text}; it returned {got}."), [], f"not_pair:{got}"
    if kind == "structure":
        key = problem.get("key")
        story = exercise.structure_stories.get(key) if isinstance(key, str) else None
        return story or (f"{function} must return {exercise.returns_text}, as "
                         f"{exercise.reference_name} does."), [], f"structure:{key}"
    if kind == "not_tensor":
        what = (f"{_item(names, problem.get('position'))} is "
                f"{_type_name(problem.get('type'), hidden)}, not a torch.Tensor.")
        return what, [], f"not_tensor:{what}"
    if kind == "too_large":
        elements, name = problem.get("elements"), _name(names, problem.get("position"))
        if hidden or type(elements) is not int:
            return (f"{name} has more than the limit of {max_elements} elements; it should be "
                    "far smaller."), [], f"too_large:{name}"
        return (f"{name} has {elements} elements, more than the limit of {max_elements}; it "
                "should be far smaller."), [], f"too_large:{name}"
    what, trace = explain_exception(function, problem, memory_mb, hidden, cells, labels,
                                     exercise.returns_text)
    return what, trace, f"exception:{problem.get('type')}:{'|'.join(trace) or what}"


def explain_call_problem(exercise: Exercise, problem: Mapping[str, Any], memory_mb: int,
                         max_elements: int, hidden: bool = False,
                         cells: Mapping[int, str] | None = None,
                         labels: Mapping[int, str] | None = None) -> str:
    """explain_call as one text: what, then where."""
    what, trace, _ = explain_call(exercise, problem, memory_mb, max_elements, hidden, cells,
                                  labels)
    return "\n".join([what, "Where, in your notebook:", *trace] if trace else [what])


def _name(names: tuple[str, ...], position: object) -> str:
    return names[position] if type(position) is int and 0 <= position < len(names) else \
        "an item of the tuple"


def _item(names: tuple[str, ...], position: object) -> str:
    name = _name(names, position)
    return f"{name} (item {position} of the tuple)" if name in names else name


def _type_name(name: object, hidden: bool) -> str:
    if not isinstance(name, str) or hidden and name not in KNOWN_TYPES:
        return "an object of a class of its own"
    return f"a {name}"


def localise(checks: list[OutputCheck], steps: int) -> list[str]:
    """Which direction is right, and where each wrong one first departs."""
    by_name = {check.name: check for check in checks}
    lines = []
    output = by_name.get("output")
    if output and output.halves_ok and not output.ok:
        for half, ok in output.halves_ok.items():
            what = f"The {half} half of output" if half in ("forward", "reverse") else \
                f"output ({half})" if half != "output" else "output"
            if ok:
                lines.append(f"{what} is right.")
                continue
            step = output.first_divergence.get(half)
            begins = steps - 1 if "reverse" in half else 0
            first = "at its very first step" if step == begins else f"first at t = {step}"
            lines.append(f"{what} goes wrong {first} (it starts at t = {begins}).")
    h_n = by_name.get("h_n")
    if output and h_n and output.halves_ok and h_n.halves_ok:
        if output.ok and not h_n.ok:
            lines.append("output is right but h_n is not: h_n holds each direction's final state; "
                         "the reverse direction's last step is at t = 0.")
        elif h_n.ok and not output.ok:
            lines.append("h_n is right but output is not: look at where each step's state is "
                         "stored in output.")
    return lines
