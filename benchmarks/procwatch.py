"""Run a command and measure it: wall time, its rusage, and the memory of its process tree.

`run_measured` starts the command, samples /proc every `interval` seconds while it runs and
reaps it with os.wait4, whose rusage gives the peak resident set size of the largest single
process among the command and the descendants it waited for (Linux ru_maxrss, KiB).

The sampler sees every descendant, waited for or not, and classifies them by their place in
the tree, which fits `rnn-grader grade`:

    main      the command's own process (the grading process)
    worker    a direct child whose command line runs grader.isolation.worker, and the one
              process it forks: the warm worker, preloaded with torch and IPython, from which
              student processes are forked
    helper    other direct children (nbgrader's kernel...)
    forked    everything below those (one student process per submission)

For each class it keeps the largest VmHWM (peak RSS) seen; for the whole tree it keeps the
largest sum of RSS and of PSS (proportional set size: pages shared after fork counted once
in total, so it is the tree's real footprint; RSS sums count shared torch pages many times).
Processes that live less than one interval may be missed by the sampler (not by wait4).
"""

from __future__ import annotations

import os
import subprocess
import threading
import time
from dataclasses import dataclass, field


@dataclass
class Measurement:
    seconds: float
    returncode: int
    maxrss_mb: float  # wait4's ru_maxrss: the largest single process waited for
    user_seconds: float
    system_seconds: float
    peak_mb: dict[str, float] = field(default_factory=dict)  # VmHWM per class
    worker_last_rss_mb: float = 0.0  # the warm worker's RSS when last seen
    tree_rss_peak_mb: float = 0.0
    tree_pss_peak_mb: float = 0.0
    samples: int = 0
    worker_pids: set[int] = field(default_factory=set)


def _read_ppid(pid: str) -> int | None:
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            return int(stat.read().rsplit(b")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return None


def _status_kb(pid: int) -> tuple[int, int]:
    rss = hwm = 0
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    rss = int(line.split()[1])
                elif line.startswith("VmHWM:"):
                    hwm = int(line.split()[1])
    except (OSError, ValueError):
        pass
    return rss, hwm


def _pss_kb(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/smaps_rollup") as rollup:
            for line in rollup:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


def _cmdline(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as cmdline:
            return cmdline.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def _descendants(root: int) -> dict[int, int]:
    """pid -> parent pid, for every live descendant of root (root included)."""
    parents = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            ppid = _read_ppid(entry)
            if ppid is not None:
                parents[int(entry)] = ppid
    children: dict[int, list[int]] = {}
    for pid, ppid in parents.items():
        children.setdefault(ppid, []).append(pid)
    tree, stack = {}, [root]
    while stack:
        pid = stack.pop()
        if pid in tree:
            continue
        tree[pid] = parents.get(pid, 0)
        stack.extend(children.get(pid, []))
    return tree


class _Sampler(threading.Thread):
    def __init__(self, root: int, interval: float, measurement: Measurement) -> None:
        super().__init__(daemon=True)
        self.root, self.interval, self.m = root, interval, measurement
        self.stop = threading.Event()
        self.kinds: dict[int, str] = {}
        self.launchers: set[int] = set()

    def kind(self, pid: int, ppid: int) -> str:
        if pid not in self.kinds:
            if pid == self.root:
                self.kinds[pid] = "main"
            elif ppid == self.root:
                launcher = "grader.isolation.worker" in _cmdline(pid)
                self.kinds[pid] = "worker" if launcher else "helper"
                if launcher:
                    self.launchers.add(pid)
            elif ppid in self.launchers:  # the worker proper, PID 1 of its namespace
                self.kinds[pid] = "worker"
            else:
                self.kinds[pid] = "forked"
        return self.kinds[pid]

    def run(self) -> None:
        while not self.stop.is_set():
            tree = _descendants(self.root)
            total_rss = total_pss = 0
            for pid, ppid in tree.items():
                kind = self.kind(pid, ppid)
                rss, hwm = _status_kb(pid)
                if rss == 0 and hwm == 0:
                    continue
                total_rss += rss
                total_pss += _pss_kb(pid)
                self.m.peak_mb[kind] = max(self.m.peak_mb.get(kind, 0.0), hwm / 1024)
                if kind == "worker":
                    self.m.worker_pids.add(pid)
                    self.m.worker_last_rss_mb = rss / 1024
            self.m.tree_rss_peak_mb = max(self.m.tree_rss_peak_mb, total_rss / 1024)
            self.m.tree_pss_peak_mb = max(self.m.tree_pss_peak_mb, total_pss / 1024)
            self.m.samples += 1
            self.stop.wait(self.interval)


def run_measured(command: list[str], *, env: dict[str, str] | None = None, cwd=None,
                 interval: float = 0.2, stdout=subprocess.DEVNULL,
                 stderr=subprocess.DEVNULL) -> Measurement:
    started = time.perf_counter()
    process = subprocess.Popen(command, env=env, cwd=cwd, stdout=stdout, stderr=stderr)
    measurement = Measurement(0.0, 0, 0.0, 0.0, 0.0)
    sampler = _Sampler(process.pid, interval, measurement)
    sampler.start()
    _, status, usage = os.wait4(process.pid, 0)
    measurement.seconds = time.perf_counter() - started
    sampler.stop.set()
    sampler.join()
    process.returncode = os.waitstatus_to_exitcode(status)  # already reaped: tell Popen
    measurement.returncode = process.returncode
    measurement.maxrss_mb = usage.ru_maxrss / 1024
    measurement.user_seconds, measurement.system_seconds = usage.ru_utime, usage.ru_stime
    return measurement
