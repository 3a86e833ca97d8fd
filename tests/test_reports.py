"""Feedback a student acts on in one read, reports an instructor shows in a lecture.

Results are built here without a sandbox (the returned tensors are what a mistake computes,
in float32, as a student's notebook would send them), then rendered every way: the terminal,
feedback.html, results.json and the class report. Page structure, the once-only diagnosis,
the syntax error's line and caret, indices in words, and mistakes named together or in one
direction are checked; tests/test_pages_in_browser.py looks at the pages in Chromium.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import subprocess
import sys
from html import unescape
from pathlib import Path
from types import SimpleNamespace
from urllib.parse import unquote
from xml.etree import ElementTree

import jsonschema
import numpy as np
import pytest
from rich.console import Console

from grader import pipeline
from grader.checking import compare, diagnose, mistakes
from grader.checking.cases import hidden_cases, public_cases
from grader.config import Config
from grader.exercises import EXERCISE
from grader.notebooks import cells
from grader.pipeline import GradingPlan
from grader.reports import charts, figures
from grader.reports.figures import band_image, heat_map_svg, heat_maps
from grader.reports.pages import FEEDBACK_FILE, feedback_page, write_class_report, write_feedback
from grader.reports.records import gradescope_results, load_schema, write_results
from grader.reports.terminal import print_check
from grader.results import CRASHED, ERROR, GRADED, CaseResult, SubmissionResult
from tests.conftest import SOLUTION, TEST_SECRET, html_text, visible_text

DIGEST = hashlib.sha256(b"a notebook of the report tests").hexdigest()
BY_KEY = {mistake.key: mistake for mistake in EXERCISE.mistakes}
LABELS = {8: "code cell 5 (`def manual_rnn():`)", 9: "code cell 6 (`output, h_n = manual_rnn()`)"}


def _plan(public: bool = False) -> GradingPlan:
    cases = public_cases(EXERCISE) if public else hidden_cases(EXERCISE, TEST_SECRET.encode(), 6)
    return GradingPlan(EXERCISE, cases, Config())


def _graded(model, name: str = "student", public: bool = False) -> SubmissionResult:
    """A submission whose manual_rnn returns `model(inputs, reference)` in every case."""
    plan = _plan(public)
    result = SubmissionResult(name, f"{name}.ipynb", GRADED, plan.max_score)
    evidence = []
    for prepared in plan.prepare(DIGEST):
        case = CaseResult(prepared.case, 4.0)
        returned = {key: value.astype(np.float32) for key, value in
                    model(prepared.inputs, prepared.reference.values).items()}
        case.checks = [compare.check_output(EXERCISE, key, value, "float32", prepared.reference,
                                            prepared.case.sizes, prepared.case.hidden)
                       for key, value in returned.items()]
        case.score = sum(ok for check in case.checks for ok in check.halves_ok.values()) * 1.0
        evidence.append(mistakes.Evidence(case, prepared.inputs, prepared.reference, returned))
        result.cases.append(case)
    result.findings = pipeline._diagnose(EXERCISE, result.cases, evidence, {}, {}, [])
    result.score = sum(case.score for case in result.cases)
    return result


def _mistake(*keys: str):
    mistake = BY_KEY[keys[0]]
    for key in keys[1:]:
        mistake = EXERCISE.combine_mistakes(mistake, BY_KEY[key])
    return lambda inputs, reference: mistake.compute(inputs)


def _raising(name: str = "raiser") -> SubmissionResult:
    """Every hidden case raised the same IndexError on the same line of manual_rnn."""
    plan = _plan()
    cells = {8: "def manual_rnn():\n    L = 5\n    return sequence[L]\n"}
    error = {"kind": "exception", "type": "IndexError", "message": "index 5 is out of bounds",
             "frames": [{"cell": 8, "line": 3, "function": "manual_rnn",
                         "code": "return sequence[L]"}]}
    result = SubmissionResult(name, f"{name}.ipynb", ERROR, plan.max_score)
    for case in plan.cases:
        one = CaseResult(case, 4.0, outcome=ERROR)
        one.problem, one.trace, one.group = diagnose.explain_call(
            EXERCISE, error, 512, 10**6, hidden=True, cells=cells, labels=LABELS)
        result.cases.append(one)
    return result


# --- Indices in words, largest differences first ----------------------------------------------

def test_an_index_is_translated_into_time_step_sequence_direction_and_unit() -> None:
    assert compare.locate(EXERCISE, "output", (2, 3, 12), (0, 0, 9)) == \
        "t = 0, sequence 0, reverse unit 3"
    assert compare.locate(EXERCISE, "output", (2, 3, 12), (1, 2, 5)) == \
        "t = 1, sequence 2, forward unit 5"
    assert compare.locate(EXERCISE, "h_n", (2, 3, 6), (1, 2, 5)) == "sequence 2, reverse unit 5"


def test_an_exercise_with_plain_axis_names_and_plain_shape_stories_still_reads() -> None:
    """Exercises written before indices were put in words: their axis names and stories."""
    import dataclasses

    older = dataclasses.replace(EXERCISE, half_axes={"output": ("time step", "sequence", "unit")},
                                explain_shape=lambda name, got, sizes: "a story")
    assert compare.locate(older, "output", (2, 3, 12), (0, 0, 9)) == \
        "reverse, time step 0, sequence 0, unit 3"
    prepared = _plan().prepare(DIGEST)[0]
    check = compare.check_output(older, "output", np.zeros((1, 2, 3)), "float32",
                                 prepared.reference, prepared.case.sizes, hidden=True)
    assert check.summary.endswith(": a story") and check.mistake == ""


def test_a_public_table_lists_the_largest_differences_first_each_index_in_words() -> None:
    prepared = _plan(public=True).prepare("")[0]  # L=5, N=3, I=4, H=6
    got = prepared.reference.values["output"].copy()
    for at, delta in (((0, 0, 1), 0.01), ((4, 2, 11), 0.5), ((2, 1, 7), 0.1)):
        got[at] += delta
    check = compare.check_output(EXERCISE, "output", got, "float32", prepared.reference,
                                 prepared.case.sizes, hidden=False)
    rows = check.details[1:4]
    assert [row.split()[0:3] for row in rows] == [["[4,", "2,", "11]"], ["[2,", "1,", "7]"],
                                                  ["[0,", "0,", "1]"]]
    assert "t = 4, sequence 2, reverse unit 5" in rows[0]
    assert "largest difference 0.5 at t = 4, sequence 2, reverse unit 5 (index [4, 2, 11])" \
        in check.summary


def test_a_hidden_table_lists_the_worst_band_first() -> None:
    prepared = _plan().prepare(DIGEST)[0]
    got = prepared.reference.values["output"].copy()
    tolerance = prepared.reference.tolerance["output"]
    got[0, 0, 0] += 3 * tolerance[0, 0, 0]  # up to 10x
    got[3, 1, 8] += 1e5 * tolerance[3, 1, 8]  # more than 1000x
    check = compare.check_output(EXERCISE, "output", got, "float32", prepared.reference,
                                 prepared.case.sizes, hidden=True)
    assert "t = 3, sequence 1, reverse unit 2" in check.details[1]
    assert check.details[1].endswith("more than 1000× the tolerance")
    assert check.details[2].endswith("up to 10× the tolerance")


# --- Mistakes named: two at once, in one direction, h_0[1], sizes typed in ---------------------

def test_two_mistakes_at_once_are_named_together_and_neither_alone() -> None:
    result = _graded(_mistake("reverse_at_forward_index", "h0_ignored"))
    first = result.findings[0]
    assert first.kind == "compound" and first.keys == ["reverse_at_forward_index", "h0_ignored"]
    assert result.mistakes == ["reverse_at_forward_index", "h0_ignored"]
    assert len(result.findings) == 1
    failing = [case.case.number for case in result.cases if not case.passed]
    assert first.cases == failing


def test_h0_0_used_for_both_directions_points_at_h0_1() -> None:
    result = _graded(_mistake("reverse_starts_from_h0_forward"))
    assert result.mistakes == ["reverse_starts_from_h0_forward"]
    assert "h_0[0]" in result.findings[0].title and "h_0[1]" in result.findings[0].hints[0]


def test_a_mistake_in_one_direction_only_is_named_for_that_direction() -> None:
    relu = BY_KEY["relu_activation"]

    def relu_in_reverse(inputs, reference):
        wrong, hidden = relu.compute(inputs), reference["h_n"].shape[-1]
        output = np.concatenate([reference["output"][..., :hidden],
                                 wrong["output"][..., hidden:]], axis=-1)
        return {"output": output, "h_n": np.stack([reference["h_n"][0], wrong["h_n"][1]])}

    result = _graded(relu_in_reverse)
    assert [f.kind for f in result.findings] == ["part"]
    assert result.findings[0].title == "relu instead of tanh (in the reverse direction only)"
    assert result.mistakes == ["relu_activation"]


def test_a_correct_result_names_nothing() -> None:
    result = _graded(lambda inputs, reference: dict(reference))
    assert result.findings == [] and result.mistakes == []


def test_sizes_typed_in_are_quoted_from_the_code_not_the_docstring() -> None:
    source = ('def manual_rnn():\n    """Sizes 5, 3 and 6 in the notebook."""\n'
              '    L, N, H = 5, 3, 6  # typed in\n    for t in range(L):\n        pass\n'
              '    return torch.zeros(L, N, 12), h_0\n')
    assert cells.typed_in_sizes(EXERCISE, source) == [(3, "L, N, H = 5, 3, 6"),
                                                         (6, "return torch.zeros(L, N, 12), h_0")]
    assert cells.typed_in_sizes(EXERCISE, "def manual_rnn():\n    return h_0[1]\n") == []


# --- Cells as Jupyter shows them; syntax errors with their line and caret ---------------------

def test_cells_are_named_by_their_place_among_code_cells_and_their_first_line(tmp_path) -> None:
    from grader.notebooks.load import load_notebook

    labels = cells.labels_of(SOLUTION, load_notebook(SOLUTION))
    assert labels[8] == "code cell 5 (`def manual_rnn():`)"
    assert labels[9] == "code cell 6 (`output, h_n = manual_rnn()`)"
    assert cells.code_cell_label(2, "\n\n" + "x" * 80) == f"code cell 2 (`{'x' * 49}…`)"


def _syntax_error(source: str, cell: int = 8) -> dict:
    from grader.isolation.child import Student

    try:
        compile(source, "<cell>", "exec")
    except SyntaxError as error:
        frame = Student.syntax_frame(SimpleNamespace(current_cell=cell), error)
        return {"kind": "exception", "type": type(error).__name__, "message": error.msg,
                "frames": [frame], "cell": cell}
    raise AssertionError("it compiles")


def test_a_syntax_error_shows_its_cell_line_code_and_caret() -> None:
    source = "def manual_rnn()\n    return sequence, h_0\n"
    message, lines = diagnose.explain_cell_errors(
        [_syntax_error(source)], "manual_rnn", 512, {8: source},
        {8: "code cell 5 (`def manual_rnn()`)"})
    assert message.startswith("Code cell 5 (`def manual_rnn()`) does not compile: SyntaxError "
                              "on line 1 (below). None of the cell ran, so manual_rnn is not "
                              "defined.")
    assert lines == ["    1 | def manual_rnn()", "      |                 ^",
                     "SyntaxError: expected ':'"]


def test_the_caret_is_placed_within_an_indented_line_and_under_the_whole_token() -> None:
    source = "def manual_rnn():\n    x = (1,\n    return x\n"
    _, lines = diagnose.explain_cell_errors([_syntax_error(source)], "manual_rnn", 512,
                                            {8: source}, LABELS)
    assert lines[0] == "    2 | x = (1,"
    assert lines[1] == "      |     ^"  # under the parenthesis never closed
    indented = "def f():\n    return 1\n        pass\n"
    _, lines = diagnose.explain_cell_errors([_syntax_error(indented)], "manual_rnn", 512,
                                            {8: indented}, LABELS)
    assert lines[0] == "    3 | pass" and lines[-1].startswith("IndentationError")


def test_a_syntax_error_in_manual_rnns_cell_gives_no_contradicting_advice(tmp_path) -> None:
    from grader.isolation.sandbox import worker_context

    source = "def manual_rnn(:\n    return sequence, h_0\n"
    notebook = json.loads(SOLUTION.read_text(encoding="utf-8"))
    cell = next(c for c in notebook["cells"]
                if c.get("metadata", {}).get("nbgrader", {}).get("grade_id") == "manual_rnn")
    cell["source"] = source
    path = tmp_path / "bidirectional_rnn.ipynb"
    path.write_text(json.dumps(notebook), encoding="utf-8")
    plan = GradingPlan(EXERCISE, public_cases(EXERCISE), Config(), allow_weak=True)
    result = pipeline.grade_submission(path, "syntax", plan, worker_context("fork"))
    page = html_text(feedback_page(result))
    assert "Code cell 5 (`def manual_rnn(:`) does not compile: SyntaxError on line 1" in page
    assert "  1 | def manual_rnn(:\n      |                ^" in page
    assert "defines no function" not in page and "keep the cell" not in page
    assert page.count("manual_rnn is not defined") == 2  # the notice and the one case line


# --- Diagnosis first, once --------------------------------------------------------------------

def _terminal(result: SubmissionResult, width: int = 100, terminal: bool = False) -> str:
    buffer = io.StringIO()
    print_check(result, Console(file=buffer, width=width, force_terminal=terminal,
                                color_system=None, highlight=False))
    return buffer.getvalue()


def _reports(result: SubmissionResult) -> dict[str, str]:
    return {"page": html_text(feedback_page(result)),
            "results.json": visible_text(gradescope_results(result)),
            "terminal": _terminal(result)}


def test_the_diagnosis_comes_first_and_its_hint_once_in_every_report() -> None:
    result = _graded(_mistake("reverse_at_forward_index"))
    hint = BY_KEY["reverse_at_forward_index"].hint
    for where, text in _reports(result).items():
        lines = [line.strip() for line in text.splitlines() if line.strip()]
        lead = next(i for i, line in enumerate(lines) if line.startswith("Most likely:"))
        assert lead <= 3, (where, lines[:5])
        assert "reverse outputs stored at the forward time index — explains cases" in lines[lead]
        # Once as the hint; the terminal and the page say it once more as the next step.
        assert text.count(hint) == (1 if where == "results.json" else 2), where
        assert text.count("Hint:") == 1, where


def test_a_traceback_shared_by_every_case_is_told_once() -> None:
    result = _raising()
    for where, text in _reports(result).items():
        assert text.count("return sequence[L]") == 1, (where, text)
        assert "code cell 5 (`def manual_rnn():`), line 3, in manual_rnn" in text, where
        assert "index 5 is out of bounds" not in text  # hidden: no message
    page = html_text(feedback_page(result))
    assert "(all 6 cases)" in page and "all 6 cases, 0 points: manual_rnn raised IndexError" in page


def test_outside_a_terminal_lines_are_never_broken_and_on_one_they_keep_their_indent() -> None:
    result = _graded(_mistake("reverse_at_forward_index"))
    hint = BY_KEY["reverse_at_forward_index"].hint
    piped = _terminal(result, width=80)
    assert f"  Hint: {hint}" in piped.splitlines()  # one line, longer than 80 columns
    assert max(len(line) for line in piped.splitlines()) > 80
    wrapped = _terminal(result, width=60, terminal=True).splitlines()
    start = wrapped.index(next(line for line in wrapped if line.startswith("  Hint:")))
    continued = wrapped[start + 1:start + 3]
    assert all(line.startswith("  ") and line.strip() for line in continued), wrapped
    prose = [line for line in wrapped if not line.startswith("      ")]  # tables stay whole
    assert all(len(line) <= 60 for line in prose)


# --- Pages ------------------------------------------------------------------------------------

def _images(html: str) -> list[dict[str, str]]:
    return [{key: unescape(value) for key, value in re.findall(r'(\w+)="([^"]*)"', tag)}
            for tag in re.findall(r"<img [^>]*>", html)]


def test_the_feedback_page_works_on_a_phone_and_says_what_its_picture_shows(tmp_path) -> None:
    result = _graded(_mistake("h0_ignored"))
    html = write_feedback(tmp_path, result, EXERCISE).read_text(encoding="utf-8")
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in html
    assert "img { max-width: 100%; height: auto; }" in html
    [image] = _images(html)
    assert image["src"].startswith("data:image/svg+xml,%3Csvg")
    assert re.fullmatch(r"Heat map of case \d: output's error at each time step \(0 to \d+, "
                        r"across\) and hidden unit \(forward units 0 to \d+ above, reverse "
                        r"below\).*: forward half wrong at .*, worst by .*; reverse half wrong "
                        r"at .*, worst by .* the tolerance\.", image["alt"])
    assert int(image["width"]) > 0 and int(image["height"]) > 0


def test_a_heat_map_has_axes_ticks_the_forward_half_first_and_a_band_legend() -> None:
    result = _graded(_mistake("h0_ignored"))
    [figure] = heat_maps(result.cases)
    case = next(c for c in result.cases if f"case {c.case.number}:" in figure.alt)
    check = next(c for c in case.checks if c.name == "output")
    svg, _, _ = heat_map_svg(band_image(check), case.case.number, check.error_ratio.shape[1])
    assert "time step</text>" in svg and "hidden unit (forward | reverse)</text>" in svg
    assert svg.index(">forward</text>") < svg.index(">reverse</text>")
    assert ">error ÷ tolerance</text>" in svg  # the legend's scale is the tolerance's multiple
    for label in ("within (≤ 1×)", "1 to 10×", "10 to 1000×", "over 1000×"):
        assert f">{label}</text>" in svg
    steps = case.case.sizes["L"]
    assert all(f">{t}</text>" in svg for t in range(steps))  # an integer tick per step
    assert not re.search(r"\d\.\d", svg)  # integer coordinates: no number but indices


def test_a_uniform_error_gets_no_picture() -> None:
    assert heat_maps(_graded(_mistake("halves_swapped")).cases) == []
    steps, units = 5, 12  # bands of (time step, feature): forward units 0..5, reverse 6..11
    uniform = np.full((steps, units), 3)
    uniform[2, 4] = uniform[0, 9] = 2  # a stray element in a lower band is no pattern
    assert not figures._has_a_pattern(uniform)
    middle_right = np.zeros((steps, units), dtype=int)
    middle_right[:, 6:] = 3
    middle_right[2, 6:] = 0  # reverse outputs at the forward index: the middle step is right
    fading = np.zeros((steps, units), dtype=int)
    fading[:, :6] = np.array([3, 3, 2, 1, 0])[:, None]  # h_0 ignored: the error fades
    one_unit = np.zeros((steps, units), dtype=int)
    one_unit[:, 3] = 3
    assert all(figures._has_a_pattern(image) for image in (middle_right, fading, one_unit))


def test_results_json_carries_the_story_as_html_with_its_picture() -> None:
    result = _graded(_mistake("h0_ignored"))
    results = gradescope_results(result)
    jsonschema.validate(results, load_schema())
    assert results["output_format"] == "html"
    [image] = _images(results["output"])
    assert image["alt"].startswith("Heat map of case")
    words = html_text(re.sub(r"<img [^>]*>", "", results["output"]))  # the text alone
    assert "Most likely: h_0 ignored (state starts at zero) — explains cases" in words
    failing = [test for test in results["tests"] if test["status"] == "failed"]
    assert failing and all("Explained by: h_0 ignored" in test["output"] for test in failing)


def _batch(tmp_path: Path) -> tuple[Path, list[tuple[str, dict]]]:
    out = tmp_path / "out"
    results = [_graded(_mistake("h0_ignored"), "ada"), _graded(_mistake("h0_ignored"), "bo"),
               _graded(_mistake("halves_swapped"), "cy"), _raising("dee"),
               _graded(lambda inputs, reference: dict(reference), "eve")]
    crashed = SubmissionResult("fay", "fay.ipynb", CRASHED, 24.0,
                               message="Running the notebook's cells: it crashed.")
    results.append(crashed)
    recorded = []
    for result in results:
        write_results(out / result.name, result)
        write_feedback(out / result.name, result, EXERCISE)
        recorded.append((result.name, json.loads((out / result.name / "results.json")
                                                 .read_text(encoding="utf-8"))))
    return out, recorded


def test_the_class_report_has_a_roster_with_links_and_mistakes_by_frequency(tmp_path) -> None:
    out, recorded = _batch(tmp_path)
    html_path, csv_path = write_class_report(out, EXERCISE, recorded)
    html = html_path.read_text(encoding="utf-8")
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in html
    roster = html[html.index('id="roster-table"'):]
    roster = roster[:roster.index("</table>")]
    links = re.findall(r'<a href="([^"]+)">([^<]+)</a>', roster)
    assert [name for _, name in links] == ["ada", "bo", "cy", "dee", "eve", "fay"]
    assert all((out / href).is_file() and href.endswith(FEEDBACK_FILE) for href, _ in links)
    assert roster.count('class="low"') == 4  # under half the points: not cy (12), not eve
    assert "raised an error" in roster and "crashed" in roster  # statuses in words
    assert "manual_rnn raised IndexError" in roster  # what dee was told, with no mistake named
    attention = html[html.index('id="attention"'):html.index('id="mistakes"')]
    assert "fay" in attention and "ada" not in attention
    mistakes_table = html[html.index('id="mistakes"'):html.index('id="roster"')]
    assert mistakes_table.index("h_0 ignored") < mistakes_table.index("halves swapped")
    assert re.search(r"h_0 ignored \(state starts at zero\)</td><td class=\"num\"[^>]*>2</td>",
                     mistakes_table)
    images = _images(html)
    assert len(images) == 2 and all(image["alt"].startswith("Bar chart of") for image in images)
    assert "Bar chart of the scores of 6 submissions, 0 to 24 points" in images[1]["alt"] or \
        "Bar chart of the scores of 6 submissions, 0 to 24 points" in images[0]["alt"]
    rows = csv_path.read_text(encoding="utf-8").splitlines()
    assert rows[0] == "kind,name,count" and "mistake,h0_ignored,2" in rows


@pytest.mark.parametrize("page", ["feedback", "class"])
def test_no_image_anywhere_has_a_generic_alt_text(tmp_path, page) -> None:
    out, recorded = _batch(tmp_path)
    if page == "class":
        html = write_class_report(out, EXERCISE, recorded)[0].read_text(encoding="utf-8")
    else:
        html = "".join((out / name / FEEDBACK_FILE).read_text(encoding="utf-8")
                       for name, _ in recorded)
    images = _images(html)
    assert images
    for image in images:
        assert len(image.get("alt", "")) > 40 and image["alt"] not in ("plot", "error heat map")


# --- the class report's charts: hand-written SVG -----------------------------------------------

SVG = "{http://www.w3.org/2000/svg}"


def _svg(src: str) -> ElementTree.Element:
    """The chart an <img> shows, parsed: its data URI is percent-encoded SVG text."""
    assert src.startswith("data:image/svg+xml,%3Csvg")
    root = ElementTree.fromstring(unquote(src.removeprefix("data:image/svg+xml,")))
    assert root.tag == f"{SVG}svg" and root.get("role") == "img"
    return root


def _texts(root: ElementTree.Element) -> list[str]:
    return ["".join(text.itertext()) for text in root.iter(f"{SVG}text")]


def _bars(root: ElementTree.Element, colour: str) -> list[ElementTree.Element]:
    return [rect for rect in root.iter(f"{SVG}rect") if rect.get("fill") == colour]


def test_the_class_reports_charts_are_svg_with_a_bar_and_its_count_per_mistake(tmp_path) -> None:
    out, recorded = _batch(tmp_path)
    html = write_class_report(out, EXERCISE, recorded)[0].read_text(encoding="utf-8")
    mistakes, scores = (_svg(image["src"]) for image in _images(html))
    assert mistakes.find(f"{SVG}title").text == _images(html)[0]["alt"]  # named as its <img>
    rows = list(mistakes.iter(f"{SVG}g"))
    assert [row.find(f"{SVG}title").text for row in rows] == [
        "h_0 ignored (state starts at zero): 2 submissions",
        "forward and reverse halves swapped in output: 1 submission"]
    assert [len(_bars(row, charts.MISTAKE_COLOUR)) for row in rows] == [1, 1]
    assert [_texts(row)[-1] for row in rows] == ["2", "1"]  # each count by its bar
    two, one = (float(bar.get("width")) for bar in _bars(mistakes, charts.MISTAKE_COLOUR))
    assert two == pytest.approx(2 * one)  # to scale
    assert "submissions" in _texts(mistakes) and "submissions" in _texts(scores)
    assert "score (out of 24)" in _texts(scores) and "Scores of 6 submissions" in _texts(scores)
    for chart in (mistakes, scores):  # whole numbers of submissions: no fractional tick
        numbers = [text for text in _texts(chart) if re.fullmatch(r"[-\d.]+", text)]
        assert numbers and all(re.fullmatch(r"\d+", number) for number in numbers)


def test_the_score_chart_bins_whole_points_and_keeps_the_maximum_inside_its_axes() -> None:
    assert charts.score_bins([0, 12.5, 13.5, 24, 24, 23.6]) == ([0, 12, 14, 24], [1, 1, 1, 3])
    figure = charts.score_chart([0, 12.5, 13.5, 24, 24, 23.6], 24)
    root = _svg(figure.src)
    bars = _bars(root, charts.SCORE_COLOUR)
    assert [bar.find(f"{SVG}title").text for bar in bars] == [
        "0 points: 1 submission", "12 points: 1 submission", "14 points: 1 submission",
        "24 points: 3 submissions"]
    right = max(float(bar.get("x")) + float(bar.get("width")) for bar in bars)
    assert right < figure.width and {"0", "24"} <= set(_texts(root))  # both ends labelled
    assert figure.alt == ("Bar chart of the scores of 6 submissions, 0 to 24 points: 1 at 0, "
                          "1 at 12, 1 at 14, 3 at 24; most often 24.")


@pytest.mark.parametrize("top", [0, 1, 2, 3, 7, 10, 28, 99, 120, 1234])
def test_count_axes_have_whole_evenly_spaced_ticks_from_zero_past_the_largest(top) -> None:
    ticks = charts.integer_ticks(top)
    steps = {b - a for a, b in zip(ticks, ticks[1:], strict=False)}
    assert ticks[0] == 0 and ticks[-1] >= max(top, 1) and len(steps) == 1 and len(ticks) <= 9
    assert all(isinstance(tick, int) for tick in ticks)


@pytest.mark.parametrize("scores", [[], [17.0], [12.0] * 5])
def test_no_one_or_equal_scores_draw_a_chart(scores) -> None:
    figure = charts.score_chart(scores, 24)
    root = _svg(figure.src)
    assert len(_bars(root, charts.SCORE_COLOUR)) == len(set(scores))
    assert "Scores of " + ("1 submission" if len(scores) == 1 else f"{len(scores)} submissions") \
        in _texts(root)
    assert figure.width > 0 and figure.height > 0 and figure.alt.endswith(".")
    assert _svg(charts.mistakes_chart([]).src) is not None


def test_a_batch_of_none_or_one_renders_its_class_report(tmp_path) -> None:
    empty = write_class_report(tmp_path / "none", EXERCISE, [])[0].read_text(encoding="utf-8")
    assert "Class report: 0 submissions" in empty and not _images(empty)
    out, recorded = _batch(tmp_path)
    one = write_class_report(out, EXERCISE, recorded[:1])[0].read_text(encoding="utf-8")
    mistakes, scores = (_svg(image["src"]) for image in _images(one))
    assert [_texts(row)[-1] for row in mistakes.iter(f"{SVG}g")] == ["1"]
    assert len(_bars(scores, charts.SCORE_COLOUR)) == 1 and "Scores of 1 submission" in \
        _texts(scores)


def test_a_mistakes_name_is_escaped_and_a_long_one_cut_with_all_of_it_in_its_title() -> None:
    name, long = "h < 0 & <b>bold</b>", "the reverse direction " * 12
    figure = charts.mistakes_chart([(name, 3), (long, 1)])
    assert "<b>" not in unquote(figure.src) and "&lt;b&gt;bold&lt;/b&gt;" in unquote(figure.src)
    first, second = _svg(figure.src).iter(f"{SVG}g")
    assert _texts(first)[:-1] == [name]
    assert first.find(f"{SVG}title").text == f"{name}: 3 submissions"
    lines = _texts(second)[:-1]
    assert len(lines) == charts.NAME_LINES and lines[-1].endswith("…")
    assert second.find(f"{SVG}title").text == f"{long}: 1 submission"
    assert name in figure.alt and long in figure.alt


def test_the_class_report_imports_no_plotting_library(tmp_path) -> None:
    out, recorded = _batch(tmp_path)
    (tmp_path / "recorded.json").write_text(json.dumps(recorded), encoding="utf-8")
    code = (
        "import json, sys\nfrom pathlib import Path\n"
        "import grader.reports.pages as pages\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'matplotlib'))\n"
        "from grader.exercises import EXERCISE\n"
        f"recorded = json.loads(Path({str(tmp_path / 'recorded.json')!r}).read_text())\n"
        f"html, _ = pages.write_class_report(Path({str(out)!r}), EXERCISE, recorded)\n"
        "print(html.read_text().count('data:image/svg+xml,'))\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'matplotlib'))\n")
    path = os.pathsep.join([str(Path(__file__).resolve().parents[1]),
                            os.environ.get("PYTHONPATH", "")])
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": path}, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split("\n")[:3] == ["[]", "2", "[]"]


def test_batch_summary_counts_only_untouched_notebooks_as_not_started() -> None:
    from grader.reports.records import batch_statistics

    rows = [{"score": 24, "max_score": 24, "status": "graded"},
            {"score": 0, "max_score": 24, "status": "not_implemented"},
            {"score": 16, "max_score": 24, "status": "not_implemented"},  # partly done
            {"score": 0, "max_score": 24, "status": "timeout"}]
    stats = batch_statistics(rows)
    assert (stats["full_marks"], stats["unfinished"], stats["errors"]) == (1, 1, 2)
