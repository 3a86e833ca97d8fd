"""HTML reports, readable offline: feedback.html per submission, class_report.html per batch.

Pictures are drawn with matplotlib and embedded as PNG data, so each file stands alone.
A submission's heat maps show error sizes relative to the tolerance, never expected values;
for hidden cases only in bands (compare.py clips the ratios), so a zeros answer's map says
nothing of |expected|. Only public cases list values (in the text, from compare.py).
"""

from __future__ import annotations

import base64
import io
from collections import Counter
from html import escape
from pathlib import Path
from typing import Any

import numpy as np

from grader.exercises.base import Exercise
from grader.report import overall_message, write_atomic
from grader.results import GRADED, CaseResult, SubmissionResult

STYLE = """
body { font-family: system-ui, sans-serif; max-width: 60rem; margin: 2rem auto; color: #222; }
h1 { font-size: 1.5rem; } h2 { font-size: 1.15rem; margin-top: 2rem; }
.pass { color: #176d2c; } .fail { color: #b3261e; }
pre { background: #f5f5f5; padding: .75rem; white-space: pre-wrap; }
table { border-collapse: collapse; } td, th { border: 1px solid #ccc; padding: .3rem .6rem; }
.diagnosis { background: #eef4ff; padding: .6rem; border-left: 4px solid #3b6fd8; }
"""


def _page(title: str, body: str) -> str:
    return (f"<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>{escape(title)}</title><style>{STYLE}</style></head>"
            f"<body>\n{body}\n</body></html>\n")


def _png(figure) -> str:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=80, bbox_inches="tight")
    data = base64.b64encode(buffer.getvalue()).decode("ascii")
    return f'<img alt="plot" src="data:image/png;base64,{data}">'


def _figure(width: float, height: float, rows: int = 1):
    """A figure of our own: no pyplot, whose global state is not safe across threads."""
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height * rows))
    axes = figure.subplots(rows, 1, squeeze=False)[:, 0]
    return figure, axes if rows > 1 else axes[0]


def _failing_output(case: CaseResult):
    return next((c for c in case.checks if c.name == "output" and c.error_ratio is not None
                 and not c.ok), None)


def output_separators(exercise: Exercise | None, features: int) -> list[int]:
    """Where one part of output's features ends and the next begins (the bidirectional RNN's
    halves: [H]; one part: none), from the exercise's own parts of output."""
    if exercise is None:
        return [features // 2]
    positions = np.broadcast_to(np.arange(features), (1, 1, features))
    starts = {int(part.min()) for part in exercise.split_halves("output", positions).values()
              if part.size}
    return sorted(start for start in starts if 0 < start < features)


def _separators(exercise: Exercise | None, check) -> list[int]:
    return output_separators(exercise, check.error_ratio.shape[-1])


def _heat_map_png(error_ratio: np.ndarray, separators: list[int] | None = None) -> str:
    """log10(error / tolerance) over features (rows, last part on top) and time steps
    (columns), as a PNG drawn straight from the array: no axes or text to lay out, so a
    batch of a thousand pays milliseconds, not minutes. A cyan line between output's parts
    (`separators`, feature indices; default: between two halves)."""
    from matplotlib.image import imsave

    ratio = np.nan_to_num(error_ratio.max(axis=1), nan=1e12, posinf=1e12)  # (L, F)
    features = ratio.shape[1]
    image = np.log10(np.maximum(ratio, 1e-3)).T[::-1]  # (F, L), last part on top
    cell = max(4, min(24, 240 // max(image.shape)))
    image = np.repeat(np.repeat(image, cell, axis=0), cell, axis=1)
    for start in (separators if separators is not None else [features // 2]):
        row = (features - start) * cell  # the image is flipped: feature `start` ends here
        image[max(row - 1, 0):row + 1] = np.nan  # the line between two parts
    buffer = io.BytesIO()
    colours = matplotlib_colormap()
    imsave(buffer, np.ma.masked_invalid(image), cmap=colours, vmin=-3, vmax=6, format="png")
    data = base64.b64encode(buffer.getvalue()).decode("ascii")
    return f'<img alt="error heat map" src="data:image/png;base64,{data}">'


def matplotlib_colormap():
    from matplotlib import colormaps

    colours = colormaps["magma"].copy()
    colours.set_bad("#00c8c8")  # the cyan separator line
    return colours


def error_heat_maps(cases: list[CaseResult], exercise: Exercise | None = None) -> str:
    """A heat map per case whose output has the right shape but wrong values. Hidden cases'
    ratios were clipped to the bands by compare.py, so their maps have four colours only."""
    failing = [(case, check) for case in cases if (check := _failing_output(case)) is not None]
    if not failing:
        return ""
    panels = "".join(
        f"<figure><figcaption>Case {case.case.number} "
        f"(L={case.case.sizes['L']}): time steps 0..{case.case.sizes['L'] - 1} left to right"
        f"</figcaption>"
        f"{_heat_map_png(check.error_ratio, _separators(exercise, check))}"
        f"</figure>"
        for case, check in failing)
    hidden = any(case.case.hidden for case, _ in failing)
    public = not all(case.case.hidden for case, _ in failing)
    scale = []
    if public:
        scale.append("Colour is log10 of the error in units of the tolerance, worst over the "
                     "batch: black is within it, orange and yellow are 10 to a million times "
                     "too far.")
    if hidden:
        scale.append(("In hidden cases colour" if public else "Colour") + " is only the "
                     "error's band, worst over the batch: black within the tolerance, purple up "
                     "to 10 times it, orange 10 to 1000 times, yellow more than 1000 times.")
    name = exercise.reference_name if exercise is not None else "the reference"
    return (f"<h2>Where output departs from {escape(name)}</h2><p>Each picture: time steps "
            f"left to right; {escape(_features_told(exercise))}. "
            + " ".join(scale) + "</p>" + panels)


def _features_told(exercise: Exercise | None) -> str:
    """How a heat map's rows are laid out, from output's parts."""
    parts = ["forward", "reverse"] if exercise is None else \
        list(exercise.split_halves("output", np.zeros((1, 1, 2))))
    if len(parts) < 2:
        return "output's features bottom to top"
    return (f"output's features bottom to top, the {parts[0]} part first, cyan lines between "
            f"its parts ({', '.join(parts)})")


def _case_section(case: CaseResult, exercise: Exercise) -> str:
    verdict = '<span class="pass">PASS</span>' if case.passed else \
        '<span class="fail">FAIL</span>'
    sizes = escape(exercise.describe_sizes(case.case.sizes))
    parts = [f"<h2>{verdict} {escape(case.case.title)} — {sizes} — "
             f"{case.score:g}/{case.max_score:g}</h2>"]
    if not case.passed:
        text = "\n".join(line for line in case.feedback().splitlines()
                         if line not in case.diagnosis)
        parts.append(f"<pre>{escape(text)}</pre>")
        if case.diagnosis:
            parts.append('<div class="diagnosis">' + "<br>".join(
                escape(line) for line in case.diagnosis) + "</div>")
    return "\n".join(parts)


def write_feedback(folder: Path, result: SubmissionResult, exercise: Exercise) -> Path:
    body = [f"<h1>Feedback: {escape(result.name)}</h1>",
            f"<pre>{escape(overall_message(result))}</pre>"]
    body += [_case_section(case, exercise) for case in result.cases]
    body.append(error_heat_maps(result.cases, exercise))
    path = folder / "feedback.html"
    write_atomic(path, _page(f"Feedback for {result.name}", "\n".join(body)))
    return path


# --- the class report ------------------------------------------------------------------------

def class_numbers(recorded: list[tuple[str, dict[str, Any]]]) -> dict[str, Any]:
    """Scores, statuses and catalogued mistakes of a whole batch, from its results.json."""
    scores, statuses, mistakes, troubled = [], Counter(), Counter(), []
    by_exercise: Counter[str] = Counter()  # "exercise/mistake", for a batch mixing exercises
    max_score = 0.0
    for folder, data in recorded:
        extra = data.get("extra_data", {})
        scores.append(float(data["score"]))
        max_score = max(max_score, float(data.get("max_score", 0)))
        statuses[extra.get("status", "")] += 1
        mistakes.update(extra.get("mistakes", []))
        by_exercise.update(f"{extra.get('exercise', '')}/{key}"
                           for key in extra.get("mistakes", []))
        if extra.get("status") not in (GRADED, None):
            troubled.append((extra.get("submission", folder), extra.get("status"),
                             data.get("output", "").splitlines()[1:2]))
    return {"scores": scores, "max_score": max_score, "statuses": statuses,
            "mistakes": mistakes, "troubled": troubled, "by_exercise": by_exercise}


def write_class_report(out: Path, exercise: Exercise | list[Exercise],
                       recorded: list[tuple[str, dict[str, Any]]]) -> tuple[Path, Path]:
    """class_report.csv and .html. A batch mixing exercises names each mistake
    "exercise/key" ("exercise: title"), counted among that exercise's submissions."""
    numbers = class_numbers(recorded)
    rows = ["kind,name,count"]
    rows += [f"status,{status},{count}" for status, count in sorted(numbers["statuses"].items())]
    exercises = exercise if isinstance(exercise, list) else [exercise]
    if len(exercises) == 1:
        titles = {mistake.key: mistake.title for mistake in exercises[0].mistakes}
    else:
        titles = {f"{one.name}/{mistake.key}": f"{one.name}: {mistake.title}"
                  for one in exercises for mistake in one.mistakes}
        numbers["mistakes"] = numbers["by_exercise"]
    rows += [f"mistake,{key},{numbers['mistakes'].get(key, 0)}" for key in titles]
    rows += [f"score,{score:g},{count}" for score, count in
             sorted(Counter(numbers["scores"]).items())]
    csv_path = out / "class_report.csv"
    write_atomic(csv_path, "\n".join(rows) + "\n")
    html_path = out / "class_report.html"
    write_atomic(html_path, _page("Class report", _class_body(numbers, titles)))
    return html_path, csv_path


def _class_body(numbers: dict[str, Any], titles: dict[str, str]) -> str:
    scores = numbers["scores"]
    body = [f"<h1>Class report: {len(scores)} submissions</h1>"]
    if scores:
        body.append(f"<p>Mean {np.mean(scores):.2f}, median {np.median(scores):.2f} of "
                    f"{numbers['max_score']:g}; full marks: "
                    f"{sum(s >= numbers['max_score'] for s in scores)}.</p>")
        figure, axes = _figure(6, 2.5)
        axes.hist(scores, bins=np.arange(0, numbers["max_score"] + 2) - 0.5, color="#3b6fd8")
        axes.set_xlabel("score")
        axes.set_ylabel("submissions")
        body.append("<h2>Score distribution</h2>" + _png(figure))
    body.append("<h2>Catalogued mistakes</h2><table><tr><th>mistake</th><th>submissions</th>"
                "</tr>" + "".join(f"<tr><td>{escape(title)}</td><td>"
                                  f"{numbers['mistakes'].get(key, 0)}</td></tr>"
                                  for key, title in titles.items()) + "</table>")
    if numbers["mistakes"]:
        keys = [key for key in titles if numbers["mistakes"].get(key)]
        figure, axes = _figure(6, 0.4 * len(keys) + 1)
        axes.barh([titles[key] for key in keys], [numbers["mistakes"][key] for key in keys],
                  color="#b3261e")
        axes.set_xlabel("submissions")
        body.append(_png(figure))
    body.append("<h2>Statuses</h2><table><tr><th>status</th><th>submissions</th></tr>" +
                "".join(f"<tr><td>{escape(status)}</td><td>{count}</td></tr>"
                        for status, count in sorted(numbers["statuses"].items())) + "</table>")
    if numbers["troubled"]:
        body.append("<h2>Crashed, hit a limit, or could not be graded</h2><table><tr>"
                    "<th>submission</th><th>status</th><th>message</th></tr>" + "".join(
                        f"<tr><td>{escape(name)}</td><td>{escape(status)}</td>"
                        f"<td>{escape(' '.join(message))}</td></tr>"
                        for name, status, message in numbers["troubled"]) + "</table>")
    return "\n".join(body)
