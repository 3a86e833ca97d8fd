"""Render the feedback pages and the class report in headless Chromium, to look at them.

Grades the typical mistakes (typical_mistakes.py) into OUT/graded, then for every
feedback.html and for class_report.html writes a screenshot at 1280 px and at 390 px wide
(OUT/screens/<name>-1280.png, -390.png) and measures each page in the browser: its content
width and height at both widths (OUT/screens/sizes.json). A page fits in two screens at
1280 px when its height is at most 2 × 800 px; it works at 390 px when its content is no wider
than the window.

    python benchmarks/render_pages.py --out /tmp/pages          # grade, render, measure
    python benchmarks/render_pages.py --out /tmp/pages --graded DIR   # render an existing batch
    python benchmarks/render_pages.py --out /tmp/pages --exercise lstm   # another exercise's

Needs `chromium` (Debian: apt-get install chromium) or `chromium-browser`/`google-chrome`.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from make_submissions import add_exercise_option  # noqa: E402
from typical_mistakes import make_typical  # noqa: E402

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
WIDTHS = (1280, 390)
SCREEN_HEIGHT = 800  # one screen at 1280 px wide, for "fits in two screens"
SECRET = "render-pages-secret-not-for-grading"
# Headless windows are at least 500 px wide: the page's root is set to the width measured,
# and the content's width is the right edge of its widest element.
MEASURE = """<script>
document.documentElement.style.width = "WIDTHpx";
window.addEventListener("load", function () {
  var right = 0, bottom = 0;
  document.querySelectorAll("body *").forEach(function (element) {
    var parent = element.parentElement, box = element.getBoundingClientRect();
    bottom = Math.max(bottom, box.bottom);
    if (parent && parent.closest("pre, .table-wrap")) return;  // scrolls within its box
    right = Math.max(right, box.right);
  });
  var height = Math.ceil(bottom);
  document.title = "measured " + Math.ceil(right) + " " + height;
});
</script>"""


def browser() -> str | None:
    return next((found for name in BROWSERS if (found := shutil.which(name))), None)


def _chromium(executable: str, *args: str) -> subprocess.CompletedProcess[str]:
    with tempfile.TemporaryDirectory(prefix="render-pages-") as profile:
        return subprocess.run(
            [executable, "--headless", "--no-sandbox", "--disable-gpu",
             "--disable-background-networking", "--disable-component-update", "--no-first-run",
             "--hide-scrollbars", f"--user-data-dir={profile}", *args],
            capture_output=True, text=True, timeout=120, check=False)


def screenshot(executable: str, page: Path, png: Path, width: int, height: int) -> None:
    _chromium(executable, f"--screenshot={png}", f"--window-size={width},{height}",
              page.resolve().as_uri())


def measure(executable: str, page: Path, width: int) -> tuple[int, int]:
    """(content width, content height) of the page in a window `width` px wide, measured by
    the browser on a copy of the page with a script that writes them into its title."""
    with tempfile.TemporaryDirectory(prefix="render-measure-") as folder:
        copy = Path(folder) / page.name
        script = MEASURE.replace("WIDTH", str(width))
        copy.write_text(page.read_text(encoding="utf-8").replace("</body>", script + "</body>"),
                        encoding="utf-8")
        dumped = _chromium(executable, "--dump-dom", "--virtual-time-budget=2000",
                           f"--window-size={width},{SCREEN_HEIGHT}", copy.as_uri()).stdout
    found = re.search(r"<title>measured (\d+) (\d+)</title>", dumped)
    if found is None:
        raise RuntimeError(f"the browser did not measure {page}")
    return int(found[1]), int(found[2])


def grade(submissions: Path, out: Path) -> None:
    """`rnn-grader grade` the folder, as an instructor would (this interpreter's install)."""
    grader = Path(sys.executable).parent / "rnn-grader"
    subprocess.run([str(grader), "grade", str(submissions), "--out", str(out), "-j", "2",
                    "--quiet", "--notebook-timeout", "5"],
                   env={**os.environ, "RNN_GRADER_SECRET": SECRET}, check=True)


def render(graded: Path, screens: Path,
           screenshots: bool = True) -> dict[str, dict[str, list[int]]]:
    """Sizes (and screenshots) of every page of a graded batch: {page: {width: [content
    width, content height]}}."""
    executable = browser()
    if executable is None:
        raise SystemExit("no chromium found: apt-get install chromium")
    screens.mkdir(parents=True, exist_ok=True)
    pages = {path.parent.name: path for path in sorted(graded.glob("*/feedback.html"))}
    pages["class_report"] = graded / "class_report.html"
    sizes = {}
    for name, page in pages.items():
        sizes[name] = {}
        for width in WIDTHS:
            content = measure(executable, page, width)
            sizes[name][str(width)] = list(content)
            if screenshots:
                screenshot(executable, page, screens / f"{name}-{width}.png", width,
                           min(max(content[1], 400), 6000))
    (screens / "sizes.json").write_text(json.dumps(sizes, indent=1) + "\n", encoding="utf-8")
    return sizes


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True, help="folder to write into")
    parser.add_argument("--graded", type=Path, help="an already graded batch to render")
    add_exercise_option(parser, "whose typical mistakes (typical_mistakes.py) to grade and "
                        "render, or all for the four")
    args = parser.parse_args(argv)
    graded = args.graded
    if graded is None:
        make_typical(args.out / "submissions", exercise=args.exercise)
        graded = args.out / "graded"
        grade(args.out / "submissions", graded)
    sizes = render(graded, args.out / "screens")
    for name, by_width in sizes.items():
        wide, narrow = by_width["1280"], by_width["390"]
        notes = []
        if wide[1] > 2 * SCREEN_HEIGHT and name != "class_report":
            notes.append("taller than two screens at 1280 px")
        if narrow[0] > 390:
            notes.append(f"{narrow[0]} px wide at 390 px")
        print(f"{name:28} 1280: {wide[1]:5} px tall   390: {narrow[1]:5} px tall"
              + (f"   ! {'; '.join(notes)}" if notes else ""))
    print(f"screenshots in {args.out / 'screens'}")


if __name__ == "__main__":
    main()
