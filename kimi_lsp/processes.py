"""Reaping the processes this server started, so that none outlives it.

Index workers are forked by multiprocessing's forkserver, which keeps them (and itself) alive after their
parent exits; the embedded engine has its own stop path. `kill_descendants` walks /proc (Linux; where there is
no /proc, a no-op) and SIGKILLs every process descended from this one: call it only on the way out.
`die_with_parent` covers the exits that run no code (a crash, SIGKILL): the kernel signals the child when its
parent dies. Importing this module needs nothing Linux-only (tests/unit/test_portability.py).
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys

PR_SET_PDEATHSIG = 1
# SIGKILL is POSIX's; on Windows os.kill with SIGTERM ends a process (TerminateProcess). Read at import, by
# name, so that importing this module never needs a signal the platform lacks.
KILL = getattr(signal, "SIGKILL", signal.SIGTERM)


def die_with_parent(sig: int | None = None) -> None:
    """Ask Linux to send `sig` (default SIGKILL) to this process when its parent (the thread that forked it)
    dies; elsewhere a no-op. If the parent is already gone (we were reparented to init), the signal comes at
    once."""
    if sys.platform.startswith("linux"):
        sig = KILL if sig is None else sig
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, sig, 0, 0, 0)
        if os.getppid() == 1:
            os.kill(os.getpid(), sig)


def _parents() -> dict[int, int]:
    parents: dict[int, int] = {}
    try:
        entries = os.listdir("/proc")
    except OSError:  # no /proc (macOS, Windows, a container without it)
        return parents
    for entry in entries:
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", encoding="utf-8", errors="replace") as stat:
                parents[int(entry)] = int(stat.read().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue  # the process went away meanwhile
    return parents


def descendants(pid: int) -> set[int]:
    if not os.path.isdir("/proc"):
        return set()
    parents = _parents()
    tree, grew = {pid}, True
    while grew:
        found = {child for child, parent in parents.items() if parent in tree} - tree
        tree |= found
        grew = bool(found)
    return tree - {pid}


def kill_descendants() -> None:
    for pid in descendants(os.getpid()):
        try:
            os.kill(pid, KILL)
        except OSError:
            continue
