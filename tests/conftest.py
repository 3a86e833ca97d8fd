"""Shared fixtures: private Jupyter/IPython folders, the shipped notebooks, a CLI runner."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SOLUTION = ROOT / "solutions" / "bidirectional_rnn.ipynb"
ASSIGNMENT = ROOT / "assignments" / "bidirectional_rnn.ipynb"
TEST_SECRET = "test-secret-for-hidden-cases"


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


def run_cli(*args: str, env: dict[str, str] | None = None,
            cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """`python -m grader ARGS` in a child process, as a user would run it."""
    return subprocess.run([sys.executable, "-m", "grader", *args], capture_output=True,
                          text=True, env={**os.environ, **(env or {})}, cwd=cwd, timeout=600)
