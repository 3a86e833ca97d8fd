"""The stacked bidirectional RNN exercise: reference, rounding bound, mistakes, shapes, notebooks.

The tolerance is sound: over 1,000 random seeds and sizes, correct implementations in float32
(four summation orders, nn.RNN's own kernel among them) and float64 stay within the rounding
bound itself, and every catalogued mistake falls outside the tolerance wherever it can happen;
correct code is never taken for a catalogued mistake.
"""

from __future__ import annotations

import contextlib
import io
from functools import cache

import nbformat
import numpy as np
import pytest
import torch

from grader.checking.cases import make_inputs as case_inputs
from grader.checking.cases import public_cases
from grader.checking.mistakes import weigh_catalogue as weigh_mistakes
from grader.checking.reference import compute_reference
from grader.config import Config, Tolerance
from grader.exercises.stacked_birnn import (
    CASE_PLANS,
    EXERCISE,
    SCORING_PARTS,
    WEIGHTS,
    build_module,
    child_namespace,
    rounding_bound,
    scoring_parts,
    state_row,
    weight_names,
)
from grader.notebooks.assignment import make_assignment
from grader.notebooks.load import SKIP_TAG, forbidden_uses, load_notebook
from tests.conftest import ROOT

SOLUTION = ROOT / "solutions" / "stacked_birnn.ipynb"
ASSIGNMENT = ROOT / "assignments" / "stacked_birnn.ipynb"
SEEDS = range(1000)
FORMULATIONS = ("per_step", "fused", "precomputed", "module")


@pytest.fixture(autouse=True, scope="module")
def one_torch_thread():
    """These tensors are tiny: one thread is fastest, and kind to a shared machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _inputs(seed: int) -> dict[str, np.ndarray]:
    plan = CASE_PLANS[seed % len(CASE_PLANS)]
    sizes = plan.draw_sizes(np.random.default_rng(seed))
    zero_h0 = plan.zero_h0 or (seed // len(CASE_PLANS)) % 3 == 0
    return EXERCISE.make_inputs(sizes, seed, zero_h0)


@cache
def _seeded(seed: int):
    """A seed's inputs and reference, shared by the tests that walk the 1,000 seeds."""
    inputs = _inputs(seed)
    return inputs, compute_reference(EXERCISE, inputs, Tolerance())


def _correct(inputs, dtype: torch.dtype, formulation: str) -> dict[str, np.ndarray]:
    """A correct stacked bidirectional RNN, in `dtype`, in one of several rounding orders."""
    if formulation == "module":  # nn.RNN's own kernel: all steps' input terms in one matmul
        t = {name: torch.from_numpy(value).to(dtype) for name, value in inputs.items()}
        sizes = {"I": inputs["sequence"].shape[2], "H": inputs["w_hh_l0"].shape[0]}
        with torch.no_grad():
            output, h_n = build_module(sizes, inputs, dtype)(t["sequence"], t["h_0"])
        return {"output": output.numpy(), "h_n": h_n.numpy()}
    batched = _correct_batch({name: value[None] for name, value in inputs.items()}, dtype,
                             formulation)
    return {name: value[0] for name, value in batched.items()}


def _correct_batch(inputs, dtype: torch.dtype, formulation: str) -> dict[str, np.ndarray]:
    """`_correct` for S seeds of the same sizes at once: every array has a leading seed axis
    (sequence (S, L, N, I), h_0 (S, 4, N, H), weights (S, H, F), biases (S, H))."""
    t = {name: torch.from_numpy(value).to(dtype) for name, value in inputs.items()}
    x, finals = t["sequence"], []  # (S, L, N, I)
    steps = x.shape[1]
    for layer in (0, 1):
        halves = []
        for reverse in (False, True):
            w_ih, b_ih, w_hh, b_hh = (t[name] for name in weight_names(layer, reverse))
            b_ih, b_hh = b_ih[:, None], b_hh[:, None]  # (S, 1, H): broadcast over N
            hidden = w_hh.shape[1]
            if formulation == "precomputed":  # input terms first, layer 1's halves apart
                projected = (x @ w_ih[:, None].mT if layer == 0 else
                             x[..., :hidden] @ w_ih[:, None, :, :hidden].mT
                             + x[..., hidden:] @ w_ih[:, None, :, hidden:].mT) \
                    + (b_ih + b_hh)[:, None]  # (S, L, N, H)
            h = t["h_0"][:, state_row(layer, reverse)]  # (S, N, H)
            states = [h] * steps
            for step in (range(steps - 1, -1, -1) if reverse else range(steps)):
                if formulation == "fused":  # one matmul over [x, h], biases summed first
                    joined = torch.cat([x[:, step], h], dim=2)  # (S, N, F + H)
                    h = torch.tanh(joined @ torch.cat([w_ih, w_hh], dim=2).mT + (b_hh + b_ih))
                elif formulation == "precomputed":
                    h = torch.tanh(projected[:, step] + h @ w_hh.mT)
                else:
                    h = torch.tanh(x[:, step] @ w_ih.mT + b_ih + h @ w_hh.mT + b_hh)
                states[step] = h
            halves.append(torch.stack(states, dim=1))  # (S, L, N, H)
            finals.append(h)
        x = torch.cat(halves, dim=3)  # (S, L, N, 2H): the next layer's input
    return {"output": x.numpy(), "h_n": torch.stack(finals, dim=1).numpy()}


def _seed_groups() -> list[list[int]]:
    """The 1,000 seeds grouped by sizes, so each group runs as one batch."""
    groups: dict[tuple, list[int]] = {}
    for seed in SEEDS:
        inputs = _seeded(seed)[0]
        groups.setdefault(tuple(v.shape for v in inputs.values()), []).append(seed)
    return list(groups.values())


def _error(got: dict, reference) -> dict[str, np.ndarray]:
    return {name: np.abs(got[name].astype(np.float64) - reference.values[name])
            for name in reference.values}


def _worst_ratio(got: dict, reference, scale: dict[str, np.ndarray]) -> float:
    if any(got[name].shape != reference.values[name].shape for name in reference.values):
        return np.inf
    return max(float((error / scale[name]).max()) for name, error in _error(got, reference).items())


# --- The reference and the rounding bound --------------------------------------------------

def test_reference_is_the_module_and_matches_a_float64_loop() -> None:
    for seed in range(12):
        inputs, reference = _seeded(seed)
        by_hand = _correct(inputs, torch.float64, "per_step")
        assert all(np.allclose(by_hand[name], reference.values[name], rtol=0, atol=1e-12)
                   for name in by_hand)
        sizes = EXERCISE.case_plans[seed % 6].draw_sizes(np.random.default_rng(seed))
        assert {name: v.shape for name, v in reference.values.items()} == {
            name: EXERCISE.expected_shape(name, sizes) for name in EXERCISE.output_names}


def test_correct_code_never_fails_through_rounding_over_1000_seeds() -> None:
    """The bound itself (before the tolerance's factor and floor) holds for every element of
    every correct float32 evaluation, so the tolerance does too; float64 code is far inside.
    nn.RNN's own float32 kernel is one of the correct evaluations."""
    worst = dict.fromkeys((*FORMULATIONS, "float64"), 0.0)
    failures = []
    for group in _seed_groups():
        inputs = {name: np.stack([_seeded(seed)[0][name] for seed in group])
                  for name in _seeded(group[0])[0]}
        runs = {formulation: _correct_batch(inputs, torch.float32, formulation)
                for formulation in FORMULATIONS if formulation != "module"}
        runs["float64"] = _correct_batch(inputs, torch.float64, "per_step")
        for index, seed in enumerate(group):
            seed_inputs, reference = _seeded(seed)
            bound = rounding_bound(seed_inputs)
            results = {formulation: {name: values[index] for name, values in run.items()}
                       for formulation, run in runs.items()}
            results["module"] = _correct(seed_inputs, torch.float32, "module")
            for formulation, got in results.items():
                worst[formulation] = max(worst[formulation], _worst_ratio(got, reference, bound))
                if _worst_ratio(got, reference, reference.tolerance) > 1.0:
                    failures.append((seed, formulation))
    assert failures == []
    assert max(worst.values()) <= 1.0, worst  # measured: at most 0.18 in float32
    assert worst["float64"] < 1e-6, worst


def test_the_bound_grows_through_the_layers() -> None:
    """Layer 1 reads layer 0's rounded output: its bound includes layer 0's error."""
    inputs, _ = _seeded(0)
    bound = rounding_bound(inputs)
    assert bound["h_n"][2:].min() > bound["h_n"][:2].min()
    assert np.all(bound["output"] > 0) and np.all(bound["h_n"] > 0)


# --- Catalogued mistakes ---------------------------------------------------------------------

@cache
def _public() -> tuple[tuple[dict, object], ...]:
    """The public cases' inputs and references: the exercise's structural cases."""
    prepared = []
    for case in public_cases(EXERCISE):
        inputs = case_inputs(EXERCISE, case)
        prepared.append((inputs, compute_reference(EXERCISE, inputs, Tolerance())))
    return tuple(prepared)


@pytest.mark.parametrize("mistake", EXERCISE.mistakes, ids=lambda m: m.key)
def test_every_mistake_falls_outside_the_tolerance_wherever_it_can_happen(mistake) -> None:
    """On the public (structural) cases and 1,000 seeds: a prediction is None where the
    mistake cannot happen or cannot show, and outside the tolerance everywhere else."""
    cases = [(f"public case {number}", *prepared)
             for number, prepared in enumerate(_public(), start=1)]
    cases += [(f"seed {seed}", *_seeded(seed)) for seed in SEEDS]
    shown, inside = [], []
    for where, inputs, reference in cases:
        predicted = mistake.compute(inputs)
        if predicted is None:
            continue
        shown.append(where)
        if _worst_ratio(predicted, reference, reference.tolerance) <= 1.0:
            inside.append(where)
    assert any(where.startswith("public") for where in shown), "no self-check case shows it"
    assert inside == []


@pytest.mark.parametrize("mistake", EXERCISE.mistakes, ids=lambda m: m.key)
def test_each_mistake_is_recognised_as_itself_on_the_public_cases(mistake) -> None:
    """A student's float32 result with the mistake is matched by grader.checking.diagnose."""
    for inputs, reference in _public():
        predicted = mistake.compute(inputs)
        if predicted is None:
            continue
        as_float32 = {name: values.astype(np.float32) for name, values in predicted.items()}
        matched, _ = weigh_mistakes(EXERCISE, inputs, reference, as_float32)
        assert mistake.key in matched


def test_the_catalogue_never_diagnoses_correct_code_over_1000_seeds() -> None:
    for seed in SEEDS:
        inputs, reference = _seeded(seed)
        formulation = FORMULATIONS[seed % len(FORMULATIONS)]
        matched, _ = weigh_mistakes(EXERCISE, inputs, reference,
                                    _correct(inputs, torch.float32, formulation))
        assert matched == [], (seed, formulation)


def test_mistakes_that_need_i_equal_2h_show_only_there() -> None:
    by_key = {mistake.key: mistake for mistake in EXERCISE.mistakes}
    for inputs, _ in _public():
        wide_input = inputs["sequence"].shape[2] == 2 * inputs["w_hh_l0"].shape[0]
        for key in ("layer1_reads_sequence", "layer0_weights_for_layer1"):
            assert (by_key[key].compute(inputs) is not None) == wide_input


# --- Case plans, shapes, parts ---------------------------------------------------------------

def test_case_plans_keep_their_structure_when_drawn() -> None:
    rng = np.random.default_rng(7)
    for plan in CASE_PLANS:
        for sizes in [dict(plan.public_sizes)] + [plan.draw_sizes(rng) for _ in range(200)]:
            assert sizes["I"] != sizes["H"]
            if "I = 2H" in plan.label:
                assert sizes["I"] == 2 * sizes["H"] and sizes["L"] > 1
            elif plan.label != "the notebook's own sizes":
                assert sizes["I"] != 2 * sizes["H"]
            if "one time step" in plan.label:
                assert sizes["L"] == 1
            if "one sequence" in plan.label or "one long sequence" in plan.label:
                assert sizes["N"] == 1
            if "more sequences" in plan.label:
                assert sizes["N"] > sizes["L"]
            if "wide" in plan.label:
                assert sizes["H"] >= 8 and sizes["N"] != sizes["L"]
    assert [plan.zero_h0 for plan in CASE_PLANS].count(True) == 2


def test_inputs_are_float32_drawn_like_the_module() -> None:
    inputs = EXERCISE.make_inputs({"L": 3, "N": 2, "I": 5, "H": 4}, 1, zero_h0=False)
    assert all(value.dtype == np.float32 for value in inputs.values())
    module = torch.nn.RNN(5, 4, num_layers=2, bidirectional=True)
    for name, parameter in WEIGHTS.items():
        assert inputs[name].shape == tuple(getattr(module, parameter).shape), name
        assert np.abs(inputs[name]).max() <= 0.5  # 1 / sqrt(H)
    assert inputs["h_0"].shape == (4, 2, 4) and inputs["sequence"].shape == (3, 2, 5)


@pytest.mark.parametrize(("name", "shape", "words"), [
    ("output", (5, 3, 6), "only one direction"),
    ("output", (3, 5, 12), "batch and time are swapped"),
    ("output", (5, 3, 2, 6), "directions are stacked"),
    ("output", (5, 3, 24), "both layers"),
    ("output", (2, 5, 3, 12), "every layer's output"),
    ("output", (4, 5, 3, 6), "every layer's and direction's"),
    ("output", (4, 3, 12), "one time step is missing"),
    ("h_n", (2, 3, 6), "NUM_LAYERS * D = 4"),
    ("h_n", (2, 2, 3, 6), "two axes"),
    ("h_n", (2, 3, 12), "each layer's directions are concatenated"),
    ("h_n", (3, 24), "concatenated"),
    ("h_n", (5, 3, 12), "looks like output"),
])
def test_wrong_shapes_are_explained(name: str, shape: tuple, words: str) -> None:
    sizes = {"L": 5, "N": 3, "I": 2, "H": 6}
    assert words in EXERCISE.explain_shape(name, shape, sizes)


def test_hard_coded_sizes_are_recognised() -> None:
    story = EXERCISE.explain_shape("h_n", (4, 3, 6), {"L": 2, "N": 5, "I": 4, "H": 3})
    assert "hard-coded" in story


def test_parts_cover_every_element_once_and_shares_add_up() -> None:
    sizes = {"L": 3, "N": 2, "I": 4, "H": 5}
    for name in EXERCISE.output_names:
        positions = np.arange(np.prod(EXERCISE.expected_shape(name, sizes)))
        positions = positions.reshape(EXERCISE.expected_shape(name, sizes))
        for split in (EXERCISE.split_halves, scoring_parts):
            parts = split(name, positions)
            covered = np.sort(np.concatenate([part.ravel() for part in parts.values()]))
            assert np.array_equal(covered, positions.ravel())
        assert {part for tensor, part, _ in SCORING_PARTS if tensor == name} == \
            set(scoring_parts(name, positions))
    assert sum(share for *_, share in SCORING_PARTS) == 1.0
    h_n = np.arange(4)[:, None, None] * np.ones((4, 2, 5))
    assert scoring_parts("h_n", h_n)["layer 1 forward"].max() == 2  # nn.RNN's row 2


# --- The student's side ----------------------------------------------------------------------

def test_child_namespace_binds_the_contract_and_a_module_with_the_case_weights() -> None:
    inputs, reference = _seeded(3)
    sizes = {"L": inputs["sequence"].shape[0], "N": inputs["sequence"].shape[1],
             "I": inputs["sequence"].shape[2], "H": inputs["w_hh_l0"].shape[0]}
    namespace = child_namespace(sizes, inputs)
    for name in ("SEQUENCE_LENGTH", "BATCH_SIZE", "INPUT_SIZE", "HIDDEN_SIZE", "NUM_LAYERS",
                 "BIDIRECTIONAL", "BIDERECTIONAL", "D", "rnn", "sequence", "h_0", *WEIGHTS):
        assert name in namespace, name
    assert namespace["NUM_LAYERS"] == 2 and namespace["D"] == 2
    assert namespace["w_ih_l1"].shape == (sizes["H"], 2 * sizes["H"])
    assert namespace["w_r_hh_l1"] is namespace["rnn"].weight_hh_l1_reverse
    with torch.no_grad():
        output, h_n = namespace["rnn"](namespace["sequence"], namespace["h_0"])
    got = {"output": output.numpy(), "h_n": h_n.numpy()}
    assert _worst_ratio(got, reference, reference.tolerance) <= 1.0


@pytest.mark.parametrize("source", [
    "output, h_n = rnn(sequence, h_0)",
    "output, h_n = torch.rnn_tanh(sequence, h_0, rnn._flat_weights, True, 2, 0.0, False, True,"
    " False)",
    "cell = nn.RNNCell(INPUT_SIZE, HIDDEN_SIZE)",
    "output, h_n = torch._VF.rnn_tanh(sequence, h_0)",
    "output, h_n = nn.LSTM(INPUT_SIZE, HIDDEN_SIZE)(sequence)",
])
def test_built_in_recurrent_calls_are_forbidden(tmp_path, source: str) -> None:
    notebook = nbformat.v4.new_notebook()
    # The notebook's own set-up first: the code check resolves names from it.
    notebook.cells = [nbformat.v4.new_code_cell(
        "import torch\nfrom torch import nn\n\nrnn = nn.RNN(4, 6, num_layers=2, "
        "bidirectional=True)\n"), nbformat.v4.new_code_cell(
        f"def manual_stacked_rnn():\n    {source}\n    return output, h_n")]
    nbformat.write(notebook, str(tmp_path / "stacked_birnn.ipynb"))
    found = forbidden_uses(load_notebook(tmp_path / "stacked_birnn.ipynb"),
                           EXERCISE.function, EXERCISE.forbidden_calls)
    assert found


# --- The notebooks ---------------------------------------------------------------------------

def _code_cells(path) -> list[nbformat.NotebookNode]:
    notebook = nbformat.read(path, as_version=4)
    return [cell for cell in notebook.cells if cell.cell_type == "code"
            and SKIP_TAG not in cell.metadata.get("tags", [])]


def _run(cells) -> dict:
    namespace: dict = {}
    with contextlib.redirect_stdout(io.StringIO()):
        for cell in cells:
            exec(compile(cell.source, cell.metadata["nbgrader"]["grade_id"], "exec"), namespace)
    return namespace


def test_assignment_is_what_generation_produces() -> None:
    generated = make_assignment(nbformat.read(SOLUTION, as_version=4))
    assert nbformat.writes(generated) == nbformat.writes(nbformat.read(ASSIGNMENT, as_version=4)), (
        "assignments/ drifted from solutions/: run `rnn-grader assign "
        "solutions/stacked_birnn.ipynb --out assignments/stacked_birnn.ipynb`")


def test_solution_notebook_carries_the_nbgrader_cells() -> None:
    notebook = nbformat.read(SOLUTION, as_version=4)
    ids = {cell.metadata["nbgrader"]["grade_id"]: cell for cell in notebook.cells}
    assert ids[EXERCISE.function].metadata["nbgrader"]["solution"] is True
    assert "### BEGIN SOLUTION" in ids[EXERCISE.function].source
    grade = ids[EXERCISE.nbgrader_grade_cell].metadata
    assert grade["nbgrader"]["grade"] is True and grade["nbgrader"]["points"] > 0
    assert SKIP_TAG in grade["tags"]
    assert "-m grader check stacked_birnn.ipynb" in notebook.cells[-1].source
    locked = [cell for cell in notebook.cells if cell.metadata["nbgrader"]["grade_id"]
              != EXERCISE.function]
    assert all(cell.metadata["nbgrader"]["locked"] for cell in locked)


def test_solution_returns_what_the_module_returns_on_every_public_case() -> None:
    namespace = _run(_code_cells(SOLUTION))  # the demo cell asserts against rnn itself
    assert namespace["output"].shape == (5, 3, 12) and namespace["h_n"].shape == (4, 3, 6)
    assert not forbidden_uses(load_notebook(SOLUTION), EXERCISE.function,
                              EXERCISE.forbidden_calls)
    for case in public_cases(EXERCISE):
        inputs = case_inputs(EXERCISE, case)
        reference = compute_reference(EXERCISE, inputs, Tolerance())
        namespace.update(child_namespace(case.sizes, inputs))
        output, h_n = namespace[EXERCISE.function]()
        assert output.dtype == h_n.dtype == torch.float32
        got = {"output": output.numpy(), "h_n": h_n.numpy()}
        assert _worst_ratio(got, reference, reference.tolerance) <= 1.0, case.title
        with torch.no_grad():
            module_output, module_h_n = namespace["rnn"](namespace["sequence"], namespace["h_0"])
        assert torch.allclose(output, module_output, atol=1e-5)
        assert torch.allclose(h_n, module_h_n, atol=1e-5)


def test_assignment_stops_at_the_unfinished_function() -> None:
    cells = _code_cells(ASSIGNMENT)
    demo = next(i for i, cell in enumerate(cells)
                if cell.metadata["nbgrader"]["grade_id"] == "demo_manual_stacked_rnn")
    namespace = _run(cells[:demo])
    with pytest.raises(NotImplementedError):
        namespace[EXERCISE.function]()


# --- The whole pipeline, in the sandbox, on the public cases ---------------------------------

def _graded(path):
    from grader.isolation.sandbox import worker_context
    from grader.pipeline import GradingPlan, grade_submission

    plan = GradingPlan(EXERCISE, public_cases(EXERCISE), Config(), allow_weak=True)
    return grade_submission(path, path.stem, plan, worker_context("fork"))


def test_the_pipeline_grades_the_solution_full_and_the_assignment_not_implemented() -> None:
    solution = _graded(SOLUTION)
    assert solution.score == solution.max_score, [c.feedback() for c in solution.cases]
    assignment = _graded(ASSIGNMENT)
    assert assignment.status == "not_implemented" and assignment.score == 0


def test_the_pipeline_names_h_n_in_direction_major_order(tmp_path) -> None:
    notebook = nbformat.read(SOLUTION, as_version=4)
    cell = next(c for c in notebook.cells if c.metadata["nbgrader"]["grade_id"]
                == EXERCISE.function)
    old = "h_n = torch.stack(finals)"
    assert cell.source.count(old) == 1
    cell.source = cell.source.replace(old, "h_n = torch.stack(finals[0::2] + finals[1::2])")
    path = tmp_path / "stacked_birnn.ipynb"
    nbformat.write(notebook, str(path))
    result = _graded(path)
    for case in result.cases:  # output right; h_n rows 1 and 2 swapped
        assert case.mistakes == ["hn_direction_major"], case.feedback()
        by_name = {check.name: check for check in case.checks}
        assert by_name["output"].ok and not by_name["h_n"].ok
