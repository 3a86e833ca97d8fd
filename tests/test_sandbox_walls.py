"""A test per wall: from inside a graded notebook, try to cross it, and check it held.

One notebook tries every crossing in a top-level cell and prints ALLOWED or REFUSED for each;
the grading (a worker forked from this process, as `check` does) must record every REFUSED, the
grading process's measurement must show every required layer, and the solution after the probes
must still score. The same attempts, graded in a parallel batch as root and as an ordinary
user, are in test_hostile_e2e.py.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import nbformat
import pytest
from conftest import SOLUTION, processes_named

from grader.checking.cases import public_cases
from grader.config import Config
from grader.exercises import EXERCISE
from grader.isolation.layers import REQUIRED
from grader.isolation.sandbox import Sandbox, worker_context
from grader.pipeline import GradingPlan, grade_submission

ROOT = Path(__file__).resolve().parent.parent
ATTEMPTS = {
    "fork": "os.fork()",
    "exec": "os.execv('/bin/true', ['true'])",
    "subprocess": "subprocess.run(['true'])",
    "thread_spawn_is_fine": None,
    "ptrace_parent": "libc.ptrace(16, os.getppid() or 1, 0, 0) == 0 or fail()",
    "signal_others": "os.kill(-1, 0)",
    "new_user_namespace": "libc.unshare(0x10000000) == 0 or fail()",
    "mount": "libc.mount(b'none', b'/tmp', b'tmpfs', 0, None) == 0 or fail()",
    "network_socket": "socket.socket(socket.AF_INET, socket.SOCK_STREAM)",
    "unix_socket": "socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)",
    "read_solutions": f"open({str(ROOT / 'solutions' / 'bidirectional_rnn.ipynb')!r}).read()",
    "read_etc_hostname": "open('/etc/hostname').read()",
    "list_root": "os.listdir('/')",
    "write_var_tmp": "open('/var/tmp/rnn-grader-wall-probe', 'w').write('x')",
    "write_dev_shm": "open('/dev/shm/rnn-grader-wall-probe', 'w').write('x')",
    "write_site_packages": "open(os.path.join(sysconfig.get_paths()['purelib'], "
                           "'rnn_grader_wall_probe.pth'), 'w').write('x')",
    "read_grader_environ": "open('/proc/1/environ' if os.getpid() != 1 else "
                           "f'/proc/{os.getppid()}/environ').read() or fail()",
    # stdin, stdout, stderr, its channel, the grader log and listdir's own: nothing inherited
    "inherited_descriptors_beyond_own": "len(os.listdir('/proc/self/fd')) <= 6 and fail()",
}
PROBE = """\
import ctypes, os, socket, subprocess, sys, sysconfig, threading
libc = ctypes.CDLL(None, use_errno=True)


def fail():
    raise PermissionError('refused')


threading.Thread(target=lambda: None).start()
for name, attempt in ATTEMPTS.items():
    if attempt is None:
        continue
    try:
        eval(attempt)
        print(name, 'ALLOWED')
    except (OSError, RuntimeError) as error:
        print(name, 'REFUSED', type(error).__name__)
print('probes done')
"""


@pytest.fixture(scope="module")
def probed(tmp_path_factory: pytest.TempPathFactory):
    notebook = nbformat.read(SOLUTION, as_version=4)
    cell = nbformat.v4.new_code_cell(f"ATTEMPTS = {ATTEMPTS!r}\n{PROBE}")
    notebook.cells.insert(1, cell)
    path = tmp_path_factory.mktemp("walls") / "bidirectional_rnn.ipynb"
    nbformat.write(notebook, str(path))
    plan = GradingPlan(EXERCISE, public_cases(EXERCISE), Config())
    return grade_submission(path, "walls", plan, worker_context("fork"))


@pytest.mark.parametrize("wall", [name for name, attempt in ATTEMPTS.items() if attempt])
def test_the_wall_holds(probed, wall: str) -> None:
    assert "probes done" in probed.stdout, probed.stdout + probed.stderr
    assert f"{wall} REFUSED" in probed.stdout, probed.stdout


def test_threads_still_work_and_the_solution_still_scores(probed) -> None:
    assert probed.score == probed.max_score, probed.message


def test_every_required_layer_is_measured_from_outside(probed) -> None:
    assert all(probed.isolation.get(layer) for layer in REQUIRED), probed.isolation


@pytest.mark.skipif(os.geteuid() != 0, reason="a uid and namespaces of its own need root here")
def test_as_root_it_gets_its_own_uid_and_namespaces(probed) -> None:
    for layer in ("own_uid", "pid_namespace", "mount_namespace", "network_namespace"):
        assert probed.isolation.get(layer), (layer, probed.isolation)


def test_a_student_that_will_not_exit_ends_with_its_submission(tmp_path: Path) -> None:
    """A notebook that stops its own process from exiting (os._exit replaced) is ended when its
    submission's grading returns, not when the batch does: the grading process kills it through
    its pidfd."""
    marker = "rg-no-exit"  # at most 15 characters: the kernel cuts a process name there
    notebook = nbformat.read(SOLUTION, as_version=4)
    notebook.cells.insert(0, nbformat.v4.new_code_cell(
        f"import ctypes, os, time\nctypes.CDLL(None).prctl(15, b'{marker}', 0, 0, 0)\n"
        "os._exit = lambda code: time.sleep(3600)"))
    path = tmp_path / "bidirectional_rnn.ipynb"
    nbformat.write(notebook, str(path))
    plan = GradingPlan(EXERCISE, public_cases(EXERCISE), Config())
    result = grade_submission(path, "will-not-exit", plan, worker_context("fork"))
    assert result.score == result.max_score, result.message
    deadline = time.monotonic() + 2.0  # SIGKILL is delivered at once; reaping takes a moment
    while processes_named(marker) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert processes_named(marker) == []


def test_cells_run_as_the_grading_process_transformed_them() -> None:
    """The student process runs IPython's transformation of a cell as the grading process sent
    it (made once per batch there); once a notebook has changed IPython's transformers, the
    notebook's own transformation applies."""
    sent, own = "raise ValueError('as sent')\n", "raise ValueError('as written')"
    cells = [{"index": 0, "source": own, "python": sent},
             {"index": 1, "source": "get_ipython().input_transformers_cleanup.append(list)"},
             {"index": 2, "source": own, "python": sent}]
    with Sandbox(worker_context("fork"), Config().limits) as sandbox:
        answer = sandbox.request({"op": "run", "cells": cells, "function": "f"}, 30)
    assert [(error["cell"], error["message"]) for error in answer["errors"]] == \
        [(0, "as sent"), (2, "as written")]


def test_a_cell_may_await_at_top_level_as_in_jupyter() -> None:
    """Top-level await runs (IPython's own check); a cell that only names the word does not
    need it."""
    cells = [{"index": 0, "source": "async def answer():\n    return 3\n"},
             {"index": 1, "source": "value = await answer()\nassert value == 3, value"},
             {"index": 2, "source": "word = 'await'\nassert value == 3"}]
    with Sandbox(worker_context("fork"), Config().limits) as sandbox:
        answer = sandbox.request({"op": "run", "cells": cells, "function": "f"}, 30)
    assert answer["errors"] == []


def test_the_filter_names_the_process_it_is_loaded_into() -> None:
    """The worker compiles the filter once for PID 1 (every student process is PID 1 of its
    namespace); a process with another PID gets one naming its own: signals to itself only."""
    import ctypes

    from grader.isolation import seccomp_policy

    assert seccomp_policy.compiled(1) != seccomp_policy.compiled(2)
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            ctypes.CDLL(None).prctl(38, 1, 0, 0, 0)  # no_new_privs, as confine sets it
            seccomp_policy.install()
            os.kill(os.getpid(), 0)  # itself: allowed
            try:
                os.kill(os.getppid(), 0)
            except PermissionError:
                code = 0
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0


def test_thousands_of_protected_paths_fit_in_a_request() -> None:
    """`grade` protects every path it was given, so a batch given as 5,000 notebook files
    sends that many to the worker with each submission."""
    paths = tuple(f"/nonexistent/student{i:05d}/bidirectional_rnn.ipynb" for i in range(5000))
    with Sandbox(worker_context("fork"), Config().limits, paths) as sandbox:
        assert sandbox.admitted()["seccomp"]


def test_a_submission_given_up_on_does_not_end_the_others() -> None:
    """The worker reports each end on the submission's status pipe; one whose grading process
    stopped listening (a timeout gave up on it) must not bring down the worker, or with it
    every other student process of the batch."""
    context = worker_context("fork")
    with Sandbox(context, Config().limits) as first, Sandbox(context, Config().limits) as other:
        first.admitted()
        other.admitted()
        os.close(first.status_r)  # no longer listening
        first.status_r = os.open(os.devnull, os.O_RDONLY)  # for __exit__ to close
        first.stop()
        time.sleep(0.5)  # the worker reaps it and writes to the closed pipe
        answer = other.request({"op": "run", "function": "f",
                                "cells": [{"index": 0, "source": "def f(): return 1"}]}, 30)
        assert answer["errors"] == [] and answer["defined"]


def test_a_late_answer_from_the_worker_is_not_taken_for_the_next(monkeypatch) -> None:
    """A start that timed out gets its answer late: the next submission must get its own
    student process, never the one started for the submission given up on."""
    from grader.isolation import sandbox as sandbox_module

    context = worker_context("fork")
    with Sandbox(context, Config().limits) as warm:
        warm.admitted()  # the worker is ready
    monkeypatch.setattr(sandbox_module, "WORKER_SECONDS", 1e-6)
    with Sandbox(context, Config().limits) as given_up:
        assert given_up.student is None and "did not answer" in given_up.isolation["error"]
    monkeypatch.setattr(sandbox_module, "WORKER_SECONDS", 60.0)
    with Sandbox(context, Config().limits) as sandbox:
        assert sandbox.admitted()["seccomp"]
        answer = sandbox.request({"op": "run", "function": "f",
                                  "cells": [{"index": 0, "source": "def f(): return 1"}]}, 30)
        assert answer["defined"]
