"""The public injection API: ``inject_into_medcat``, ``uninject_into_medcat``, ``injected_den``.

Options (each may be omitted; see :mod:`medcat_den.injection.options`: explicit
argument > ``MEDCAT_DEN_INJECT_*`` environment variable > default):
``den_getter``, ``model_name_mapper``, ``prefix``, ``inject_save``.

``inject_into_medcat`` is process-wide (every thread sees it) and stacks: each call
pushes, each ``uninject_into_medcat()`` removes the latest one (or the given handle)
and the one before applies again. ``with injected_den(...)`` applies only to the
code running in the block's own thread / asyncio task (``process_wide=True`` makes
it process-wide) and, on exit, restores whatever applied before. The MedCAT patches
go on with the first injection and come off, restoring exactly the attributes that
were there, with the last. See adrs/0500-injection-scope-and-nesting.md.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from medcat_den.injection.medcat_patches import MedCATPatches
from medcat_den.injection.options import (
    UNSET,
    DenGetter,
    InjectionOptions,
    ModelNameMapper,
    Unset,
)
from medcat_den.injection.state import InjectionHandle, InjectionState

_patches: MedCATPatches | None = None
_patches_lock = threading.Lock()


def _ensure_patches() -> MedCATPatches:
    # imports MedCAT; done before taking the state lock so no import runs under it
    global _patches
    with _patches_lock:
        if _patches is None:
            _patches = MedCATPatches(STATE)
        return _patches


def _install() -> None:
    _ensure_patches().install()


def _remove() -> None:
    with _patches_lock:
        if _patches is not None:
            _patches.remove()


STATE = InjectionState(on_first_active=_install, on_last_inactive=_remove)

MapperArg = ModelNameMapper | str | os.PathLike[str] | None | Unset


def inject_into_medcat(
    den_getter: DenGetter | Unset = UNSET,
    model_name_mapper: MapperArg = UNSET,
    prefix: str | None | Unset = UNSET,
    inject_save: bool | Unset = UNSET,
) -> InjectionHandle:
    """Make ``CAT.load_model_pack`` (and, with ``inject_save``, ``save_model_pack``) use the den.

    Process-wide, until the matching :func:`uninject_into_medcat`. Returns a handle that
    ``uninject_into_medcat(handle)`` accepts and whose ``.den`` is the den in use.
    """
    options = InjectionOptions.resolve(den_getter, model_name_mapper, prefix, inject_save)
    handle = InjectionHandle(options, process_wide=True)
    _ensure_patches()
    STATE.push_global(handle)
    return handle


def uninject_into_medcat(handle: InjectionHandle | None = None) -> bool:
    """Undo the latest process-wide injection (or ``handle``); False if there was none.

    ``with injected_den(...)`` blocks are left alone: they end with their block.
    """
    return STATE.remove_global(handle) is not None


@contextmanager
def injected_den(
    den_getter: DenGetter | Unset = UNSET,
    model_name_mapper: MapperArg = UNSET,
    prefix: str | None | Unset = UNSET,
    inject_save: bool | Unset = UNSET,
    *,
    process_wide: bool = False,
) -> Iterator[InjectionHandle]:
    """Inject the den for the block; on exit whatever applied before applies again.

    By default only the thread / asyncio task running the block sees the injection
    (threads started inside do not: pass ``process_wide=True``, or run them in
    ``contextvars.copy_context()``).
    """
    options = InjectionOptions.resolve(den_getter, model_name_mapper, prefix, inject_save)
    handle = InjectionHandle(options, process_wide=process_wide)
    _ensure_patches()
    if process_wide:
        STATE.push_global(handle)
        try:
            yield handle
        finally:
            STATE.remove_global(handle)
    else:
        with STATE.local(handle):
            yield handle


def current_injection() -> InjectionHandle | None:
    """The injection that applies to the calling code, if any."""
    return STATE.current()
