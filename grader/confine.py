"""Confine the student process: limits, private mounts, no privileges, a clean environment.

Runs in the student process just before any of the student's code, while it is still root
(when the grader runs as root). What it sets up, in order:

    own process group; stdout/stderr to files; stdin from /dev/null
    rlimits: address space, file size (stdout flood), no core dumps
    a private mount namespace: fresh size-limited /tmp and /dev/shm; the secret file, the
        submissions and the output folder covered; the interpreter's folders re-exposed so
        that an unprivileged user can still import from them
    user nobody, no new privileges; a minimal environment
"""

from __future__ import annotations

import ctypes
import os
import resource
import sys
from typing import Any

NOBODY = 65534
PRIVATE_WORKDIR = "/tmp/submission"
SAFE_ENV = ("PATH", "LANG", "LC_ALL", "TZ")
CLONE_NEWNS, MS_RDONLY, MS_NOSUID, MS_NODEV, MS_BIND, MS_REC, MS_PRIVATE = (
    0x20000, 0x1, 0x2, 0x4, 0x1000, 0x4000, 0x40000)
MNT_DETACH = 2
PR_SET_NO_NEW_PRIVS = 38
_libc = ctypes.CDLL(None, use_errno=True)


def confine(workdir: str, outdir: str, limits: dict[str, Any]) -> dict[str, Any]:
    """Apply every confinement; returns what was achieved (reported to the instructor)."""
    os.setpgid(0, 0)
    _redirect_stdio(outdir)
    address_space = _current_address_space() + limits["memory_mb"] * 2**20
    resource.setrlimit(resource.RLIMIT_AS, (address_space, address_space))
    resource.setrlimit(resource.RLIMIT_FSIZE, (limits["output_bytes"], limits["output_bytes"]))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    private = os.geteuid() == 0 and _private_mounts(limits["protected_paths"],
                                                    limits["disk_mb"])
    if private:
        workdir = PRIVATE_WORKDIR
        os.makedirs(workdir)
    safe = {key: os.environ[key] for key in SAFE_ENV if key in os.environ}
    os.environ.clear()
    os.environ.update(safe, HOME=workdir, TMPDIR=workdir, MPLBACKEND="Agg")
    if os.geteuid() == 0 and _reachable_by_others(_import_roots()):
        os.chown(workdir, NOBODY, NOBODY)
        os.setgroups([])
        os.setgid(NOBODY)
        os.setuid(NOBODY)
    _libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)
    os.chdir(workdir)
    return {"uid": os.getuid(), "private_mounts": private}


def _redirect_stdio(outdir: str) -> None:
    for fd, name in ((1, "stdout"), (2, "stderr")):
        target = os.open(os.path.join(outdir, name), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.dup2(target, fd)
        os.close(target)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)


def _current_address_space() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmSize:"):
                return int(line.split()[1]) * 1024
    return 0


def _mount(source: str, target: str, kind: str | None, flags: int, options: str = "") -> bool:
    return _libc.mount(source.encode(), target.encode(), kind.encode() if kind else None,
                       flags, options.encode() or None) == 0


def _private_mounts(protected: list[str], disk_mb: int) -> bool:
    """Our own mount namespace. Needs CAP_SYS_ADMIN; without it (many containers) we go on
    without, and the README says what that means."""
    if _libc.unshare(CLONE_NEWNS) != 0:
        return False
    _mount("none", "/", None, MS_REC | MS_PRIVATE)
    roots = _import_roots()
    closed = {_closed_ancestor(root) for root in roots} - {None}
    staged = _stage(roots)  # bind the interpreter's folders aside before anything is covered
    for mountpoint in ("/tmp", "/dev/shm"):
        if os.path.isdir(mountpoint) and not _mount(
                "tmpfs", mountpoint, "tmpfs", MS_NOSUID | MS_NODEV, f"size={disk_mb}m,mode=1777"):
            return False
    _cover(closed)  # folders such as /root: out of sight, but for what we put back
    for root, stage in staged.items():  # put the interpreter's folders back where they were
        os.makedirs(root, exist_ok=True)
        _mount(stage, root, None, MS_BIND | MS_REC)
        _libc.umount2(stage.encode(), MNT_DETACH)
        os.rmdir(stage)
    _cover(protected)  # last, so that nothing put back can uncover them
    return True


def _cover(paths) -> None:
    for path in paths:
        if os.path.isdir(path):
            _mount("tmpfs", path, "tmpfs", MS_NOSUID | MS_NODEV, "size=1m,mode=0755")
        elif os.path.exists(path):
            _mount("/dev/null", path, None, MS_BIND)


def _import_roots() -> list[str]:
    """Folders the interpreter imports from, outermost only: its prefixes, site-packages and
    the grader's own folder. Not the working folder or a script's folder (sys.path[0]): they
    may hold anything, /tmp included."""
    packages = [p for p in sys.path if p.endswith(("site-packages", "dist-packages"))]
    grader_root = os.path.dirname(os.path.dirname(os.path.realpath(__file__)))
    candidates = {os.path.realpath(p) for p in (sys.prefix, sys.base_prefix, *packages,
                                                grader_root) if os.path.isdir(p)}
    return sorted(p for p in candidates
                  if not any(p != other and p.startswith(other + os.sep) for other in candidates))


def _closed_ancestor(path: str) -> str | None:
    """The outermost folder on the way to `path` that other users cannot traverse."""
    closed = None
    current = path
    while True:
        if not os.stat(current).st_mode & 0o001:
            closed = current
        parent = os.path.dirname(current)
        if parent == current:
            return closed
        current = parent


def _stage(roots: list[str]) -> dict[str, str]:
    """Bind each import root to a staging folder, to be bound back after the covering."""
    staged = {}
    for number, root in enumerate(roots):
        stage = f"/dev/.rnn-grader-stage-{os.getpid()}-{number}"
        try:
            os.makedirs(stage)
        except OSError:
            continue
        if _mount(root, stage, None, MS_BIND | MS_REC):
            staged[root] = stage
    return staged


def _reachable_by_others(paths: list[str]) -> bool:
    return all(_closed_ancestor(path) is None for path in paths)
