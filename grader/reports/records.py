"""Report results: Gradescope's results.json, the batch's summary.csv, the terminal.

Files are written atomically (a temporary file in the same folder, then a rename), so an
interrupted batch never leaves a half-written result behind.
"""

from __future__ import annotations

import csv
import io
import json
import os
import statistics
import tempfile
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Any

from grader.results import GRADED, NOT_IMPLEMENTED, CaseResult, SubmissionResult

RESULTS_FILE = "results.json"
SUMMARY_FILE = "summary.csv"


def write_atomic(path: Path, text: str) -> None:
    write_bytes_atomic(path, text.encode("utf-8"))


def write_bytes_atomic(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
            stream.flush()
            os.fsync(stream.fileno())
        os.chmod(temporary, 0o644)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def gradescope_results(result: SubmissionResult,
                       provenance: Mapping[str, str] | None = None) -> dict[str, Any]:
    """results.json in Gradescope's schema; extra_data keeps what summary.csv needs and what
    the result was graded on (`provenance`: the notebook's digest, the grading fingerprint).

    Students see `output` and each test's `output`; `extra_data` is stored for the instructor
    only (Gradescope never shows it), and so is where what the notebook printed goes. The
    top-level output is the feedback page's story in HTML (the verdict, the mistake and the
    cases it explains, a failure's code once, heat maps); each case is a test whose text says
    what is wrong in it, with its table of differences."""
    from grader.reports.feedback import story
    from grader.reports.pages import gradescope_output

    told = story(result, pictures=False)
    tests = [{
        "name": f"{case.case.title} [{_sizes(case.case.sizes)}]",
        "score": round(case.score, 4),
        "max_score": case.max_score,
        "status": "passed" if case.passed else "failed",
        "output": case_text(result, case),
        "visibility": "visible",
    } for case in result.cases]
    return {
        "score": round(result.score, 4),
        "max_score": result.max_score,
        "output": gradescope_output(result),
        "output_format": "html",
        "visibility": "visible",
        "stdout_visibility": "hidden",
        "execution_time": round(result.seconds, 3),
        "tests": tests,
        "extra_data": {
            "submission": result.name,
            "status": result.status,
            "headline": told.headline,
            "notebook_sha256": result.notebook_sha256,
            **(provenance or {}),
            "case_scores": [round(case.score, 4) for case in result.cases],
            "mistakes": result.mistakes,
            "isolation": result.isolation,
            "review": result.review,
            "stdout": result.stdout,
            "stderr": result.stderr,
            "grader_log": result.grader_log,
        },
    }


def _sizes(sizes: dict[str, int]) -> str:
    return ", ".join(f"{key}={value}" for key, value in sizes.items())


def case_text(result: SubmissionResult, case: CaseResult) -> str:
    """One case as plain text: its verdict line, the mistake that explains it (told in full at
    the top), then what failed or the table of differences; a traceback is not repeated."""
    verdict = "PASS" if case.passed else "FAIL"
    lines = [f"{verdict} {case.score:g}/{case.max_score:g}"]
    named = [f.title for f in result.findings if case.case.number in f.cases]
    if named:
        lines.append("Explained by: " + "; ".join(named) + " (see the top).")
    if case.problem:
        lines.append(case.problem)
        if case.trace:
            lines.append(f"Where: {case.trace[0].strip().rstrip(':')} (the code is at the top).")
    else:
        lines.append(case.feedback(trace=False))
    return "\n".join(line for line in lines if line)


def load_schema() -> dict[str, Any]:
    text = resources.files("grader.reports.schemas").joinpath("gradescope_results.schema.json")
    return json.loads(text.read_text(encoding="utf-8"))


def write_results(folder: Path, result: SubmissionResult,
                  provenance: Mapping[str, str] | None = None) -> Path:
    path = folder / RESULTS_FILE
    write_atomic(path, json.dumps(gradescope_results(result, provenance), indent=2) + "\n")
    return path


def summary_rows(recorded: list[tuple[str, dict[str, Any]]]) -> list[dict[str, Any]]:
    rows = []
    for folder, data in recorded:
        extra = data.get("extra_data", {})
        row = {"submission": extra.get("submission", folder), "score": data["score"],
               "max_score": data["max_score"], "status": extra.get("status", "")}
        for number, score in enumerate(extra.get("case_scores", []), start=1):
            row[f"case_{number}"] = score
        row["review"] = len(extra.get("review", []))
        row["mistakes"] = " ".join(extra.get("mistakes", []))
        rows.append(row)
    return rows


def write_summary(out: Path, rows: list[dict[str, Any]]) -> Path:
    columns: list[str] = ["submission", "score", "max_score", "status"]
    for row in rows:
        columns += [key for key in row if key not in columns and key != "mistakes"]
    columns.append("mistakes")
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, restval="")
    writer.writeheader()
    writer.writerows(rows)
    write_atomic(out / SUMMARY_FILE, buffer.getvalue())
    return out / SUMMARY_FILE


def batch_statistics(rows: list[dict[str, Any]]) -> dict[str, float]:
    scores = [float(row["score"]) for row in rows]
    full = sum(float(row["score"]) >= float(row["max_score"]) for row in rows)
    # Not started: nothing done yet. A notebook that scores on some cases and raises
    # NotImplementedError on others is partly done, and counted with the errors.
    unfinished = sum(row["status"] == NOT_IMPLEMENTED and float(row["score"]) == 0
                     for row in rows)
    errors = sum(row["status"] != GRADED for row in rows) - unfinished
    return {"count": len(rows), "mean": statistics.fmean(scores) if scores else 0.0,
            "median": statistics.median(scores) if scores else 0.0,
            "full_marks": full, "unfinished": unfinished, "errors": errors}
