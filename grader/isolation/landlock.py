"""Landlock, straight from the kernel's interface: the student process may read only what
Python and torch need, and write only its own working folder.

Follows the kernel's own sample (samples/landlock/sandboxer.c): ask the ABI version, handle
every access right that version knows, add path-beneath rules, then restrict the calling
thread (and every thread it starts later). Unprivileged; needs no_new_privs first.

    ABI 1  file system rights        ABI 4  TCP bind and connect (none allowed)
    ABI 2  REFER (reparenting)       ABI 5  IOCTL_DEV
    ABI 3  TRUNCATE                  ABI 6  scopes: abstract UNIX sockets and signals stay
                                            inside the domain
"""

from __future__ import annotations

import ctypes
import os
from collections.abc import Iterable

SYS_CREATE_RULESET, SYS_ADD_RULE, SYS_RESTRICT_SELF = 444, 445, 446
CREATE_RULESET_VERSION = 1
RULE_PATH_BENEATH = 1

EXECUTE, WRITE_FILE, READ_FILE, READ_DIR = 1 << 0, 1 << 1, 1 << 2, 1 << 3
REMOVE_DIR, REMOVE_FILE, MAKE_CHAR, MAKE_DIR = 1 << 4, 1 << 5, 1 << 6, 1 << 7
MAKE_REG, MAKE_SOCK, MAKE_FIFO, MAKE_BLOCK = 1 << 8, 1 << 9, 1 << 10, 1 << 11
MAKE_SYM, REFER, TRUNCATE, IOCTL_DEV = 1 << 12, 1 << 13, 1 << 14, 1 << 15
NET_BIND_TCP, NET_CONNECT_TCP = 1 << 0, 1 << 1
SCOPE_ABSTRACT_UNIX_SOCKET, SCOPE_SIGNAL = 1 << 0, 1 << 1

FILE_RIGHTS = EXECUTE | WRITE_FILE | READ_FILE | TRUNCATE | IOCTL_DEV
READ = READ_FILE | READ_DIR
# Everything in the working folder but running programs and making devices or sockets.
READ_WRITE = (READ | WRITE_FILE | REMOVE_DIR | REMOVE_FILE | MAKE_DIR | MAKE_REG | MAKE_FIFO
              | MAKE_SYM | REFER | TRUNCATE)

_libc = ctypes.CDLL(None, use_errno=True)
_libc.syscall.restype = ctypes.c_long


class RulesetAttr(ctypes.Structure):
    _fields_ = [("handled_access_fs", ctypes.c_uint64),
                ("handled_access_net", ctypes.c_uint64),
                ("scoped", ctypes.c_uint64)]


class PathBeneathAttr(ctypes.Structure):
    _pack_ = 1  # the kernel's struct is packed: 12 bytes
    _fields_ = [("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32)]


class LandlockError(OSError):
    """The kernel refused to build or apply the ruleset."""


def abi_version() -> int:
    """0 where the kernel has no Landlock (or it is disabled at boot)."""
    version = _libc.syscall(SYS_CREATE_RULESET, None, ctypes.c_size_t(0),
                            ctypes.c_uint32(CREATE_RULESET_VERSION))
    return max(int(version), 0)


def handled_fs(abi: int) -> int:
    rights = (1 << 13) - 1  # ABI 1: EXECUTE .. MAKE_SYM
    if abi >= 2:
        rights |= REFER
    if abi >= 3:
        rights |= TRUNCATE
    if abi >= 5:
        rights |= IOCTL_DEV
    return rights


def restrict(read_only: Iterable[str], read_write: Iterable[str]) -> int:
    """Allow reading under `read_only`, reading and writing under `read_write`, nothing else;
    no TCP (ABI 4), no signals or abstract sockets outside the domain (ABI 6). Returns the
    ABI version applied; raises LandlockError where Landlock is missing or refuses."""
    abi = abi_version()
    if abi < 1:
        raise LandlockError(0, "Landlock is not available in this kernel")
    handled = handled_fs(abi)
    attr = RulesetAttr(handled_access_fs=handled,
                       handled_access_net=(NET_BIND_TCP | NET_CONNECT_TCP) if abi >= 4 else 0,
                       scoped=(SCOPE_ABSTRACT_UNIX_SOCKET | SCOPE_SIGNAL) if abi >= 6 else 0)
    # Older kernels accept the larger struct as long as the fields they do not know are zero.
    ruleset = _libc.syscall(SYS_CREATE_RULESET, ctypes.byref(attr),
                            ctypes.c_size_t(ctypes.sizeof(RulesetAttr)),
                            ctypes.c_uint32(0))
    if ruleset < 0:
        raise _error("creating the ruleset")
    try:
        for paths, rights in ((read_only, READ), (read_write, READ_WRITE)):
            for path in paths:
                _allow(int(ruleset), path, rights & handled)
        if _libc.syscall(SYS_RESTRICT_SELF, ctypes.c_int(ruleset), ctypes.c_uint32(0)) != 0:
            raise _error("restricting the process")
    finally:
        os.close(int(ruleset))
    return abi


def _allow(ruleset: int, path: str, rights: int) -> None:
    try:
        fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
    except OSError:
        return  # a folder this machine does not have
    try:
        if not os.path.isdir(path):
            rights &= FILE_RIGHTS
        rule = PathBeneathAttr(allowed_access=rights, parent_fd=fd)
        if _libc.syscall(SYS_ADD_RULE, ctypes.c_int(ruleset), ctypes.c_int(RULE_PATH_BENEATH),
                         ctypes.byref(rule), ctypes.c_uint32(0)) != 0:
            raise _error(f"allowing {path}")
    finally:
        os.close(fd)


def _error(doing: str) -> LandlockError:
    number = ctypes.get_errno()
    return LandlockError(number, f"Landlock refused {doing}: {os.strerror(number)}")
