"""Hidden cases reveal nothing hidden.

* Inputs are drawn per submission: HMAC(seed key, notebook SHA-256), the seed key being
  HMAC(secret, case); the same notebook gets the same inputs (and result) again, another
  notebook other inputs; the grading process keeps no copy of the secret, the child gets
  only numbers.
* An exception's message is never shown for a hidden case, only its type (when it is a known
  one) and the notebook's own cell, line and code.
* A mismatch is located and sized in bands of the tolerance: no value, difference or ratio,
  so a zeros answer learns nothing of |expected| (text, heat map, results.json).
* What the submission printed goes to results.json's extra_data only (instructor-only).
"""

from __future__ import annotations

import hashlib
import json
import pickle
import re
import sys
from pathlib import Path

import numpy as np
import pytest

from grader import pipeline
from grader.checking import compare, diagnose
from grader.checking.cases import Case, hidden_cases, make_inputs, public_cases
from grader.config import Config
from grader.exercises import EXERCISE
from grader.pipeline import GradingPlan, grade_submission, notebook_sha256
from grader.reports.figures import band_image, heat_map_svg
from grader.reports.pages import write_feedback
from grader.reports.records import gradescope_results
from grader.results import CaseResult, SubmissionResult
from tests.conftest import SOLUTION, TEST_SECRET, html_text, visible_text

sys.path.insert(0, str(Path(__file__).resolve().parent))

import corpus  # noqa: E402

SECRET = TEST_SECRET.encode()
DIGEST_A = hashlib.sha256(b"notebook a").hexdigest()
DIGEST_B = hashlib.sha256(b"notebook b").hexdigest()
# A decimal number as a value, a difference or a ratio would print it; hidden text has none.
DECIMAL = re.compile(r"\d\.\d|\de[-+]?\d")


def _plan() -> GradingPlan:
    return GradingPlan(EXERCISE, hidden_cases(EXERCISE, SECRET, 6), Config())


# --- Per-submission inputs ---------------------------------------------------------------------

def test_hidden_inputs_are_drawn_per_notebook_and_repeat_for_the_same_one() -> None:
    plan = _plan()
    first, again, other = plan.prepare(DIGEST_A), plan.prepare(DIGEST_A), plan.prepare(DIGEST_B)
    for a, b, c in zip(first, again, other, strict=True):
        assert a.case.sizes == c.case.sizes  # sizes come from the secret alone
        for name in a.inputs:
            np.testing.assert_array_equal(a.inputs[name], b.inputs[name])
            np.testing.assert_array_equal(a.reference.values["output"],
                                          b.reference.values["output"])
        if a.case.zero_h0:
            np.testing.assert_array_equal(a.inputs["h_0"], c.inputs["h_0"])
        assert not np.array_equal(a.inputs["sequence"], c.inputs["sequence"])
        assert not np.array_equal(a.inputs["w_ih_l0"], c.inputs["w_ih_l0"])


def test_another_secret_gives_other_inputs_for_the_same_notebook() -> None:
    mine = _plan().prepare(DIGEST_A)
    theirs = GradingPlan(EXERCISE, hidden_cases(EXERCISE, b"another-secret-entirely", 6),
                         Config()).prepare(DIGEST_A)
    assert all(not np.array_equal(a.inputs["w_hh_l0"], b.inputs["w_hh_l0"])
               for a, b in zip(mine, theirs, strict=True) if a.case.sizes == b.case.sizes)


def test_public_cases_do_not_depend_on_the_notebook() -> None:
    plan = GradingPlan(EXERCISE, public_cases(EXERCISE), Config())
    first, other = plan.prepare(DIGEST_A), plan.prepare(DIGEST_B)
    assert all(a is b for a, b in zip(first, other, strict=True))  # prepared once
    assert [p.case.seed for p in first] == [20_241 + n for n in range(len(first))]


def test_hidden_inputs_need_the_notebook() -> None:
    case = hidden_cases(EXERCISE, SECRET, 1)[0]
    with pytest.raises(ValueError, match="SHA-256"):
        make_inputs(EXERCISE, case)


def test_the_cases_hold_no_copy_of_the_secret() -> None:
    cases = hidden_cases(EXERCISE, SECRET, 6)
    kept = pickle.dumps(cases) + repr(cases).encode()
    assert SECRET not in kept and SECRET.hex().encode() not in kept
    keys = [case.seed_key for case in cases]
    assert len(set(keys)) == 6 and all(key is not None and len(key) == 32 for key in keys)
    assert all(case.seed is None for case in cases)
    assert "seed_key" not in repr(cases[0])  # not printed by accident in a traceback


class _RecordingSandbox:
    """Stands in for the child: records every request, answers every call with an error."""

    def __init__(self) -> None:
        self.requests: list[dict] = []

    def request(self, message: dict, seconds: float) -> dict:
        self.requests.append(message)
        return {"error": {"kind": "exception", "type": "ValueError", "message": "no",
                          "frames": []}}


def test_the_child_receives_numbers_only_never_a_seed_or_key() -> None:
    plan = _plan()
    prepared = plan.prepare(DIGEST_A)
    sandbox = _RecordingSandbox()
    pipeline._grade_cases(sandbox, plan, prepared, {})
    sent = json.dumps(sandbox.requests)
    assert len(sandbox.requests) == 6
    assert all(set(r) == {"op", "function", "exercise_module", "count", "sizes", "arrays"}
               for r in sandbox.requests)
    assert all(r["count"] == len(plan.exercise.output_names) for r in sandbox.requests)
    for one in prepared:
        seed = one.case.input_seed(DIGEST_A)
        for needle in (one.case.seed_key.hex(), str(seed), f"{seed:x}", DIGEST_A):
            assert needle not in sent
    assert TEST_SECRET not in sent


# --- Mismatches: located, sized in bands -------------------------------------------------------

def _feedback(prepared, answers: dict[str, np.ndarray], hidden: bool = True) -> CaseResult:
    case = prepared.case
    result = CaseResult(case, 4.0)
    result.checks = [compare.check_output(EXERCISE, name, values, "float32", prepared.reference,
                                          case.sizes, hidden) for name, values in answers.items()]
    result.diagnosis = diagnose.localise(result.checks, case.sizes["L"])
    return result


def _zeros(prepared) -> dict[str, np.ndarray]:
    return {name: np.zeros_like(values, dtype=np.float32)
            for name, values in prepared.reference.values.items()}


def test_a_zeros_answer_learns_nothing_of_expected() -> None:
    """Same sizes, two notebooks' inputs: no number but indices, counts and sizes, ratios kept
    only as bands, and word for word the same feedback unless some |expected| is so close to 0
    that it falls in a lower band (the bands are all a hidden case tells)."""
    plan = _plan()
    compared = 0
    for number in range(6):
        a, b = plan.prepare(DIGEST_A)[number], plan.prepare(DIGEST_B)[number]
        mine, theirs = _feedback(a, _zeros(a)), _feedback(b, _zeros(b))
        text = mine.feedback()
        assert "values differ from nn.RNN" in text and "more than 1000× the tolerance" in text
        assert not DECIMAL.search(text), text
        assert "largest difference" not in text and "nn.RNN       difference" not in text
        for check in mine.checks:
            assert set(np.unique(check.error_ratio)) <= set(compare.BANDED_RATIO)
        near_zero = any(np.any(np.abs(one.reference.values[name])
                               <= 1000 * one.reference.tolerance[name])
                        for one in (a, b) for name in one.reference.values)
        if not near_zero:
            assert text == theirs.feedback()
            compared += 1
    assert compared >= 3  # cases 2 to 5 of TEST_SECRET have no |expected| near 0


def _heat_map(check) -> str:
    return heat_map_svg(band_image(check), 4, check.error_ratio.shape[1])[0]


def test_a_zeros_answers_heat_map_is_the_same_for_other_inputs() -> None:
    plan = _plan()
    a, b = plan.prepare(DIGEST_A)[3], plan.prepare(DIGEST_B)[3]  # one long sequence
    mine, theirs = _feedback(a, _zeros(a)), _feedback(b, _zeros(b))
    output_a = next(c for c in mine.checks if c.name == "output")
    output_b = next(c for c in theirs.checks if c.name == "output")
    same_bands = np.array_equal(output_a.error_ratio, output_b.error_ratio)
    assert (_heat_map(output_a) == _heat_map(output_b)) == same_bands
    assert same_bands, "pick a case where no |expected| is within 1000 tolerances of 0"
    assert mine.feedback() == theirs.feedback()


def test_reference_plus_noise_is_told_in_bands_only() -> None:
    prepared = _plan().prepare(DIGEST_A)[0]  # L=5, N=3, I=4, H=6 (TEST_SECRET's case 1)
    tolerance = prepared.reference.tolerance
    rng = np.random.default_rng(0)
    answers = {}
    for name, expected in prepared.reference.values.items():
        noise = rng.uniform(0.2, 0.9, size=expected.shape) * tolerance[name]  # within
        noise.flat[0] = 3.0 * tolerance[name].flat[0]  # up to 10x
        noise.flat[1] = -250.0 * tolerance[name].flat[1]  # 10 to 1000x
        noise.flat[-1] = 1e5 * tolerance[name].flat[-1]  # more than 1000x
        answers[name] = expected + noise
    result = _feedback(prepared, answers)
    text = result.feedback()
    assert not DECIMAL.search(text), text
    assert "3 of 180 values differ from nn.RNN: 1 by up to 10× the tolerance, 1 by 10 to " \
        "1000× the tolerance, 1 by more than 1000× the tolerance." in text
    assert "[0, 0, 0]   t = 0, sequence 0, forward unit 0" in text
    assert "[4, 2, 11]  t = 4, sequence 2, reverse unit 5" in text
    assert "[1, 2, 5]  sequence 2, reverse unit 5" in text
    assert "The forward half of output goes wrong at its very first step" in text
    assert "The reverse half of output goes wrong at its very first step" in text
    output = result.checks[0]
    assert set(np.unique(output.error_ratio)) == set(compare.BANDED_RATIO)
    for name, values in answers.items():  # none of the values or differences, in any format
        for value in (*values.flat[:3], *prepared.reference.values[name].flat[:3]):
            for shown in (f"{value:.3g}", f"{value:.6g}", f"{value:.1e}", f"{value:.4f}"):
                assert shown not in text


def test_public_cases_keep_their_table_of_values() -> None:
    plan = GradingPlan(EXERCISE, public_cases(EXERCISE), Config())
    prepared = plan.prepare("")[0]
    text = _feedback(prepared, _zeros(prepared), hidden=False).feedback()
    assert "yours        nn.RNN       difference" in text and "largest difference" in text


def test_a_passing_hidden_tensor_does_not_say_by_how_little() -> None:
    prepared = _plan().prepare(DIGEST_A)[1]
    text = _feedback(prepared, dict(prepared.reference.values)).feedback()
    assert "matches nn.RNN (within the tolerance)" in text and not DECIMAL.search(text)


def test_odd_shapes_and_dtypes_chosen_by_the_child_are_not_echoed() -> None:
    prepared = _plan().prepare(DIGEST_A)[0]
    reference, sizes = prepared.reference, prepared.case.sizes

    def summary(values, dtype="float32"):
        return compare.check_output(EXERCISE, "output", values, dtype, reference, sizes,
                                    True).summary

    assert "shape (5, 3, 6), expected (5, 3, 12): only one direction" in \
        summary(np.zeros((5, 3, 6)))
    odd = summary(np.zeros((123, 457)))
    assert "123" not in odd and "457" not in odd and "expected (5, 3, 12)" in odd
    assert "3217" not in summary(np.zeros((1, 1, 1, 1, 3217)))
    assert "leak_0_1234" not in summary(np.zeros((5, 3, 12)), "leak_0_1234")
    assert "torch.int64" in summary(np.zeros((5, 3, 12)), "int64")


# --- Exceptions --------------------------------------------------------------------------------

CELLS = {8: "import torch\n\ndef manual_rnn():\n    x = sequence[0]\n    raise ValueError(x)\n"}


def _error(**overrides) -> dict:
    error = {"kind": "exception", "type": "ValueError",
             "message": "tensor([[0.1234, -0.5678]]) SECRET-VALUES",
             "frames": [{"cell": 8, "line": 5, "function": "manual_rnn",
                         "code": "raise ValueError(x)"}]}
    error.update(overrides)
    return error


def _explain(error: dict, hidden: bool = True) -> str:
    return diagnose.explain_call_problem(EXERCISE, error, 1024, 10**6, hidden, CELLS)


def test_a_hidden_exception_tells_its_type_and_the_notebooks_line_not_its_message() -> None:
    text = _explain(_error())
    assert "manual_rnn raised ValueError (hidden case" in text
    assert "cell 9, line 5, in manual_rnn:\n      raise ValueError(x)" in text
    assert "0.1234" not in text and "SECRET" not in text
    public = _explain(_error(), hidden=False)
    assert "manual_rnn raised ValueError: tensor([[0.1234, -0.5678]]) SECRET-VALUES" in public


def test_what_the_child_says_about_frames_is_checked_against_the_notebook() -> None:
    frames = [
        {"cell": 8, "line": 4, "function": "manual_rnn", "code": "x = 0.1234  # made up"},
        {"cell": 8, "line": 5, "function": "f_0_1234", "code": "raise ValueError(x)"},
        {"cell": 3, "line": 1, "function": "manual_rnn", "code": "0.5678"},  # no such cell
        {"cell": 8, "line": 99, "function": "manual_rnn", "code": "0.9999"},  # no such line
        {"cell": "8", "line": 4, "function": "manual_rnn", "code": "0.4242"},
    ]
    text = _explain(_error(frames=frames))
    assert "cell 9, line 4, in manual_rnn:\n      x = sequence[0]" in text
    assert "cell 9, line 5:\n      raise ValueError(x)" in text
    assert not DECIMAL.search(text) and "f_0_1234" not in text
    assert text.count("  cell ") == 2


def test_exception_and_type_names_the_notebook_made_up_are_not_repeated() -> None:
    made_up = _explain(_error(type="Leak_0_1234_5678"))
    assert "Leak" not in made_up and "raised an exception of a class of its own" in made_up
    assert "raised RuntimeError" in _explain(_error(type="RuntimeError"))
    not_pair = _explain({"kind": "not_pair", "type": "Pair_0_1234", "length": 3})
    assert "Pair_0_1234" not in not_pair and "of 3 items" in not_pair
    assert "123456" not in _explain({"kind": "not_pair", "type": "tuple", "length": 123456})
    assert "a list of 3 items" in _explain({"kind": "not_pair", "type": "list", "length": 3})
    assert "is a ndarray" in _explain({"kind": "not_tensor", "position": 1, "type": "ndarray"})
    too_large = _explain({"kind": "too_large", "position": 0, "elements": 1234567})
    assert "1234567" not in too_large and "more than the limit of 1000000" in too_large
    assert "an item of the tuple" in _explain({"kind": "not_tensor", "position": 7,
                                               "type": "X"})


def test_a_hidden_case_does_not_repeat_how_the_process_ended() -> None:
    from grader.isolation.sandbox import SandboxFailure

    died = SandboxFailure("died", "the notebook's process exited with code 123 (sys.exit, "
                          "os._exit or a crash) before it answered")
    assert "123" not in pipeline._limit_story(died, hidden=True)
    assert "123" in pipeline._limit_story(died, hidden=False)
    malformed = SandboxFailure("protocol", "sent back a malformed answer (char 1234)")
    assert "1234" not in pipeline._limit_story(malformed, hidden=True)


# --- End to end: a notebook that tries to leak its hidden inputs ---------------------------------

LEAKY = '''\
calls = []


def manual_rnn():
    calls.append(1)
    if len(calls) == 1:
        raise RuntimeError("the notebook's own check: nothing hidden yet")
    values = [v for t in (sequence, h_0, w_ih_l0, w_hh_l0, b_ih_l0) for v in t.flatten().tolist()]
    print("LEAK-PRINTED", values)
    if len(calls) % 2:
        raise type("Le" + "ak_" + "_".join(str(int(abs(v) * 1e4)) for v in values[:3]),
                   (Exception,), {})("LE" + "AK")
    raise ValueError("LE" + "AK-MESSAGE " + " ".join(f"{v:.6f}" for v in values))
'''


def _visible(results: dict) -> str:
    """Everything a student sees of results.json (extra_data is instructor-only): the text as
    rendered, and the raw top-level output too (its HTML and its pictures' data)."""
    return visible_text(results) + "\n" + results["output"]


def _needles(prepared) -> set[str]:
    """Hidden input values as a message or a print would spell them."""
    needles = set()
    for one in prepared:
        for values in one.inputs.values():
            for value in values.flat[:12]:
                if abs(value) > 1e-3:
                    needles |= {f"{value:.6f}", f"{value:.4f}", f"{abs(value):.4f}"}
    return needles


@pytest.fixture(scope="module")
def warm_context():
    """The workers `grade` uses (a fork of this very process would print into pytest's own
    captured sys.stdout, not into the sandbox's files)."""
    from grader.isolation.sandbox import worker_context

    return worker_context("warm")


def test_a_notebook_printing_and_raising_its_inputs_shows_none_of_them(tmp_path: Path,
                                                                        warm_context) -> None:
    path = corpus.build_notebook(corpus.CorpusEntry("leaky", LEAKY, 0, "error"), tmp_path)
    plan = _plan()
    result = grade_submission(path, "leaky", plan, warm_context)
    results = gradescope_results(result)
    feedback = write_feedback(tmp_path, result, EXERCISE).read_text(encoding="utf-8")
    visible = _visible(results)
    assert result.score == 0 and len(result.cases) == 6
    assert "LEAK" not in visible and "LEAK" not in feedback
    assert "Leak_" not in visible and "Leak_" not in feedback
    assert "raised ValueError (hidden case" in visible
    assert "raised an exception of a class of its own" in visible
    assert "the notebook's own check: nothing hidden yet" in visible  # cell 10, before inputs
    leaks = {n for n in _needles(plan.prepare(notebook_sha256(path)))
             if n in visible or n in feedback}
    assert not leaks
    # What it printed is kept for the instructor, in extra_data, which students never see.
    assert "LEAK-PRINTED" in results["extra_data"]["stdout"]
    assert results["stdout_visibility"] == "hidden"


ZEROS_AND_PRINT = corpus.ZEROS.replace("    return output, h_n\n",
                                       "    print(sequence.sum().item())\n"
                                       "    return output, h_n\n")


def test_a_zeros_answer_end_to_end_and_regraded_gives_the_same(tmp_path: Path,
                                                               warm_context) -> None:
    path = corpus.build_notebook(corpus.CorpusEntry("zeros", ZEROS_AND_PRINT, 0, "graded"),
                                 tmp_path / "a")
    plan = _plan()
    graded = [grade_submission(path, "zeros", plan, warm_context) for _ in range(2)]
    results = [gradescope_results(r) for r in graded]
    for one in results:
        one.pop("execution_time")
        assert "LEAK" not in _visible(one)
    assert results[0] == results[1]
    visible = _visible(results[0])
    assert "values differ from nn.RNN" in visible
    assert not DECIMAL.search(visible.replace("Score: 0 / 24", "")), visible
    assert not {n for n in _needles(plan.prepare(notebook_sha256(path))) if n in visible}
    feedback = write_feedback(tmp_path, graded[0], EXERCISE).read_text(encoding="utf-8")
    page_text = html_text(feedback)
    assert "values differ from nn.RNN" in page_text
    assert not DECIMAL.search(page_text.replace("Score: 0 / 24", "")), page_text
    # A picture, when one is shown (not for an error this uniform), says it shows bands only.
    assert "<img" not in feedback or "only the error's band" in feedback
    # The same code in a notebook that differs by a byte: other inputs, other printed sums.
    other = tmp_path / "b" / path.name
    other.parent.mkdir()
    other.write_bytes(path.read_bytes().replace(b'"cells"', b'"cells" ', 1))
    regraded = grade_submission(other, "zeros", plan, warm_context)
    assert regraded.stdout != graded[0].stdout and regraded.score == 0


def test_the_solution_is_right_whatever_its_notebook(tmp_path: Path, warm_context) -> None:
    plan = _plan()
    for number in range(2):
        path = tmp_path / f"{number}" / "bidirectional_rnn.ipynb"
        path.parent.mkdir()
        path.write_bytes(SOLUTION.read_bytes() + b"\n" * number)
        result = grade_submission(path, "solution", plan, warm_context)
        assert result.score == 24, gradescope_results(result)["output"]


def test_instructor_only_data_stays_in_extra_data() -> None:
    case = Case(1, "label", True, {"L": 1, "N": 1, "I": 1, "H": 1}, False, seed_key=b"k" * 32)
    result = SubmissionResult("someone", "x.ipynb", "graded", 4.0, stdout="PRINTED",
                              stderr="WARNED", cases=[CaseResult(case, 4.0)])
    results = gradescope_results(result)
    assert "PRINTED" not in _visible(results) and "WARNED" not in _visible(results)
    assert results["extra_data"]["stdout"] == "PRINTED"
    assert b"k" * 32 not in json.dumps(results).encode() and (b"k" * 32).hex() not in \
        json.dumps(results)
