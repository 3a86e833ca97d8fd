"""Grade an nbgrader course: read `submitted/`, write scores to its gradebook and feedback.

This module owns the meeting point with nbgrader's course directory, nothing more:

* which notebook of `submitted/<student>/<assignment>/` is graded (`find_submissions`: the
  same choice as `grade` makes in a student's folder);
* which students need grading again (`grade_course`: the same resume rule as `grade`);
* the score each student gets in the gradebook (`record_grades`): our score, scaled to the
  points of the autograded cell `test_manual_rnn`, stored as that cell's `auto_score`, which
  `nbgrader export` and the formgrader add up (a grader's `manual_score` still wins there);
* the student's feedback page where `nbgrader release_feedback` takes it from
  (`feedback/<student>/<assignment>/<notebook>.html`, with the submission's `timestamp.txt`
  and `submission_secret.txt` beside it, as `generate_feedback` leaves them);
* our results.json in `autograded/<student>/<assignment>/`.

Paths come from nbgrader's own `CourseDirectory` (the course's `nbgrader_config.py` is read, so
a changed `directory_structure` or `db_url` is followed); the course folder given is the root.
The gradebook must already hold the assignment as `nbgrader generate_assignment` records it.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from grader.batch import resume
from grader.batch.discover import Submission, choose
from grader.batch.runner import fingerprint, grade_batch
from grader.exercises import EXERCISE
from grader.exercises.base import Exercise
from grader.pipeline import GradingPlan
from grader.reports import records
from grader.reports.pages import write_feedback as render_feedback
from grader.results import GRADER_ERROR, SEVERAL_NOTEBOOKS, SubmissionResult

NOTEBOOK = EXERCISE.name  # the assignment's notebook, without .ipynb
GRADE_CELL = EXERCISE.nbgrader_grade_cell  # its autograded cell, carrying the points
CONFIG_FILE = "nbgrader_config.py"
# Files of a collected submission that `release_feedback` needs beside the feedback page.
SUBMISSION_FILES = ("timestamp.txt", "submission_secret.txt")


class CourseError(Exception):
    """The course directory or its gradebook is not what grading an nbgrader course needs."""


def course_directory(course_dir: Path) -> Any:
    """nbgrader's CourseDirectory for `course_dir`, configured by its nbgrader_config.py."""
    from nbgrader.coursedir import CourseDirectory
    from traitlets.config import Config as TraitletsConfig
    from traitlets.config.loader import PyFileConfigLoader

    root = Path(course_dir).resolve()
    if not root.is_dir():
        raise CourseError(f"course directory {course_dir} does not exist; give the folder that "
                          f"holds {CONFIG_FILE}, gradebook.db and submitted/.")
    config = TraitletsConfig()
    if (root / CONFIG_FILE).is_file():
        try:
            config = PyFileConfigLoader(CONFIG_FILE, path=str(root)).load_config()
        except Exception as error:  # noqa: BLE001 - any broken config file is the same error
            raise CourseError(f"{root / CONFIG_FILE} could not be read: {error}") from None
    coursedir = CourseDirectory(config=config)
    coursedir.root = str(root)  # the folder given wins over a root set in the config
    return coursedir


def _step_folder(coursedir: Any, step: str, student: str, assignment: str) -> Path:
    return Path(coursedir.format_path(step, student, assignment))


def find_submissions(course_dir: Path, assignment: str,
                     notebook: str = NOTEBOOK) -> list[Submission]:
    """One Submission per student folder `submitted/<student>/<assignment>/`, named by the
    student id. A folder without notebooks is still graded (as a missing notebook, 0 points);
    one with several notebooks, none the assignment's, is left for manual grading."""
    coursedir = course_directory(course_dir)
    submitted_root = Path(coursedir.root) / coursedir.submitted_directory
    if not submitted_root.is_dir():
        raise CourseError(f"{coursedir.root} has no {coursedir.submitted_directory}/ folder: "
                          f"run `nbgrader collect {assignment}` there first, or check that "
                          "this is the course directory.")
    pattern = re.compile(coursedir.format_path(
        coursedir.submitted_directory, "(?P<student_id>[^/]+)", assignment, escape=True) + "$")
    folders = sorted(Path(found) for found in _glob(coursedir, assignment))
    submissions = []
    for folder in folders:
        matched = pattern.match(str(folder))
        if matched and folder.is_dir():
            submissions.append(_submission_in(matched["student_id"], folder, notebook))
    if not submissions:
        raise CourseError(f"no submissions of assignment {assignment!r} in {submitted_root}: "
                          f"run `nbgrader collect {assignment}`, or check the assignment's name"
                          f" (submitted assignments: {_known(submitted_root) or 'none'}).")
    return submissions


def _glob(coursedir: Any, assignment: str) -> list[str]:
    """Every student's submitted/<student>/<assignment> (as the directory_structure says)."""
    import glob

    pattern = coursedir.directory_structure.format(
        nbgrader_step=glob.escape(coursedir.submitted_directory), student_id="*",
        assignment_id=glob.escape(assignment))
    return glob.glob(os.path.join(glob.escape(coursedir.root), pattern))


def _known(submitted_root: Path) -> str:
    names = {path.name for path in submitted_root.glob("*/*") if path.is_dir()}
    return ", ".join(sorted(names))


def _submission_in(student: str, folder: Path, notebook: str) -> Submission:
    notebooks = sorted(path for path in folder.glob("*.ipynb") if path.is_file())
    if not notebooks:
        return Submission(student, folder / f"{notebook}.ipynb")
    return choose(student, folder, notebooks, notebook)


# --- the gradebook -------------------------------------------------------------------------

def _gradebook(coursedir: Any) -> Any:
    from nbgrader.api import Gradebook

    url = coursedir.db_url
    if url.startswith("sqlite:///") and not Path(url[len("sqlite:///"):]).is_file():
        raise CourseError(f"no gradebook at {url[len('sqlite:///'):]}: run `nbgrader "
                          "generate_assignment ASSIGNMENT` in the course directory first.")
    return Gradebook(url, coursedir.course_id)


def _grade_cell_points(gradebook: Any, assignment: str, notebook: str, grade_cell: str) -> float:
    """The points of the assignment's autograded cell; the gradebook must already hold it."""
    from nbgrader.api import MissingEntry

    try:
        gradebook.find_assignment(assignment)
        gradebook.find_notebook(notebook, assignment)
        cell = gradebook.find_grade_cell(grade_cell, notebook, assignment)
    except MissingEntry as error:
        raise CourseError(f"the gradebook does not hold {assignment}/{notebook}.ipynb's grade "
                          f"cell {grade_cell!r} ({error}): run `nbgrader generate_assignment "
                          f"{assignment}` with source/{assignment}/{notebook}.ipynb.") from None
    return float(cell.max_score)


def _record(gradebook: Any, coursedir: Any, assignment: str, result: SubmissionResult,
            notebook: str, grade_cell: str, points: float) -> None:
    """One student's score as the grade cell's auto_score (None when the grader failed or could
    not tell which notebook to grade, so the formgrader asks for a manual grade instead of
    showing a 0 that is not the student's)."""
    student = result.name
    gradebook.update_or_create_student(student)
    submitted = _step_folder(coursedir, coursedir.submitted_directory, student, assignment)
    timestamp = coursedir.get_existing_timestamp(str(submitted))
    extra = {"timestamp": timestamp} if timestamp else {}
    with gradebook.db.no_autoflush:  # nbgrader's add_submission warns under autoflush
        gradebook.update_or_create_submission(assignment, student, **extra)
    grade = gradebook.find_grade(grade_cell, notebook, assignment, student)
    if result.status in (GRADER_ERROR, SEVERAL_NOTEBOOKS):
        grade.auto_score, grade.needs_manual_grade = None, True
    else:
        fraction = result.score / result.max_score if result.max_score > 0 else 0.0
        grade.auto_score, grade.needs_manual_grade = round(fraction * points, 6), False
    gradebook.db.commit()


def record_grades(course_dir: Path, assignment: str, results: list[SubmissionResult],
                  notebook: str = NOTEBOOK, grade_cell: str = GRADE_CELL) -> None:
    """Each result's score in the course's gradebook, for `nbgrader export` and formgrader."""
    coursedir = course_directory(course_dir)
    with _gradebook(coursedir) as gradebook:
        points = _grade_cell_points(gradebook, assignment, notebook, grade_cell)
        for result in results:
            _record(gradebook, coursedir, assignment, result, notebook, grade_cell, points)


# --- files ---------------------------------------------------------------------------------

def _install_feedback(staged_html: Path, coursedir: Any, assignment: str, student: str,
                      notebook: str) -> Path:
    """Move a rendered page into feedback/<student>/<assignment>/<notebook>.html, with the
    submission's timestamp and secret, which release_feedback reads beside it."""
    folder = _step_folder(coursedir, coursedir.feedback_directory, student, assignment)
    folder.mkdir(parents=True, exist_ok=True)
    submitted = _step_folder(coursedir, coursedir.submitted_directory, student, assignment)
    for name in SUBMISSION_FILES:
        if (submitted / name).is_file():
            shutil.copyfile(submitted / name, folder / name)
    target = folder / f"{notebook}.html"
    os.replace(staged_html, target)
    return target


def write_feedback(course_dir: Path, assignment: str, student: str, result: SubmissionResult,
                   exercise: Exercise, notebook: str = NOTEBOOK) -> Path:
    """feedback.html rendered by html_report, placed where `nbgrader release_feedback` looks."""
    coursedir = course_directory(course_dir)
    folder = _step_folder(coursedir, coursedir.feedback_directory, student, assignment)
    folder.parent.mkdir(parents=True, exist_ok=True)
    # Rendered outside the assignment's folder (release_feedback takes every *.html there),
    # on the same file system, then renamed into place.
    staging = Path(tempfile.mkdtemp(dir=folder.parent, prefix=".rnn-grader-"))
    try:
        staged = render_feedback(staging, result, exercise)
        return _install_feedback(staged, coursedir, assignment, student, notebook)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def grade_course(course_dir: Path, assignment: str, plan: GradingPlan, context, jobs: int,
                 on_done: Callable[[SubmissionResult], None], notebook: str = NOTEBOOK,
                 force: bool = False,
                 on_plan: Callable[[str], None] = lambda text: None) -> list[SubmissionResult]:
    """Grade every collected submission of `assignment` that is not already graded the same
    way (`on_plan` is told how many and why); each result is written at once:
    autograded/<student>/<assignment>/results.json, the feedback page, the gradebook.
    Results kept from an earlier run are recorded in the gradebook again."""
    coursedir = course_directory(course_dir)
    submissions = find_submissions(course_dir, assignment, notebook)

    def autograded(student: str) -> Path:
        return _step_folder(coursedir, coursedir.autograded_directory, student, assignment)

    plan_now = resume.plan_resume(
        submissions, lambda s: resume.read_recorded(autograded(s.name) / records.RESULTS_FILE),
        Submission.digest, fingerprint(plan), force)
    on_plan(plan_now.describe())
    staging = Path(tempfile.mkdtemp(dir=coursedir.root, prefix=".rnn-grader-"))
    done: list[SubmissionResult] = []
    try:
        with _gradebook(coursedir) as gradebook:
            grade_cell = plan.exercise.nbgrader_grade_cell
            points = _grade_cell_points(gradebook, assignment, notebook, grade_cell)
            for kept in plan_now.kept:
                _record(gradebook, coursedir, assignment,
                        _kept_result(kept, autograded(kept.name) / records.RESULTS_FILE),
                        notebook, grade_cell, points)

            def finish(result: SubmissionResult) -> None:
                staged = staging / result.name
                autograded(result.name).mkdir(parents=True, exist_ok=True)
                os.replace(staged / records.RESULTS_FILE,
                           autograded(result.name) / records.RESULTS_FILE)
                _install_feedback(staged / "feedback.html", coursedir, assignment, result.name,
                                  notebook)
                _record(gradebook, coursedir, assignment, result, notebook, grade_cell, points)
                done.append(result)
                on_done(result)

            grade_batch(plan_now.todo, plan, context, staging, jobs, finish)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return done


def _kept_result(submission: Submission, path: Path) -> SubmissionResult:
    """The score and status a kept results.json records, as the gradebook needs them."""
    data = json.loads(path.read_text(encoding="utf-8"))
    extra = data.get("extra_data", {})
    return SubmissionResult(submission.name, str(submission.path), extra.get("status", ""),
                            float(data["max_score"]), float(data["score"]),
                            message=data.get("output", ""))

