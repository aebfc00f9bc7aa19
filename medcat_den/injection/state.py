"""``InjectionState``: which injection (if any) applies to the calling code.

Config keys (constructor arguments): ``on_first_active`` / ``on_last_inactive``:
callables run (under the state's lock) when the first injection of any kind starts
and when the last one ends; they put the MedCAT patches on and take them off.

Two stacks (see adrs/0500-injection-scope-and-nesting.md):

- a process-wide stack (``inject_into_medcat`` / ``injected_den(process_wide=True)``),
  seen by every thread;
- a context-local stack (``with injected_den(...)``), a :class:`contextvars.ContextVar`,
  so it is seen by the thread (or asyncio task) that opened the block and by nothing
  else. An open block wins over the process-wide stack.

Each push is undone by removing that very entry, so leaving an inner injection brings
back the outer one, whatever order other threads push and pop in.
"""

from __future__ import annotations

import contextvars
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from medcat_den.injection.options import DenLike, InjectionOptions


class InjectionHandle:
    """One active injection: its options and (created on first use) its den."""

    def __init__(self, options: InjectionOptions, process_wide: bool) -> None:
        self.options = options
        self.process_wide = process_wide
        self._den: DenLike | None = None
        self._lock = threading.Lock()

    @property
    def den(self) -> DenLike:
        """The den this injection loads from / pushes to (``den_getter()`` called once)."""
        with self._lock:
            if self._den is None:
                self._den = self.options.den_getter()
            return self._den

    def __repr__(self) -> str:
        o = self.options
        scope = "process" if self.process_wide else "context"
        return (f"InjectionHandle(scope={scope}, prefix={o.prefix!r}, "
                f"inject_save={o.inject_save}, mapper={o.model_name_mapper is not None})")


class InjectionState:
    """The process-wide and context-local injection stacks (see module docstring)."""

    def __init__(self, on_first_active: Callable[[], None],
                 on_last_inactive: Callable[[], None]) -> None:
        self.lock = threading.RLock()
        self._on_first = on_first_active
        self._on_last = on_last_inactive
        self._global: list[InjectionHandle] = []
        self._local: contextvars.ContextVar[tuple[InjectionHandle, ...]] = contextvars.ContextVar(
            f"medcat_den_injection_{id(self)}", default=()
        )
        self._bypass: contextvars.ContextVar[bool] = contextvars.ContextVar(
            f"medcat_den_injection_bypass_{id(self)}", default=False
        )
        self._active = 0

    # -- queries -------------------------------------------------------------------------------
    def current(self) -> InjectionHandle | None:
        """The injection that applies to the caller, or None (also while bypassed)."""
        if self._bypass.get():
            return None
        local = self._local.get()
        if local:
            return local[-1]
        with self.lock:
            return self._global[-1] if self._global else None

    @property
    def active_count(self) -> int:
        with self.lock:
            return self._active

    def process_wide(self) -> list[InjectionHandle]:
        with self.lock:
            return list(self._global)

    # -- activation counting ---------------------------------------------------------------------
    def _activate(self) -> None:
        if self._active == 0:
            self._on_first()
        self._active += 1

    def _deactivate(self) -> None:
        self._active -= 1
        if self._active == 0:
            self._on_last()

    # -- process-wide stack --------------------------------------------------------------------
    def push_global(self, handle: InjectionHandle) -> None:
        with self.lock:
            self._activate()
            self._global.append(handle)

    def remove_global(self, handle: InjectionHandle | None = None) -> InjectionHandle | None:
        """Remove ``handle`` (default: the latest process-wide injection); None if none."""
        with self.lock:
            if handle is None:
                if not self._global:
                    return None
                handle = self._global[-1]
            # identity, not equality: the same options may be injected twice
            for i in range(len(self._global) - 1, -1, -1):
                if self._global[i] is handle:
                    del self._global[i]
                    break
            else:
                return None
            self._deactivate()
            return handle

    # -- context-local stack -------------------------------------------------------------------
    @contextmanager
    def local(self, handle: InjectionHandle) -> Iterator[InjectionHandle]:
        with self.lock:
            self._activate()
        try:
            token = self._local.set(self._local.get() + (handle,))
        except BaseException:
            with self.lock:
                self._deactivate()
            raise
        try:
            yield handle
        finally:
            self._local.reset(token)
            with self.lock:
                self._deactivate()

    @contextmanager
    def bypassed(self) -> Iterator[None]:
        """Within this block (this thread/context only) MedCAT calls pass straight through.

        Used around the den's own work so a den that saves or loads packs with MedCAT
        never re-enters the injection.
        """
        token = self._bypass.set(True)
        try:
            yield
        finally:
            self._bypass.reset(token)
