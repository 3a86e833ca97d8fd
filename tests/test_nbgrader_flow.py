"""A real nbgrader course, run with nbgrader's own commands: generate and release the
assignment, two students fetch and submit it through the exchange (one finished, one not),
collect; then grade_course, `nbgrader export`, `release_feedback` and `fetch_feedback`."""

from __future__ import annotations

import csv
import json
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import nbformat
import pytest

from grader.checking.cases import hidden_cases
from grader.config import Config
from grader.courses.nbgrader_course import (
    CourseError,
    find_submissions,
    grade_course,
    record_grades,
)
from grader.exercises import EXERCISE
from grader.isolation.sandbox import worker_context
from grader.pipeline import GradingPlan
from grader.results import (
    GRADED,
    GRADER_ERROR,
    NOT_IMPLEMENTED,
    SEVERAL_NOTEBOOKS,
    SubmissionResult,
)
from tests.conftest import ASSIGNMENT, SOLUTION, TEST_SECRET, run_cli

pytest.importorskip("nbgrader")

COURSE_ID = "rnn101"
ASSIGNMENT_ID = "rnn_hw"
NOTEBOOK = "bidirectional_rnn.ipynb"


@dataclass(frozen=True)
class Course:
    root: Path
    exchange: Path
    students: Path  # students/<id>/: each student's own working folder


def nbgrader(*args: str, cwd: Path) -> str:
    """An nbgrader command as the instructor or a student would type it; its log on failure."""
    done = subprocess.run([sys.executable, "-m", "nbgrader", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, f"nbgrader {' '.join(args)} failed:\n{done.stdout}{done.stderr}"
    return done.stdout + done.stderr


def _write_config(folder: Path, exchange: Path, root: Path | None) -> None:
    """The instructor's config names the course root; a student's, a private submit cache
    (as each student has on their own account)."""
    lines = ["c = get_config()  # noqa: F821", f"c.CourseDirectory.course_id = {COURSE_ID!r}",
             f"c.Exchange.root = {str(exchange)!r}"]
    if root is not None:
        lines.append(f"c.CourseDirectory.root = {str(root)!r}")
    else:
        lines.append(f"c.Exchange.cache = {str(folder / 'nbgrader_cache')!r}")
    (folder / "nbgrader_config.py").write_text("\n".join(lines) + "\n", encoding="utf-8")


def _set_manual_rnn(path: Path, source: str) -> None:
    notebook = nbformat.read(path, as_version=4)
    cell = next(c for c in notebook.cells
                if c.metadata.get("nbgrader", {}).get("grade_id") == "manual_rnn")
    cell.source = source
    nbformat.write(notebook, path)


@pytest.fixture(scope="module")
def course(tmp_path_factory: pytest.TempPathFactory) -> Course:
    base = tmp_path_factory.mktemp("nbgrader")
    root, exchange, students = base / "course", base / "exchange", base / "students"
    for folder in (root / "source" / ASSIGNMENT_ID, exchange):
        folder.mkdir(parents=True)
    exchange.chmod(0o777)
    _write_config(root, exchange, root)
    shutil.copy(SOLUTION, root / "source" / ASSIGNMENT_ID / NOTEBOOK)

    nbgrader("generate_assignment", ASSIGNMENT_ID, cwd=root)
    (root / "students.csv").write_text("id,first_name\nalice,Alice\nbob,Bob\n", encoding="utf-8")
    nbgrader("db", "student", "import", "students.csv", cwd=root)
    nbgrader("release_assignment", ASSIGNMENT_ID, cwd=root)

    for student in ("alice", "bob"):
        (students / student).mkdir(parents=True)
        _write_config(students / student, exchange, None)
    nbgrader("fetch_assignment", ASSIGNMENT_ID, cwd=students / "alice")
    # bob's fetch would be the same files: a copy saves an nbgrader start (seconds each).
    shutil.copytree(students / "alice" / ASSIGNMENT_ID, students / "bob" / ASSIGNMENT_ID)
    solution = next(c.source for c in nbformat.read(SOLUTION, as_version=4).cells
                    if c.metadata["nbgrader"]["grade_id"] == "manual_rnn")
    _set_manual_rnn(students / "alice" / ASSIGNMENT_ID / NOTEBOOK, solution)  # bob: the stub
    for student in ("alice", "bob"):
        nbgrader("submit", ASSIGNMENT_ID, f"--student={student}", cwd=students / student)
    nbgrader("collect", ASSIGNMENT_ID, cwd=root)
    return Course(root, exchange, students)


def _plan() -> GradingPlan:
    return GradingPlan(EXERCISE, hidden_cases(EXERCISE, b"some-test-secret", 6), Config())


def _export(root: Path) -> dict[str, dict[str, str]]:
    nbgrader("export", "--to=grades.csv", cwd=root)
    with (root / "grades.csv").open(encoding="utf-8", newline="") as stream:
        return {row["student_id"]: row for row in csv.DictReader(stream)
                if row["assignment"] == ASSIGNMENT_ID}


def test_collected_submissions_are_found_by_student(course: Course) -> None:
    found = find_submissions(course.root, ASSIGNMENT_ID)
    assert [(s.name, s.path.name) for s in found] == [("alice", NOTEBOOK), ("bob", NOTEBOOK)]
    assert found[0].path.parent == course.root / "submitted" / "alice" / ASSIGNMENT_ID


def test_grades_reach_export_and_feedback_reaches_the_student(course: Course) -> None:
    seen: list[str] = []
    started = time.monotonic()
    results = grade_course(course.root, ASSIGNMENT_ID, _plan(), worker_context("warm"), 2,
                           lambda result: seen.append(result.name))
    print(f"grade_course: {time.monotonic() - started:.1f} s")
    by_name = {result.name: result for result in results}
    assert sorted(seen) == ["alice", "bob"]
    assert by_name["alice"].score == by_name["alice"].max_score == 24, by_name["alice"].message
    assert (by_name["bob"].score, by_name["bob"].status) == (0, NOT_IMPLEMENTED)

    for student, score in (("alice", 24), ("bob", 0)):
        saved = json.loads((course.root / "autograded" / student / ASSIGNMENT_ID /
                            "results.json").read_text(encoding="utf-8"))
        assert (saved["score"], saved["max_score"]) == (score, 24)
        assert saved["extra_data"]["submission"] == student

    # nbgrader export adds up the grade cells: ours is test_manual_rnn, worth 10 points.
    exported = _export(course.root)
    assert (exported["alice"]["raw_score"], exported["alice"]["score"],
            exported["alice"]["max_score"]) == ("10.0", "10.0", "10.0")
    assert (exported["bob"]["score"], exported["bob"]["max_score"]) == ("0.0", "10.0")
    assert exported["alice"]["timestamp"] != ""  # the submission's time, from timestamp.txt

    for student in ("alice", "bob"):
        folder = course.root / "feedback" / student / ASSIGNMENT_ID
        assert sorted(path.name for path in folder.iterdir()) == [
            "bidirectional_rnn.html", "submission_secret.txt", "timestamp.txt"]
        page = (folder / "bidirectional_rnn.html").read_text(encoding="utf-8")
        assert f"Feedback: {student}" in page
    assert not list(course.root.glob(".rnn-grader-*")), "staging folder left behind"
    assert not list((course.root / "feedback").glob("*/.rnn-grader-*"))

    log = nbgrader("release_feedback", ASSIGNMENT_ID, cwd=course.root)
    assert "Releasing feedback for student 'alice'" in log
    released = list((course.exchange / COURSE_ID / "feedback").glob("*.html"))
    assert len(released) == 2
    home = course.students / "alice"
    nbgrader("fetch_feedback", ASSIGNMENT_ID, "--student=alice", cwd=home)
    [fetched] = (home / ASSIGNMENT_ID / "feedback").glob("*/bidirectional_rnn.html")
    assert "Feedback: alice" in fetched.read_text(encoding="utf-8")


def test_regrading_keeps_one_grade_and_a_grader_error_asks_for_manual_grading(
        course: Course) -> None:
    from nbgrader.api import Gradebook

    failed = SubmissionResult("bob", "x", GRADER_ERROR, 24.0)
    record_grades(course.root, ASSIGNMENT_ID, [failed])
    record_grades(course.root, ASSIGNMENT_ID, [SubmissionResult("bob", "x", GRADED, 24.0, 12)])
    with Gradebook(f"sqlite:///{course.root / 'gradebook.db'}", COURSE_ID) as gradebook:
        grade = gradebook.find_grade("test_manual_rnn", "bidirectional_rnn", ASSIGNMENT_ID, "bob")
        assert (grade.auto_score, grade.needs_manual_grade, grade.score) == (5.0, False, 5.0)
        for unknown in (failed, SubmissionResult("bob", "x", SEVERAL_NOTEBOOKS, 24.0)):
            record_grades(course.root, ASSIGNMENT_ID,
                          [SubmissionResult("bob", "x", GRADED, 24.0, 12)])
            record_grades(course.root, ASSIGNMENT_ID, [unknown])
            gradebook.db.expire_all()
            grade = gradebook.find_grade("test_manual_rnn", "bidirectional_rnn", ASSIGNMENT_ID,
                                         "bob")
            assert (grade.auto_score, grade.needs_manual_grade) == (None, True)
        assert [s.student.id for s in gradebook.assignment_submissions(ASSIGNMENT_ID)
                if s.student.id == "bob"] == ["bob"]


def test_grade_nbgrader_resumes_only_what_would_grade_the_same(course: Course) -> None:
    from nbgrader.api import Gradebook

    command = ("grade", "--nbgrader", str(course.root), ASSIGNMENT_ID, "-j", "2")
    first = run_cli(*command, env={"RNN_GRADER_SECRET": TEST_SECRET})
    assert first.returncode == 0, first.stderr
    assert "2 to grade" in first.stderr
    results = sorted((course.root / "autograded").glob(f"*/{ASSIGNMENT_ID}/results.json"))
    stamps = [path.stat().st_mtime_ns for path in results]
    # Someone changed alice's grade in the gradebook: the kept result is recorded again.
    with Gradebook(f"sqlite:///{course.root / 'gradebook.db'}", COURSE_ID) as gradebook:
        grade = gradebook.find_grade("test_manual_rnn", "bidirectional_rnn", ASSIGNMENT_ID,
                                     "alice")
        grade.auto_score = 1.0
        gradebook.db.commit()

    second = run_cli(*command, env={"RNN_GRADER_SECRET": TEST_SECRET})
    assert second.returncode == 0, second.stderr
    assert "2 already graded, kept" in second.stderr and "0 to grade." in second.stderr
    assert [path.stat().st_mtime_ns for path in results] == stamps
    assert _export(course.root)["alice"]["score"] == "10.0"

    third = run_cli(*command, env={"RNN_GRADER_SECRET": "yet-another-secret-value"})
    assert third.returncode == 0, third.stderr
    assert "2 to grade: 2 graded with another secret." in third.stderr
    assert [path.stat().st_mtime_ns for path in results] != stamps


def test_generate_assignment_releases_exactly_our_student_notebook(course: Course) -> None:
    """The drift test, with nbgrader itself: what `nbgrader generate_assignment` releases from
    solutions/ is byte for byte the shipped assignments/ notebook."""
    released = (course.root / "release" / ASSIGNMENT_ID / NOTEBOOK).read_text(encoding="utf-8")
    ours = ASSIGNMENT.read_text(encoding="utf-8")
    assert nbformat.reads(released, as_version=4) == nbformat.reads(ours, as_version=4)


# --- a course directory that is not ready: clear errors, no nbgrader commands needed ---------

def test_a_missing_course_directory_is_named(tmp_path: Path) -> None:
    with pytest.raises(CourseError, match="does not exist"):
        find_submissions(tmp_path / "nowhere", ASSIGNMENT_ID)


def test_no_submitted_folder_says_to_collect(tmp_path: Path) -> None:
    with pytest.raises(CourseError, match=f"nbgrader collect {ASSIGNMENT_ID}"):
        find_submissions(tmp_path, ASSIGNMENT_ID)


def test_an_unknown_assignment_lists_the_known_ones(tmp_path: Path) -> None:
    (tmp_path / "submitted" / "alice" / "ps1").mkdir(parents=True)
    with pytest.raises(CourseError, match=r"submitted assignments: ps1"):
        find_submissions(tmp_path, ASSIGNMENT_ID)


def test_several_notebooks_pick_the_assignments_own(tmp_path: Path) -> None:
    """Per student, never for the whole course: none of them the assignment's is not graded
    (left for manual grading, the student told why); with it, it is graded."""
    folder = tmp_path / "submitted" / "alice" / ASSIGNMENT_ID
    folder.mkdir(parents=True)
    (tmp_path / "submitted" / "bob" / ASSIGNMENT_ID).mkdir(parents=True)
    for name in ("scratch.ipynb", "copy_of_rnn.ipynb"):
        (folder / name).write_text("{}", encoding="utf-8")
    alice, bob = find_submissions(tmp_path, ASSIGNMENT_ID)
    assert "copy_of_rnn.ipynb, scratch.ipynb" in alice.problem
    assert f"Submit only {NOTEBOOK}" in alice.problem
    assert (bob.name, bob.path.name, bob.problem) == ("bob", NOTEBOOK, "")
    (folder / NOTEBOOK).write_text("{}", encoding="utf-8")
    alice = find_submissions(tmp_path, ASSIGNMENT_ID)[0]
    assert (alice.path, alice.problem) == (folder / NOTEBOOK, "")
    assert sorted(path.name for path in alice.others) == ["copy_of_rnn.ipynb", "scratch.ipynb"]


def test_an_empty_submission_is_graded_as_missing(tmp_path: Path) -> None:
    (tmp_path / "submitted" / "bob" / ASSIGNMENT_ID).mkdir(parents=True)
    [submission] = find_submissions(tmp_path, ASSIGNMENT_ID)
    assert (submission.name, submission.path.name) == ("bob", NOTEBOOK)


def test_grading_without_a_generated_assignment_says_what_to_run(tmp_path: Path) -> None:
    (tmp_path / "submitted" / "bob" / ASSIGNMENT_ID).mkdir(parents=True)
    with pytest.raises(CourseError, match="nbgrader generate_assignment"):
        record_grades(tmp_path, ASSIGNMENT_ID, [])
