"""Confine the student process before the first line of its code runs.

Runs in the student process, forked by the worker (worker.py, child.py), in this order:

    file descriptors   all closed but the result channel and the handshake; stdout and stderr
                       to size-limited files; stdin from /dev/null
    rlimits            address space, file size, open files; no core dumps
    namespaces         where the machine allows (root, or a user namespace made by the
                       worker): its own mount, network, IPC and UTS namespaces, a fresh
                       size-limited /tmp and /dev/shm, its own /proc (it is PID 1 of its own
                       PID namespace), the instructor's paths covered
    identity           root: a uid of its own per concurrent submission; otherwise: no
                       capabilities; no new privileges either way
    Landlock           read only what Python and torch need, write only the working folder,
                       no TCP, no signals or abstract sockets outside itself
    seccomp            no processes, exec, ptrace, namespaces, mounts, sockets (seccomp_policy)

Nothing here trusts itself: the grading process measures the result from /proc before it lets
the student's code start (layers.py).
"""

from __future__ import annotations

import ctypes
import errno
import os
import resource
import signal
import sys
from typing import Any

import grader
from grader.isolation import landlock, seccomp_policy

PRIVATE_WORKDIR = "/tmp/submission"
SAFE_ENV = ("PATH", "LANG", "LC_ALL", "TZ")
CLONE_NEWNS, CLONE_NEWUTS, CLONE_NEWIPC, CLONE_NEWNET = 0x20000, 0x4000000, 0x8000000, 0x40000000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = 0x1, 0x2, 0x4, 0x8
MS_BIND, MS_REC, MS_PRIVATE = 0x1000, 0x4000, 0x40000
MNT_DETACH = 2
PR_SET_NO_NEW_PRIVS, PR_SET_DUMPABLE, PR_CAPBSET_DROP, PR_SET_PDEATHSIG = 38, 4, 24, 1
PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL = 47, 4
OPEN_FILES = 256
# What Python, torch and the C library may read beyond the interpreter's own folders.
SYSTEM_READ_ONLY = ("/usr", "/lib", "/lib64", "/lib32", "/etc/ld.so.cache", "/etc/localtime",
                    "/etc/nsswitch.conf", "/etc/passwd", "/etc/group", "/sys/devices/system/cpu",
                    "/dev/urandom", "/dev/random", "/dev/zero", "/proc/self", "/proc/cpuinfo",
                    "/proc/meminfo")
_libc = ctypes.CDLL(None, use_errno=True)


class ConfinementError(RuntimeError):
    """A wall the grader requires could not be put up in the student process."""


def confine(keep_fds: list[int], outdir: str, sandbox_workdir: str, limits: dict[str, Any],
            in_user_namespace: bool) -> dict[str, Any]:
    """Apply every wall to this process; returns what the student process itself observed
    (the Landlock probe), to be weighed with what the grading process measures from outside."""
    _redirect_stdio(outdir)
    _close_inherited(keep_fds)
    _set_limits(limits)
    can_mount = os.geteuid() == 0 or in_user_namespace
    namespaces = can_mount and _unshare_rest()
    workdir = sandbox_workdir
    if namespaces:
        _private_mounts(limits["protected_paths"], limits["disk_mb"])
        workdir = PRIVATE_WORKDIR
        os.makedirs(workdir)
    _clean_environment(workdir)
    # A uid of its own only where it can still read the interpreter (mounts re-expose it).
    readable = namespaces or not any(_closed_ancestor(root) for root in import_roots())
    _drop_privileges(workdir, limits.get("uid") if readable else None)
    # Set after the uid change, which clears it: should the worker die, so does this
    # process (and, as PID 1 of its namespace, everything in it).
    _libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    os.chdir(workdir)
    if _libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        raise ConfinementError("no_new_privs could not be set")
    abi = _landlock(workdir)
    seccomp_policy.install()
    return {"landlock_abi": abi, "landlock_probe": _probe_landlock()}


def _redirect_stdio(outdir: str) -> None:
    for fd, name in ((1, "stdout"), (2, "stderr")):
        target = os.open(os.path.join(outdir, name), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.dup2(target, fd)
        os.close(target)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    # Whatever the process it was forked from made of sys.std* (a test runner's capture, a
    # terminal), the student's prints go to these files.
    sys.stdin = open(0, closefd=False)  # noqa: SIM115 - they live as long as the process
    sys.stdout = open(1, "w", buffering=1, closefd=False)  # noqa: SIM115
    sys.stderr = open(2, "w", buffering=1, closefd=False)  # noqa: SIM115


def _close_inherited(keep_fds: list[int]) -> None:
    """Everything the worker left open (its control socket and namespace, other submissions'
    status pipes and pidfds, what the grading process had open when it forked a worker) is
    closed."""
    bounds = [-1, *sorted({0, 1, 2, *keep_fds}), resource.getrlimit(resource.RLIMIT_NOFILE)[0]]
    for low, high in zip(bounds, bounds[1:], strict=False):
        if high > low + 1:  # os.closerange(n, n) would close everything (close_range(n, -1))
            os.closerange(low + 1, high)


def _set_limits(limits: dict[str, Any]) -> None:
    address_space = _current_address_space() + limits["memory_mb"] * 2**20
    resource.setrlimit(resource.RLIMIT_AS, (address_space, address_space))
    resource.setrlimit(resource.RLIMIT_FSIZE, (limits["output_bytes"], limits["output_bytes"]))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    resource.setrlimit(resource.RLIMIT_NOFILE, (OPEN_FILES, OPEN_FILES))


def _current_address_space() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmSize:"):
                return int(line.split()[1]) * 1024
    return 0


def _unshare_rest() -> bool:
    return _libc.unshare(CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS) == 0


def _clean_environment(workdir: str) -> None:
    safe = {key: os.environ[key] for key in SAFE_ENV if key in os.environ}
    os.environ.clear()
    os.environ.update(safe, HOME=workdir, TMPDIR=workdir, MPLBACKEND="Agg")


def _drop_privileges(workdir: str, uid: int | None) -> None:
    """Root becomes a uid of its own; anyone else (a user namespace's root included) keeps its
    uid and loses every capability."""
    if os.geteuid() == 0 and uid is not None and not _in_user_namespace():
        os.chown(workdir, uid, uid)
        os.setgroups([])
        os.setresgid(uid, uid, uid)
        os.setresuid(uid, uid, uid)  # from 0 to non-zero: the kernel clears every capability
    _drop_capabilities()


def _in_user_namespace() -> bool:
    try:
        with open("/proc/self/uid_map") as mapping:
            return mapping.read().split() != ["0", "0", "4294967295"]
    except OSError:
        return False


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32),
                ("inheritable", ctypes.c_uint32)]


def _drop_capabilities() -> None:
    for capability in range(64):
        if _libc.prctl(PR_CAPBSET_DROP, capability, 0, 0, 0) != 0 and \
                ctypes.get_errno() == errno.EINVAL:
            break  # past the last capability this kernel knows
    _libc.prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0)
    header = _CapHeader(0x20080522, 0)  # _LINUX_CAPABILITY_VERSION_3
    data = (_CapData * 2)()
    if _libc.capset(ctypes.byref(header), data) != 0:
        raise ConfinementError("capabilities could not be dropped")


def _landlock(workdir: str) -> int:
    try:
        return landlock.restrict([*import_roots(), *SYSTEM_READ_ONLY], [workdir, os.devnull])
    except landlock.LandlockError:
        return 0  # the grading process sees it in the probe and refuses where it is required


def _probe_landlock() -> bool:
    """Whether a folder outside the rules (/, which anyone may list) is now out of reach;
    checked before any student code runs."""
    try:
        os.listdir("/")
    except PermissionError:
        return True
    return False


# --- mounts --------------------------------------------------------------------------------

def _mount(source: str, target: str, kind: str | None, flags: int, options: str = "") -> bool:
    return _libc.mount(source.encode(), target.encode(), kind.encode() if kind else None,
                       flags, options.encode() or None) == 0


def _private_mounts(protected: list[str], disk_mb: int) -> None:
    """Fresh /tmp, /dev/shm and /proc; the instructor's paths and closed folders covered; the
    interpreter's folders put back where a covered folder hid them."""
    _mount("none", "/", None, MS_REC | MS_PRIVATE)
    roots = import_roots()
    closed = {_closed_ancestor(root) for root in roots} - {None}
    # /dev/shm first: its fresh tmpfs holds the staging folders, out of every root's way.
    _tmpfs("/dev/shm", 1)
    staged = _stage(roots, "/dev/shm")  # the interpreter's folders, before anything is covered
    for mountpoint, size_mb in (("/tmp", disk_mb), ("/var/tmp", 1), ("/run/lock", 1)):
        _tmpfs(mountpoint, size_mb)
    if os.getpid() == 1:  # its own PID namespace: a /proc that shows only itself
        _mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
    _cover(closed)  # folders such as /root: out of sight, but for what we put back
    for root, stage in staged.items():
        os.makedirs(root, exist_ok=True)
        _mount(stage, root, None, MS_BIND | MS_REC)
        _libc.umount2(stage.encode(), MNT_DETACH)
        os.rmdir(stage)
    _cover(protected)  # last, so that nothing put back can uncover them


def _tmpfs(mountpoint: str, size_mb: int) -> None:
    if os.path.isdir(mountpoint):
        _mount("tmpfs", mountpoint, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC,
               f"size={size_mb}m,mode=1777")


def _cover(paths) -> None:
    for path in paths:
        if os.path.isdir(path):
            _mount("tmpfs", path, "tmpfs", MS_NOSUID | MS_NODEV, "size=1m,mode=0755")
        elif os.path.exists(path):
            _mount("/dev/null", path, None, MS_BIND)


def import_roots() -> list[str]:
    """Folders the interpreter imports from, outermost only: its prefixes, site-packages and
    the grader package itself (not the folder holding it: an editable install's checkout
    also holds the instructor's solutions). Not the working folder or a script's folder."""
    packages = [p for p in sys.path if p.endswith(("site-packages", "dist-packages"))]
    grader_package = os.path.dirname(os.path.realpath(grader.__file__))
    candidates = {os.path.realpath(p) for p in (sys.prefix, sys.base_prefix, *packages,
                                                grader_package) if os.path.isdir(p)}
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


def _stage(roots: list[str], place: str) -> dict[str, str]:
    """Bind each import root to a staging folder, to be bound back after the covering."""
    staged = {}
    for number, root in enumerate(roots):
        stage = f"{place}/.stage-{number}"
        try:
            os.makedirs(stage)
        except OSError:
            continue
        if _mount(root, stage, None, MS_BIND | MS_REC):
            staged[root] = stage
    return staged
