"""What isolation a submission got, measured from outside; what this machine can offer.

The grading process (trusted, outside the student process) reads the student process's /proc
entries once the walls are up and before the student's first line runs: seccomp mode,
no_new_privs, capabilities, uid, namespaces, open descriptors. Only Landlock leaves no trace
in /proc: it is probed by the student process itself, still running only the grader's code.
The grading process records the measurement in every results.json and refuses to grade where
a required layer is missing, unless the instructor explicitly accepts that.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
from typing import Any

REQUIRED = ("seccomp", "no_new_privs", "no_capabilities", "landlock", "descriptors")
DEFENCE_IN_DEPTH = ("mount_namespace", "network_namespace", "ipc_namespace", "pid_namespace",
                    "own_uid")
NAMESPACES = {"mount_namespace": "mnt", "network_namespace": "net", "ipc_namespace": "ipc",
              "pid_namespace": "pid"}
WHAT_TO_DO = {
    "seccomp": "install libseccomp (Debian/Ubuntu: apt-get install libseccomp2) on a kernel "
               "with seccomp filters",
    "landlock": "use a Linux kernel 5.13 or newer with Landlock enabled (lsm=...,landlock)",
    "no_new_privs": "use a Linux kernel 3.5 or newer",
    "no_capabilities": "run the grader as root or as an ordinary user, not with ambient "
                       "capabilities",
    "descriptors": "report this as a bug in rnn-grader",
}


def namespace_ids(pid: int | str = "self") -> dict[str, str]:
    ids = {}
    for layer, name in NAMESPACES.items():
        with contextlib.suppress(OSError):
            ids[layer] = os.readlink(f"/proc/{pid}/ns/{name}")
    return ids


def measure(pid: int, outside: dict[str, str], allowed_fds: int,
            probed: dict[str, Any]) -> dict[str, Any]:
    """Every layer, true or false, from the student process's /proc entries (and the probe
    for Landlock); `outside` are the namespaces the grader itself runs in."""
    status = _status(pid)
    inside = namespace_ids(pid)
    measured: dict[str, Any] = {
        "seccomp": status.get("Seccomp") == "2",
        "no_new_privs": status.get("NoNewPrivs") == "1",
        "no_capabilities": all(int(status.get(key, "1"), 16) == 0
                               for key in ("CapEff", "CapPrm", "CapAmb")),
        "landlock": bool(probed.get("landlock_probe")) and probed.get("landlock_abi", 0) > 0,
        "descriptors": _open_descriptors(pid) <= allowed_fds,
        "own_uid": int(status.get("Uid", "0").split()[0]) not in (0, os.getuid()),
        "landlock_abi": probed.get("landlock_abi", 0),
    }
    for layer in NAMESPACES:
        measured[layer] = layer in inside and inside[layer] != outside.get(layer)
    # A PID namespace of its own: the student process is its first process, PID 1 there (not
    # one more process in a namespace it shares with other submissions).
    measured["pid_namespace"] = measured["pid_namespace"] and \
        status.get("NSpid", "").split()[-1:] == ["1"]
    return measured


def missing(measured: dict[str, Any]) -> list[str]:
    return [layer for layer in REQUIRED if not measured.get(layer)]


def _status(pid: int) -> dict[str, str]:
    fields = {}
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            key, _, value = line.partition(":")
            fields[key] = value.strip()
    return fields


def _open_descriptors(pid: int) -> int:
    try:
        return len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return 10**6  # unknowable: count it as too many


# --- the machine, before any submission --------------------------------------------------

def machine_layers() -> dict[str, bool]:
    """Which required layers this machine offers, found without forking: Landlock's ABI and
    whether libseccomp loads (the kernel's seccomp support is checked per submission)."""
    from grader.isolation import landlock, seccomp_policy

    kernel_seccomp = "Seccomp" in _status(os.getpid())
    return {"landlock": landlock.abi_version() > 0,
            "seccomp": kernel_seccomp and seccomp_policy.available()}


def refusal(layers: list[str]) -> str:
    """One message naming the missing layers and what to do."""
    steps = "; ".join(f"{layer}: {WHAT_TO_DO.get(layer, 'see the README')}" for layer in layers)
    return (f"this machine cannot give submissions the {', '.join(layers)} layer(s) of the "
            f"sandbox ({steps}). Run the grader where they exist (a container or a newer "
            "kernel), or pass --allow-weak-isolation to grade anyway; every result is then "
            "marked as graded without those layers.")


# --- the grading process's own secrets ---------------------------------------------------

def make_undumpable() -> None:
    """This (the grading) process's /proc files, memory and environment then belong to root:
    out of reach of every process running as the same user, a sandbox that failed included."""
    ctypes.CDLL(None, use_errno=True).prctl(4, 0, 0, 0, 0)  # PR_SET_DUMPABLE


def scrub_initial_environment(name: str) -> None:
    """Overwrite NAME=value in the environment block the kernel copied in at exec, which
    /proc/PID/environ shows for the life of the process (os.environ.pop leaves it there)."""
    with open("/proc/self/stat", "rb") as stat:
        fields = stat.read().rsplit(b")", 1)[1].split()
    start, end = int(fields[47]), int(fields[48])  # env_start, env_end: fields 50 and 51
    block = (ctypes.c_char * (end - start)).from_address(start)
    prefix, offset = name.encode() + b"=", 0
    for entry in bytes(block).split(b"\0"):
        if entry.startswith(prefix):
            ctypes.memset(start + offset, 0, len(entry))
        offset += len(entry) + 1
