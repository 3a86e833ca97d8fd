"""Turn failures into feedback a student can act on.

Three kinds of explanation: why a call failed (exceptions, wrong return types, limits), which
catalogued mistake the result matches (run in the grading process on the same inputs), and,
when none does, where the result departs from the reference (which direction, from which step).
"""

from __future__ import annotations

import builtins
import re
from collections.abc import Mapping
from typing import Any

import numpy as np

from grader import results
from grader.exercises.base import Exercise
from grader.reference import Reference
from grader.results import OutputCheck

MEMORY_WORDS = ("can't allocate memory", "cannot allocate memory", "out of memory")
MISTAKE_SLACK = 4.0  # a mistake's own float32 rounding may exceed the reference's bound


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


def format_traceback(error: Mapping[str, Any],
                     cells: Mapping[int, str] | None = None) -> list[str]:
    """The student's own frames only: cell number, line, function and code.

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
        cell = f"cell {frame['cell'] + 1}" if frame.get("cell") is not None else "your code"
        where = f" in {frame['function']}" if frame.get("function") not in ("", "<module>") else ""
        lines.append(f"  {cell}, line {frame['line']}{where}: {frame['code']}")
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
HIDDEN_MESSAGE = ("hidden case: its message is not shown, as it could hold the hidden inputs; "
                  "the self-check shows messages in full")


def explain_exception(function: str, error: Mapping[str, Any], memory_mb: int,
                      hidden: bool = False, cells: Mapping[int, str] | None = None,
                      returns: str = "its result") -> str:
    """A failed call in words. In a hidden case nothing of the exception's message is told
    (it may hold the hidden inputs), only its type and the notebook's own cell, line and code
    (checked against `cells`)."""
    kind, message = error.get("type", ""), error.get("message", "")
    if kind == "NotImplementedError":
        return (f"{function} is not implemented yet: replace `raise NotImplementedError()` in "
                "its cell with your code.")
    if kind == "SystemExit":
        return f"{function} called sys.exit(); return {returns} instead."
    if kind in ("EOFError", "StdinNotImplementedError"):
        return "input() cannot be answered while grading; remove calls to input()."
    if error.get("limit") == "output":
        return (f"{function} printed more than the output limit allows; remove prints "
                "inside loops (output limit).")
    if is_memory_error(error):
        return (f"{function} ran out of memory (memory limit, {memory_mb} MB): look for tensors "
                "that grow with every step or sizes multiplied by mistake.")
    if hidden:
        told = kind if kind in KNOWN_EXCEPTIONS else "an exception of a class of its own"
        lines = [f"{function} raised {told} ({HIDDEN_MESSAGE})."]
        trace = format_traceback(error, cells or {})
    else:
        lines = [f"{function} raised {kind}: {message}"]
        trace = format_traceback(error)
    if trace:
        lines += ["Where, in your notebook:", *trace]
    return "\n".join(lines)


def explain_call_problem(exercise: Exercise, problem: Mapping[str, Any], memory_mb: int,
                         max_elements: int, hidden: bool = False,
                         cells: Mapping[int, str] | None = None) -> str:
    """A call answered with an error instead of values. In a hidden case, what the child
    chose freely (type names, counts) is told only when it is one of a few known ones."""
    function, names = exercise.function, exercise.output_names
    kind = problem.get("kind")
    if kind == "missing":
        return (f"The notebook defines no function {function}(); keep the cell that starts "
                f"with `def {function}():` and its name.")
    if kind == "not_pair":
        length, returned = problem.get("length"), _type_name(problem.get("type"), hidden)
        if hidden and length is not None and not (type(length) is int and 0 <= length <= 9):
            got = f"{returned} of more than 9 items"
        else:
            got = f"{returned} of {length} items" if length is not None else returned
        count = {2: "two", 3: "three"}.get(len(names), str(len(names)))
        return (f"{function} must return a tuple of {count} tensors, "
                f"{exercise.returns_text}; it returned {got}.")
    if kind == "structure":
        key = problem.get("key")
        story = exercise.structure_stories.get(key) if isinstance(key, str) else None
        return story or (f"{function} must return {exercise.returns_text}, as "
                         f"{exercise.reference_name} does.")
    if kind == "not_tensor":
        return (f"{_item(names, problem.get('position'))} is "
                f"{_type_name(problem.get('type'), hidden)}, not a torch.Tensor.")
    if kind == "too_large":
        elements, name = problem.get("elements"), _name(names, problem.get("position"))
        if hidden or type(elements) is not int:
            return (f"{name} has more than the limit of {max_elements} elements; it should be "
                    "far smaller.")
        return (f"{name} has {elements} elements, more than the limit of {max_elements}; it "
                "should be far smaller.")
    return explain_exception(function, problem, memory_mb, hidden, cells, exercise.returns_text)


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


def weigh_mistakes(exercise: Exercise, inputs: Mapping[str, np.ndarray], reference: Reference,
                   returned: Mapping[str, np.ndarray]) -> tuple[list[str], list[str]]:
    """Catalogued mistakes the student's result matches on these inputs, and those it rules
    out (the mistake would have made a visible difference, and the result does not show it)."""
    matched, ruled_out = [], []
    for mistake in exercise.mistakes:
        predicted = mistake.compute(inputs)
        if predicted is None or _close(predicted, reference.values, reference, slack=1.0):
            continue  # on these inputs the mistake makes no difference: no evidence
        if _close(returned, predicted, reference, slack=MISTAKE_SLACK):
            matched.append(mistake.key)
        else:
            ruled_out.append(mistake.key)
    return matched, ruled_out


def consistent_mistakes(cases: list[tuple[list[str], list[str]]]) -> list[str]:
    """Mistakes matched in some case and ruled out in none, in catalogue order of first match."""
    ruled_out = {key for _, out in cases for key in out}
    found: dict[str, None] = {}
    for matched, _ in cases:
        found.update(dict.fromkeys(key for key in matched if key not in ruled_out))
    return list(found)


def _close(got: Mapping[str, np.ndarray], want: Mapping[str, np.ndarray], reference: Reference,
           slack: float) -> bool:
    for name, expected in want.items():
        values = got.get(name)
        if values is None or np.squeeze(values).shape != np.squeeze(expected).shape:
            return False
        values, expected = np.squeeze(values).astype(np.float64), np.squeeze(expected)
        tolerance = reference.tolerance[name]
        if tolerance.shape != expected.shape:
            tolerance = tolerance.max()
        allowed = slack * tolerance + 1e-5 * np.abs(expected)
        if not np.all(np.abs(values - expected) <= allowed):
            return False
    return True


def describe_mistakes(exercise: Exercise, keys: list[str]) -> list[str]:
    by_key = {mistake.key: mistake for mistake in exercise.mistakes}
    return [f"This looks like a known mistake: {by_key[key].title}. Hint: {by_key[key].hint}"
            for key in keys]


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
