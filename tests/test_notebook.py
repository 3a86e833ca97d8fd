"""Loading a submission: every broken file is one clear NotebookError; cells are chosen right."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest

from grader.exercises import EXERCISE
from grader.notebooks.load import (
    Notebook,
    NotebookError,
    forbidden_uses,
    load_notebook,
    review_findings,
)
from tests.conftest import ASSIGNMENT, SOLUTION

FORBIDDEN = EXERCISE.forbidden_calls


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


def _solution_with(tmp_path: Path, function: str | None = None, *extra: str) -> Notebook:
    """The solution notebook (its locked cells: imports, `rnn = nn.RNN(...)`, weights, demo)
    with the manual_rnn cell replaced by `function` and `extra` cells inserted before it."""
    notebook = nbformat.read(SOLUTION, as_version=4)
    cell = next(c for c in notebook.cells if c.metadata["nbgrader"]["grade_id"] == "manual_rnn")
    if function is not None:
        cell.source = function
    position = notebook.cells.index(cell)
    for source in reversed(extra):
        notebook.cells.insert(position, nbformat.v4.new_code_cell(source))
    path = tmp_path / "submission.ipynb"
    nbformat.write(notebook, path)
    return load_notebook(path)


PARAMS = "[w_ih_l0, w_hh_l0, b_ih_l0, b_hh_l0, w_r_ih_l0, w_r_hh_l0, b_r_ih_l0, b_r_hh_l0]"


@pytest.mark.parametrize("body", [
    "return rnn(sequence, h_0)",
    "return rnn.forward(sequence, h_0)",
    "return type(rnn).forward(rnn, sequence, h_0)",
    "return nn.RNN(INPUT_SIZE, HIDDEN_SIZE, bidirectional=True)(sequence)",
    "return torch.nn.RNN(3, 4, bidirectional=True)(sequence)",
    "gru = torch.nn.GRU(INPUT_SIZE, HIDDEN_SIZE, bidirectional=True)\n    return gru(sequence)",
    "return nn.LSTM(INPUT_SIZE, HIDDEN_SIZE)(sequence)",
    "return nn.GRUCell(INPUT_SIZE, HIDDEN_SIZE)(sequence[0]), h_0",
    "h = [torch.rnn_tanh_cell(x, h_0[0], w_ih_l0, w_hh_l0, b_ih_l0, b_hh_l0) for x in sequence]",
    f"return torch._VF.rnn_tanh(sequence, h_0, {PARAMS}, True, 1, 0.0, False, True, False)",
    f"return torch.rnn_tanh(sequence, h_0, {PARAMS}, True, 1, 0.0, False, True, False)",
    "return torch.ops.aten.rnn_tanh.input(sequence, h_0, [], True, 1, 0.0, False, True, False)",
    "return torch.ops.aten.lstm_cell.default(sequence[0], [h_0[0], h_0[0]], w_ih_l0, w_hh_l0)",
    "return getattr(torch, 'rnn_tanh')(sequence)",
    "return getattr(torch._C._VariableFunctions, 'rnn' + '_tanh')(sequence)",
    "return torch._C._VariableFunctions.rnn_tanh(sequence)",
    "module = globals()['r' + 'nn']\n    return module(sequence, h_0)",
    "step = rnn\n    return step(sequence, h_0)",
    "import functools\n    return functools.partial(rnn, sequence)(h_0)",
    "from torch.nn import GRU as Recurrent\n    return Recurrent(4, 6)(sequence)",
    "return torch.ao.nn.quantizable.LSTM(INPUT_SIZE, HIDDEN_SIZE)(sequence)",
    "def inner():\n        return rnn(sequence, h_0)\n    return inner()",
])
def test_reading_the_code_finds_the_builtin_rnn(tmp_path: Path, body: str) -> None:
    notebook = _solution_with(tmp_path, f"%matplotlib inline\ndef manual_rnn():\n    {body}\n")
    found = forbidden_uses(notebook, "manual_rnn", FORBIDDEN)
    assert found and all(where.startswith("cell 9, line ") for where in found), found


def test_the_builtin_reached_through_a_helper_a_class_or_a_magic_is_found(tmp_path: Path):
    helper = ("def _by_rnn():\n    return rnn(sequence, h_0)\n\n\n"
              "def manual_rnn():\n    return _by_rnn()\n")
    assert forbidden_uses(_solution_with(tmp_path, helper), "manual_rnn", FORBIDDEN) == [
        "cell 9, line 2: calls rnn(...) (a built-in torch.nn.RNN)"]
    model = ("class Model:\n    def __init__(self):\n        self.gru = nn.GRU(4, 6)\n\n"
             "    def __call__(self, x):\n        return self.gru(x)\n\n\n"
             "def manual_rnn():\n    return Model()(sequence)\n")
    assert forbidden_uses(_solution_with(tmp_path, model), "manual_rnn", FORBIDDEN) == [
        "cell 9, line 3: calls nn.GRU(...) (torch.nn.GRU)"]
    timed = "%%time\ndef manual_rnn():\n    return rnn(sequence, h_0)\n"
    assert forbidden_uses(_solution_with(tmp_path, timed), "manual_rnn", FORBIDDEN) == [
        "cell 9, line 3: calls rnn(...) (a built-in torch.nn.RNN)"]


HAND_WRITTEN_RNN_CLASS = '''\
class RNN:
    """An Elman RNN written by hand (as in many public repositories)."""

    def __init__(self, w_ih, w_hh, b_ih, b_hh):
        self.w_ih, self.w_hh, self.b_ih, self.b_hh = w_ih, w_hh, b_ih, b_hh

    def forward(self, x, h):
        states = []
        for x_t in x:
            h = torch.tanh(x_t @ self.w_ih.T + self.b_ih + h @ self.w_hh.T + self.b_hh)
            states.append(h)
        return torch.stack(states), h

    def __call__(self, x, h):
        return self.forward(x, h)


def manual_rnn():
    rnn_forward = RNN(w_ih_l0, w_hh_l0, b_ih_l0, b_hh_l0)
    rnn_reverse = RNN(w_r_ih_l0, w_r_hh_l0, b_r_ih_l0, b_r_hh_l0)
    forward, h_forward = rnn_forward(sequence, h_0[0])
    reverse, h_reverse = rnn_reverse(sequence.flip(0), h_0[1])
    return torch.cat([forward, reverse.flip(0)], 2), torch.stack([h_forward, h_reverse])
'''

D2L_STYLE = '''\
import math
import numpy as np


def rnn(inputs, state, params):
    W_xh, W_hh, b_h = params
    H, = state
    outputs = []
    for X in inputs:
        H = torch.tanh(torch.mm(X, W_xh) + torch.mm(H, W_hh) + b_h)
        outputs.append(H)
    return torch.stack(outputs), (H,)


def manual_rnn():
    forward, (h_f,) = rnn(sequence, (h_0[0],), (w_ih_l0.T, w_hh_l0.T, b_ih_l0 + b_hh_l0))
    params = (w_r_ih_l0.T, w_r_hh_l0.T, b_r_ih_l0 + b_r_hh_l0)
    reverse, (h_r,) = rnn(sequence.flip(0), (h_0[1],), params)
    return torch.cat([forward, reverse.flip(0)], dim=2), torch.stack([h_f, h_r])
'''


@pytest.mark.parametrize("function, extra", [
    (None, ()),  # the shipped solution
    (HAND_WRITTEN_RNN_CLASS, ()),
    (HAND_WRITTEN_RNN_CLASS.replace("RNN(", "ElmanRNN(").replace("class RNN", "class ElmanRNN"),
     ()),
    (D2L_STYLE, ()),
    ("def manual_rnn():\n    rnn = [torch.tanh(x @ w_ih_l0.T) for x in sequence]\n"
     "    return torch.stack(rnn), h_0\n", ()),
    ("def manual_rnn():\n    return rnn(sequence, h_0)\n",
     ("class Mine:\n    def __call__(self, x, h):\n        return torch.tanh(x), h\n\n\n"
      "rnn = Mine()\n",)),
    ("from torch.nn.utils import rnn as rnn_utils\n\n\ndef manual_rnn():\n"
     "    padded = rnn_utils.pad_sequence([sequence[0]])\n"
     "    return torch.nn.utils.rnn.pad_sequence([padded]), h_0\n", ()),
    ("def manual_rnn():\n    sizes = rnn.hidden_size, rnn.weight_ih_l0.shape\n"
     "    assert isinstance(rnn, nn.RNN)\n    return sequence, h_0\n", ()),
], ids=["solution", "class RNN", "class ElmanRNN", "d2l def rnn", "local rnn",
        "rnn rebound", "nn.utils.rnn", "reads rnn's weights"])
def test_honest_code_is_not_the_builtin_rnn(tmp_path: Path, function: str | None,
                                             extra: tuple[str, ...]) -> None:
    """A student's own class RNN or function rnn, a local named rnn, reading the module's
    weights: none calls the built-in, and none needs review."""
    notebook = _solution_with(tmp_path, function, *extra)
    assert forbidden_uses(notebook, "manual_rnn", FORBIDDEN) == []
    assert review_findings(notebook) == []


def test_a_name_rebound_on_one_branch_only_is_left_to_the_run_time_guard(tmp_path: Path):
    maybe = "if SEQUENCE_LENGTH > 100:\n    def rnn(x, h):\n        return x, h\n"
    notebook = _solution_with(tmp_path, "def manual_rnn():\n    return rnn(sequence, h_0)\n",
                              maybe)
    assert forbidden_uses(notebook, "manual_rnn", FORBIDDEN) == []


def test_the_builtin_rnn_outside_the_function_is_allowed(tmp_path: Path) -> None:
    notebook = _solution_with(
        tmp_path, "def manual_rnn():\n    return torch.tanh(sequence), h_0\n",
        "expected = rnn(sequence, h_0)\n\n\ndef compare():\n    return nn.GRU(4, 6)(sequence)\n")
    assert forbidden_uses(notebook, "manual_rnn", FORBIDDEN) == []


def test_the_shipped_notebooks_need_no_review() -> None:
    for path in (SOLUTION, ASSIGNMENT):
        assert review_findings(load_notebook(path)) == []


REVIEWED = {
    "guard patched": ("import grader.isolation.builtin_guard as guard\n"
                      "guard.BuiltinRnnGuard.calls = property(lambda self: 0)\n", "grader itself"),
    "gc walk": ("import gc\nlibraries = [o for o in gc.get_objects() if type(o).__name__ == "
                "'Library']\n", "gc"),
    "gc referrers": ("import gc as g\nholders = g.get_referrers(rnn)\n", "gc"),
    "ctypes": ("import ctypes\nctypes.memset(id(rnn), 0, 8)\n", "ctypes"),
    "numpy's ctypes": ("import numpy as np\np = np.ctypeslib.as_array\n", "ctypes"),
    "torch.library": ("lib = torch.library.Library('aten', 'IMPL')\n", "operator"),
    "torch.library imported": ("from torch import library\n", "operator"),
    "dispatcher": ("torch._C._dispatch_library('IMPL', 'aten', '')\n", "operator"),
    "py_kernels": ("torch.ops.aten.rnn_tanh.input.py_kernels.clear()\n", "operator"),
    "frames": ("import sys\ncaller = sys._getframe(1).f_back.f_locals\n", "frames"),
    "inspect frames": ("import inspect\nframe = inspect.currentframe()\n", "frames"),
    "traceback frames": ("try:\n    1 / 0\nexcept ZeroDivisionError as e:\n"
                         "    f = e.__traceback__.tb_frame\n", "frames"),
    "sys.modules": ("import sys\nguard = sys.modules['grader.isolation.builtin_guard']\n",
                    "modules"),
    "builtins patched": ("import builtins\nbuiltins.len = lambda x: 0\n", "builtins"),
    "__builtins__": ("__builtins__.__dict__['len'] = None\n", "builtins"),
    "exec of computed code": ("code = ''.join(['pri', 'nt(1)'])\nexec(code)\n", "computed"),
    "eval of a literal that imports ctypes": ("eval(\"__import__('ctypes')\")\n", "ctypes"),
    "computed import": ("name = input()\n__import__(name)\n", "computed"),
    "importlib": ("import importlib\nimportlib.import_module(input())\n", "computed"),
    "setattr on torch": ("setattr(torch, 'allclose', lambda *a: True)\n", "patches torch"),
    "patched torch": ("torch.Tensor.__eq__ = lambda self, other: True\n", "patches torch"),
    "computed attribute": ("name = ''.join(['f_', 'back'])\nvalue = getattr(object, name)\n",
                           "computed"),
    "fork": ("import os\npid = os.fork()\n", "processes"),
    "subprocess": ("import subprocess\nsubprocess.run(['ls'])\n", "processes"),
    "multiprocessing": ("from multiprocessing import Process\n", "processes"),
    "shell": ("!curl http://example.com\n", "shell"),
    "pickle": ("import pickle\nobj = pickle.loads(b'')\n", "bytes"),
    "marshal": ("import marshal\ncode = marshal.loads(b'')\n", "bytes"),
    "code object": ("def f():\n    pass\n\n\nf.__code__ = None\n", "code"),
    "subclasses": ("classes = ().__class__.__base__.__subclasses__()\n", "__subclasses__"),
    "/proc": ("open(f'/proc/{1}/environ').read()\n", "/proc"),
    "writefile": ("%%writefile helper.py\nimport ctypes\n", "Python file"),
    "in the function": ("def manual_rnn():\n    import gc\n"
                        "    return gc.get_referrers(sequence)\n", "gc"),
}


@pytest.mark.parametrize("name", list(REVIEWED))
def test_code_reaching_for_the_graders_machinery_needs_review(tmp_path: Path, name: str) -> None:
    source, reason = REVIEWED[name]
    found = review_findings(_solution_with(tmp_path, None, source))
    assert any(reason in finding for finding in found), found
    assert all(finding.startswith("cell 9, line ") for finding in found), found


@pytest.mark.parametrize("source", [
    "import gc\ngc.collect()\n",
    "import math, sys, os, time, random\nimport numpy as np\nprint(sys.version, os.getcwd())\n"
    "np.random.seed(0)\nrandom.seed(0)\nstart = time.perf_counter()\nroot = math.sqrt(2)\n",
    "torch.backends.cudnn.deterministic = True\ntorch.set_printoptions(precision=4)\n",
    "!pip install -q torch\n%matplotlib inline\n%load_ext autoreload\n%autoreload 2\n",
    "%time warm_up = torch.zeros(1)\n",
    "!rnn-grader check bidirectional_rnn.ipynb\n",
    "class Cell(torch.nn.Module):\n    def __init__(self):\n        super().__init__()\n"
    "        self.w = torch.nn.Parameter(torch.zeros(3))\n\n"
    "    def forward(self, x):\n        return torch.tanh(x @ self.w)\n",
    "names = ['w_ih_l0', 'w_hh_l0']\nweights = [globals()[name] for name in names]\n"
    "reverse = {side: getattr(rnn, f'weight_ih_l0{side}') for side in ('', '_reverse')}\n",
    "states = [torch.tanh(x) for x in sequence]\nstacked = torch.stack(states)\n"
    "joined = torch.cat([stacked, stacked], dim=2)\n",
    "torch.save(rnn.state_dict(), 'weights.pt')\nstate = torch.load('weights.pt')\n",
], ids=["gc.collect", "stdlib and numpy", "torch settings", "pip and magics", "%time",
        "self-check", "nn.Module class", "names looked up from literals", "stack and cat",
        "torch.save and load"])
def test_ordinary_code_needs_no_review(tmp_path: Path, source: str) -> None:
    assert review_findings(_solution_with(tmp_path, None, source)) == []


def test_reading_never_runs_the_code(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    source = f"open({str(marker)!r}, 'w').close()\nraise SystemExit(3)\n"
    notebook = _solution_with(tmp_path, None, source)
    forbidden_uses(notebook, "manual_rnn", FORBIDDEN)
    review_findings(notebook)
    assert not marker.exists()
