"""The class report's two charts, written as SVG text like the heat maps (figures.py).

A histogram of the scores (one bar per whole point, from 0 to the maximum score) and
horizontal bars of how many submissions made each named mistake: a few dozen shapes each, so
the SVG is written by hand, microseconds per chart and no plotting library to import. Counts
are whole numbers of submissions, so every count axis has integer ticks, and each bar has its
count written. Mistake names come from exercise modules: they are escaped, wrapped, cut after
two lines (with the full name in the row's <title>) and told in full in the alt text.
"""

from __future__ import annotations

import math
import textwrap
from xml.sax.saxutils import escape

import numpy as np

from grader.reports.figures import Figure, data_uri

SCORE_COLOUR = "#3b6fd8"
MISTAKE_COLOUR = "#b3261e"
AXIS = "rgb(90,90,90)"
GRIDLINE = "rgb(228,228,231)"
CHAR = 8  # px a character of 13 px sans-serif, generously: room for a text, where to wrap it
LINE = 16  # px a line of a mistake's name
NAME_LINES = 2  # lines of a mistake's name before it is cut (the <title> holds all of it)
WIDTH = 460  # px: readable at full size beside the text, and still at 0.8× on a phone


def _px(value: float) -> str:
    return f"{round(value, 1):g}"


def _submissions(count: int) -> str:
    return f"{count} submission{'' if count == 1 else 's'}"


def _nice(at_least: float) -> int:
    """The smallest step of 1, 2 or 5 times a power of ten that is at least `at_least`."""
    return next(step for power in range(19) for step in (10 ** power, 2 * 10 ** power,
                                                         5 * 10 ** power) if step >= at_least)


def integer_ticks(top: float, most: int = 8) -> list[int]:
    """Whole numbers from 0 up to `top` or just past it (at least to 1), evenly spaced by a
    step of 1, 2 or 5 times a power of ten, at most `most` steps."""
    top = max(1, math.ceil(top))
    step = _nice(top / most)
    return list(range(0, step * math.ceil(top / step) + 1, step))


def _svg(width: int, height: int, alt: str, body: list[str]) -> str:
    return (f"<svg xmlns='http://www.w3.org/2000/svg' width='{width}' height='{height}' "
            f"viewBox='0 0 {width} {height}' role='img' font-family='sans-serif' "
            f"font-size='13' fill='rgb(31,31,31)'><title>{escape(alt)}</title>"
            f"<rect width='{width}' height='{height}' fill='white'/>" + "".join(body)
            + "</svg>")


def _text(x: float, y: float, text: str, anchor: str = "start", more: str = "") -> str:
    return (f"<text x='{_px(x)}' y='{_px(y)}' text-anchor='{anchor}'{more}>"
            f"{escape(text)}</text>")


def score_bins(scores: list[float]) -> tuple[list[int], list[int]]:
    """Each score rounded to a whole point (numpy's rounding, half to even), and how many
    submissions have each: the bars, in increasing order of score."""
    values, counts = np.unique(np.round(np.asarray(scores, dtype=np.float64)),
                               return_counts=True)
    return [int(value) for value in values], [int(count) for count in counts]


def score_chart(scores: list[float], max_score: float) -> Figure:
    """How many submissions got each score: a bar at each whole point from 0 to the maximum
    (both ends inside the axes), integer axes, a title."""
    values, counts = score_bins(scores)
    low, high = min([0, *values]), max([math.ceil(max_score), *values])
    left, top, plot_h = 52, 42, 200
    slot = min(28.0, (WIDTH - left - 12) / (high - low + 1))  # px per whole point
    plot_w, bottom = slot * (high - low + 1), top + plot_h
    title = f"Scores of {_submissions(len(scores))}"
    width = math.ceil(max(left + plot_w + 12, left + CHAR * len(title)))
    ticks = integer_ticks(max(counts, default=0), most=6)
    scale = plot_h / ticks[-1]
    body = [_text(left, 20, title, more=" font-weight='bold'")]
    for tick in ticks:
        y = bottom - tick * scale
        body.append(f"<line x1='{left}' x2='{_px(left + plot_w)}' y1='{_px(y)}' y2='{_px(y)}' "
                    f"stroke='{AXIS if tick == 0 else GRIDLINE}'/>")
        body.append(_text(left - 6, y + 4, str(tick), "end"))
    body.append(f"<line x1='{left}' x2='{left}' y1='{top}' y2='{bottom}' stroke='{AXIS}'/>")
    for score in _score_ticks(low, high, max_score, slot):
        x = left + (score - low + 0.5) * slot
        body.append(f"<line x1='{_px(x)}' x2='{_px(x)}' y1='{bottom}' y2='{bottom + 4}' "
                    f"stroke='{AXIS}'/>")
        body.append(_text(x, bottom + 17, str(score), "middle"))
    bars = [(left + (value - low + 0.1) * slot, bottom - count * scale, count)
            for value, count in zip(values, counts, strict=True)]
    for (x, y, count), value in zip(bars, values, strict=True):
        body.append(f"<rect x='{_px(x)}' y='{_px(y)}' width='{_px(0.8 * slot)}' "
                    f"height='{_px(bottom - y)}' fill='{SCORE_COLOUR}'><title>"
                    f"{value} points: {_submissions(count)}</title></rect>")
    body += _count_labels(bars, 0.8 * slot)
    if not scores:
        body.append(_text(left + plot_w / 2, top + plot_h / 2, "no submissions", "middle"))
    body.append(f"<text transform='translate(16,{top + plot_h // 2}) rotate(-90)' "
                "text-anchor='middle'>submissions</text>")
    body.append(_text(left + plot_w / 2, bottom + 38, f"score (out of {max_score:g})", "middle"))
    told = ", ".join(f"{count} at {value}" for value, count in zip(values, counts, strict=True))
    most = f"; most often {values[int(np.argmax(counts))]}" if counts else ""
    alt = (f"Bar chart of the scores of {_submissions(len(scores))}, 0 to {max_score:g} "
           f"points: {told or 'none'}{most}.")
    return Figure(data_uri(_svg(width, bottom + 48, alt, body)), width, bottom + 48, alt,
                  "Scores, one bar per score.")


def _score_ticks(low: int, high: int, max_score: float, slot: float) -> list[int]:
    """Whole scores to label, far enough apart for their text; the maximum score always."""
    apart = CHAR * len(str(high)) + 10
    step = _nice(apart / slot)
    ticks = [score for score in range(low, high + 1) if score % step == 0]
    if max_score == int(max_score) > ticks[-1] and (max_score - ticks[-1]) * slot >= apart:
        ticks.append(int(max_score))
    return ticks


def _count_labels(bars: list[tuple[float, float, int]], bar_w: float) -> list[str]:
    """Each bar's count above it (bars: left, top, count), tallest first, where it covers no
    other count and no other bar; none on bars too thin to tell apart (the alt text and each
    bar's <title> have them all)."""
    if bar_w < 6:
        return []
    taken = [(x, x + bar_w, y, math.inf) for x, y, _ in bars]  # left, right, top, bottom
    labels = []
    for x, y, count in sorted(bars, key=lambda bar: bar[1]):
        middle, half = x + bar_w / 2, 3.5 * len(str(count))
        box = (middle - half, middle + half, y - 16, y - 2)
        if not any(box[0] < other[1] and other[0] < box[1] and box[2] < other[3]
                   and other[2] < box[3] for other in taken):
            taken.append(box)
            labels.append(_text(middle, y - 4, str(count), "middle", " font-size='12'"))
    return labels


def mistakes_chart(counts: list[tuple[str, int]]) -> Figure:
    """How many submissions made each mistake, most frequent on top: each name above its bar
    (wrapped; cut after two lines), the count at the bar's end, an integer axis below."""
    width, left, right = WIDTH, 8, 40
    plot_w = width - left - right
    ticks = integer_ticks(max((count for _, count in counts), default=0))
    scale = plot_w / ticks[-1]
    title = "Mistakes named, most frequent first"
    body = [_text(left, 20, title, more=" font-weight='bold'")]
    y = 36
    for name, count in counts:
        lines = textwrap.wrap(name, (width - 2 * left) // CHAR, max_lines=NAME_LINES,
                              placeholder=" …") or [""]
        row = [f"<g><title>{escape(name)}: {_submissions(count)}</title>"]
        for line in lines:
            y += LINE
            row.append(_text(left, y, line))
        bar_w = count * scale
        row.append(f"<rect x='{left}' y='{y + 5}' width='{_px(bar_w)}' height='16' "
                   f"fill='{MISTAKE_COLOUR}'/>")
        row.append(_text(left + bar_w + 5, y + 17, str(count), more=" font-weight='bold'"))
        body.append("".join(row) + "</g>")
        y += 5 + 16 + 10
    if not counts:
        y += LINE
        body.append(_text(left, y, "no mistake named"))
        y += 10
    axis = y + 2
    body.append(f"<line x1='{left}' x2='{_px(left + plot_w)}' y1='{axis}' y2='{axis}' "
                f"stroke='{AXIS}'/>")
    for tick in ticks:
        x = left + tick * scale
        body.append(f"<line x1='{_px(x)}' x2='{_px(x)}' y1='{axis}' y2='{axis + 4}' "
                    f"stroke='{AXIS}'/>")
        body.append(_text(x, axis + 17, str(tick), "middle"))
    body.append(_text(left + plot_w / 2, axis + 38, "submissions", "middle"))
    height = axis + 48
    alt = "Bar chart of mistakes by number of submissions: " + ("; ".join(
        f"{name}: {count}" for name, count in counts) or "none") + "."
    return Figure(data_uri(_svg(width, height, alt, body)), width, height, alt,
                  "Mistakes named by the grader.")
