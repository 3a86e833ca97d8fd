"""Every installed exercise through every command: the registry, detection, check, assign,
grade of a folder mixing exercises, Gradescope, nbgrader; and a course's own exercise
installed from a folder outside the package, found through its entry point."""

from __future__ import annotations

import csv
import json
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import numpy as np
import pytest

from grader import exercises
from grader.exercises.detect import detect
from grader.notebooks.assignment import make_assignment, self_check_source
from tests.conftest import COURSE_EXERCISE, ROOT, TEST_SECRET, python_path, run_cli

NAMES = ("bidirectional_rnn", "stacked_birnn", "lstm", "gru")


def test_the_four_exercises_are_installed_through_the_entry_point_group() -> None:
    from importlib.metadata import entry_points

    declared = {entry.name for entry in entry_points(group=exercises.GROUP)}
    assert set(NAMES) <= declared
    listed = run_cli("exercises")
    assert listed.returncode == 0, listed.stderr
    for name in NAMES:
        exercise = exercises.get(name)
        line = next(line for line in listed.stdout.splitlines() if line.startswith(name + " "))
        assert f"{exercise.function}()" in line and exercise.notebook in line
        assert f"grader.exercises.{name}:EXERCISE" in line


@pytest.mark.parametrize("name", NAMES)
def test_the_assignment_is_generated_from_the_solution(name: str, tmp_path: Path) -> None:
    solution = ROOT / "solutions" / f"{name}.ipynb"
    generated = make_assignment(nbformat.read(solution, as_version=4))
    shipped = nbformat.read(ROOT / "assignments" / f"{name}.ipynb", as_version=4)
    assert nbformat.writes(generated) == nbformat.writes(shipped), (
        f"assignments/ drifted: run `rnn-grader assign solutions/{name}.ipynb "
        f"--out assignments/{name}.ipynb`")
    # `assign` names the exercise's own notebook in the self-check cell.
    renamed = tmp_path / "my_copy.ipynb"
    shutil.copy(solution, renamed)
    done = run_cli("assign", str(renamed), "--out", str(tmp_path / "out.ipynb"))
    assert done.returncode == 0, done.stderr
    written = nbformat.read(tmp_path / "out.ipynb", as_version=4)
    assert any(cell.source == self_check_source(name) for cell in written.cells)
    assert f"check {name}.ipynb" in self_check_source(name)


@pytest.mark.parametrize("name", NAMES)
def test_detection_by_function_metadata_and_file_name(name: str, tmp_path: Path) -> None:
    installed = exercises.installed()
    exercise = installed[name]
    solution = ROOT / "solutions" / f"{name}.ipynb"
    renamed = tmp_path / "homework.ipynb"  # the function it defines decides
    shutil.copy(solution, renamed)
    assert detect(renamed, installed) == name
    # Function cell emptied: the locked nbgrader cells still name the exercise.
    notebook = nbformat.read(solution, as_version=4)
    for cell in notebook.cells:
        if cell.cell_type == "code":
            cell.source = cell.source.replace(f"def {exercise.function}(", "def other(")
    nbformat.write(notebook, renamed)
    assert detect(renamed, installed) == name
    # Nothing but the file name.
    bare = tmp_path / f"{name} (1).ipynb"
    nbformat.write(nbformat.v4.new_notebook(), bare)
    assert detect(bare, installed) == name
    assert detect(tmp_path / "nothing.ipynb", installed) is None


@pytest.mark.parametrize("name", NAMES)
def test_check_passes_each_solution_and_fails_each_assignment(name: str) -> None:
    solved = run_cli("check", str(ROOT / "solutions" / f"{name}.ipynb"))
    assert solved.returncode == 0, solved.stdout + solved.stderr
    stub = run_cli("check", str(ROOT / "assignments" / f"{name}.ipynb"))
    assert stub.returncode == 1, stub.stdout + stub.stderr
    assert "not implemented" in stub.stdout


def test_check_refuses_a_notebook_of_no_exercise_and_an_unknown_name(tmp_path: Path) -> None:
    stranger = tmp_path / "homework.ipynb"
    nbformat.write(nbformat.v4.new_notebook(), stranger)
    done = run_cli("check", str(stranger))
    assert done.returncode == 2 and "--exercise NAME" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    unknown = run_cli("check", str(stranger), "--exercise", "transformer")
    assert unknown.returncode == 2 and "unknown exercise 'transformer'" in unknown.stderr
    # --exercise overrides detection: the bidirectional RNN's solution is no LSTM.
    forced = run_cli("check", str(ROOT / "solutions" / "bidirectional_rnn.ipynb"),
                     "--exercise", "lstm")
    assert forced.returncode == 1 and "manual_lstm" in forced.stdout


def test_one_batch_grades_every_exercise_against_its_own(tmp_path: Path) -> None:
    """The README's main command: solutions/ and assignments/ hold one notebook per
    exercise; each is named folder__exercise and graded on its own exercise's cases."""
    out = tmp_path / "results"
    done = run_cli("grade", str(ROOT / "solutions"), str(ROOT / "assignments"), "--out",
                   str(out), "-j", "2", "--quiet", env={"RNN_GRADER_SECRET": TEST_SECRET})
    assert done.returncode == 0, done.stderr
    with (out / "summary.csv").open(encoding="utf-8", newline="") as stream:
        rows = {row["submission"]: row for row in csv.DictReader(stream)}
    assert set(rows) == {f"{folder}__{name}" for folder in ("solutions", "assignments")
                         for name in NAMES}
    for name in NAMES:
        assert float(rows[f"solutions__{name}"]["score"]) == 24.0
        assert float(rows[f"assignments__{name}"]["score"]) == 0.0
        assert rows[f"assignments__{name}"]["status"] == "not_implemented"
        recorded = json.loads((out / f"solutions__{name}" / "results.json").read_text())
        assert recorded["extra_data"]["exercise"] == name
    report = (out / "class_report.html").read_text(encoding="utf-8")
    for submission in rows:  # one class report for the mixed batch, a link per submission
        assert f'href="{submission}/feedback.html"' in report, submission
    # The summary table: four unfinished notebooks are "not started", not errors.
    header, row = [line for line in done.stdout.splitlines() if "│" in line or "┃" in line]
    cells = dict(zip([c.strip() for c in header.split("┃")[1:-1]],
                     [c.strip() for c in row.split("│")[1:-1]], strict=True))
    assert (cells["submissions"], cells["full marks"], cells["not started"],
            cells["errors"]) == ("8", "4", "4", "0"), cells


@pytest.mark.parametrize("name", NAMES)
def test_gradescope_archive_grades_its_own_exercise(name: str, tmp_path: Path) -> None:
    import zipfile

    secret = tmp_path / "secret.txt"
    secret.write_text(TEST_SECRET)
    archive = tmp_path / "autograder.zip"
    built = run_cli("gradescope", name, "--out", str(archive), "--secret-file", str(secret))
    assert built.returncode == 0, built.stderr
    root = tmp_path / "autograder"
    with zipfile.ZipFile(archive) as opened:
        assert opened.read("exercise").decode().strip() == name
        opened.extractall(root / "source")
    (root / "submission").mkdir()
    shutil.copy(ROOT / "solutions" / f"{name}.ipynb", root / "submission" / "mine.ipynb")
    ran = run_cli("gradescope-run", "--root", str(root))
    assert ran.returncode == 0, ran.stderr
    results = json.loads((root / "results" / "results.json").read_text())
    assert results["score"] == 24 and len(results["tests"]) == 6


def test_gradescope_refuses_an_unknown_exercise(tmp_path: Path) -> None:
    done = run_cli("gradescope", "transformer", "--out", str(tmp_path / "a.zip"),
                   env={"RNN_GRADER_SECRET": TEST_SECRET})
    assert done.returncode == 2 and "unknown exercise 'transformer'" in done.stderr


@pytest.mark.parametrize("name", NAMES)
def test_nbgrader_course_is_graded_on_its_assignments_exercise(name: str,
                                                              tmp_path: Path) -> None:
    """`grade --nbgrader` finds the exercise from the course's source folder and records
    the exercise's autograded cell (the cheapest path: a collected folder laid out by hand,
    the gradebook made by nbgrader's own generate_assignment)."""
    pytest.importorskip("nbgrader")
    root = tmp_path / "course"
    (root / "source" / "hw").mkdir(parents=True)
    (root / "nbgrader_config.py").write_text(
        f"c = get_config()  # noqa: F821\nc.CourseDirectory.root = {str(root)!r}\n")
    shutil.copy(ROOT / "solutions" / f"{name}.ipynb", root / "source" / "hw" / f"{name}.ipynb")
    generated = subprocess.run([sys.executable, "-m", "nbgrader", "generate_assignment", "hw"],
                               cwd=root, capture_output=True, text=True, timeout=300)
    assert generated.returncode == 0, generated.stdout + generated.stderr
    (root / "students.csv").write_text("id\nalice\n")
    subprocess.run([sys.executable, "-m", "nbgrader", "db", "student", "import",
                    "students.csv"], cwd=root, capture_output=True, check=True, timeout=300)
    submitted = root / "submitted" / "alice" / "hw"
    submitted.mkdir(parents=True)
    shutil.copy(ROOT / "solutions" / f"{name}.ipynb", submitted / f"{name}.ipynb")
    (submitted / "timestamp.txt").write_text("2024-01-01 00:00:00.000000 UTC")
    done = run_cli("grade", "--nbgrader", str(root), "hw", "-j", "1",
                   env={"RNN_GRADER_SECRET": TEST_SECRET}, cwd=root)
    assert done.returncode == 0, done.stdout + done.stderr
    recorded = json.loads((root / "autograded" / "alice" / "hw" / "results.json").read_text())
    assert recorded["score"] == 24 and recorded["extra_data"]["exercise"] == name
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{root / 'gradebook.db'}") as gradebook:
        grade = gradebook.find_grade(exercises.get(name).nbgrader_grade_cell, name, "hw",
                                     "alice")
        assert grade.auto_score == grade.max_score


def test_a_course_exercise_installed_outside_the_package_grades_a_notebook(
        course_package: Path, tmp_path: Path) -> None:
    env = {"PYTHONPATH": python_path(course_package), "RNN_GRADER_SECRET": TEST_SECRET}
    listed = run_cli("exercises", env=env)
    assert "relu_rnn" in listed.stdout and "course_peephole.relu_rnn:EXERCISE" in listed.stdout
    notebook = COURSE_EXERCISE / "notebook" / "relu_rnn.ipynb"
    checked = run_cli("check", str(notebook), env=env)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    submissions = tmp_path / "submissions" / "alice"
    submissions.mkdir(parents=True)
    shutil.copy(notebook, submissions / "relu_rnn.ipynb")
    wrong = nbformat.read(notebook, as_version=4)
    wrong.cells[1].source = wrong.cells[1].source.replace("torch.relu", "torch.tanh")
    (tmp_path / "submissions" / "bob").mkdir()
    nbformat.write(wrong, tmp_path / "submissions" / "bob" / "relu_rnn.ipynb")
    out = tmp_path / "results"
    graded = run_cli("grade", str(tmp_path / "submissions"), "--out", str(out), "--quiet",
                     "-j", "2", env=env)
    assert graded.returncode == 0, graded.stdout + graded.stderr
    alice = json.loads((out / "alice" / "results.json").read_text())
    bob = json.loads((out / "bob" / "results.json").read_text())
    assert alice["score"] == alice["max_score"] > 0
    assert alice["extra_data"]["exercise"] == "relu_rnn"
    assert bob["score"] == 0 and bob["extra_data"]["mistakes"] == ["tanh"]
    # Without the course package the grader does not know the exercise: one clear line.
    plain = run_cli("check", str(notebook), "--exercise", "relu_rnn")
    assert plain.returncode == 2 and "unknown exercise 'relu_rnn'" in plain.stderr


def test_a_notebook_calling_a_course_exercises_own_reference_is_listed_for_review(
        course_package: Path, tmp_path: Path) -> None:
    """The course's exercise module is importable from the student's process (its child side
    runs there): code that imports it is shown to the instructor."""
    env = {"PYTHONPATH": python_path(course_package), "RNN_GRADER_SECRET": TEST_SECRET}
    notebook = nbformat.read(COURSE_EXERCISE / "notebook" / "relu_rnn.ipynb", as_version=4)
    notebook.cells.append(nbformat.v4.new_code_cell(
        "from course_peephole import relu_rnn as course\nanswer = course.run"))
    path = tmp_path / "carol" / "relu_rnn.ipynb"
    path.parent.mkdir()
    nbformat.write(notebook, path)
    graded = run_cli("grade", str(path), "--out", str(tmp_path / "out"), env=env)
    assert graded.returncode == 0, graded.stdout + graded.stderr
    review = json.loads(next((tmp_path / "out").glob("*/results.json")).read_text())[
        "extra_data"]["review"]
    assert any("reaches into an installed exercise's own code" in line for line in review), \
        review


@pytest.mark.parametrize("name", ["bidirectional_rnn", "stacked_birnn", "lstm", "gru"])
def test_the_shared_reference_module_never_carries_a_case_over(name: str,
                                                               monkeypatch) -> None:
    """References reuse one float64 module per layer and sizes; cases of alternating sizes
    must give exactly what a module made afresh for each case gives."""
    import torch

    from grader.checking.cases import hidden_cases, make_inputs
    from grader.exercises import torch_modules
    from grader.exercises.shapes import sizes_of

    def afresh(layer, inputs, weights, states=("h_0",), **options):
        module = torch_modules.loaded_module(layer, sizes_of(inputs), inputs, weights,
                                             torch.float64, **options)
        given = [torch.from_numpy(inputs[n].astype(np.float64)) for n in ("sequence", *states)]
        with torch.no_grad():
            output, finals = module(given[0], given[1] if len(given) == 2 else tuple(given[1:]))
        finals = (finals,) if len(given) == 2 else finals
        return {"output": output.numpy(),
                **{n[:-2] + "_n": f.numpy() for n, f in zip(states, finals, strict=True)}}

    exercise = exercises.get(name)
    module = sys.modules[exercise.child_module]
    cases = hidden_cases(exercise, b"a test secret", 12)
    for digest in ("a" * 64, "b" * 64):
        for case in cases:
            inputs = make_inputs(exercise, case, digest)
            shared = exercise.reference(inputs)
            monkeypatch.setattr(module, "torch_reference", afresh)
            fresh = exercise.reference(inputs)
            monkeypatch.undo()
            assert shared.keys() == fresh.keys()
            for key in shared:
                np.testing.assert_array_equal(shared[key], fresh[key])
