"""Error heat maps for a submission's feedback, written as SVG text; the Figure every picture is.

A heat map is small — a few time steps by a few dozen units — so it is written as SVG text:
crisp at any size, microseconds per picture, integer coordinates and no number but indices.
It shows where output departs from nn.RNN in bands of the tolerance (compare.BAND_NAMES),
worst over the sequences of the batch; hidden cases' ratios are already clipped to the bands,
so a picture tells nothing the text's bands do not. It is embedded as a `data:` URI that is
percent-encoded, not base64: what a student is shown stays readable (and checkable) text.
The class report's two charts are drawn the same way, in charts.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote
from xml.sax.saxutils import escape

import numpy as np

from grader.checking.compare import BAND_NAMES, bands
from grader.results import CaseResult, OutputCheck

# White within the tolerance; then light to dark (luminance falls with every band).
BAND_COLOURS = ("rgb(255,255,255)", "rgb(253,208,162)", "rgb(241,105,19)", "rgb(127,39,4)")
BAND_LABELS = ("within (≤ 1×)", "1 to 10×", "10 to 1000×", "over 1000×")
GRID = "rgb(190,190,190)"
SHOWN = 1  # heat maps per report: one shows the pattern; the text names every case
TALL = 16  # features (2H) beyond which a picture is chosen only when no shorter one will do


@dataclass(frozen=True)
class Figure:
    """A picture ready for a page: its source (a data URI), size, alt text and caption."""

    src: str
    width: int
    height: int
    alt: str
    caption: str


def data_uri(svg: str) -> str:
    """An SVG as a percent-encoded `data:` URI for an <img>: the page stands alone, the
    picture stays text."""
    return "data:image/svg+xml," + quote(svg, safe="")


Part = tuple[str, int, int]  # a part of output's features: name, first, past the last


def output_parts(exercise_name: str, features: int) -> list[Part]:
    """The parts of output's features, from the exercise's own scoring parts (the
    bidirectional RNN's forward and reverse halves; one part for the LSTM or GRU)."""
    from grader import exercises

    try:
        exercise = exercises.get(exercise_name) if exercise_name else None
    except exercises.ExerciseError:
        exercise = None
    if exercise is None:
        half = features // 2
        return [("forward", 0, half), ("reverse", half, features)]
    positions = np.broadcast_to(np.arange(features), (1, 1, features))
    parts = [(name, int(part.min()), int(part.max()) + 1)
             for name, part in exercise.split_halves("output", positions).items() if part.size]
    return sorted(parts, key=lambda part: part[1]) or [("output", 0, features)]


def heat_maps(cases: list[CaseResult], exercise_name: str = "") -> list[Figure]:
    """Heat maps of the cases where a picture adds to the words: output has the right shape,
    more than one time step, and its error has a pattern in time or over units (an error as
    bad everywhere in a half, say halves swapped, is said in full by the text). The longest
    first (the pattern is over time) among those not too tall for a screen, then the
    narrowest."""
    chosen = []
    for case in cases:
        check = next((c for c in case.checks if c.name == "output" and not c.ok
                      and c.error_ratio is not None and c.error_ratio.ndim == 3), None)
        if check is None or check.error_ratio.shape[0] < 2:
            continue
        image = band_image(check)
        parts = output_parts(exercise_name, image.shape[1])
        if _has_a_pattern(image, parts):
            steps, features = image.shape
            chosen.append(((features > TALL, -steps, features, case.case.number), case, check,
                           image, parts))
    chosen.sort(key=lambda item: item[0])
    return [heat_map(case, check, image, parts) for _, case, check, image, parts in
            chosen[:SHOWN]]


def _has_a_pattern(image: np.ndarray, parts: list[Part] | None = None) -> bool:
    """Whether a part changes over time (its worst band differs from step to step: the
    error fades, or one step is right) or some units are right where others are wrong."""
    features = image.shape[1]
    parts = parts or [("forward", 0, features // 2), ("reverse", features // 2, features)]
    for part in (image[:, start:stop] for _, start, stop in parts):
        over_time, units_wrong = part.max(axis=1), part.max(axis=0) > 0
        if np.unique(over_time).size > 1 or 0 < units_wrong.sum() < units_wrong.size:
            return True
    return False


def band_image(check: OutputCheck) -> np.ndarray:
    """Each (time step, feature) element's band, worst over the batch: (L, 2H) of 0..3."""
    return bands(np.asarray(check.error_ratio, dtype=np.float64)).max(axis=1)


def heat_map(case: CaseResult, check: OutputCheck, image: np.ndarray,
             parts: list[Part]) -> Figure:
    svg, width, height = heat_map_svg(image, case.case.number, check.error_ratio.shape[1],
                                      parts)
    batch = check.error_ratio.shape[1]
    order = f"; {parts[0][0]} units on top" if len(parts) > 1 else ""
    caption = (f"Case {case.case.number}: where output departs from the reference at each "
               f"time step and hidden unit{_worst_of(batch)}{order}.")
    return Figure(data_uri(svg), width, height,
                  describe(image, case.case.number, batch, parts), caption)


def _worst_of(batch: int) -> str:
    return "" if batch == 1 else f", worst of the {batch} sequences"


def heat_map_svg(image: np.ndarray, number: int, batch: int,
                 parts: list[Part] | None = None) -> tuple[str, int, int]:
    """The SVG of one band image (L, F): time steps across, output's parts one above the
    other (forward units above reverse ones), a gap between parts, integer ticks, axis titles
    and the bands' legend."""
    steps, features = image.shape
    parts = parts or [("forward", 0, features // 2), ("reverse", features // 2, features)]
    widest = max(stop - start for _, start, stop in parts)
    cell = max(14, min(28, 300 // max(steps, features)))
    gap, left, top = 10, 78, 30
    grid_w, grid_h = steps * cell, features * cell + gap * (len(parts) - 1)
    legend_x = left + grid_w + 24
    axis_h = max(grid_h, 200)  # room for the rotated axis title beside a short grid
    title = f"Case {number}: output's error{_worst_of(batch)}"
    width = max(legend_x + 150, left + 7 * len(title))  # ~7 px a character, bold, 12 px
    height = top + max(axis_h, 4 * 22 + 24) + 46
    out = [f"<svg xmlns='http://www.w3.org/2000/svg' width='{width}' height='{height}' "
           f"viewBox='0 0 {width} {height}' font-family='sans-serif' font-size='12'>",
           f"<rect width='{width}' height='{height}' fill='white'/>",
           f"<text x='{left}' y='18' font-weight='bold'>{escape(title)}</text>"]
    every = 1 if cell >= 18 or widest <= 10 else 2
    y0 = top
    for name, start, stop in parts:
        for unit in range(stop - start):
            y = y0 + unit * cell
            for step in range(steps):
                band = int(image[step, start + unit])
                out.append(f"<rect x='{left + step * cell}' y='{y}' width='{cell}' "
                           f"height='{cell}' fill='{BAND_COLOURS[band]}' stroke='{GRID}'/>")
            if unit % every == 0:
                out.append(f"<text x='{left - 5}' y='{y + cell // 2 + 4}' "
                           f"text-anchor='end'>{unit}</text>")
        if len(parts) > 1:
            middle = y0 + (stop - start) * cell // 2
            out.append(f"<text transform='translate({left - 30},{middle}) rotate(-90)' "
                       f"text-anchor='middle' font-weight='bold'>{escape(name)}</text>")
        y0 += (stop - start) * cell + gap
    axis_y = top + axis_h // 2
    names = " | ".join(name for name, _, _ in parts)
    axis = f"hidden unit ({names})" if len(parts) > 1 else "hidden unit"
    out.append(f"<text transform='translate(14,{axis_y}) rotate(-90)' text-anchor='middle'>"
               f"{escape(axis)}</text>")
    tick_every = 1 if steps <= 12 else 2
    for step in range(0, steps, tick_every):
        out.append(f"<text x='{left + step * cell + cell // 2}' y='{top + grid_h + 16}' "
                   f"text-anchor='middle'>{step}</text>")
    out.append(f"<text x='{left + grid_w // 2}' y='{top + grid_h + 34}' "
               "text-anchor='middle'>time step</text>")
    out.append(f"<text x='{legend_x}' y='{top + 8}' font-weight='bold'>error ÷ tolerance</text>")
    for row, band in enumerate(range(len(BAND_LABELS) - 1, -1, -1)):
        y = top + 18 + row * 22
        out.append(f"<rect x='{legend_x}' y='{y}' width='18' height='18' "
                   f"fill='{BAND_COLOURS[band]}' stroke='rgb(90,90,90)'/>")
        out.append(f"<text x='{legend_x + 24}' y='{y + 13}'>{escape(BAND_LABELS[band])}</text>")
    out.append("</svg>")
    return "".join(out), width, height


def describe(image: np.ndarray, number: int, batch: int,
             parts: list[Part] | None = None) -> str:
    """Alt text that says what the picture shows, from the same bands."""
    steps, features = image.shape
    parts = parts or [("forward", 0, features // 2), ("reverse", features // 2, features)]
    told = []
    for name, start, stop in parts:
        part = image[:, start:stop]
        what = f"{name} half" if len(parts) == 2 else name
        wrong_steps = [int(t) for t in np.flatnonzero(part.max(axis=1) > 0)]
        if not wrong_steps:
            told.append(f"{what} within the tolerance everywhere")
            continue
        where = "at every time step" if len(wrong_steps) == steps else \
            f"at time steps {_ranges(wrong_steps)}"
        worst = BAND_NAMES[int(part.max())]
        told.append(f"{what} wrong {where}, worst by {worst}")
    layout = (f"{parts[0][0]} units 0 to {parts[0][2] - parts[0][1] - 1} above, "
              f"{' then '.join(name for name, _, _ in parts[1:])} below") if len(parts) > 1 \
        else f"units 0 to {features - 1}"
    return (f"Heat map of case {number}: output's error at each time step (0 to {steps - 1}, "
            f"across) and hidden unit ({layout}){_worst_of(batch)}: " + "; ".join(told) + ".")


def _ranges(numbers: list[int]) -> str:
    runs: list[list[int]] = []
    for number in numbers:
        if runs and number == runs[-1][-1] + 1:
            runs[-1].append(number)
        else:
            runs.append([number])
    return ", ".join(f"{run[0]}" if len(run) == 1 else f"{run[0]} to {run[-1]}" for run in runs)
