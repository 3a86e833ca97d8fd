"""The command line as users meet it: exit codes, messages, never a traceback."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat

from tests.conftest import ASSIGNMENT, SOLUTION, TEST_SECRET, run_cli


def test_check_passes_the_solution() -> None:
    finished = run_cli("check", str(SOLUTION))
    assert finished.returncode == 0, finished.stdout + finished.stderr
    assert "24 / 24" in finished.stdout
    assert "L=1, N=1" in finished.stdout


def test_check_says_the_assignment_is_not_implemented_yet() -> None:
    finished = run_cli("check", str(ASSIGNMENT))
    assert finished.returncode == 1
    assert "not implemented yet" in finished.stdout
    assert "Traceback" not in finished.stdout + finished.stderr


def test_check_of_a_missing_file_is_a_usage_error(tmp_path: Path) -> None:
    finished = run_cli("check", str(tmp_path / "nope.ipynb"))
    assert finished.returncode == 2
    assert "does not exist" in finished.stderr
    assert "Traceback" not in finished.stderr


def test_grade_refuses_to_run_without_a_secret(tmp_path: Path) -> None:
    finished = run_cli("grade", str(SOLUTION), "--out", str(tmp_path / "out"))
    assert finished.returncode == 2
    assert "RNN_GRADER_SECRET" in finished.stderr and "--secret-file" in finished.stderr
    assert not (tmp_path / "out").exists()


def test_grade_with_an_unreadable_secret_file(tmp_path: Path) -> None:
    finished = run_cli("grade", str(SOLUTION), "--out", str(tmp_path / "out"),
                       "--secret-file", str(tmp_path / "missing"))
    assert finished.returncode == 2 and "cannot read --secret-file" in finished.stderr


def test_grade_with_a_bad_config_names_the_key(tmp_path: Path) -> None:
    config = tmp_path / "grader.toml"
    config.write_text("[limits]\nmemory = 5\n")
    finished = run_cli("grade", str(SOLUTION), "--out", str(tmp_path / "out"), "--config",
                       str(config), env={"RNN_GRADER_SECRET": TEST_SECRET})
    assert finished.returncode == 2 and "unknown key(s) memory" in finished.stderr
    assert "Traceback" not in finished.stderr


def test_grade_writes_results_and_summary_and_exits_0(tmp_path: Path) -> None:
    out = tmp_path / "out"
    finished = run_cli("grade", str(SOLUTION), str(ASSIGNMENT), "--out", str(out), "-j", "2",
                       env={"RNN_GRADER_SECRET": TEST_SECRET})
    assert finished.returncode == 0, finished.stderr
    # Each notebook is an exercise's own in a folder holding several exercises: folder__exercise.
    solution = json.loads((out / "solutions__bidirectional_rnn" / "results.json").read_text())
    assignment = json.loads((out / "assignments__bidirectional_rnn" / "results.json").read_text())
    assert (solution["score"], assignment["score"]) == (24, 0)
    assert assignment["extra_data"]["status"] == "not_implemented"
    assert "submission,score,max_score" in (out / "summary.csv").read_text()
    assert TEST_SECRET not in "".join(p.read_text() for p in out.rglob("*") if p.is_file())


def _comparable(out: Path) -> dict[str, dict]:
    """Every results.json of a batch, without timings and captured output (which prints
    memory addresses)."""
    found = {}
    for path in sorted(out.glob("*/results.json")):
        data = json.loads(path.read_text())
        data.pop("execution_time")
        data["extra_data"].pop("stdout")
        data["extra_data"].pop("stderr")
        found[path.parent.name] = data
    return found


def test_parallel_cold_and_warm_batches_give_identical_results(tmp_path: Path) -> None:
    secret = {"RNN_GRADER_SECRET": TEST_SECRET}
    runs = {"j1": ["-j", "1"], "j2": ["-j", "2"], "cold": ["-j", "2", "--workers", "cold"]}
    for name, flags in runs.items():
        finished = run_cli("grade", str(SOLUTION), str(ASSIGNMENT), "--out", str(tmp_path / name),
                           *flags, env=secret)
        assert finished.returncode == 0, finished.stderr
    assert _comparable(tmp_path / "j1") == _comparable(tmp_path / "j2") \
        == _comparable(tmp_path / "cold")
    assert len(_comparable(tmp_path / "j1")) == 2


FIRST_CELL_PROBE = (
    "import torch\n"
    "print('count', get_ipython().execution_count, 'inputs', len(In))\n"
    "print('names', sorted(n for n in globals() if not n.startswith('_') and n != 'torch'))\n"
    "print('last inputs', repr(_i), repr(_ii), repr(_iii))\n"
    "print('unwritten history', len(get_ipython().history_manager.db_input_cache))\n")


def test_a_warm_child_starts_as_a_fresh_interpreter_would(tmp_path: Path) -> None:
    """The warm worker runs warm-up cells of its own before forking: a submission must not see
    them (execution count, inputs, names), as in a cold child. (An unseeded generator differs
    anyway: torch seeds each interpreter from the system's randomness.)"""
    notebook = nbformat.read(SOLUTION, as_version=4)
    notebook.cells.insert(0, nbformat.v4.new_code_cell(FIRST_CELL_PROBE))
    path = tmp_path / "probe" / "bidirectional_rnn.ipynb"
    path.parent.mkdir()
    nbformat.write(notebook, path)
    printed = {}
    for mode in ("warm", "cold"):
        out = tmp_path / mode
        finished = run_cli("grade", str(path), "--out", str(out), "--workers", mode,
                           env={"RNN_GRADER_SECRET": TEST_SECRET})
        assert finished.returncode == 0, finished.stderr
        result = json.loads(next(out.glob("*/results.json")).read_text())
        assert result["score"] == 24
        printed[mode] = result["extra_data"]["stdout"].split("Out[", 1)[0]
    assert "names ['In', 'Out', 'exit', 'get_ipython', 'open', 'quit']" in printed["warm"]
    assert "last inputs '' '' ''" in printed["warm"]
    assert printed["warm"] == printed["cold"]


def test_review_findings_name_cells_as_jupyter_shows_them(tmp_path: Path) -> None:
    """The instructor finds flagged code the way Jupyter shows it: the code cell's position
    among code cells and its first line, not a count of every cell."""
    notebook = nbformat.read(SOLUTION, as_version=4)
    notebook.cells.insert(0, nbformat.v4.new_markdown_cell("A note first."))
    notebook.cells.insert(1, nbformat.v4.new_code_cell("import gc\nobjects = gc.get_objects()"))
    path = tmp_path / "flagged" / "bidirectional_rnn.ipynb"
    path.parent.mkdir()
    nbformat.write(notebook, path)
    out = tmp_path / "out"
    finished = run_cli("grade", str(path), "--out", str(out),
                       env={"RNN_GRADER_SECRET": TEST_SECRET})
    assert finished.returncode == 0, finished.stderr
    review = json.loads(next(out.glob("*/results.json")).read_text())["extra_data"]["review"]
    assert review and all(finding.startswith("code cell 1 (`import gc`), line ")
                          for finding in review), review


def test_progress_falls_back_to_plain_lines_and_quiet_silences_it(tmp_path: Path) -> None:
    secret = {"RNN_GRADER_SECRET": TEST_SECRET}
    piped = run_cli("grade", str(SOLUTION), "--out", str(tmp_path / "a"), env=secret)
    assert "[1/1] solutions__bidirectional_rnn: 24/24 (graded" in piped.stderr
    quiet = run_cli("grade", str(SOLUTION), "--out", str(tmp_path / "b"), "--quiet", env=secret)
    assert "[1/1]" not in quiet.stderr
    assert "mean" in quiet.stdout and "full marks" in quiet.stdout
