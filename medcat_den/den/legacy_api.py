"""``LegacyDenAPI``: medcat-den 0.6.0's ``Den`` methods on our :class:`~medcat_den.den.Den`.

Config: none (a mixin; the multi-backend routing is set by
:func:`medcat_den.den.legacy_resolver.get_default_den` from ``MEDCAT_DEN_BACKENDS_JSON``).

Every 0.6.0 method takes ``backend_name``: ``None`` is this den, a name is one of the
backends it was resolved with (``"default"`` for a single den). ``fetch_model`` and
``push_model`` (ours) gain 0.6.0's ``backend_name`` (also positional, where 0.6.0 code
passes it) and ``push_unchanged`` through :meth:`LegacyDenAPI.__init_subclass__`, and
``fetch_model`` also takes 0.6.0 ids (MedCAT model hashes). Everything is done through
the den's public API and :func:`medcat_den.den.sync.sync_dens`; fine-tuning and
evaluation through the registered :mod:`~medcat_den.den.model_services`.
See adrs/0900-medcat-den-060-compat-layer.md.
"""

from __future__ import annotations

import functools
import inspect
import logging
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from medcat_den.backend import DenType
from medcat_den.den.legacy_model_info import LegacyModelInfo
from medcat_den.den.model_info import ModelInfo
from medcat_den.den.model_services import get_model_service
from medcat_den.errors import (
    AmbiguousRefError,
    BaseModelDeletionError,
    ConfigError,
    DuplicateModelException,
    InvalidNameError,
    ModelNotFoundError,
    NoSuchBackendException,
    NoSuchModel,
    UnsupportedAPIException,
)
from medcat_den.pack.names import CONTENT_ID_RE

if TYPE_CHECKING:
    from medcat_den.den.den import Den

logger = logging.getLogger(__name__)

DEFAULT_BACKEND = "default"  # 0.6.0's name of a single den's only backend


def _is_our_den(obj: Any) -> bool:
    return isinstance(obj, LegacyDenAPI)


class LegacyDenAPI:
    """The 0.6.0 methods (see the module docstring); mixed into :class:`~medcat_den.den.Den`."""

    _legacy_backends: dict[str, Any] | None = None
    _legacy_default: str = DEFAULT_BACKEND
    _legacy_type: DenType | None = None
    _legacy_multi: bool = False

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        for attr, wrap in (("__init__", _wrap_init), ("fetch_model", _wrap_fetch),
                           ("push_model", _wrap_push)):
            method = cls.__dict__.get(attr)
            if method is not None and not getattr(method, "_legacy_wrapped", False):
                setattr(cls, attr, wrap(method))

    # ----------------------------------------------------------------- backends
    def attach_backends(self, backends: dict[str, Any], default: str,
                        multi: bool = False) -> None:
        """Let ``backend_name=`` reach ``backends`` from this den (``None``: this den).

        ``multi``: this den stands for the multi-backend den (``den_type`` MULTI_BACKEND).
        """
        if default not in backends:
            raise NoSuchBackendException(
                f"default backend {default!r} is not one of {sorted(backends)}")
        self._legacy_backends = dict(backends)
        self._legacy_default = default
        self._legacy_multi = multi

    @classmethod
    def from_backends(cls, backends: dict[str, Any], default_backend_name: str) -> Any:
        """0.6.0's ``Den(backends, default_backend_name)``: a multi-backend den."""
        return cls(backends, default_backend_name)  # type: ignore[call-arg]

    # 0.6.0's private names, which its users' code and tests reach for
    @property
    def _backends(self) -> dict[str, Any]:
        return dict(self._legacy_backends or {DEFAULT_BACKEND: self})

    @property
    def _default_backend_name(self) -> str:
        return self._legacy_default

    @property
    def _default_backend(self) -> Any:
        return self._backends[self._legacy_default]

    def _get_backend(self, backend_name: str | None = None) -> Any:
        return self._default_backend if backend_name is None else self.get_backend(backend_name)

    @property
    def backend_names(self) -> list[str]:
        """The names ``backend_name=`` accepts."""
        return sorted(self._legacy_backends) if self._legacy_backends else [DEFAULT_BACKEND]

    def get_backend(self, backend_name: str | None = None) -> Any:
        """The den (or registered 0.6.0 backend) called ``backend_name``; None: this den."""
        if backend_name is None:
            return self
        if not isinstance(backend_name, str):
            raise TypeError(f"backend_name must be a str, not {type(backend_name).__name__}")
        backends = self._legacy_backends or {DEFAULT_BACKEND: self}
        if backend_name not in backends:
            raise NoSuchBackendException(
                f"No backend: {backend_name!r}; this den's backends: "
                f"{', '.join(self.backend_names)} (to filter models by name, pass name=...)")
        return backends[backend_name]

    @property
    def den_type(self) -> DenType:
        """MULTI_BACKEND for the den of MEDCAT_DEN_BACKENDS_JSON / ``Den(backends, ...)``, else
        its backend's type."""
        if self._legacy_multi:
            return DenType.MULTI_BACKEND
        if self._legacy_type is not None:
            return self._legacy_type
        backend = getattr(self, "backend", None)
        inner = getattr(backend, "inner", backend)
        if getattr(inner, "is_local", False):
            return DenType.LOCAL_MACHINE if getattr(inner, "shared", False) else DenType.LOCAL_USER
        return DenType.S3 if "s3" in type(inner).__name__.lower() else DenType.MEDCATTERY

    # ------------------------------------------------------------------- lookup
    def _den(self) -> Den:
        return self  # type: ignore[return-value]

    def legacy_resolve(self, model: Any, backend_name: str | None = None) -> str:
        """The content id for a 0.6.0 model info / id: a content id, a den ref or a MedCAT hash."""
        den = self._den()
        model_id = model.model_id if isinstance(model, ModelInfo) else model
        if not isinstance(model_id, str):
            raise TypeError(f"expected a ModelInfo or a model id, not {type(model).__name__}")
        if CONTENT_ID_RE.match(model_id):
            try:
                return den.resolve(model_id)
            except ModelNotFoundError:
                pass
        else:
            try:
                return den.resolve(model_id)
            except (InvalidNameError, ModelNotFoundError, AmbiguousRefError):
                pass
        # 0.6.0's ids are MedCAT model hashes: the info's own, or the id given
        hashes = {model_id}
        if isinstance(model, ModelInfo) and model.medcat_model_id:
            hashes.add(model.medcat_model_id)
        matches = [i for i in den.list_available_models() if i.medcat_model_id in hashes]
        if not matches:
            raise NoSuchModel(model, backend_name or self._legacy_default,
                              "(looked up as a content id, den ref and MedCAT model hash)")
        if len(matches) > 1:
            logger.info("MedCAT model hash %s names %d den models; using the newest",
                        model_id, len(matches))
        return matches[0].model_id

    def legacy_info(self, info: ModelInfo | str) -> LegacyModelInfo:
        """``info`` with 0.6.0's ``model_card`` and ``base_model`` (its root ancestor)."""
        den = self._den()
        cid = info.model_id if isinstance(info, ModelInfo) else den.resolve(info)
        full = info if isinstance(info, ModelInfo) and info.model_id == cid else den.info(cid)
        card = den.manifest(cid).model_card or None
        ancestors = den.lineage(cid)[1:]
        root = next((a for a in reversed(ancestors) if not a.parents), None)
        base = LegacyModelInfo.from_info(root) if root is not None else None
        return LegacyModelInfo.from_info(full, model_card=dict(card) if card else None,
                                         base_model=base)

    # ------------------------------------------------------------ 0.6.0 methods
    def legacy_list_models(self, backend_name: str | None = None,
                           name: str | None = None) -> list[Any]:
        """0.6.0's ``list_available_models(backend_name)`` (``Den`` calls it)."""
        target = self.get_backend(backend_name)
        if target is self:
            raise AssertionError("legacy_list_models is for another backend")
        if _is_our_den(target):
            return [target.legacy_info(i) for i in
                    target.list_available_models(name=name)]
        if name is not None:
            return [m for m in target.list_available_models() if getattr(m, "name", None) == name]
        return list(target.list_available_models())

    def list_available_base_models(self, backend_name: str | None = None) -> list[Any]:
        """Models with no parent (0.6.0: no base model), newest first."""
        target = self.get_backend(backend_name)
        if not _is_our_den(target):
            return list(target.list_available_base_models())
        return [target.legacy_info(i) for i in target.list_available_models() if not i.parents]

    def list_available_derivative_models(self, model: Any,
                                         backend_name: str | None = None) -> list[Any]:
        """Every model descended from ``model`` (0.6.0: whose base model it is)."""
        target = self.get_backend(backend_name)
        if not _is_our_den(target):
            return list(target.list_available_derivative_models(model))
        den = target._den()
        root = target.legacy_resolve(model, backend_name)
        out = []
        for info in den.list_available_models():
            if info.model_id != root and any(
                    a.model_id == root for a in den.lineage(info.model_id)[1:]):
                out.append(target.legacy_info(info))
        return out

    def has_model(self, model: Any, backend_name: str | None = None) -> bool:
        target = self.get_backend(backend_name)
        if not _is_our_den(target):
            return bool(target.has_model(model))
        try:
            target.legacy_resolve(model, backend_name)
        except NoSuchModel:
            return False
        return True

    def _push_model_from_file(self, file_path: str, description: str,
                              backend_name: str | None = None) -> Any:
        target = self.get_backend(backend_name)
        if not _is_our_den(target):
            return target._push_model_from_file(file_path, description)
        return target._den().push_model(file_path, description or "")

    def delete_model(self, model_info: Any, allow_delete_base_models: bool = False,
                     backend_name: str | None = None) -> None:
        """Delete a model; base models (no parent) only with ``allow_delete_base_models``.

        Unlike 0.6.0, a model other models descend from is kept (ModelInUseError).
        """
        if not isinstance(allow_delete_base_models, bool):
            raise TypeError("allow_delete_base_models must be a bool (0.6.0 order: "
                            "delete_model(model_info, allow_delete_base_models, backend_name))")
        target = self.get_backend(backend_name)
        if not _is_our_den(target):
            target.delete_model(model_info, allow_delete_base_models)
            return
        den = target._den()
        cid = target.legacy_resolve(model_info, backend_name)
        if not den.info(cid).parents and not allow_delete_base_models:
            raise BaseModelDeletionError(
                f"Unable to delete base model {cid[:12]}. Pass allow_delete_base_models=True "
                "to force.")
        den.delete(cid)

    def _two_backends(self, origin: str, destination: str) -> tuple[Any, Any]:
        if not self._legacy_backends:
            raise UnsupportedAPIException(
                "move_model / sync_backend need a multi-backend den (MEDCAT_DEN_BACKENDS_JSON)")
        for name in (origin, destination):
            if name not in self._legacy_backends:
                raise NoSuchBackendException(f"No backend: '{name}'")
        return self._legacy_backends[origin], self._legacy_backends[destination]

    def move_model(self, model_info: Any, origin: str, destination: str) -> None:
        """Copy a model (with its ancestors, ids unchanged) from one backend to another.

        Like 0.6.0 the origin keeps it ("move" copies).
        """
        src, dst = self._two_backends(origin, destination)
        if not self.has_model(model_info, backend_name=origin):
            raise NoSuchModel(model_info, origin)
        if self.has_model(model_info, backend_name=destination):
            raise DuplicateModelException(
                f"Model {getattr(model_info, 'model_id', model_info)} already exists in "
                f"{destination}")
        if _is_our_den(src) and _is_our_den(dst):
            from medcat_den.den.sync import sync_dens

            sync_dens(src._den(), dst._den(), [src.legacy_resolve(model_info, origin)])
            return
        logger.info("Moving model %s from %s to %s through a fetch and a push",
                    getattr(model_info, "model_id", model_info), origin, destination)
        cat = src.fetch_model(model_info)
        dst.push_model(cat, "Base model")

    def sync_backend(self, origin: str, destination: str) -> None:
        """Copy every model of ``origin`` that ``destination`` lacks."""
        src, dst = self._two_backends(origin, destination)
        if _is_our_den(src) and _is_our_den(dst):
            from medcat_den.den.sync import sync_dens

            sync_dens(src._den(), dst._den())
            return
        have = {m.model_id for m in dst.list_available_models()}
        for model in src.list_available_models():
            if model.model_id not in have:
                self.move_model(model, origin, destination)

    def finetune_model(self, model_info: Any, data: Any,
                       backend_name: str | None = None) -> Any:
        """Fine-tune the model on ``data`` (a MedCATtrainer export, or a list of paths to ones).

        Runs our trainer as a background job and waits for it; returns the pushed
        model's info (its ``parents`` / ``base_model`` give the lineage).
        """
        target = self.get_backend(backend_name)
        if not _is_our_den(target):
            return target.finetune_model(model_info, data)
        service = get_model_service("finetune_model")
        cid = target.legacy_resolve(model_info, backend_name)
        pushed = service.finetune(target._den(), cid, data)
        info: LegacyModelInfo = target.legacy_info(pushed)
        return info

    def evaluate_model(self, model_info: Any, data: Any,
                       backend_name: str | None = None) -> dict[str, Any]:
        """Micro precision / recall / F1 (strict and lenient, with tp/fp/fn) on ``data``."""
        target = self.get_backend(backend_name)
        if not _is_our_den(target):
            return dict(target.evaluate_model(model_info, data))
        service = get_model_service("evaluate_model")
        cid = target.legacy_resolve(model_info, backend_name)
        return service.evaluate(target._den(), cid, data)


# ------------------------------------------------------------------ method wrappers
def _split_backend(kwargs: dict[str, Any], positional: Any, what: str) -> str | None:
    backend_name = kwargs.pop("backend_name", None)
    if positional is not None:
        if backend_name is not None:
            raise TypeError(f"{what}() got backend_name both positionally and by keyword")
        backend_name = positional
    if backend_name is not None and not isinstance(backend_name, str):
        raise TypeError(f"backend_name must be a str, not {type(backend_name).__name__}")
    return backend_name


def _wrap_init(original: Callable[..., Any]) -> Callable[..., Any]:
    """Also accept 0.6.0's ``Den(backends, default_backend_name)``."""
    @functools.wraps(original)
    def __init__(self: LegacyDenAPI, *args: Any, **kwargs: Any) -> None:
        if "backends" in kwargs:
            backends = kwargs.pop("backends")
        elif args and isinstance(args[0], Mapping):
            backends, args = args[0], args[1:]
        else:
            original(self, *args, **kwargs)
            return
        if len(args) > 1 or set(kwargs) - {"default_backend_name"}:
            raise TypeError("Den(backends, default_backend_name) takes no other arguments")
        default = kwargs.pop("default_backend_name", args[0] if args else None)
        if not backends:
            raise ConfigError("Must provide at least one backend")
        if default not in backends:
            raise ConfigError(f"Default backend '{default}' not found in provided backends")
        base = backends[default]
        if not _is_our_den(base):
            raise UnsupportedAPIException(
                f"the default backend {default!r} must be one of our dens, not {type(base)}")
        original(self, base.backend, cache=base.cache, policy=base.policy, offline=base.offline,
                 label=base.label)
        self._legacy_type = getattr(base, "_legacy_type", None)
        self.attach_backends(dict(backends), default, multi=True)

    __init__._legacy_wrapped = True  # type: ignore[attr-defined]
    return __init__


def _wrap_fetch(original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    def fetch_model(self: LegacyDenAPI, *args: Any, **kwargs: Any) -> Any:
        if args:
            ref, args = args[0], args[1:]
        elif "model_info" in kwargs or "ref" in kwargs:  # 0.6.0's keyword: model_info=
            ref = kwargs.pop("model_info") if "model_info" in kwargs else kwargs.pop("ref")
        else:
            raise TypeError("fetch_model() missing the model (ref / model_info)")
        positional = None
        if args and (isinstance(args[0], str) or args[0] is None) and len(args) == 1:
            # 0.6.0: fetch_model(model_info, backend_name); ours: (ref, cat_class, ...)
            positional, args = args[0], ()
        backend_name = _split_backend(kwargs, positional, "fetch_model")
        target = self.get_backend(backend_name)
        if not _is_our_den(target):
            if args or kwargs:
                raise UnsupportedAPIException(
                    f"backend {backend_name!r} is a 0.6.0 backend: fetch_model(model_info) only")
            return target.fetch_model(ref)
        if isinstance(ref, ModelInfo) and not CONTENT_ID_RE.match(ref.model_id):
            ref = target.legacy_resolve(ref, backend_name)
        elif isinstance(ref, str) and target is self:
            try:
                return original(self, ref, *args, **kwargs)
            except ModelNotFoundError:
                cid = _medcat_hash_fallback(target, ref)
                if cid is None:
                    raise
                ref = cid
        if target is not self:
            return target.fetch_model(ref, *args, **kwargs)
        return original(self, ref, *args, **kwargs)

    _add_params(fetch_model, original, ["backend_name"])
    fetch_model._legacy_wrapped = True  # type: ignore[attr-defined]
    return fetch_model


def _medcat_hash_fallback(den: LegacyDenAPI, ref: str) -> str | None:
    """The den model a 0.6.0 id (a MedCAT model hash) names, if ``ref`` is one."""
    if not ref or not all(c in "0123456789abcdef" for c in ref) or CONTENT_ID_RE.match(ref):
        return None
    try:
        return den.legacy_resolve(ref)
    except NoSuchModel:
        return None


def _wrap_push(original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    def push_model(self: LegacyDenAPI, *args: Any, **kwargs: Any) -> Any:
        if args:
            model, args = args[0], args[1:]
        elif "cat" in kwargs or "model" in kwargs:  # 0.6.0's keyword: cat=
            model = kwargs.pop("cat") if "cat" in kwargs else kwargs.pop("model")
        else:
            raise TypeError("push_model() missing the model (cat / model)")
        if args:
            description, args = args[0], args[1:]
        else:
            description = kwargs.pop("description", "")
        if len(args) > 2:
            raise TypeError("push_model() takes (model, description, backend_name, "
                            "push_unchanged) positionally; pass the rest by keyword")
        positional = args[0] if args else None
        push_unchanged = kwargs.pop("push_unchanged", args[1] if len(args) > 1 else False)
        if not isinstance(push_unchanged, bool):
            raise TypeError("push_unchanged must be a bool")
        if description is None:
            description = ""
        if not isinstance(description, str):
            raise TypeError(f"description must be a str, not {type(description).__name__}")
        backend_name = _split_backend(kwargs, positional, "push_model")
        target = self.get_backend(backend_name)
        if not _is_our_den(target):
            if kwargs:
                raise UnsupportedAPIException(
                    f"backend {backend_name!r} is a 0.6.0 backend: push_model(cat, description, "
                    "push_unchanged=...) only")
            return target.push_model(model, description, push_unchanged=push_unchanged)
        if target is not self:
            return target.push_model(model, description, **kwargs)
        return original(self, model, description, **kwargs)

    _add_params(push_model, original, ["backend_name", "push_unchanged"])
    push_model._legacy_wrapped = True  # type: ignore[attr-defined]
    return push_model


def _add_params(wrapper: Any, original: Callable[..., Any], names: list[str]) -> None:
    """Show ``names`` as keyword-only parameters (default None/False) in the signature."""
    sig = inspect.signature(original)
    params = list(sig.parameters.values())
    var_kw = [p for p in params if p.kind is inspect.Parameter.VAR_KEYWORD]
    rest = [p for p in params if p.kind is not inspect.Parameter.VAR_KEYWORD]
    added = [inspect.Parameter(n, inspect.Parameter.KEYWORD_ONLY,
                               default=False if n == "push_unchanged" else None,
                               annotation="bool" if n == "push_unchanged" else "str | None")
             for n in names if n not in sig.parameters]
    wrapper.__signature__ = sig.replace(parameters=[*rest, *added, *var_kw])
