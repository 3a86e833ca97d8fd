"""Loading a submission: every broken file is one clear NotebookError; cells are chosen right."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest

from grader.notebook import NotebookError, forbidden_uses, load_notebook
from tests.conftest import SOLUTION

FORBIDDEN = ("nn.RNN", "torch.nn.RNN", "RNN", "rnn", "rnn.forward", "rnn.__call__", "rnn_tanh",
             "_VF", "_VariableFunctions")


def _write(tmp_path: Path, content: bytes) -> Path:
    path = tmp_path / "submission.ipynb"
    path.write_bytes(content)
    return path


@pytest.mark.parametrize("content, words", [
    (b"", "is empty"),
    (b"   \n", "is empty"),
    (b'{"cells": [', "not valid JSON"),
    (b"\xff\xfe\x00garbage", "not UTF-8"),
    (b'{"hello": 1}', "not a Jupyter notebook"),
    (b"[1, 2, 3]", "not a Jupyter notebook"),
    (b'{"cells": 5, "nbformat": 4, "nbformat_minor": 5, "metadata": {}}', "could not be read"),
])
def test_broken_files_get_one_clear_message(tmp_path: Path, content: bytes, words: str) -> None:
    with pytest.raises(NotebookError, match=words):
        load_notebook(_write(tmp_path, content))


def test_missing_file_and_folder(tmp_path: Path) -> None:
    with pytest.raises(NotebookError, match="does not exist"):
        load_notebook(tmp_path / "nope.ipynb")
    with pytest.raises(NotebookError, match="is a folder"):
        load_notebook(tmp_path)


def test_huge_file_is_refused_before_reading(tmp_path: Path) -> None:
    path = _write(tmp_path, b"{" + b" " * 2000 + b"}")
    with pytest.raises(NotebookError, match="more than"):
        load_notebook(path, max_bytes=1000)


def test_old_nbformat_3_is_upgraded(tmp_path: Path) -> None:
    v3 = {"nbformat": 3, "nbformat_minor": 0, "metadata": {}, "worksheets": [{"cells": [
        {"cell_type": "code", "input": "def manual_rnn():\n    return 1", "language": "python",
         "outputs": [], "metadata": {}}]}]}
    notebook = load_notebook(_write(tmp_path, json.dumps(v3).encode()))
    assert [cell.source for cell in notebook.cells] == ["def manual_rnn():\n    return 1"]


def test_self_check_and_nbgrader_test_cells_are_not_run() -> None:
    notebook = load_notebook(SOLUTION)
    sources = "\n".join(cell.source for cell in notebook.cells)
    assert "def manual_rnn" in sources
    assert "-m grader check" not in sources
    all_cells = nbformat.read(SOLUTION, as_version=4).cells
    test_cell = next(c for c in all_cells
                     if c.metadata["nbgrader"]["grade_id"] == "test_manual_rnn")
    assert test_cell.source not in sources


def _notebook_with(tmp_path: Path, source: str) -> Path:
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(source)])
    path = tmp_path / "n.ipynb"
    nbformat.write(notebook, path)
    return path


@pytest.mark.parametrize("body", [
    "return rnn(sequence, h_0)",
    "return rnn.forward(sequence, h_0)",
    "return torch.nn.RNN(3, 4, bidirectional=True)(sequence)",
    "return torch._VF.rnn_tanh(sequence, h_0, [], True, 1, 0.0, False, True, False)",
    "return torch.rnn_tanh(sequence, h_0, [], True, 1, 0.0, False, True, False)",
    "return getattr(torch, 'rnn_tanh')(sequence)",
    "return torch._C._VariableFunctions.rnn_tanh(sequence)",
])
def test_reading_the_code_finds_the_builtin_rnn(tmp_path: Path, body: str) -> None:
    path = _notebook_with(tmp_path, f"%matplotlib inline\ndef manual_rnn():\n    {body}\n")
    assert forbidden_uses(load_notebook(path), "manual_rnn", FORBIDDEN)


def test_the_builtin_rnn_outside_the_function_is_allowed(tmp_path: Path) -> None:
    path = _notebook_with(tmp_path, "expected = rnn(sequence, h_0)\n"
                          "def manual_rnn():\n    return torch.tanh(sequence), h_0\n")
    assert forbidden_uses(load_notebook(path), "manual_rnn", FORBIDDEN) == []
