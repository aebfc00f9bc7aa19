"""Fault injection for crash tests: count backend writes, die after the Nth.

Environment (read at every write, so a test can set it per process):
    MEDCAT_DEN_FAULT_KILL_AFTER_WRITES (int): the process SIGKILLs itself right
        after its Nth completed backend write (object put, ref write, delete).
    MEDCAT_DEN_FAULT_LOG (str): a file to which every write appends one line,
        ``<n> <operation> <key>``, flushed and fsynced before any kill.

Backends mark their write methods with :func:`counts_write`. In-process tests
can watch writes with :func:`observe` instead. With neither variable set and no
observer, a write costs one environment lookup.
"""

from __future__ import annotations

import contextlib
import functools
import os
import signal
import threading
from collections.abc import Callable, Iterator
from typing import Concatenate, ParamSpec, TypeVar

ENV_KILL_AFTER = "MEDCAT_DEN_FAULT_KILL_AFTER_WRITES"
ENV_LOG = "MEDCAT_DEN_FAULT_LOG"

P = ParamSpec("P")
R = TypeVar("R")
S = TypeVar("S")

#: ``(write number, operation, key)`` -> None, called after each write.
Observer = Callable[[int, str, str], None]

_lock = threading.Lock()
_count = 0
_observers: list[Observer] = []


def after_write(operation: str, key: str) -> None:
    """Record one completed backend write; kill the process if it is the chosen one."""
    global _count
    kill_after = os.environ.get(ENV_KILL_AFTER)
    log = os.environ.get(ENV_LOG)
    if not (kill_after or log or _observers):
        return
    with _lock:
        _count += 1
        n = _count
        observers = list(_observers)
    if log:
        with open(log, "a", encoding="utf-8") as f:
            f.write(f"{n} {operation} {key}\n")
            f.flush()
            os.fsync(f.fileno())
    for observer in observers:
        observer(n, operation, key)
    if kill_after and n == int(kill_after):
        os.kill(os.getpid(), signal.SIGKILL)


def counts_write(
    method: Callable[Concatenate[S, str, P], R],
) -> Callable[Concatenate[S, str, P], R]:
    """Decorate a backend write method whose first argument is the key."""

    @functools.wraps(method)
    def wrapper(self: S, key: str, /, *args: P.args, **kwargs: P.kwargs) -> R:
        result = method(self, key, *args, **kwargs)
        after_write(method.__name__, key)
        return result

    return wrapper


@contextlib.contextmanager
def observe(callback: Observer) -> Iterator[None]:
    """Call ``callback(n, operation, key)`` after every backend write in this process.

    ``n`` counts from 1 inside the block (writes the callback makes are counted
    but not reported to it again).
    """
    local = threading.local()

    def guarded(n: int, operation: str, key: str) -> None:
        if getattr(local, "busy", False):
            return
        local.busy = True
        try:
            callback(n - start, operation, key)
        finally:
            local.busy = False

    with _lock:
        start = _count
        _observers.append(guarded)
    try:
        yield
    finally:
        with _lock:
            _observers.remove(guarded)


def write_count() -> int:
    """Backend writes counted in this process so far (only while counting is on)."""
    return _count


