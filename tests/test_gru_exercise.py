"""The GRU exercise (grader/exercises/gru.py) and its notebooks.

The tolerance is sound over 1,000 random seeds and sizes: correct code in float32 (per-gate
matmuls; one fused matmul, chunk, exp-sigmoid and lerp; nn.GRU's own float32 kernel) and in
float64 stays inside it, and within the rounding bound itself; every catalogued mistake falls
outside it and is never matched by correct code. Each seed's inputs, reference and mistake
predictions are computed once (module fixture) and shared by the tests.
"""

from __future__ import annotations

import dataclasses
import textwrap
from collections.abc import Mapping
from pathlib import Path

import nbformat
import numpy as np
import pytest
import torch

from grader.checking.compare import locate
from grader.checking.mistakes import consistent as consistent_mistakes
from grader.checking.mistakes import weigh_catalogue as weigh_mistakes
from grader.checking.reference import Reference, compute_reference
from grader.config import Config, Tolerance
from grader.exercises import gru
from grader.exercises.gru import EXERCISE
from grader.notebooks.assignment import make_assignment
from grader.notebooks.load import SKIP_TAG, forbidden_uses, load_notebook

ROOT = Path(__file__).resolve().parent.parent
SOLUTION = ROOT / "solutions" / "gru.ipynb"
ASSIGNMENT = ROOT / "assignments" / "gru.ipynb"
SEEDS = range(1000)
MISTAKE_KEYS = [mistake.key for mistake in EXERCISE.mistakes]


# --- Implementations written as students would (torch, by hand) ----------------------------

def _tensors(inputs: Mapping[str, np.ndarray], dtype: torch.dtype) -> dict[str, torch.Tensor]:
    return {name: torch.from_numpy(values).to(dtype) for name, values in inputs.items()}


def _per_gate(inputs, dtype: torch.dtype = torch.float32, mistake: str = "") -> dict:
    """The notebook's way: chunk the weights per gate, one matmul per gate and step. With
    `mistake`, the catalogued mistake of that key, written the way a student writes it."""
    t = _tensors(inputs, dtype)
    order = (1, 0, 2) if mistake == "r_z_swapped" else (0, 1, 2)
    w_ir, w_iz, w_in = (t["w_ih_l0"].chunk(3)[k] for k in order)  # (H, I) each
    w_hr, w_hz, w_hn = (t["w_hh_l0"].chunk(3)[k] for k in order)  # (H, H) each
    keep_ih = mistake not in ("missing_b_ih", "missing_both_biases")
    keep_hh = mistake not in ("missing_b_hh", "missing_both_biases")
    b_ir, b_iz, b_in = (t["b_ih_l0"].chunk(3)[k] * keep_ih for k in order)  # (H,) each
    b_hr, b_hz, b_hn = (t["b_hh_l0"].chunk(3)[k] * keep_hh for k in order)
    h = t["h_0"][0] * (mistake != "h0_ignored")  # (N, H)
    states = []
    for x in t["sequence"]:  # (N, I)
        r = torch.sigmoid(x @ w_ir.T + b_ir + h @ w_hr.T + b_hr)
        z = torch.sigmoid(x @ w_iz.T + b_iz + h @ w_hz.T + b_hz)
        hidden = {"reset_after_bias": r * (h @ w_hn.T) + b_hn,
                  "reset_on_h": (r * h) @ w_hn.T + b_hn,
                  "reset_left_out": h @ w_hn.T + b_hn}.get(mistake, r * (h @ w_hn.T + b_hn))
        squash = torch.sigmoid if mistake == "n_with_sigmoid" else torch.tanh
        n = squash(x @ w_in.T + b_in + hidden)
        h = z * n + (1 - z) * h if mistake == "update_swapped" else (1 - z) * n + z * h
        states.append(h)
    output = torch.stack(states)  # (L, N, H)
    h_n = output[:1] if mistake == "hn_first_step" else h[None]
    return {"output": output.numpy(), "h_n": h_n.numpy()}


def _fused(inputs, dtype: torch.dtype = torch.float32) -> dict:
    """Another rounding order: one matmul per side for all three gates, then chunk; sigmoid
    as 1 / (1 + exp(-a)); the update as torch.lerp (n + z (h - n))."""
    t = _tensors(inputs, dtype)
    h = t["h_0"][0]
    states = []
    for x in t["sequence"]:
        i_r, i_z, i_n = (x @ t["w_ih_l0"].T + t["b_ih_l0"]).chunk(3, dim=1)  # (N, H) each
        h_r, h_z, h_n = (h @ t["w_hh_l0"].T + t["b_hh_l0"]).chunk(3, dim=1)
        r, z = 1 / (1 + torch.exp(-(i_r + h_r))), 1 / (1 + torch.exp(-(i_z + h_z)))
        n = torch.tanh(i_n + r * h_n)
        h = torch.lerp(n, h, z)
        states.append(h)
    return {"output": torch.stack(states).numpy(), "h_n": h[None].numpy()}


def _module(inputs, dtype: torch.dtype = torch.float32) -> dict:
    """nn.GRU's own kernel in float32: aten::gru, which nn.GRU.forward calls with its flat
    weights (called directly: building a module per seed costs more than the kernel)."""
    t = _tensors(inputs, dtype)
    weights = [t[name] for name in ("w_ih_l0", "w_hh_l0", "b_ih_l0", "b_hh_l0")]
    output, h_n = torch.gru(t["sequence"], t["h_0"], weights, True, 1, 0.0, False, False, False)
    return {"output": output.numpy(), "h_n": h_n.numpy()}


CORRECT = {"float32 per gate": _per_gate, "float32 fused, lerp": _fused,
           "float32 nn.GRU": _module,
           "float64 per gate": lambda inputs: _per_gate(inputs, torch.float64)}


# --- The 1,000 seeds, computed once --------------------------------------------------------

@dataclasses.dataclass
class Sample:
    seed: int
    inputs: dict[str, np.ndarray]
    reference: Reference
    bound: dict[str, np.ndarray]
    predicted: dict[str, dict | None]  # each mistake's prediction (None: cannot show)
    correct: dict[str, dict]  # each correct implementation's result

    def exercise(self):
        """EXERCISE with this seed's predictions cached, for weigh_mistakes."""
        return dataclasses.replace(EXERCISE, mistakes=tuple(
            dataclasses.replace(m, compute=lambda _, p=self.predicted[m.key]: p)
            for m in EXERCISE.mistakes))


def _inputs(seed: int) -> dict[str, np.ndarray]:
    plan = EXERCISE.case_plans[seed % len(EXERCISE.case_plans)]
    sizes = plan.draw_sizes(np.random.default_rng(seed))
    return EXERCISE.make_inputs(sizes, seed, zero_h0=seed % 3 == 0)


@pytest.fixture(scope="module")
def samples() -> list[Sample]:
    made, tolerance = [], Tolerance()
    for seed in SEEDS:
        inputs = _inputs(seed)
        reference = compute_reference(EXERCISE, inputs, tolerance)
        bound = {name: (allowed - tolerance.floor) / tolerance.factor
                 for name, allowed in reference.tolerance.items()}  # the rounding bound itself
        made.append(Sample(seed, inputs, reference, bound,
                           {m.key: m.compute(inputs) for m in EXERCISE.mistakes},
                           {name: run(inputs) for name, run in CORRECT.items()}))
    return made


def _ratio(got: Mapping[str, np.ndarray], want: Mapping[str, np.ndarray],
           scale: Mapping[str, np.ndarray]) -> float:
    """The largest |got - want| / scale over every element of every output."""
    if any(got[name].shape != want[name].shape for name in want):
        return np.inf
    return max(float(np.max(np.abs(got[name].astype(np.float64) - want[name]) / scale[name]))
               for name in want)


# --- Tolerance ------------------------------------------------------------------------------

def test_the_mistake_engine_without_mistakes_is_nn_gru(samples) -> None:
    """The catalogue's float64 GRU, with no switch set, is the reference: each mistake
    differs from nn.GRU by its own switch only."""
    for sample in samples[:200]:
        assert _ratio(gru._gru(sample.inputs), sample.reference.values,
                      {k: 1e-12 + 0 * v for k, v in sample.bound.items()}) <= 1.0, sample.seed


def test_correct_code_never_fails_through_rounding_over_1000_seeds(samples) -> None:
    failures = [(sample.seed, name) for sample in samples
                for name, got in sample.correct.items()
                if _ratio(got, sample.reference.values, sample.reference.tolerance) > 1.0]
    assert failures == []


def test_the_rounding_bound_bounds_correct_float32_code(samples) -> None:
    """Without the safety factor and the floor: every error is within the bound itself."""
    worst = {name: max(_ratio(s.correct[name], s.reference.values, s.bound) for s in samples)
             for name in CORRECT}
    assert all(ratio < 1.0 for ratio in worst.values()), worst


@pytest.mark.parametrize("key", MISTAKE_KEYS)
def test_every_mistake_falls_outside_the_tolerance_wherever_it_can_show(samples, key) -> None:
    shown = [sample for sample in samples if sample.predicted[key] is not None]
    assert len(shown) >= len(samples) // 2
    inside = [s.seed for s in shown
              if _ratio(s.predicted[key], s.reference.values, s.reference.tolerance) <= 1.0]
    assert inside == []


def test_mistakes_stand_aside_only_where_they_cannot_show(samples) -> None:
    """None means the mistake would change nothing: h_0 ignored when h_0 is zero, h_n at the
    first step when there is one step. Every other mistake shows on every case."""
    for sample in samples:
        steps, h0_nonzero = sample.inputs["sequence"].shape[0], bool(sample.inputs["h_0"].any())
        for key, predicted in sample.predicted.items():
            can_show = {"h0_ignored": h0_nonzero, "hn_first_step": steps > 1}.get(key, True)
            assert (predicted is not None) == can_show, (sample.seed, key)


def test_the_catalogue_never_diagnoses_correct_code_over_1000_seeds(samples) -> None:
    matched = [(sample.seed, name, keys) for sample in samples
               for name, got in sample.correct.items()
               if (keys := weigh_mistakes(sample.exercise(), sample.inputs, sample.reference,
                                          got)[0])]
    assert matched == []


@pytest.mark.parametrize("key", MISTAKE_KEYS)
def test_each_mistake_written_in_float32_is_recognised(samples, key) -> None:
    """A student's float32 version of the mistake matches its catalogue entry wherever the
    entry can show, and across the public cases it is the one diagnosed."""
    for sample in samples[:120]:
        if sample.predicted[key] is None:
            continue
        matched, _ = weigh_mistakes(sample.exercise(), sample.inputs, sample.reference,
                                    _per_gate(sample.inputs, mistake=key))
        assert key in matched, sample.seed
    from grader.checking.cases import make_inputs, public_cases

    weighed = []
    for case in public_cases(EXERCISE):
        inputs = make_inputs(EXERCISE, case)
        reference = compute_reference(EXERCISE, inputs, Tolerance())
        weighed.append(weigh_mistakes(EXERCISE, inputs, reference,
                                      _per_gate(inputs, mistake=key)))
    assert consistent_mistakes(weighed) == [key]


# --- Cases, inputs, reference ---------------------------------------------------------------

def test_case_plans_keep_the_structural_coverage() -> None:
    public = [(plan.public_sizes, plan.zero_h0) for plan in EXERCISE.case_plans]
    assert public[0][0] == gru.NOTEBOOK_SIZES
    assert any(s["L"] == 1 and s["N"] == 1 for s, _ in public)  # one step, one sequence
    assert any(s["L"] > 1 and s["N"] == 1 for s, _ in public)  # one sequence
    assert any(s["N"] > s["L"] for s, _ in public)  # more sequences than steps
    assert any(s["H"] >= 8 for s, _ in public)  # a wide hidden state
    assert {zero for _, zero in public} == {True, False}
    assert all(s["I"] != s["H"] for s, _ in public)
    rng = np.random.default_rng(0)
    for plan in EXERCISE.case_plans[1:]:
        for _ in range(50):
            drawn = plan.draw_sizes(rng)
            assert drawn["I"] != drawn["H"], plan.label
            for axis in "LN":  # an axis of size 1 stays 1; N > L stays N > L; wide stays wide
                assert (drawn[axis] == 1) == (plan.public_sizes[axis] == 1), plan.label
            if plan.label == "more sequences than time steps":
                assert drawn["N"] > drawn["L"] > 1
            assert (drawn["H"] >= 8) == (plan.public_sizes["H"] >= 8), plan.label


def test_inputs_are_float32_with_the_contract_shapes() -> None:
    sizes = {"L": 3, "N": 2, "I": 5, "H": 4}
    inputs = EXERCISE.make_inputs(sizes, 7, zero_h0=False)
    shapes = {"w_ih_l0": (12, 5), "w_hh_l0": (12, 4), "b_ih_l0": (12,), "b_hh_l0": (12,),
              "sequence": (3, 2, 5), "h_0": (1, 2, 4)}
    assert {name: values.shape for name, values in inputs.items()} == shapes
    assert all(values.dtype == np.float32 for values in inputs.values())
    assert max(np.abs(inputs[name]).max() for name in gru.WEIGHTS) <= 0.5  # 1 / sqrt(H)
    assert not EXERCISE.make_inputs(sizes, 7, zero_h0=True)["h_0"].any()
    reference = EXERCISE.reference(inputs)
    assert reference["output"].shape == (3, 2, 4) and reference["h_n"].shape == (1, 2, 4)
    assert reference["output"].dtype == np.float64
    np.testing.assert_array_equal(reference["h_n"][0], reference["output"][-1])


def test_the_childs_globals_are_the_contracts() -> None:
    sizes = {"L": 3, "N": 2, "I": 5, "H": 4}
    arrays = EXERCISE.make_inputs(sizes, 3, zero_h0=False)
    namespace = gru.child_namespace(sizes, arrays)
    assert set(namespace) == {"SEQUENCE_LENGTH", "BATCH_SIZE", "INPUT_SIZE", "HIDDEN_SIZE",
                              "NUM_LAYERS", "gru", "sequence", "h_0", *gru.WEIGHTS}
    assert (namespace["SEQUENCE_LENGTH"], namespace["BATCH_SIZE"], namespace["INPUT_SIZE"],
            namespace["HIDDEN_SIZE"], namespace["NUM_LAYERS"]) == (3, 2, 5, 4, 1)
    module = namespace["gru"]
    assert isinstance(module, torch.nn.GRU)
    for name, parameter in gru.WEIGHTS.items():
        assert namespace[name] is getattr(module, parameter)
        np.testing.assert_array_equal(namespace[name].detach().numpy(), arrays[name])
    with torch.no_grad():
        output, h_n = module(namespace["sequence"], namespace["h_0"])
    reference = EXERCISE.reference(arrays)
    np.testing.assert_allclose(output.numpy(), reference["output"], atol=1e-5)


# --- Shapes and parts -----------------------------------------------------------------------

@pytest.mark.parametrize("plan", EXERCISE.case_plans, ids=lambda plan: plan.label)
def test_shape_stories_name_each_known_wrong_shape(plan) -> None:
    sizes = plan.public_sizes
    for name in EXERCISE.output_names:
        expected = EXERCISE.expected_shape(name, sizes)
        for shape, _story in gru._shape_stories(name, sizes):
            if shape != expected:
                explained = EXERCISE.explain_shape(name, shape, sizes)
                assert explained, (name, shape)
                first = next(s for sh, s in gru._shape_stories(name, sizes) if sh == shape)
                assert explained == first  # most specific first


def test_shape_stories_tell_the_usual_wrong_shapes() -> None:
    sizes = {"L": 5, "N": 3, "I": 4, "H": 6}
    explain = EXERCISE.explain_shape
    assert "batch and time are swapped" in explain("output", (3, 5, 6), sizes)
    assert "gates" in explain("output", (5, 3, 18), sizes)
    assert "one direction" in explain("output", (5, 3, 12), sizes)
    assert "leading axis is missing" in explain("h_n", (3, 6), sizes)
    assert "every step" in explain("h_n", (5, 3, 6), sizes)
    assert "one layer and one direction" in explain("h_n", (2, 3, 6), sizes)
    assert "hard-coded" in explain("output", (5, 3, 6), {"L": 2, "N": 4, "I": 4, "H": 3})
    assert "compare each axis" in explain("output", (7, 7, 7), sizes)


def test_parts_are_output_and_h_n_and_locate_an_element() -> None:
    output, h_n = np.zeros((4, 2, 3)), np.zeros((1, 2, 3))
    assert list(EXERCISE.split_halves("output", output)) == ["output"]
    assert EXERCISE.split_halves("h_n", h_n)["h_n"].shape == (2, 3)
    assert locate(EXERCISE, "output", (4, 2, 3), (2, 1, 0)) == \
        "output, time step 2, sequence 1, unit 0"
    assert locate(EXERCISE, "h_n", (1, 2, 3), (0, 1, 2)) == "h_n, sequence 1, unit 2"


# --- The built-in rule ----------------------------------------------------------------------

def _notebook_with(tmp_path: Path, body: str) -> Path:
    notebook = nbformat.v4.new_notebook()
    # The notebook's own set-up, as students have it: the code check resolves names (gru is
    # the module, nn is torch.nn) from the notebook's imports and assignments.
    notebook.cells = [nbformat.v4.new_code_cell("import torch\nfrom torch import nn\n\n"
                                                "gru = nn.GRU(4, 6)\n"),
                      nbformat.v4.new_code_cell("def manual_gru():\n" + textwrap.indent(
                          body, "    "))]
    path = tmp_path / "gru.ipynb"
    nbformat.write(notebook, path)
    return path


@pytest.mark.parametrize("body", [
    "return gru(sequence, h_0)", "return gru.forward(sequence, h_0)",
    "return nn.GRU(4, 6)(sequence, h_0)", "return torch.nn.GRUCell(4, 6)(sequence[0], h_0[0])",
    "return torch.gru(sequence, h_0, [], True, 1, 0.0, False, False, False)",
    "return torch._VF.gru(sequence, h_0)", "return torch.gru_cell(sequence[0], h_0[0], w, w)",
    "return nn.LSTM(4, 6)(sequence)", "return nn.RNN(4, 6)(sequence)",
])
def test_the_static_check_names_every_recurrent_builtin(tmp_path, body) -> None:
    notebook = load_notebook(_notebook_with(tmp_path, body))
    assert forbidden_uses(notebook, EXERCISE.function, EXERCISE.forbidden_calls)


def test_the_solution_uses_no_builtin() -> None:
    notebook = load_notebook(SOLUTION)
    assert forbidden_uses(notebook, EXERCISE.function, EXERCISE.forbidden_calls) == []


def test_a_students_own_step_helper_is_not_a_builtin(tmp_path) -> None:
    body = "def gru_cell(x, h):\n    return h\nh = gru_cell(sequence[0], h_0[0])\n" \
        "return gru_step(h), lstm_cell(h), gru.weight_ih_l0"
    notebook = load_notebook(_notebook_with(tmp_path, body))
    assert forbidden_uses(notebook, EXERCISE.function, EXERCISE.forbidden_calls) == []


# --- The notebooks --------------------------------------------------------------------------

def _grade_id(cell) -> str:
    return cell.metadata["nbgrader"]["grade_id"]


def test_assignment_is_what_generation_produces() -> None:
    generated = make_assignment(nbformat.read(SOLUTION, as_version=4))
    shipped = nbformat.read(ASSIGNMENT, as_version=4)
    assert nbformat.writes(generated) == nbformat.writes(shipped), (
        "assignments/ drifted from solutions/: run `rnn-grader assign solutions/gru.ipynb "
        "--out assignments/gru.ipynb`")


def test_solution_is_an_nbgrader_source_notebook() -> None:
    cells = nbformat.read(SOLUTION, as_version=4).cells
    ids = [_grade_id(cell) for cell in cells]
    assert len(set(ids)) == len(ids)
    unlocked = [_grade_id(c) for c in cells if not c.metadata["nbgrader"]["locked"]]
    assert unlocked == [EXERCISE.function]
    solution = next(c for c in cells if _grade_id(c) == EXERCISE.function)
    assert "### BEGIN SOLUTION" in solution.source and "### END SOLUTION" in solution.source
    graded = [c for c in cells if c.metadata["nbgrader"]["grade"]]
    assert [_grade_id(c) for c in graded] == [EXERCISE.nbgrader_grade_cell]
    assert graded[0].metadata["nbgrader"]["points"] == 10
    assert SKIP_TAG in graded[0].metadata["tags"]
    assert cells[-1].source.endswith('!"{sys.executable}" -m grader check gru.ipynb')
    assert SKIP_TAG in cells[-1].metadata["tags"]
    setup = "\n".join(c.source for c in cells if c.cell_type == "code")
    assert "gru = nn.GRU(INPUT_SIZE, HIDDEN_SIZE)" in setup
    for name in ("SEQUENCE_LENGTH", "BATCH_SIZE", "INPUT_SIZE", "HIDDEN_SIZE", "NUM_LAYERS",
                 "sequence", "h_0", *gru.WEIGHTS):
        assert f"\n{name} = " in "\n" + setup, name


def _run_cells(path: Path, namespace: dict, stop_at: str | None = None) -> None:
    """The notebook's code cells, in order, but the self-check (a shell command)."""
    for index, cell in enumerate(nbformat.read(path, as_version=4).cells):
        if cell.cell_type != "code" or _grade_id(cell) == "self_check":
            continue
        if _grade_id(cell) == stop_at:
            return
        exec(compile(cell.source, f"<{path.name} cell {index + 1}>", "exec"), namespace)


def test_solution_runs_and_returns_what_nn_gru_returns_on_every_public_case(capsys) -> None:
    from grader.checking.cases import make_inputs, public_cases

    namespace: dict = {}
    _run_cells(SOLUTION, namespace)  # the demo and the autograded cell assert on their own
    assert "matches nn.GRU" in capsys.readouterr().out
    for case in public_cases(EXERCISE):
        inputs = make_inputs(EXERCISE, case)
        namespace.update(gru.child_namespace(case.sizes, inputs))
        output, h_n = namespace[EXERCISE.function]()
        assert output.dtype == h_n.dtype == torch.float32
        reference = compute_reference(EXERCISE, inputs, Tolerance())
        got = {"output": output.numpy(), "h_n": h_n.numpy()}
        assert _ratio(got, reference.values, reference.tolerance) <= 1.0, case.label


def test_assignment_stops_only_at_the_unfinished_function() -> None:
    namespace: dict = {}
    _run_cells(ASSIGNMENT, namespace, stop_at="demo_manual_gru")
    assignment = nbformat.read(ASSIGNMENT, as_version=4)
    stub = next(c for c in assignment.cells if _grade_id(c) == EXERCISE.function)
    assert "raise NotImplementedError()" in stub.source
    assert "BEGIN SOLUTION" not in nbformat.writes(assignment)
    with pytest.raises(NotImplementedError):
        namespace[EXERCISE.function]()


# --- Through the real pipeline (sandboxed child, public cases) ------------------------------

@pytest.fixture(scope="module")
def graded(tmp_path_factory) -> dict:
    """The solution, the assignment and a notebook with z and 1 - z swapped, graded on the
    public cases the way `check` grades (a forked child, the walls the machine allows)."""
    from grader.checking.cases import public_cases
    from grader.isolation.sandbox import worker_context
    from grader.pipeline import GradingPlan, grade_submission

    folder = tmp_path_factory.mktemp("gru")
    buggy = nbformat.read(SOLUTION, as_version=4)
    cell = next(c for c in buggy.cells if _grade_id(c) == EXERCISE.function)
    assert "h = (1 - z) * n + z * h" in cell.source
    cell.source = cell.source.replace("h = (1 - z) * n + z * h", "h = z * n + (1 - z) * h")
    nbformat.write(buggy, folder / "gru.ipynb")
    plan = GradingPlan(EXERCISE, public_cases(EXERCISE), Config(), allow_weak=True)
    return {name: grade_submission(path, name, plan, worker_context("fork"))
            for name, path in (("solution", SOLUTION), ("assignment", ASSIGNMENT),
                               ("update_swapped", folder / "gru.ipynb"))}


def test_pipeline_finds_every_part_of_the_solution_right(graded) -> None:
    result = graded["solution"]
    assert result.status == "graded"
    assert [check.halves_ok for case in result.cases for check in case.checks] == \
        [{"output": True}, {"h_n": True}] * len(EXERCISE.case_plans)


def test_pipeline_gives_the_solution_full_marks(graded) -> None:
    assert graded["solution"].score == graded["solution"].max_score


def test_pipeline_tells_the_assignment_is_not_implemented(graded) -> None:
    result = graded["assignment"]
    assert (result.status, result.score) == ("not_implemented", 0.0)


def test_pipeline_diagnoses_the_swapped_update(graded) -> None:
    result = graded["update_swapped"]
    assert result.score == 0.0
    assert all(case.mistakes == ["update_swapped"] for case in result.cases)
    assert "z and 1 - z swapped" in result.findings[0].title
