"""The pages as a browser lays them out (headless Chromium; skipped where it is not installed).

Typical mistakes are graded by `rnn-grader grade` and their feedback pages and the class report
measured at 1280 and 390 px wide by benchmarks/render_pages.py (which also takes the
screenshots, to look at them): every feedback page fits in two screens at 1280 px, and no page
is wider than a 390 px phone.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

import render_pages  # noqa: E402
import typical_mistakes  # noqa: E402

pytestmark = pytest.mark.skipif(render_pages.browser() is None,
                                reason="headless Chromium is not installed")
SHOWN = ("syntax_error", "reverse_not_flipped", "h0_ignored_not_flipped", "sizes_hardcoded",
         "shape_error")


@pytest.fixture(scope="module")
def sizes(tmp_path_factory) -> dict[str, dict[str, list[int]]]:
    folder = tmp_path_factory.mktemp("pages")
    typical_mistakes.make_typical(folder / "submissions", SHOWN)
    render_pages.grade(folder / "submissions", folder / "graded")
    return render_pages.render(folder / "graded", folder / "screens", screenshots=False)


def test_every_page_was_measured(sizes) -> None:
    assert sorted(sizes) == sorted((*SHOWN, "class_report"))


@pytest.mark.parametrize("name", SHOWN)
def test_a_feedback_page_fits_in_two_screens_at_1280_px(sizes, name) -> None:
    width, height = sizes[name]["1280"]
    assert height <= 2 * render_pages.SCREEN_HEIGHT, (name, height)
    assert width <= 1280


@pytest.mark.parametrize("name", (*SHOWN, "class_report"))
def test_no_page_is_wider_than_a_phone(sizes, name) -> None:
    width, _ = sizes[name]["390"]
    assert width <= 390, (name, width)
