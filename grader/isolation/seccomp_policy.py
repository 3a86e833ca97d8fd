"""The student process's system-call policy, compiled by libseccomp (through pyseccomp) into
a BPF program, loaded with prctl.

A deny-list on top of "allow": Python, torch and threads keep working; what a submission could
use to escape its grading is refused with an error (never a kill, so the student sees a
Python exception naming what failed):

    no new processes      fork, vfork, clone without CLONE_THREAD, clone3 (ENOSYS, so the C
                          library falls back to clone, whose flags can be checked), exec
    no reaching others    ptrace, process_vm_*, kcmp, pidfd_*; signals only to itself
    no new walls or holes unshare, setns, mount and friends, chroot, pivot_root, namespaces
                          in clone flags, bpf, perf_event_open, userfaultfd, io_uring, keyrings
    no network            socket() of any family (socketpair stays: it reaches nothing)
    no terminal injection ioctl TIOCSTI and TIOCLINUX

Installed last, after no_new_privs and Landlock: the filter is inherited by every thread.
"""

from __future__ import annotations

import ctypes
import errno
import functools
import os

try:  # loaded here, in the warm worker: finding libseccomp runs ldconfig, which the sandbox
    import pyseccomp as seccomp  # would no longer allow
except (ImportError, OSError, RuntimeError) as error:  # libseccomp.so.2 itself is missing
    seccomp = None
    _MISSING = str(error)

CLONE_THREAD = 0x00010000
CLONE_NAMESPACES = (0x00020000, 0x02000000, 0x04000000, 0x08000000, 0x10000000, 0x20000000,
                    0x40000000, 0x00000080)  # NEWNS, CGROUP, UTS, IPC, USER, PID, NET, TIME
TIOCSTI, TIOCLINUX = 0x5412, 0x541C
PR_SET_SECCOMP, SECCOMP_MODE_FILTER = 22, 2
_libc = ctypes.CDLL(None, use_errno=True)

DENIED = (
    "fork", "vfork", "execve", "execveat",
    "ptrace", "process_vm_readv", "process_vm_writev", "kcmp",
    "pidfd_open", "pidfd_getfd", "pidfd_send_signal", "tkill",
    "unshare", "setns", "mount", "umount2", "pivot_root", "chroot", "move_mount",
    "open_tree", "fsopen", "fsmount", "fsconfig", "fspick", "mount_setattr",
    "bpf", "perf_event_open", "userfaultfd", "io_uring_setup", "io_uring_enter",
    "io_uring_register", "keyctl", "add_key", "request_key", "socket",
    "name_to_handle_at", "open_by_handle_at", "kexec_load", "kexec_file_load",
    "init_module", "finit_module", "delete_module", "reboot", "swapon", "swapoff", "acct",
    "quotactl", "syslog", "iopl", "ioperm", "personality", "uselib",
)
SIGNALS_TO_SELF_ONLY = ("kill", "tgkill", "rt_sigqueueinfo", "rt_tgsigqueueinfo")


class SeccompUnavailable(OSError):
    """libseccomp (libseccomp.so.2) or the kernel's seccomp filter mode is missing."""


def available() -> bool:
    return seccomp is not None


def install() -> None:
    """Load the policy into the calling process; every thread started later inherits it.
    Needs no_new_privs (confine.py sets it first)."""
    program = compiled(os.getpid())
    count = len(program) // 8  # struct sock_filter: u16 code, u8 jt, u8 jf, u32 k
    instructions = ctypes.create_string_buffer(program, len(program))
    fprog = _SockFprog(count, ctypes.addressof(instructions))
    if _libc.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.byref(fprog), 0, 0) != 0:
        number = ctypes.get_errno()
        raise SeccompUnavailable(number, "the kernel refused the filter: "
                                 f"{os.strerror(number)}")


@functools.lru_cache(maxsize=4)
def compiled(pid: int) -> bytes:
    """The policy for a process of this PID, as the BPF program libseccomp makes of it (a
    millisecond). A student process is PID 1 of its own namespace: the worker compiles that
    one once (warm.py), and every student process inherits it."""
    if seccomp is None:
        raise SeccompUnavailable(0, f"libseccomp could not be loaded ({_MISSING})")
    refuse = seccomp.ERRNO(errno.EPERM)
    policy = seccomp.SyscallFilter(seccomp.ALLOW)
    for name in DENIED:
        _add(policy, refuse, name)
    _add(policy, seccomp.ERRNO(errno.ENOSYS), "clone3")
    _add(policy, refuse, "clone", seccomp.Arg(0, seccomp.MASKED_EQ, CLONE_THREAD, 0))
    for flag in CLONE_NAMESPACES:
        _add(policy, refuse, "clone", seccomp.Arg(0, seccomp.MASKED_EQ, flag, flag))
    for name in SIGNALS_TO_SELF_ONLY:
        _add(policy, refuse, name, seccomp.Arg(0, seccomp.NE, pid))
    for request in (TIOCSTI, TIOCLINUX):
        _add(policy, refuse, "ioctl", seccomp.Arg(1, seccomp.EQ, request))
    read_end, write_end = os.pipe()  # a few KB: well within a pipe's buffer
    try:
        with os.fdopen(write_end, "wb") as sink:
            policy.export_bpf(sink)
        with os.fdopen(read_end, "rb") as source:
            return source.read()
    except OSError as error:
        raise SeccompUnavailable(error.errno, f"libseccomp could not compile: {error}") from None


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


def _add(policy, action: int, name: str, *args) -> None:
    number = seccomp.resolve_syscall(seccomp.Arch.NATIVE, name)
    if number == -1:  # unknown to libseccomp; a call this architecture lacks resolves below -1
        raise SeccompUnavailable(0, f"libseccomp does not know the system call {name}")
    policy.add_rule(action, number, *args)
