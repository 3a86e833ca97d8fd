"""HTML reports, readable offline: feedback.html per submission, class_report.html per batch,
and the HTML of results.json's `output` (Gradescope renders it).

Pages come from Jinja2 templates in grader/reports/templates/ with autoescaping on: every string a
student controls (names, messages, code) is escaped by default. Pictures are embedded, so each
file stands alone. A submission's heat maps show error sizes in bands of the tolerance, never
expected values (figures.py); the class report's charts are SVG too (charts.py).
"""

from __future__ import annotations

import functools
import statistics
from collections import Counter
from pathlib import Path
from typing import Any
from urllib.parse import quote

from grader.exercises.base import Exercise
from grader.reports import charts
from grader.reports.feedback import Story, cases_in_words, gist, story
from grader.reports.records import write_atomic
from grader.results import NEEDS_A_LOOK, STATUS_WORDS, SubmissionResult

FEEDBACK_FILE = "feedback.html"
LOW_SHARE = 0.5  # a roster row below this share of the points is flagged


@functools.cache
def _templates():
    from jinja2 import Environment, PackageLoader, StrictUndefined

    environment = Environment(loader=PackageLoader("grader.reports", "templates"), autoescape=True,
                              trim_blocks=True, lstrip_blocks=True, undefined=StrictUndefined)
    environment.globals["cases_in_words"] = cases_in_words
    return environment


def _render(template: str, **context: Any) -> str:
    return _templates().get_template(template).render(**context)


def _hidden_bands(result: SubmissionResult, told: Story) -> bool:
    return bool(told.figures) and any(case.case.hidden for case in result.cases)


def feedback_page(result: SubmissionResult) -> str:
    told = story(result)
    return _render("feedback.html.j2", title=f"Feedback for {result.name}", story=told,
                   page=True, hidden_bands=_hidden_bands(result, told))


def gradescope_output(result: SubmissionResult) -> str:
    """The story as an HTML fragment for results.json's top-level `output` (output_format
    html): verdict, what is wrong and where, pictures; the cases are Gradescope's tests."""
    told = story(result)
    return _render("_story.html.j2", story=told, page=False,
                   hidden_bands=_hidden_bands(result, told)).strip() + "\n"


def write_feedback(folder: Path, result: SubmissionResult, exercise: Exercise) -> Path:
    path = folder / FEEDBACK_FILE
    write_atomic(path, feedback_page(result))
    return path


# --- the class report ------------------------------------------------------------------------

def class_numbers(out: Path, exercise: Exercise | list[Exercise],
                  recorded: list[tuple[str, dict[str, Any]]],
                  low_share: float = LOW_SHARE) -> dict[str, Any]:
    """Everything the class report shows, from the batch's results.json (folder, contents):
    the roster, what needs a look, mistakes by frequency, statuses, score statistics. A batch
    mixing exercises names each mistake "exercise: title" (key "exercise/key")."""
    exercises = exercise if isinstance(exercise, list) else [exercise]
    by_name = {one.name: one for one in exercises}
    mixed = len(exercises) > 1

    def mistake(extra: dict[str, Any], key: str) -> tuple[str, str]:
        own = by_name.get(extra.get("exercise", ""), exercises[0])
        if not mixed:
            return key, own.mistake_title(key)
        return f"{own.name}/{key}", f"{own.name}: {own.mistake_title(key)}"

    titles: dict[str, str] = {}
    rows, mistakes = [], {}
    max_score = max((float(data.get("max_score", 0)) for _, data in recorded), default=0.0)
    for folder, data in recorded:
        extra = data.get("extra_data", {})
        status = extra.get("status", "")
        row = {"name": extra.get("submission", folder), "anchor": quote(folder, safe=""),
               "href": f"{quote(folder)}/{FEEDBACK_FILE}"
               if (out / folder / FEEDBACK_FILE).is_file() else "",
               "score": float(data["score"]), "max_score": float(data.get("max_score", 0)),
               "status_code": status, "status": STATUS_WORDS.get(status, status),
               "mistakes": [mistake(extra, key)[1] for key in extra.get("mistakes", [])],
               "headline": extra.get("headline", ""), "review": extra.get("review", [])}
        row["low"] = row["score"] < low_share * row["max_score"]
        row["told"] = gist(row["headline"]) if row["headline"] and not row["mistakes"] and \
            row["score"] < row["max_score"] else ""
        row["why"] = "; ".join(([row["status"]] if status in NEEDS_A_LOOK else [])
                               + ([f"flagged for review: {row['review'][0]}"]
                                  if row["review"] else []))
        rows.append(row)
        for key in extra.get("mistakes", []):
            shown, title = mistake(extra, key)
            titles[shown] = title
            mistakes.setdefault(shown, []).append(row)
    scores = [row["score"] for row in rows]
    by_frequency = sorted(mistakes.items(), key=lambda item: (-len(item[1]), item[0]))
    return {
        "count": len(rows), "rows": sorted(rows, key=lambda row: row["name"]),
        "max_score": max_score, "threshold": low_share * max_score,
        "mean": statistics.fmean(scores) if scores else 0.0,
        "median": statistics.median(scores) if scores else 0.0,
        "full_marks": sum(row["score"] >= row["max_score"] for row in rows),
        "low": sum(row["low"] for row in rows),
        "attention": [row for row in rows if row["why"]],
        "mistakes": [{"key": key, "title": titles[key], "rows": who}
                     for key, who in by_frequency],
        "statuses": [(status, STATUS_WORDS.get(status, status), count) for status, count in
                     Counter(row["status_code"] for row in rows).most_common()],
        "score_counts": sorted(Counter(scores).items()),
    }


def write_class_report(out: Path, exercise: Exercise | list[Exercise],
                       recorded: list[tuple[str, dict[str, Any]]]) -> tuple[Path, Path]:
    """class_report.html and class_report.csv for this batch's results (folder, results.json
    contents), as batch_cli reads them; links point at out/<folder>/feedback.html."""
    numbers = class_numbers(out, exercise, recorded)
    lines = ["kind,name,count"]
    lines += [f"status,{status},{count}" for status, _, count in numbers["statuses"]]
    lines += [f"mistake,{m['key']},{len(m['rows'])}" for m in numbers["mistakes"]]
    lines += [f"score,{score:g},{count}" for score, count in numbers["score_counts"]]
    csv_path = out / "class_report.csv"
    write_atomic(csv_path, "\n".join(lines) + "\n")
    pictures = {"scores": [], "mistakes": []}
    if numbers["count"]:
        pictures["scores"] = [charts.score_chart([row["score"] for row in numbers["rows"]],
                                                 numbers["max_score"])]
    if numbers["mistakes"]:
        pictures["mistakes"] = [charts.mistakes_chart(
            [(m["title"], len(m["rows"])) for m in numbers["mistakes"]])]
    html_path = out / "class_report.html"
    write_atomic(html_path, _render("class_report.html.j2", title="Class report",
                                    numbers=numbers, figures=pictures))
    return html_path, csv_path
