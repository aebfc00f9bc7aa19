"""medcat-den 0.6.0's ``medcat_den.injection.medcat_injector``, over our injection.

Config: the arguments of :func:`inject_into_medcat` (0.6.0's defaults: ``den_getter``
:func:`medcat_den.den.get_default_den`, no mapper, ``prefix=''``, ``inject_save=False``).
Unlike ``medcat_den.injection.inject_into_medcat`` these take 0.6.0's explicit defaults,
so ``MEDCAT_DEN_INJECT_*`` do not apply. An empty prefix means "no prefix": existing
paths still load from disk (see docs/migrating-from-medcat-den.md).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from medcat.cat import CAT
from medcat.utils.defaults import DEFAULT_PACK_NAME

from medcat_den.den import Den, get_default_den
from medcat_den.injection import api
from medcat_den.injection.options import InjectionOptions
from medcat_den.injection.routing import den_ref_for_load, save_target

logger = logging.getLogger(__name__)

Mapper = Callable[[str], str] | dict[str, str] | None

# what CAT had before any den injection (the den patches keep the originals)
_ORIG_CAT_LOAD_MODEL_PACK = CAT.load_model_pack
_ORIG_CAT_SAVE_MODEL_PACK = CAT.save_model_pack
if api._patches is not None and api._patches.load_patch.installed:
    _ORIG_CAT_LOAD_MODEL_PACK = api._patches.load_patch.original.__get__(None, CAT)
    _ORIG_CAT_SAVE_MODEL_PACK = api._patches.save_patch.original


def _options(den: Den | Callable[[], Den], model_name_mapper: Mapper, prefix: str,
             inject_save: bool) -> InjectionOptions:
    getter = den if callable(den) and not isinstance(den, Den) else (lambda: den)
    return InjectionOptions.resolve(getter, model_name_mapper, prefix or None, inject_save,
                                    environ={})


def injected_load_model_pack(model_pack_name: str, *args: Any, prefix: str, den: Den,
                             model_name_mapper: Mapper = None, **kwargs: Any) -> CAT:
    """0.6.0: load ``model_pack_name`` from ``den`` (or disk, by the prefix rule)."""
    ref = den_ref_for_load(model_pack_name, _options(den, model_name_mapper, prefix, False))
    if ref is None:
        logger.info("Loading model directly off of disk: %s", model_pack_name)
        with api.STATE.bypassed():
            return CAT.load_model_pack(model_pack_name, *args, **kwargs)
    logger.info("Loading model by ID %r (named %r)", ref, model_pack_name)
    with api.STATE.bypassed():
        return den.fetch_model(ref, *args, **kwargs)


def is_injected_for_save() -> bool:
    """Whether a den injection with ``inject_save`` applies to the calling code."""
    handle = api.current_injection()
    return handle is not None and handle.options.inject_save


def injected_save_model_pack(prefix: str, den: Den) -> Callable[..., Any]:
    """0.6.0: a ``save_model_pack`` replacement that pushes to ``den``."""
    def _wrapper_method(cat: CAT, target_folder: str, pack_name: str = DEFAULT_PACK_NAME,
                        *args: Any, **kwargs: Any) -> Any:
        options = _options(den, None, prefix, True)
        target = save_target(target_folder, pack_name, kwargs.get("change_description"),
                             options)
        if target is None:
            with api.STATE.bypassed():
                return cat.save_model_pack(target_folder, pack_name, *args, **kwargs)
        logger.info("Pushing model with description %r", target.description)
        with api.STATE.bypassed():
            return den.push_model(cat, target.description, name=target.name)
    return _wrapper_method


def inject_into_medcat(
        den_getter: Callable[[], Den] = get_default_den,
        model_name_mapper: Mapper = None,
        prefix: str = '',
        inject_save: bool = False,
        ) -> None:
    """0.6.0: make ``CAT.load_model_pack`` (and with ``inject_save`` ``save_model_pack``) use the den.

    Until :func:`uninject_into_medcat`. The den is made now (``den_getter()``), as in 0.6.0.
    """
    den = den_getter()
    api.inject_into_medcat(lambda: den, model_name_mapper, prefix or None, inject_save)


def uninject_into_medcat() -> None:
    """0.6.0: undo every process-wide injection (``with`` blocks end with their block)."""
    logger.info("Undoing injection")
    while api.uninject_into_medcat():
        pass


@contextmanager
def injected_den(
        den_getter: Callable[[], Den] = get_default_den,
        model_name_mapper: Mapper = None,
        prefix: str = '',
        inject_save: bool = False,
        ) -> Iterator[None]:
    """0.6.0: a process-wide injection for the block, then whatever applied before."""
    with api.injected_den(den_getter, model_name_mapper, prefix or None, inject_save,
                          process_wide=True):
        yield
