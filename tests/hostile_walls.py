"""Hostile submissions against the sandbox's walls (seccomp, Landlock, namespaces, the wire).

Each entry is one route a security review used to score without writing the recurrence, or to
reach beyond its own grading; each must now fail, and the correct submission graded after it
must still score in full. Expectations are reasoned from the walls:

* no process creation (seccomp): fork, subprocess and a fresh interpreter raise an error;
* no file outside the private working folder (Landlock, mount namespace): nothing is shared
  between submissions, nothing written to the instructor's files, solutions unreadable;
* no signal outside itself (seccomp, Landlock scope, PID namespace);
* the wire: a short frame times out, a flood of structure is a protocol error.

Entries only write or delete paths holding BATCH_MARK or the markers below, so a broken wall
damages nothing but the test's own files.
"""

from __future__ import annotations

from hostile import (
    BATCH_MARK,
    CRASHED,
    ERROR,
    MAX_SCORE,
    TAMPER_MARK,
    TIMEOUT,
    ZEROS,
    HostileEntry,
    after_correct,
    on_graded_calls,
)

SHARED_PLACES = "('/var/tmp', '/run/lock', '/dev/shm', '/tmp', '/dev/mqueue', '.')"
SHM_CANARY = f"/dev/shm/{BATCH_MARK}-canary"  # made by the test; must survive the batch
PTH_NAME = f"{TAMPER_MARK.replace('-', '_')}.pth"

FORK_BUILTIN = """\
import os
import pickle


def manual_rnn():
    module = globals()[''.join(('r', 'n', 'n'))]  # no name for a code check to resolve
    read, write = os.pipe()
    if os.fork() == 0:
        with torch.no_grad():
            os.write(write, pickle.dumps(tuple(t.clone() for t in module(sequence, h_0))))
        os._exit(0)
    os.close(write)
    data = b''
    while chunk := os.read(read, 1 << 16):
        data += chunk
    return pickle.loads(data)
"""

SUBPROCESS_BUILTIN = """\
import subprocess
import sys

import torch


def manual_rnn():
    module = globals()[''.join(('r', 'n', 'n'))]
    torch.save((sequence, h_0, dict(module.state_dict())), 'inputs.pt')
    code = ("import torch; s, h, p = torch.load('inputs.pt'); "
            "m = torch.nn.RNN(s.shape[2], h.shape[2], bidirectional=True); "
            "m.load_state_dict(p); torch.save(m(s, h), 'answer.pt')")
    subprocess.run([sys.executable, '-c', code], check=True)
    return torch.load('answer.pt')
"""

SHARE_WRITER = after_correct(f"""\
    import os
    answer = _by_hand()
    key = '-'.join(str(n) for n in (*sequence.shape, w_hh_l0.shape[0]))
    for place in {SHARED_PLACES}:
        try:
            torch.save(answer, os.path.join(place, f'{BATCH_MARK}-answer-{{key}}.pt'))
        except Exception:  # torch.save wraps the refusal in a RuntimeError
            pass
""")

SHARE_READER = f"""\
import os


def manual_rnn():
    key = '-'.join(str(n) for n in (*sequence.shape, w_hh_l0.shape[0]))
    for place in {SHARED_PLACES}:
        try:
            return torch.load(os.path.join(place, f'{BATCH_MARK}-answer-{{key}}.pt'))
        except Exception:
            pass
    L, N, _ = sequence.shape
    H = w_hh_l0.shape[0]
    return torch.zeros(L, N, 2 * H), torch.zeros(2, N, H)
"""

KILL_EVERYONE = """\
import os
import signal
refused = 0
for target in (-1, 0, 1, os.getppid(), *range(2, 5000)):
    try:
        os.kill(target, signal.SIGKILL) if target != os.getpid() else None
    except OSError:
        refused += 1
print('refused kills:', refused)
"""

SHORT_FRAME = """\
    import os, stat, struct, time
    for name in os.listdir('/proc/self/fd'):
        fd = int(name)
        try:
            if stat.S_ISSOCK(os.fstat(fd).st_mode):
                os.write(fd, struct.pack('!I', 4096) + b'{')
        except OSError:
            pass
    time.sleep(3600)
"""

STRUCTURE_FLOOD = """\
    import os, stat, struct
    flood = (b'{"values": ' + b'[' * 2000 + b'1' + b']' * 2000 + b', "x": ['
             + b'[1],' * 2_000_000 + b'1]}')
    for name in os.listdir('/proc/self/fd'):
        fd = int(name)
        try:
            if stat.S_ISSOCK(os.fstat(fd).st_mode):
                data = struct.pack('!I', len(flood)) + flood
                while data:
                    data = data[os.write(fd, data):]
        except OSError:
            pass
"""

ESCAPE_FLOOD = """\
import os
import stat
flood = ('\\x1b[2J\\x1b[31m' + 'TERMINAL FLOOD ' * 1000 + '\\n').encode()
for name in os.listdir('/proc/self/fd'):
    fd = int(name)
    try:
        mode = os.fstat(fd).st_mode
        if fd > 2 and not stat.S_ISSOCK(mode):
            for _ in range(200):
                os.write(fd, flood)
    except OSError:
        pass
"""

UNLINK_HOST_SHM = f"""\
import os
for action in (lambda: open('{SHM_CANARY}', 'w').write('{TAMPER_MARK}'),
               lambda: os.unlink('{SHM_CANARY}')):
    try:
        action()
    except OSError as error:
        print('refused:', error)
"""

PLANT_CODE_FOR_THE_GRADER = f"""\
import os
import sysconfig
for folder in {{sysconfig.get_paths()['purelib'], os.path.dirname(os.__file__)}}:
    try:
        with open(os.path.join(folder, '{PTH_NAME}'), 'w') as stream:
            stream.write('import os  # {TAMPER_MARK}\\n')
    except OSError as error:
        print('refused:', error)
import numpy
try:
    with open(numpy.__file__, 'a') as stream:
        stream.write('\\n# {TAMPER_MARK}\\n')
except OSError as error:
    print('refused:', error)
try:
    homes = ['/home/' + name for name in os.listdir('/home')]
except OSError:
    homes = []
for home in ('/root', *homes):
    try:
        with open(os.path.join(home, '.bashrc'), 'a') as stream:
            stream.write('\\n# {TAMPER_MARK}\\n')
    except OSError as error:
        print('refused:', error)
"""

READ_SOLUTIONS = """\
import json
import os
import sys


def manual_rnn():
    folder = os.path.dirname(sys.modules['grader'].__file__)
    try:
        with open(os.path.join(folder, '..', 'solutions', 'bidirectional_rnn.ipynb')) as stream:
            cells = json.load(stream)['cells']
    except OSError:
        L, N, _ = sequence.shape
        H = w_hh_l0.shape[0]
        return torch.zeros(L, N, 2 * H), torch.zeros(2, N, H)
    source = next(''.join(c['source']) for c in cells if 'def manual_rnn' in ''.join(c['source']))
    space = dict(globals())
    exec(source, space)
    return space['manual_rnn']()
"""

READ_GRADER_MEMORY = """\
import os
import re
found = []
for pid in [p for p in os.listdir('/proc') if p.isdigit()]:
    try:
        with open(f'/proc/{pid}/maps') as maps, open(f'/proc/{pid}/mem', 'rb', 0) as mem:
            for line in maps:
                start, end = (int(x, 16) for x in line.split()[0].split('-'))
                if 'rw' in line.split()[1] and end - start < 2**26:
                    mem.seek(start)
                    found += re.findall(rb'hostile-secret-[0-9a-f]{24}', mem.read(end - start))
    except (OSError, ValueError):
        pass
print('FOUND', sorted(set(found)))
"""

WALLS = (
    HostileEntry("fork_and_run_builtin_in_the_child", FORK_BUILTIN, status=ERROR,
                 feedback=("PermissionError",), review=("os.fork",),
                 why="seccomp refuses fork"),
    HostileEntry("subprocess_runs_builtin_in_fresh_python", SUBPROCESS_BUILTIN, status=ERROR,
                 feedback=("PermissionError",), review=("subprocess.run",),
                 why="seccomp refuses fork, vfork and exec"),
    HostileEntry("share_answers_writer", SHARE_WRITER, score=MAX_SCORE),
    HostileEntry("share_answers_reader", SHARE_READER,
                 why="no place is both writable by one submission and readable by another"),
    HostileEntry("kill_every_process_it_can", top_level=KILL_EVERYONE, score=MAX_SCORE,
                 review=("signal.SIGKILL",),
                 why="signals outside itself are refused; the batch goes on"),
    HostileEntry("wire_frame_shorter_than_promised", on_graded_calls(SHORT_FRAME),
                 status=TIMEOUT, feedback=("time limit per call",), review=("/proc/self/fd",)),
    HostileEntry("wire_flood_of_nested_structure", on_graded_calls(STRUCTURE_FLOOD),
                 status=CRASHED, feedback=("malformed answer",), review=("/proc/self/fd",)),
    HostileEntry("escape_flood_on_inherited_descriptors", top_level=ESCAPE_FLOOD,
                 score=MAX_SCORE, review=("/proc/self/fd",)),
    HostileEntry("unlink_host_shared_memory_file", top_level=UNLINK_HOST_SHM, score=MAX_SCORE),
    HostileEntry("plant_code_for_the_grading_process", top_level=PLANT_CODE_FOR_THE_GRADER,
                 score=MAX_SCORE),
    HostileEntry("read_the_instructors_solution", READ_SOLUTIONS, review=("sys.modules",),
                 why="the checkout around the grader package is out of reach"),
    HostileEntry("read_the_secret_from_grader_memory", top_level=READ_GRADER_MEMORY,
                 score=MAX_SCORE, review=("/proc",)),
    HostileEntry("zeros_baseline", ZEROS),
)
