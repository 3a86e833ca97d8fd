"""Shared fixtures: private Jupyter/IPython folders, the shipped notebooks, a CLI runner."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SOLUTION = ROOT / "solutions" / "bidirectional_rnn.ipynb"
ASSIGNMENT = ROOT / "assignments" / "bidirectional_rnn.ipynb"
TEST_SECRET = "test-secret-for-hidden-cases"
COURSE_EXERCISE = ROOT / "tests" / "course_exercise"  # a course's own exercise package


@pytest.fixture(scope="session", autouse=True)
def private_jupyter_dirs(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Keep Jupyter, IPython and nbgrader away from the user's own folders; put the venv's
    bin/ on PATH (nbgrader runs `alembic` by bare name)."""
    base = tmp_path_factory.mktemp("jupyter")
    for name in ("JUPYTER_CONFIG_DIR", "JUPYTER_DATA_DIR", "JUPYTER_RUNTIME_DIR", "IPYTHONDIR"):
        folder = base / name.lower()
        folder.mkdir()
        os.environ[name] = str(folder)
    os.environ["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"
    os.environ.pop("RNN_GRADER_SECRET", None)


def pip_install(source: Path, target: Path) -> None:
    """`pip install` the package folder `source` into the folder `target`: no dependencies,
    no index, no build isolation (nothing is downloaded)."""
    done = subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps",
                           "--no-build-isolation", "--no-index", "--target", str(target),
                           str(source)], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr


def python_path(*folders: Path) -> str:
    """PYTHONPATH with `folders` in front of the current one."""
    return os.pathsep.join(filter(None, (*map(str, folders), os.environ.get("PYTHONPATH"))))


@pytest.fixture(scope="session")
def course_package(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The course's exercise package, really installed (pip, no dependencies, into a folder
    of its own) from a copy of tests/course_exercise outside the grader's package."""
    target = tmp_path_factory.mktemp("course_site")
    source = tmp_path_factory.mktemp("course_src") / "course_exercise"
    shutil.copytree(COURSE_EXERCISE, source, ignore=shutil.ignore_patterns("notebook"))
    pip_install(source, target)
    return target


def run_cli(*args: str, env: dict[str, str] | None = None,
            cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """`python -m grader ARGS` in a child process, as a user would run it."""
    return subprocess.run([sys.executable, "-m", "grader", *args], capture_output=True,
                          text=True, env={**os.environ, **(env or {})}, cwd=cwd, timeout=600)


class _HtmlText(HTMLParser):
    """The text a reader gets from HTML: character references decoded, images by their alt."""

    BREAKS = {"p", "div", "pre", "br", "li", "tr", "h1", "h2", "h3", "details", "figure"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.hidden = 0  # inside <style>, <script> or <title>: not read

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self.BREAKS:
            self.parts.append("\n")
        if tag == "img":
            self.parts.append(dict(attrs).get("alt") or "")
        self.hidden += tag in ("style", "script", "title")

    def handle_endtag(self, tag: str) -> None:
        self.hidden -= tag in ("style", "script", "title")

    def handle_data(self, data: str) -> None:
        if not self.hidden:
            self.parts.append(data)


def html_text(html: str) -> str:
    parser = _HtmlText()
    parser.feed(html)
    parser.close()
    return "".join(parser.parts)


def visible_text(results: dict) -> str:
    """What a student reads in results.json on Gradescope: the top-level output (rendered, if
    it is HTML) and each test's name and output; extra_data is instructor-only."""
    output = results.get("output", "")
    if results.get("output_format") == "html":
        output = html_text(output)
    return "\n".join([output] + [f"{test.get('name', '')}\n{test.get('output', '')}"
                                 for test in results.get("tests", [])])


def processes_named(name: str) -> list[int]:
    """PIDs of the processes whose name (/proc/PID/comm, cut at 15 characters) is `name`."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and (entry / "comm").read_text().strip() == name:
                found.append(int(entry.name))
        except OSError:
            continue
    return found
