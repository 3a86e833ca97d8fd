"""End to end: grade the whole corpus (tests/corpus.py) in one `rnn-grader grade` batch and
check every submission's score, status and feedback, results.json's schema and summary.csv."""

from __future__ import annotations

import csv
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import jsonschema
import numpy as np
import pytest

from tests.conftest import html_text, visible_text

sys.path.insert(0, str(Path(__file__).resolve().parent))

import corpus  # noqa: E402
from corpus import ENTRIES, SECRET, CorpusEntry  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SCHEMA = ROOT / "grader" / "reports" / "schemas" / "gradescope_results.schema.json"
BIN = Path(sys.executable).parent
GRADE_SECONDS = 900


@pytest.fixture(scope="module")
def batch(tmp_path_factory) -> Path:
    """Build every entry, grade them all in one batch; return the output folder."""
    tmp = tmp_path_factory.mktemp("corpus")
    submissions = tmp / "submissions"
    for entry in ENTRIES:
        corpus.build_notebook(entry, submissions / entry.name)
    out = tmp / "out"
    env = {**os.environ, "RNN_GRADER_SECRET": SECRET}  # conftest set Jupyter dirs, PATH
    completed = subprocess.run(
        [str(BIN / "rnn-grader"), "grade", str(submissions), "--out", str(out), "-j", "2",
         "--quiet"],
        cwd=tmp, env=env, capture_output=True, text=True, timeout=GRADE_SECONDS)
    assert completed.returncode == 0, (
        f"rnn-grader grade exited {completed.returncode}\nstdout:\n{completed.stdout}\n"
        f"stderr:\n{completed.stderr}")
    return out


def _results(out: Path, entry: CorpusEntry) -> dict:
    path = out / entry.name / "results.json"
    assert path.is_file(), f"no results.json for {entry.name}"
    return json.loads(path.read_text(encoding="utf-8"))


def _text(results: dict) -> str:
    return visible_text(results)


def test_corpus_is_consistent():
    """Each entry's score is the sum of its reasoned per-case scores, within 0..24."""
    for entry in ENTRIES:
        assert entry.case_scores is not None and len(entry.case_scores) == 6, entry.name
        assert sum(entry.case_scores) == entry.score, entry.name
        assert 0 <= entry.score <= corpus.MAX_SCORE, entry.name
        assert all(score in (0, 1, 2, 3, 4) for score in entry.case_scores), entry.name


def test_secret_gives_the_reasoned_sizes():
    """The per-case reasoning in corpus.py assumes these hidden sizes."""
    from grader.checking.cases import hidden_cases
    from grader.exercises import EXERCISE

    cases = hidden_cases(EXERCISE, SECRET.encode(), 6)
    sizes = tuple(tuple(case.sizes[key] for key in "LNIH") for case in cases)
    assert sizes == corpus.CASE_SIZES
    assert [case.zero_h0 for case in cases] == [False, False, True, False, True, False]


def test_h0_ignored_case_4_is_reasoned_from_its_own_inputs(tmp_path):
    """bug_h0_ignored's case 4 (L = 8, H = 2): whether h_n has forgotten h_0 depends on the
    values, drawn per notebook. Recompute it in float64 from the entry's own inputs: each h_n
    half is right when starting from zeros moves it by at most the tolerance."""
    from grader.checking.cases import hidden_cases
    from grader.config import Config
    from grader.exercises import EXERCISE
    from grader.pipeline import GradingPlan, notebook_sha256

    entry = corpus.BY_NAME["bug_h0_ignored"]
    path = corpus.build_notebook(entry, tmp_path)
    plan = GradingPlan(EXERCISE, hidden_cases(EXERCISE, SECRET.encode(), 6), Config())
    prepared = plan.prepare(notebook_sha256(path))[3]
    assert prepared.case.sizes == dict(zip("LNIH", corpus.CASE_SIZES[3], strict=True))
    zeros_start = {m.key: m for m in EXERCISE.mistakes}["h0_ignored"].compute(prepared.inputs)
    moved = np.abs(zeros_start["h_n"] - prepared.reference.values["h_n"])
    right = int(sum((moved[d] <= prepared.reference.tolerance["h_n"][d]).all() for d in (0, 1)))
    assert entry.case_scores[3] == right, (
        f"bug_h0_ignored's notebook (SHA-256 {notebook_sha256(path)[:12]}) has new hidden "
        f"inputs: case 4 now scores {right} (h_n moves by {moved[0].max():.2g} forward, "
        f"{moved[1].max():.2g} reverse); update its case_scores, score and comment")


# Entries whose bug is a catalogued mistake (or two at once): their per-case scores follow from
# the mistake computed on the entry's own inputs, which are drawn per notebook.
MODELLED = {"bug_h0_ignored": ("h0_ignored",),
            "bug_reverse_starts_from_h0_forward": ("reverse_starts_from_h0_forward",),
            "bug_h0_ignored_and_reverse_not_flipped": ("reverse_at_forward_index", "h0_ignored")}


@pytest.mark.parametrize("name", sorted(MODELLED))
def test_modelled_entries_are_reasoned_from_their_own_inputs(tmp_path, name):
    """Each half of each tensor scores 1 when the mistake leaves it within the tolerance of
    nn.RNN's, on the inputs the entry's own notebook gets."""
    from grader.checking.cases import hidden_cases
    from grader.config import Config
    from grader.exercises import EXERCISE
    from grader.pipeline import GradingPlan, notebook_sha256

    entry = corpus.BY_NAME[name]
    by_key = {m.key: m for m in EXERCISE.mistakes}
    mistake = by_key[MODELLED[name][0]]
    for other in MODELLED[name][1:]:
        mistake = EXERCISE.combine_mistakes(mistake, by_key[other])
    path = corpus.build_notebook(entry, tmp_path)
    plan = GradingPlan(EXERCISE, hidden_cases(EXERCISE, SECRET.encode(), 6), Config())
    scores = []
    for prepared in plan.prepare(notebook_sha256(path)):
        predicted, reference = mistake.compute(prepared.inputs), prepared.reference
        right = 0
        for tensor, want in reference.values.items():
            ok = np.abs(predicted[tensor] - want) <= reference.tolerance[tensor]
            right += sum(bool(part.all()) for part in EXERCISE.split_halves(tensor, ok).values())
        scores.append(right)
    assert tuple(scores) == entry.case_scores, (
        f"{name}'s notebook (SHA-256 {notebook_sha256(path)[:12]}) scores {scores} with its "
        "own inputs; update its case_scores, score and comment")


def test_build_notebook_replaces_only_the_function_cell(tmp_path):
    import nbformat

    entry = corpus.BY_NAME["correct_functional_linear"]
    built = nbformat.read(corpus.build_notebook(entry, tmp_path / "a"), as_version=4)
    original = nbformat.read(corpus.SOLUTION, as_version=4)
    assert len(built.cells) == len(original.cells)
    for mine, theirs in zip(built.cells, original.cells, strict=True):
        grade_id = theirs.metadata.get("nbgrader", {}).get("grade_id")
        assert mine.source == (entry.source if grade_id == "manual_rnn" else theirs.source)
    removed = nbformat.read(corpus.build_notebook(corpus.BY_NAME["manual_rnn_missing"],
                                                  tmp_path / "b"), as_version=4)
    assert len(removed.cells) == len(original.cells) - 1
    assert all(c.metadata.get("nbgrader", {}).get("grade_id") != "manual_rnn"
               for c in removed.cells)


@pytest.mark.parametrize("entry", ENTRIES, ids=[entry.name for entry in ENTRIES])
def test_entry(batch: Path, entry: CorpusEntry):
    results = _results(batch, entry)
    text = _text(results)
    got = {"score": results["score"], "status": results["extra_data"]["status"],
           "case_scores": results["extra_data"]["case_scores"]}
    want = {"score": entry.score, "status": entry.status, "case_scores": list(entry.case_scores)}
    assert got == want, f"{entry.name}\n--- feedback ---\n{text}"
    assert results["max_score"] == corpus.MAX_SCORE
    missing = [piece for piece in entry.feedback if piece not in text]
    assert not missing, f"{entry.name}: missing {missing}\n--- feedback ---\n{text}"
    present = [piece for piece in entry.absent if piece in text]
    assert not present, f"{entry.name}: should not say {present}\n--- feedback ---\n{text}"
    assert SECRET not in json.dumps(results), "the secret leaked into results.json"


def test_results_match_the_gradescope_schema(batch: Path):
    validator = jsonschema.Draft202012Validator(json.loads(SCHEMA.read_text(encoding="utf-8")))
    problems = {}
    for entry in ENTRIES:
        errors = [error.message for error in validator.iter_errors(_results(batch, entry))]
        if errors:
            problems[entry.name] = errors
    assert not problems


def test_summary_has_one_row_per_entry(batch: Path):
    with (batch / "summary.csv").open(newline="", encoding="utf-8") as stream:
        rows = list(csv.DictReader(stream))
    assert sorted(row["submission"] for row in rows) == sorted(e.name for e in ENTRIES)
    for row in rows:
        entry = corpus.BY_NAME[row["submission"]]
        assert float(row["score"]) == entry.score, row
        assert float(row["max_score"]) == corpus.MAX_SCORE, row
        assert row["status"] == entry.status, row
        assert [float(row[f"case_{n}"]) for n in range(1, 7)] == list(entry.case_scores), row


def test_correct_submissions_are_never_diagnosed(batch: Path):
    for entry in ENTRIES:
        if entry.score == corpus.MAX_SCORE:
            extra = _results(batch, entry)["extra_data"]
            assert extra["mistakes"] == [], entry.name


def test_every_catalogued_mistake_is_named_in_some_entry(batch: Path):
    from grader.exercises import EXERCISE

    named = {key for entry in ENTRIES for key in _results(batch, entry)["extra_data"]["mistakes"]}
    catalogue = {mistake.key for mistake in EXERCISE.mistakes}
    assert named >= catalogue
    assert named - catalogue <= set(EXERCISE.other_mistakes)  # shapes and sizes typed in


def test_shape_mistakes_are_counted_like_any_other(batch: Path):
    """A wrong shape is named in the summary's mistakes column, not only in the text."""
    with (batch / "summary.csv").open(newline="", encoding="utf-8") as stream:
        mistakes = {row["submission"]: row["mistakes"].split() for row in csv.DictReader(stream)}
    assert mistakes["bug_hn_concatenated"] == ["hn_concatenated"]
    assert mistakes["bug_hn_one_direction"] == ["hn_one_direction"]
    assert "output_one_direction" in mistakes["bug_forward_only"]
    assert mistakes["bug_sizes_hardcoded"] == ["sizes_hardcoded"]


def test_class_report_counts_each_mistake_exactly(batch: Path):
    from grader.exercises import EXERCISE

    with (batch / "class_report.csv").open(newline="", encoding="utf-8") as stream:
        rows = {(row["kind"], row["name"]): int(row["count"]) for row in csv.DictReader(stream)}
    for mistake in EXERCISE.mistakes:
        expected = sum(mistake.title in " ".join(entry.feedback) for entry in ENTRIES)
        assert rows.get(("mistake", mistake.key), 0) == expected, mistake.key
    counts = [count for (kind, _), count in rows.items() if kind == "mistake"]
    assert counts == sorted(counts, reverse=True)  # most frequent first
    assert sum(count for (kind, _), count in rows.items() if kind == "status") == len(ENTRIES)
    assert rows[("status", corpus.INVALID)] == 3
    html = (batch / "class_report.html").read_text(encoding="utf-8")
    assert f"Class report: {len(ENTRIES)} submissions" in html
    assert "relu instead of tanh" in html and "not a readable notebook" in html
    assert html.count("<img") >= 2  # score distribution and mistakes


def test_class_report_lists_every_student_with_a_link_that_resolves(batch: Path):
    from grader.reports.pages import FEEDBACK_FILE

    html = (batch / "class_report.html").read_text(encoding="utf-8")
    roster = html[html.index('id="roster-table"'):]
    roster = roster[:roster.index("</table>")]
    links = re.findall(r'<a href="([^"]+)">([^<]+)</a>', roster)
    assert sorted(name for _, name in links) == sorted(entry.name for entry in ENTRIES)
    for href, name in links:
        assert href == f"{name}/{FEEDBACK_FILE}" and (batch / href).is_file(), href
    # A 0/24 that did not crash is on the roster, flagged, and named in the mistakes table.
    row = roster[roster.index('id="student-bug_relu_activation"'):]
    assert row.startswith('id="student-bug_relu_activation" class="low"')


def test_feedback_html_shows_case_sizes_diagnosis_and_heat_map(batch: Path):
    html = (batch / "bug_reverse_at_forward_index" / "feedback.html").read_text(encoding="utf-8")
    text = html_text(html)
    assert "Score: 20 / 24" in text
    for sizes in corpus.CASE_SIZES:
        assert "L={}, N={}, I={}, H={}".format(*sizes) in text
    assert text.index("Most likely: reverse outputs stored at the forward time index") < \
        text.index("Cases")
    assert html.count('src="data:image/svg+xml,') == 1
    # The picture of case 1 (L = 5): the reverse half is right at the middle step only.
    assert 'alt="Heat map of case 1: ' in html and \
        "reverse half wrong at time steps 0 to 1, 3 to 4" in html
    assert "nn.RNN       difference" not in html  # hidden cases show no expected values
    uniform = (batch / "bug_halves_swapped" / "feedback.html").read_text(encoding="utf-8")
    assert "forward and reverse halves swapped in output" in uniform
    assert "<img" not in uniform  # every value of both halves wrong: a picture adds nothing
    correct = (batch / "correct_loop_tanh_matmul" / "feedback.html").read_text(encoding="utf-8")
    assert "Score: 24 / 24" in correct and "<img" not in correct and "FAIL" not in correct
