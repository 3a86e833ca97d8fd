"""The shipped notebooks: the assignment is generated from the solution, and both run in a
real Jupyter kernel (the assignment stops only at the unfinished function)."""

from __future__ import annotations

import os

import nbformat
import pytest
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

from grader.notebooks.assignment import make_assignment
from tests.conftest import ASSIGNMENT, ROOT, SOLUTION


def _normalised(notebook: nbformat.NotebookNode) -> str:
    return nbformat.writes(notebook)


def test_assignment_is_what_generation_produces() -> None:
    generated = make_assignment(nbformat.read(SOLUTION, as_version=4))
    shipped = nbformat.read(ASSIGNMENT, as_version=4)
    assert _normalised(generated) == _normalised(shipped), (
        "assignments/ drifted from solutions/: run "
        "`rnn-grader assign solutions/bidirectional_rnn.ipynb "
        "--out assignments/bidirectional_rnn.ipynb`")


def test_assignment_stubs_the_solution_and_keeps_the_rest() -> None:
    solution = nbformat.read(SOLUTION, as_version=4)
    assignment = nbformat.read(ASSIGNMENT, as_version=4)
    assert len(solution.cells) == len(assignment.cells)
    stub = next(c for c in assignment.cells if c.metadata["nbgrader"]["grade_id"] == "manual_rnn")
    assert "raise NotImplementedError()" in stub.source
    assert "BEGIN SOLUTION" not in nbformat.writes(assignment)
    assert "-m grader check" in assignment.cells[-1].source


def _execute(path, env: dict[str, str] | None = None) -> nbformat.NotebookNode:
    notebook = nbformat.read(path, as_version=4)
    client = NotebookClient(notebook, timeout=300, kernel_name="python3",
                            resources={"metadata": {"path": str(ROOT / "solutions")}})
    client.execute(**({"env": env} if env is not None else {}))
    return notebook


def test_solution_runs_top_to_bottom_in_a_kernel_whose_path_lacks_the_venv() -> None:
    """The self-check cell runs the grader with the kernel's own Python: no `rnn-grader` on
    PATH is needed (a kernel started from a desktop launcher has none)."""
    notebook = _execute(SOLUTION, env={**os.environ, "PATH": os.defpath})
    printed = "".join(out.get("text", "") for cell in notebook.cells
                      for out in cell.get("outputs", []))
    assert "matches nn.RNN" in printed
    assert "All public cases pass" in printed


def test_assignment_stops_only_at_the_unfinished_function() -> None:
    with pytest.raises(CellExecutionError) as raised:
        _execute(ASSIGNMENT)
    assert "NotImplementedError" in str(raised.value)
    assert "manual_rnn()" in str(raised.value)
