"""The run-time guard (grader/isolation/builtin_guard.py): every route to torch's recurrent
built-ins is counted, a hand-written loop is not, the by-hand kernels compute what torch's do,
and the guard cannot be switched off by assigning attributes.

The guard replaces kernels for the rest of its process, so tests/guard_probe.py runs it in a
child process and reports JSON; the tests below read that report.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from grader.exercises import EXERCISE

PROBE = Path(__file__).resolve().parent / "guard_probe.py"
ROOT = PROBE.parents[1]
sys.path.insert(0, str(PROBE.parent))

import guard_probe  # noqa: E402  (only its route names: it installs nothing when imported)


@pytest.fixture(scope="module")
def report() -> dict:
    done = subprocess.run([sys.executable, str(PROBE)], capture_output=True, text=True,
                          cwd=ROOT, timeout=600)
    assert done.returncode == 0, done.stderr[-4000:]
    return json.loads(done.stdout)


@pytest.mark.parametrize("route", list(guard_probe.ROUTES))
def test_every_route_to_a_recurrent_builtin_is_counted(report: dict, route: str) -> None:
    seen = report["routes"][route]
    assert seen["calls"] >= 1, seen
    if "refused" in route:
        assert "cannot be traced or compiled while grading" in seen["error"], seen


def test_the_layers_and_plain_kernels_still_compute(report: dict) -> None:
    computing = [name for name in guard_probe.ROUTES
                 if not name.startswith(("torch.mkldnn", "quantized dynamic", "make_fx",
                                         "recording", "torch.ops.aten._thnn"))]
    failed = {name: report["routes"][name]["error"] for name in computing
              if report["routes"][name]["error"]}
    assert not failed


def test_other_recurrent_kernels_refuse_with_a_clear_message(report: dict) -> None:
    for route in ("torch.mkldnn_rnn_layer", "quantized dynamic LSTM",
                  "torch.ops.aten._thnn_fused_gru_cell"):
        assert "is a built-in recurrent kernel, not available while grading" in \
            report["routes"][route]["error"], route


@pytest.mark.parametrize("code", list(guard_probe.NOT_RECURRENT))
def test_hand_written_code_is_not_counted(report: dict, code: str) -> None:
    assert report["not_recurrent"][code] == {"calls": 0, "error": None}


def test_a_graph_compiled_at_top_level_still_counts_when_replayed(report: dict) -> None:
    assert report["compiled_replay"]["calls"] >= 1, report["compiled_replay"]


@pytest.mark.parametrize("module", list(guard_probe.MODULES))
def test_by_hand_kernels_match_torchs(report: dict, module: str) -> None:
    """float64, so only summation order differs: RNN, GRU, LSTM (projections, several layers,
    both directions, batch_first, no bias) and their cells."""
    found = report["by_hand"][module]
    assert found["calls"] == 1 and found["shapes"], found
    assert found["error"] < 1e-12, found


def test_gradients_flow_through_by_hand_kernels(report: dict) -> None:
    assert report["by_hand"]["gradient flows"]


def test_results_are_recognised_by_their_storage_and_forgotten_when_freed(report: dict) -> None:
    assert report["returned"] == {"output": True, "view of h_n": True, "clone": False,
                                  "own tensor": False, "freed result forgotten": True}


def test_the_guard_cannot_be_patched_by_assignment(report: dict) -> None:
    assert all(report["patching_refused"].values()), report["patching_refused"]


def test_every_guarded_operator_is_a_forbidden_name(report: dict) -> None:
    """The code check (exercise.forbidden_calls) names every operator the guard counts."""
    words = re.compile("|".join(EXERCISE.forbidden_calls), re.IGNORECASE)
    ops = report["ops"]
    assert len(ops) >= 50
    for expected in ("aten::rnn_tanh.input", "aten::rnn_relu.data", "aten::gru.input",
                     "aten::lstm.input", "aten::rnn_tanh_cell", "aten::gru_cell",
                     "aten::lstm_cell", "aten::quantized_lstm.input",
                     "aten::quantized_rnn_tanh_cell", "aten::mkldnn_rnn_layer",
                     "aten::_thnn_fused_gru_cell", "aten::_cudnn_rnn", "aten::miopen_rnn",
                     "quantized::quantized_rnn_tanh_cell_dynamic"):
        assert expected in ops
    assert [op for op in ops if not words.search(op.split("::")[1])] == []
