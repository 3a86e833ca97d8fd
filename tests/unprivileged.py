"""Run a command as an ordinary user, the way an instructor grades on a laptop.

Only root can set this up: it creates the system user `rg-instructor` (once), then runs the
command in a private mount namespace where any folder on the way to the interpreter, the venv
or the checkout that other users cannot enter (such as /root, home of a pyenv Python) is
replaced by an empty one holding just those folders — nothing else of /root is visible — and
finally drops to that user with no capabilities (util-linux's unshare and setpriv).
"""

from __future__ import annotations

import os
import pwd
import shlex
import subprocess
import sys
from pathlib import Path

USER = "rg-instructor"
ROOT = Path(__file__).resolve().parent.parent


def ensure_user() -> tuple[int, int]:
    try:
        entry = pwd.getpwnam(USER)
    except KeyError:
        subprocess.run(["useradd", "--system", "--no-create-home", "--shell",
                        "/usr/sbin/nologin", USER], check=True)
        entry = pwd.getpwnam(USER)
    return entry.pw_uid, entry.pw_gid


def _closed_ancestor(path: Path) -> Path | None:
    closed = None
    for folder in reversed([path, *path.parents]):
        if not folder.stat().st_mode & 0o001:
            closed = folder
            break
    return closed


def command_as_user(command: list[str], home: Path) -> list[str]:
    """`command`, to be run by root, that runs as USER with `home` as HOME."""
    uid, gid = ensure_user()
    needed = {Path(p).resolve() for p in (sys.base_prefix, sys.prefix, ROOT)}
    hidden: dict[Path, list[Path]] = {}
    for path in sorted(needed):
        closed = _closed_ancestor(path)
        if closed is not None:
            hidden.setdefault(closed, []).append(path)
    steps = []
    for closed, paths in hidden.items():
        stages = [f"/run/rg-stage-{os.getpid()}-{n}" for n in range(len(paths))]
        for stage, path in zip(stages, paths, strict=True):
            steps += [f"mkdir -p {stage}", f"mount --bind {shlex.quote(str(path))} {stage}"]
        steps.append(f"mount -t tmpfs -o mode=755 tmpfs {shlex.quote(str(closed))}")
        for stage, path in zip(stages, paths, strict=True):
            steps += [f"mkdir -p {shlex.quote(str(path))}",
                      f"mount --bind {stage} {shlex.quote(str(path))}",
                      f"umount -l {stage}", f"rmdir {stage}"]
    drop = (f"exec setpriv --reuid={uid} --regid={gid} --clear-groups --inh-caps=-all "
            f"--bounding-set=-all env HOME={shlex.quote(str(home))} \"$@\"")
    script = " && ".join([*steps, drop])
    return ["unshare", "--mount", "--propagation", "private", "bash", "-c", script, "as-user",
            *command]


def give_to_user(*paths: Path) -> None:
    uid, gid = ensure_user()
    for path in paths:
        for item in (path, *path.rglob("*")):
            os.chown(item, uid, gid)
