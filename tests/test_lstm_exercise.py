"""The LSTM exercise: reference, tolerance, mistakes, shapes, nesting and notebooks.

* The reference is nn.LSTM itself; a float64 loop agrees with it.
* The tolerance is sound over 1,000 random seeds and sizes: correct code in float32 (per-gate
  matmuls, one fused matmul, the input projection hoisted with hand-written sigmoid and tanh,
  nn.LSTM's own kernel) and in float64 never fails; every catalogued mistake that can show
  does, and none is diagnosed on correct code.
* The shipped notebooks: the solution's function returns what nn.LSTM returns, for the
  notebook's own values and the grader's public cases; the assignment is generated from it and
  stops at the unfinished function.
"""

from __future__ import annotations

import nbformat
import numpy as np
import pytest
import torch

from grader.checking.cases import make_inputs, public_cases
from grader.checking.compare import check_output, locate
from grader.checking.mistakes import weigh_catalogue as weigh_mistakes
from grader.checking.reference import compute_reference
from grader.config import Tolerance
from grader.exercises import lstm
from grader.exercises.lstm import EXERCISE
from grader.notebooks.assignment import make_assignment
from grader.notebooks.load import forbidden_uses, load_notebook
from tests.conftest import ROOT

SEEDS = range(1000)
SOLUTION = ROOT / "solutions" / "lstm.ipynb"
ASSIGNMENT = ROOT / "assignments" / "lstm.ipynb"
FORMULATIONS = ("per_gate", "fused", "hoisted")


def _inputs(seed: int) -> dict[str, np.ndarray]:
    """Seed n: the plans in turn, each with zero initial states one time in three."""
    plans = EXERCISE.case_plans
    sizes = plans[seed % len(plans)].draw_sizes(np.random.default_rng(seed))
    return EXERCISE.make_inputs(sizes, seed, zero_h0=seed // len(plans) % 3 == 0)


@pytest.fixture(scope="module")
def seeded_cases():
    """1,000 random cases with their references, computed once for the module."""
    cases = []
    for seed in SEEDS:
        inputs = _inputs(seed)
        cases.append((seed, inputs, compute_reference(EXERCISE, inputs, Tolerance())))
    return cases


def _public_cases():
    return [(case, make_inputs(EXERCISE, case)) for case in public_cases(EXERCISE)]


def _sigmoid_by_hand(z: torch.Tensor) -> torch.Tensor:
    return 1.0 / (1.0 + torch.exp(-z))


def _tanh_by_hand(z: torch.Tensor) -> torch.Tensor:
    return 2.0 * _sigmoid_by_hand(2.0 * z) - 1.0


def _correct(inputs, dtype: torch.dtype, formulation: str) -> dict[str, np.ndarray]:
    """A correct LSTM written by hand in `dtype`, in one of several rounding orders."""
    t = {name: torch.from_numpy(value).to(dtype) for name, value in inputs.items()}
    x, w_ih, w_hh, b_ih, b_hh = (t[name] for name in ("sequence", *lstm.WEIGHTS))
    hidden = w_hh.shape[1]
    h, c = t["h_0"][0], t["c_0"][0]  # (N, H)
    sigmoid, tanh = torch.sigmoid, torch.tanh
    if formulation == "hoisted":  # all steps' input terms at once, nonlinearities by hand
        projected = x @ w_ih.T + b_ih  # (L, N, 4H)
        sigmoid, tanh = _sigmoid_by_hand, _tanh_by_hand
    states = []
    for step in range(x.shape[0]):
        if formulation == "per_gate":
            rows = [slice(k * hidden, (k + 1) * hidden) for k in range(4)]
            z_i, z_f, z_g, z_o = (x[step] @ w_ih[r].T + b_ih[r] + h @ w_hh[r].T + b_hh[r]
                                  for r in rows)
        elif formulation == "fused":
            joined = torch.cat([x[step], h], dim=1)  # (N, I + H)
            z = joined @ torch.cat([w_ih, w_hh], dim=1).T + (b_hh + b_ih)  # (N, 4H)
            z_i, z_f, z_g, z_o = z.chunk(4, dim=1)
        else:
            z_i, z_f, z_g, z_o = (projected[step] + (h @ w_hh.T + b_hh)).chunk(4, dim=1)
        c = torch.addcmul(sigmoid(z_i) * tanh(z_g), sigmoid(z_f), c)
        h = sigmoid(z_o) * tanh(c)
        states.append(h)
    return {"output": torch.stack(states).numpy(), "h_n": h[None].numpy(),
            "c_n": c[None].numpy()}


def _module_float32(inputs) -> dict[str, np.ndarray]:
    """nn.LSTM's own float32 kernel, as the notebook's demo cell runs it."""
    namespace = _namespace(inputs)
    with torch.no_grad():
        output, (h_n, c_n) = namespace["lstm"](namespace["sequence"],
                                               (namespace["h_0"], namespace["c_0"]))
    return {"output": output.numpy(), "h_n": h_n.numpy(), "c_n": c_n.numpy()}


def _namespace(inputs) -> dict[str, object]:
    """The child's globals for these inputs."""
    return lstm.child_namespace(lstm.sizes_of(inputs), inputs)


def _ratio(got, reference, *, of_bound: bool = False) -> float:
    """Largest error over the tolerance (or over the raw rounding bound)."""
    worst = 0.0
    for name, expected in reference.values.items():
        error = np.abs(np.asarray(got[name], dtype=np.float64) - expected)
        scale = reference.tolerance[name]
        if of_bound:
            scale = (scale - Tolerance().floor) / Tolerance().factor
        worst = max(worst, float(np.max(error / scale)))
    return worst


def _within(got, reference) -> bool:
    return all(np.shape(got[name]) == expected.shape for name, expected in
               reference.values.items()) and _ratio(got, reference) <= 1.0


# --- Reference and tolerance ---------------------------------------------------------------

def test_the_reference_is_nn_lstm_and_a_float64_loop_agrees(seeded_cases) -> None:
    for _, inputs, reference in seeded_cases[:60]:
        by_loop = lstm._lstm(inputs)
        for name, expected in reference.values.items():
            assert expected.dtype == np.float64
            assert expected.shape == EXERCISE.expected_shape(name, lstm.sizes_of(inputs))
            np.testing.assert_allclose(by_loop[name], expected, rtol=0, atol=1e-12)


def test_correct_code_never_fails_through_rounding_over_1000_seeds(seeded_cases) -> None:
    failures, worst = [], {}
    for seed, inputs, reference in seeded_cases:
        runs = [(torch.float32, formulation) for formulation in FORMULATIONS]
        runs.append((torch.float64, FORMULATIONS[seed % 3]))
        for dtype, formulation in runs:
            got = _correct(inputs, dtype, formulation)
            key = f"{dtype} {formulation}"
            worst[key] = max(worst.get(key, 0.0), _ratio(got, reference, of_bound=True))
            if not _within(got, reference):
                failures.append((seed, key))
    assert failures == []
    print("largest error / rounding bound:", worst)
    # Not vacuous: float32 code reaches a visible part of the bound.
    assert max(v for k, v in worst.items() if "float32" in k) > 0.01


def test_nn_lstm_own_float32_kernel_stays_inside_the_tolerance(seeded_cases) -> None:
    """The module the demo cell compares with is itself a correct float32 evaluation (fewer
    seeds: its oneDNN kernel is slow to set up for each new shape)."""
    assert [seed for seed, inputs, reference in seeded_cases[:60]
            if not _within(_module_float32(inputs), reference)] == []


def test_the_tolerance_stays_far_below_what_mistakes_change(seeded_cases) -> None:
    largest = max(float(np.max(reference.tolerance[name])) for _, _, reference in seeded_cases
                  for name in lstm.OUTPUT_NAMES)
    assert largest < 1e-4


def test_torch_allclose_defaults_would_have_failed_some_correct_code(seeded_cases) -> None:
    """Why the tolerance is computed: atol=1e-8 and rtol=1e-5 reject correct float32 code."""
    rejected = sum(
        not all(np.allclose(got, reference.values[name], rtol=1e-5, atol=1e-8)
                for name, got in _correct(inputs, torch.float32, "fused").items())
        for _, inputs, reference in seeded_cases[:200])
    assert rejected > 0


# --- Catalogued mistakes -------------------------------------------------------------------

def test_the_catalogue_has_the_mistakes_students_make() -> None:
    keys = {mistake.key for mistake in EXERCISE.mistakes}
    assert len(keys) == len(EXERCISE.mistakes) >= 6
    assert {"gate_order_ifog", "g_sigmoid", "cell_from_h", "h_without_tanh", "missing_b_ih",
            "missing_b_hh", "h0_ignored", "c0_ignored", "forget_on_input"} <= keys


@pytest.fixture(scope="module")
def mistake_ratios(seeded_cases) -> dict[str, list[float]]:
    """Each mistake's largest error over the tolerance, on every seed where it can show."""
    ratios: dict[str, list[float]] = {mistake.key: [] for mistake in EXERCISE.mistakes}
    for _, inputs, reference in seeded_cases:
        for mistake in EXERCISE.mistakes:
            wrong = mistake.compute(inputs)
            if wrong is not None:  # None: it cannot show at these sizes or initial states
                ratios[mistake.key].append(_ratio(wrong, reference))
    return ratios


@pytest.mark.parametrize("mistake", EXERCISE.mistakes, ids=lambda m: m.key)
def test_every_mistake_falls_outside_the_tolerance_wherever_it_can_show(
        mistake, mistake_ratios) -> None:
    ratios = mistake_ratios[mistake.key]
    assert len(ratios) >= 600  # it shows on most seeds
    assert min(ratios) > 1.0, f"{mistake.key} came within the tolerance ({min(ratios):.3g})"


@pytest.mark.parametrize("mistake", EXERCISE.mistakes, ids=lambda m: m.key)
def test_every_mistake_fails_the_structural_public_cases(mistake) -> None:
    shown = 0
    for _, inputs in _public_cases():
        reference = compute_reference(EXERCISE, inputs, Tolerance())
        wrong = mistake.compute(inputs)
        if wrong is not None:
            shown += 1
            assert not _within(wrong, reference)
    assert shown >= 3


def test_a_mistake_cannot_show_only_where_the_inputs_hide_it() -> None:
    by_key = {mistake.key: mistake for mistake in EXERCISE.mistakes}
    for case, inputs in _public_cases():
        hidden_by_inputs = set()
        if case.zero_h0:
            hidden_by_inputs |= {"h0_ignored", "c0_ignored", "cell_from_h"}
        if case.sizes["L"] == 1:
            hidden_by_inputs.add("cell_not_carried")
        silent = {key for key, mistake in by_key.items() if mistake.compute(inputs) is None}
        assert silent <= hidden_by_inputs, case.label
    assert by_key["cell_from_h"].compute(_public_cases()[1][1]) is not None  # L=1, h_0 != c_0


def test_the_catalogue_never_diagnoses_correct_code(seeded_cases) -> None:
    """A correct float32 result matches no catalogued mistake on any of 1,000 seeds."""
    for seed, inputs, reference in seeded_cases:
        got = _correct(inputs, torch.float32, FORMULATIONS[seed % 3])
        matched, _ = weigh_mistakes(EXERCISE, inputs, reference, got)
        assert matched == [], seed


@pytest.mark.parametrize("mistake", EXERCISE.mistakes, ids=lambda m: m.key)
def test_each_mistake_is_recognised_as_itself(mistake) -> None:
    recognised = 0
    for _, inputs in _public_cases():
        wrong = mistake.compute(inputs)
        if wrong is None:
            continue
        reference = compute_reference(EXERCISE, inputs, Tolerance())
        as_float32 = {name: value.astype(np.float32) for name, value in wrong.items()}
        matched, _ = weigh_mistakes(EXERCISE, inputs, reference, as_float32)
        recognised += mistake.key in matched
    assert recognised >= 3


# --- Inputs, cases and the child's globals -------------------------------------------------

def test_inputs_are_float32_and_shaped_like_nn_lstm() -> None:
    sizes = {"L": 3, "N": 2, "I": 5, "H": 4}
    arrays = EXERCISE.make_inputs(sizes, 7, False)
    shapes = {"w_ih_l0": (16, 5), "w_hh_l0": (16, 4), "b_ih_l0": (16,), "b_hh_l0": (16,),
              "sequence": (3, 2, 5), "h_0": (1, 2, 4), "c_0": (1, 2, 4)}
    assert {name: value.shape for name, value in arrays.items()} == shapes
    assert all(value.dtype == np.float32 for value in arrays.values())
    assert all(np.abs(arrays[name]).max() <= 0.5 for name in lstm.WEIGHTS)  # 1/sqrt(H)
    assert np.any(arrays["h_0"]) and np.any(arrays["c_0"])
    assert not np.array_equal(arrays["h_0"], arrays["c_0"])
    zero = EXERCISE.make_inputs(sizes, 7, True)
    assert not np.any(zero["h_0"]) and not np.any(zero["c_0"])


def test_case_plans_cover_the_structures() -> None:
    plans = EXERCISE.case_plans
    assert plans[0].public_sizes == EXERCISE.notebook_sizes
    for plan in plans:
        for seed in range(50):
            drawn = plan.draw_sizes(np.random.default_rng(seed))
            public = dict(plan.public_sizes)
            assert drawn["L"] == 1 if public["L"] == 1 else drawn["L"] > 1, plan.label
            assert (drawn["N"] == 1) == (public["N"] == 1), plan.label
            if "more sequences" in plan.label:
                assert drawn["N"] > drawn["L"]
            assert drawn["I"] != drawn["H"] or plan is plans[0]
    labels = " ".join(plan.label for plan in plans)
    for structure in ("one time step, one sequence", "more sequences than time steps",
                      "wide hidden", "one long sequence"):
        assert structure in labels
    assert max(plan.public_sizes["H"] for plan in plans) >= 8
    assert {plan.zero_h0 for plan in plans} == {True, False}


def test_the_child_gets_the_contracts_globals_with_the_cases_weights() -> None:
    inputs = _inputs(4)
    namespace = _namespace(inputs)
    sizes = lstm.sizes_of(inputs)
    assert namespace["NUM_LAYERS"] == 1
    assert [namespace[k] for k in ("SEQUENCE_LENGTH", "BATCH_SIZE", "INPUT_SIZE",
                                   "HIDDEN_SIZE")] == [sizes[k] for k in "LNIH"]
    assert isinstance(namespace["lstm"], torch.nn.LSTM)
    for name, parameter in lstm.WEIGHTS.items():
        assert namespace[name] is getattr(namespace["lstm"], parameter)
        np.testing.assert_array_equal(namespace[name].detach().numpy(), inputs[name])
    for name in ("sequence", "h_0", "c_0"):
        assert namespace[name].dtype == torch.float32
        np.testing.assert_array_equal(namespace[name].numpy(), inputs[name])


# --- Shapes, parts, nesting and localisation -----------------------------------------------

SIZES = {"L": 5, "N": 2, "I": 3, "H": 7}


@pytest.mark.parametrize(("name", "shape", "words"), [
    ("output", (2, 5, 7), "batch and time are swapped"),
    ("output", (5, 1, 2, 7), "(1, N, H) shape of h_0"),
    ("output", (5, 2, 28), "4H gate pre-activations"),
    ("output", (5, 2, 21), "three of the four gate blocks"),
    ("output", (5, 2, 14), "h_t and c_t side by side"),
    ("output", (10, 7), "torch.stack"),
    ("output", (4, 2, 7), "one time step is missing"),
    ("h_n", (2, 7), "leading axis is missing"),
    ("c_n", (2, 7), "last cell state"),
    ("h_n", (1, 1, 2, 7), "one axis of size 1 too many"),
    ("h_n", (5, 2, 7), "output[-1:]"),
    ("c_n", (1, 2, 28), "4H gate pre-activations"),
    ("h_n", (2, 2, 7), "as the pair (h_n, c_n)"),
    ("c_n", (1, 7, 2), "units and sequences are swapped"),
])
def test_wrong_shapes_are_explained(name: str, shape, words: str) -> None:
    assert EXERCISE.expected_shape(name, SIZES) != shape
    assert words in EXERCISE.explain_shape(name, shape, SIZES)


def test_no_story_is_told_for_the_right_shape_and_hard_coded_sizes_are_named() -> None:
    one_step = {"L": 1, "N": 3, "I": 2, "H": 4}
    for name in lstm.OUTPUT_NAMES:
        assert EXERCISE.expected_shape(name, one_step) not in lstm._shape_stories(name, one_step)
    assert "hard-coded" in EXERCISE.explain_shape("output", (5, 3, 6), SIZES)
    assert "hard-coded" in EXERCISE.explain_shape("c_n", (1, 3, 6), SIZES)


def test_parts_are_output_h_n_and_c_n_and_locate_elements() -> None:
    inputs = _inputs(0)
    reference = compute_reference(EXERCISE, inputs, Tolerance())
    sizes = lstm.sizes_of(inputs)
    for name in lstm.OUTPUT_NAMES:
        parts = EXERCISE.split_halves(name, reference.values[name])
        assert tuple(parts) == lstm.SCORING_PARTS[name]
        assert all(part.ndim == len(EXERCISE.half_axes[name]) for part in parts.values())
    wrong_c = reference.values["c_n"].copy()
    wrong_c[0, 1, 2] += 0.1
    checks = {name: check_output(EXERCISE, name, value.astype(np.float32), "float32",
                                 reference, sizes, hidden=True)
              for name, value in dict(reference.values, c_n=wrong_c).items()}
    assert {name: check.halves_ok for name, check in checks.items()} == {
        "output": {"output": True}, "h_n": {"h_n": True}, "c_n": {"c_n": False}}
    assert locate(EXERCISE, "c_n", wrong_c.shape, (0, 1, 2)) == "c_n, sequence 1, unit 2"
    assert locate(EXERCISE, "output", (5, 3, 6), (4, 0, 1)) == \
        "output, time step 4, sequence 0, unit 1"
    assert lstm.localise(list(checks.values()), sizes["L"]) == [
        "output and h_n are right but c_n is not: c_n is the cell state c after the last "
        "step (t = 4), before tanh, not h."]


def test_localise_says_from_which_step_output_goes_wrong() -> None:
    inputs = _inputs(0)
    reference = compute_reference(EXERCISE, inputs, Tolerance())
    output = reference.values["output"].copy()
    output[2:] += 0.1
    check = check_output(EXERCISE, "output", output, "float64", reference,
                         lstm.sizes_of(inputs), hidden=False)
    assert lstm.localise([check], 5) == [
        "output is right up to t = 1 and goes wrong from t = 2: look at what one step hands "
        "to the next (h and c)."]


def _t(*shape: int) -> torch.Tensor:
    return torch.zeros(shape)


@pytest.mark.parametrize(("returned", "story"), [
    (_t(5, 3, 6), "not_a_tuple"),
    ((_t(5, 3, 6), _t(1, 3, 6), _t(1, 3, 6)), "flat_triple"),
    ((_t(5, 3, 6), _t(1, 3, 6)), "state_is_tensor"),
    ((_t(5, 3, 6), _t(2, 1, 3, 6)), "state_is_tensor"),
    (((_t(1, 3, 6), _t(1, 3, 6)), _t(5, 3, 6)), "state_first"),
    ((_t(5, 3, 6), (_t(1, 3, 6),)), "state_not_pair"),
    ((_t(5, 3, 6), None), "state_not_pair"),
    ((_t(5, 3, 6),), "wrong_length"),
])
def test_wrong_nestings_are_named(returned, story: str) -> None:
    assert lstm.flatten_returned(returned) == story
    assert story in lstm.STRUCTURE_STORIES


def test_the_right_nesting_flattens_in_output_names_order() -> None:
    output, h_n, c_n = _t(5, 3, 6), _t(1, 3, 6), _t(1, 3, 6)
    for returned in ((output, (h_n, c_n)), [output, [h_n, c_n]]):
        flat = lstm.flatten_returned(returned)
        assert len(flat) == len(EXERCISE.output_names) == 3
        assert all(a is b for a, b in zip(flat, (output, h_n, c_n), strict=True))
    assert lstm.flatten_returned((output, (h_n, "c"))) == (output, h_n, "c")  # checked later


# --- The built-in rule ---------------------------------------------------------------------

SETUP = "import torch\nfrom torch import nn\n\nlstm = nn.LSTM(4, 6)\n"


def _notebook_with(tmp_path, body: str):
    notebook = nbformat.v4.new_notebook()
    # The notebook's own set-up, as students have it: the code check resolves names (lstm is
    # the module, nn is torch.nn) from the notebook's imports and assignments.
    notebook.cells = [nbformat.v4.new_code_cell(SETUP),
                      nbformat.v4.new_code_cell(f"def manual_lstm():\n{body}")]
    path = tmp_path / "lstm.ipynb"
    nbformat.write(notebook, path)
    return load_notebook(path)


def test_the_solution_uses_no_built_in() -> None:
    notebook = load_notebook(SOLUTION)
    assert forbidden_uses(notebook, EXERCISE.function, EXERCISE.forbidden_calls) == []


@pytest.mark.parametrize("call", [
    "lstm(sequence, (h_0, c_0))", "lstm.forward(sequence, (h_0, c_0))",
    "nn.LSTM(4, 6)(sequence)", "torch.lstm(sequence, (h_0, c_0), [], True, 1, 0., 0, 0, 0)",
    "torch.lstm_cell(sequence[0], (h_0[0], c_0[0]), w_ih_l0, w_hh_l0)",
    "nn.LSTMCell(4, 6)(sequence[0])", "torch._VF.lstm(sequence, (h_0, c_0))",
    "nn.GRU(4, 6)(sequence)", "torch.rnn_tanh(sequence)",
])
def test_the_module_and_every_recurrent_built_in_are_forbidden(tmp_path, call: str) -> None:
    notebook = _notebook_with(tmp_path, f"    return {call}\n")
    assert forbidden_uses(notebook, EXERCISE.function, EXERCISE.forbidden_calls) != []


# --- The notebooks -------------------------------------------------------------------------

def _cells(path) -> list[nbformat.NotebookNode]:
    return nbformat.read(path, as_version=4).cells


def _grade_id(cell) -> str:
    return cell.metadata["nbgrader"]["grade_id"]


def _run(path, skip=("self_check",)) -> dict[str, object]:
    """Execute the notebook's code cells in one namespace, as a kernel would."""
    namespace: dict[str, object] = {}
    for cell in _cells(path):
        if cell.cell_type == "code" and _grade_id(cell) not in skip:
            exec(compile(cell.source, f"<{_grade_id(cell)}>", "exec"), namespace)
    return namespace


def test_the_solution_runs_and_returns_what_nn_lstm_returns(capsys) -> None:
    namespace = _run(SOLUTION)  # includes the demo and the autograded test cell
    assert "matches nn.LSTM" in capsys.readouterr().out
    output, (h_n, c_n) = namespace["manual_lstm"]()
    with torch.no_grad():
        expected_output, (expected_h_n, expected_c_n) = namespace["lstm"](
            namespace["sequence"], (namespace["h_0"], namespace["c_0"]))
    for got, want in ((output, expected_output), (h_n, expected_h_n), (c_n, expected_c_n)):
        assert got.dtype == torch.float32 and got.shape == want.shape
        torch.testing.assert_close(got, want, rtol=0, atol=1e-6)


def test_the_solutions_function_passes_every_public_case_with_the_childs_globals() -> None:
    source = next(cell.source for cell in _cells(SOLUTION) if _grade_id(cell) == "manual_lstm")
    for case, inputs in _public_cases():
        namespace = {"torch": torch, **_namespace(inputs)}
        exec(source, namespace)
        flat = lstm.flatten_returned(namespace["manual_lstm"]())
        got = {name: value.numpy() for name, value in zip(lstm.OUTPUT_NAMES, flat, strict=True)}
        assert _within(got, compute_reference(EXERCISE, inputs, Tolerance())), case.label


def test_the_solution_notebook_is_an_nbgrader_source() -> None:
    cells = {_grade_id(cell): cell for cell in _cells(SOLUTION)}
    solution = cells["manual_lstm"].metadata["nbgrader"]
    assert solution["solution"] and not solution["locked"]
    assert "### BEGIN SOLUTION" in cells["manual_lstm"].source
    grade = cells[EXERCISE.nbgrader_grade_cell].metadata
    assert grade["nbgrader"]["grade"] and grade["nbgrader"]["points"] == 10
    assert "rnn-grader:skip" in grade["tags"] and "rnn-grader:skip" in cells["self_check"].metadata[
        "tags"]
    assert cells["self_check"].source.endswith('-m grader check lstm.ipynb')
    assert all(cell.metadata["nbgrader"]["locked"] for key, cell in cells.items()
               if key != "manual_lstm")
    setup = cells["setup_lstm"].source + cells["setup_weights"].source
    assert "lstm = nn.LSTM(INPUT_SIZE, HIDDEN_SIZE)" in setup
    for name, parameter in lstm.WEIGHTS.items():
        assert f"{name} = lstm.{parameter}" in setup


def test_the_assignment_is_what_generation_produces() -> None:
    generated = make_assignment(nbformat.read(SOLUTION, as_version=4))
    assert nbformat.writes(generated) == nbformat.writes(nbformat.read(ASSIGNMENT, as_version=4)), (
        "assignments/lstm.ipynb drifted from solutions/: run "
        "`rnn-grader assign solutions/lstm.ipynb --out assignments/lstm.ipynb`")


def test_the_assignment_stops_at_the_unfinished_function() -> None:
    assert "BEGIN SOLUTION" not in ASSIGNMENT.read_text()
    with pytest.raises(NotImplementedError):
        _run(ASSIGNMENT)
    namespace = _run(ASSIGNMENT, skip=("self_check", "demo_manual_lstm", "test_manual_lstm"))
    with pytest.raises(NotImplementedError):
        namespace["manual_lstm"]()
