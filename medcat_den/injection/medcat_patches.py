"""``MedCATPatches``: the den-aware ``CAT.load_model_pack`` and ``CAT.save_model_pack``.

Config keys (constructor arguments): ``state`` (the
:class:`~medcat_den.injection.state.InjectionState` to consult on every call) and
``cat_class`` (the class to patch, default :class:`medcat.cat.CAT`).

The replacements ask ``state.current()`` on every call, so one patch serves every
thread and nesting level; with no injection in force for the caller they pass the
call through unchanged. ``load_model_pack`` stays a classmethod and fetches with
``cat_class=cls``, so ``MyCAT.load_model_pack`` returns a ``MyCAT``.
"""

from __future__ import annotations

import functools
import inspect
import logging
from typing import Any

from medcat_den.errors import ModelNotFoundError
from medcat_den.injection.patcher import ClassPatch
from medcat_den.injection.routing import den_ref_for_load, save_target
from medcat_den.injection.state import InjectionState

logger = logging.getLogger(__name__)


# MedCAT 2.9's parameter order, used only to find the arguments we route on; the call
# itself is passed on exactly as made.
def _load_signature(cls: Any, model_pack_path: Any, config_dict: Any = None,
                    addon_config_dict: Any = None, keep_addons_of_types: Any = None,
                    *args: Any, **kwargs: Any) -> None: ...


def _save_signature(self: Any, target_folder: Any, pack_name: Any = None,
                    serialiser_type: Any = None, make_archive: Any = None,
                    only_archive: Any = None, add_hash_to_pack_name: Any = None,
                    change_description: Any = None, *args: Any, **kwargs: Any) -> None: ...


_LOAD_SIG = inspect.signature(_load_signature)
_SAVE_SIG = inspect.signature(_save_signature)


def _bind(sig: inspect.Signature, *args: Any, **kwargs: Any) -> dict[str, Any] | None:
    try:
        bound = sig.bind(*args, **kwargs)
    except TypeError:
        return None  # let the original raise its own error
    return dict(bound.arguments)


def _accepts(func: Any, kwargs: dict[str, Any]) -> bool:
    try:
        params = inspect.signature(func).parameters
    except (TypeError, ValueError):
        return False
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        return True
    return all(k in params for k in kwargs)


class MedCATPatches:
    """Installs / removes the two CAT patches (see module docstring)."""

    def __init__(self, state: InjectionState, cat_class: type | None = None) -> None:
        if cat_class is None:
            from medcat.cat import CAT

            cat_class = CAT
        self.state = state
        self.cat_class = cat_class
        self.load_patch = ClassPatch(cat_class, "load_model_pack", self._make_load)
        self.save_patch = ClassPatch(cat_class, "save_model_pack", self._make_save)

    def install(self) -> None:
        self.load_patch.install()
        try:
            self.save_patch.install()
        except BaseException:
            self.load_patch.remove()
            raise

    def remove(self) -> None:
        self.save_patch.remove()
        self.load_patch.remove()

    # -- replacements --------------------------------------------------------------------------
    def _make_load(self, original: Any) -> Any:
        state = self.state
        raw = getattr(original, "__func__", original)

        @functools.wraps(raw)
        def load_model_pack(cls: Any, *args: Any, **kwargs: Any) -> Any:
            def call_original() -> Any:
                return original.__get__(None, cls)(*args, **kwargs)

            handle = state.current()
            if handle is None:
                return call_original()
            bound = _bind(_LOAD_SIG, cls, *args, **kwargs)
            if bound is None:
                return call_original()
            path = bound["model_pack_path"]
            ref = den_ref_for_load(path, handle.options)
            if ref is None:
                return call_original()
            extra: dict[str, Any] = {
                k: bound[k] for k in ("addon_config_dict", "keep_addons_of_types") if bound.get(k)
            }
            extra.update(bound.get("kwargs", {}))
            logger.info("Injected den: %s.load_model_pack(%r) -> fetching %r from the den",
                        cls.__name__, path, ref)
            with state.bypassed():
                den = handle.den
                try:
                    if not bound.get("args") and (not extra or _accepts(den.fetch_model, extra)):
                        return den.fetch_model(ref, cat_class=cls,
                                               config_dict=bound.get("config_dict"), **extra)
                    # addon options this den cannot pass on: MedCAT's own loader on the
                    # den's verified pack folder (the den does not record it as its source)
                    with den.materialise(ref) as folder:
                        if "model_pack_path" in kwargs:
                            kwargs["model_pack_path"] = folder
                        else:
                            args = (folder, *args[1:])
                        cat = original.__get__(None, cls)(*args, **kwargs)
                    if cls is not type(cat) and issubclass(cls, type(cat)):
                        cat.__class__ = cls
                    return cat
                except ModelNotFoundError as e:
                    if handle.options.prefix is None:
                        raise ModelNotFoundError(
                            f"{path!r} is neither an existing path nor a model in the den ({e}); "
                            "with den injection and no prefix, names that are not paths are "
                            "looked up in the den"
                        ) from e
                    raise

        return classmethod(load_model_pack)

    def _make_save(self, original: Any) -> Any:
        state = self.state

        @functools.wraps(original)
        def save_model_pack(self: Any, *args: Any, **kwargs: Any) -> Any:
            def call_original() -> Any:
                return original.__get__(self, type(self))(*args, **kwargs)

            handle = state.current()
            if handle is None or not handle.options.inject_save:
                return call_original()
            bound = _bind(_SAVE_SIG, self, *args, **kwargs)
            if bound is None:
                return call_original()
            target = save_target(bound["target_folder"], bound.get("pack_name"),
                                 bound.get("change_description"), handle.options)
            if target is None:
                return call_original()
            name, description = target.name, target.description
            pack_name = bound.get("pack_name")
            logger.info("Injected den: save_model_pack(%r, %r) -> pushing as %r to the den",
                        bound["target_folder"], pack_name, name)
            with state.bypassed():
                info = handle.den.push_model(self, description, name=name)
            ref = getattr(info, "ref", None) or str(getattr(info, "model_id", info))
            return (handle.options.prefix or "") + ref

        return save_model_pack
