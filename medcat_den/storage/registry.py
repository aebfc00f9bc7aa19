"""Backend types by name: built-ins, installed add-ons (entry points) and import paths.

``create_backend(type_name, config)`` builds a :class:`StoreBackend` from

* a built-in type (case-insensitive): ``LOCAL_USER`` / ``LOCAL_MACHINE``
  (:class:`LocalFolderBackend`; config keys ``root`` (alias ``path``), ``shared``)
  and ``S3`` (:class:`S3Backend`; see its config keys);
* an entry point in the group ``medcat_den.backends`` (the entry point's name,
  case-insensitive), which installable add-ons declare in their packaging metadata;
* an import path ``pkg.module.Class`` naming a ``StoreBackend`` subclass (mlup-style).

``config`` holds the class's keyword arguments. A class may define a
``from_config(config)`` classmethod to read them itself (``S3Backend`` does, to
refuse credentials and fall back to the environment).
"""

from __future__ import annotations

import importlib
import inspect
import os
from collections.abc import Callable, Mapping
from importlib.metadata import entry_points
from typing import Any

from medcat_den.errors import ConfigError
from medcat_den.storage.backend import StoreBackend

ENTRY_POINT_GROUP = "medcat_den.backends"
BUILTIN_TYPES = ("LOCAL_USER", "LOCAL_MACHINE", "S3")
APP = "medcat_den"


def default_local_root(den_type: str) -> str:
    """The default folder of a ``LOCAL_USER`` / ``LOCAL_MACHINE`` den."""
    import platformdirs

    if den_type.strip().upper() == "LOCAL_USER":
        return os.path.join(platformdirs.user_data_dir(APP), "den")
    # machine-wide: the platform's site data dir, never a world-writable temp folder
    return os.path.join(platformdirs.site_data_dir(APP), "den")


def _local_backend(kind: str) -> Callable[[dict[str, Any]], StoreBackend]:
    def build(cfg: dict[str, Any]) -> StoreBackend:
        from medcat_den.storage.local import LocalFolderBackend

        root = cfg.pop("root", None) or cfg.pop("path", None) or default_local_root(kind)
        shared = bool(cfg.pop("shared", kind == "LOCAL_MACHINE"))
        if cfg:
            raise ConfigError(
                f"unknown config keys for {kind}: {sorted(cfg)} (valid: root, shared)")
        return LocalFolderBackend(str(root), shared=shared)

    return build


def _s3_backend(cfg: dict[str, Any]) -> StoreBackend:
    from medcat_den.storage.s3 import S3Backend

    path = cfg.pop("path", None)
    if path is not None:  # MEDCAT_DEN_PATH=s3://bucket/prefix
        if not str(path).startswith("s3://") or "url" in cfg:
            raise ConfigError("an S3 den's location is s3://bucket/prefix (config key 'url')")
        cfg["url"] = str(path)
    return S3Backend.from_config(cfg)


_BUILTINS: dict[str, Callable[[dict[str, Any]], StoreBackend]] = {
    "LOCAL_USER": _local_backend("LOCAL_USER"),
    "LOCAL_MACHINE": _local_backend("LOCAL_MACHINE"),
    "S3": _s3_backend,
}


def _entry_points() -> dict[str, Any]:
    return {ep.name.upper(): ep for ep in entry_points(group=ENTRY_POINT_GROUP)}


def available_backend_types() -> list[str]:
    """Built-in and installed (entry point) type names; import paths are accepted too."""
    return [*BUILTIN_TYPES, *sorted(set(_entry_points()) - set(BUILTIN_TYPES))]


def _valid_hint() -> str:
    return (f"valid types: {', '.join(available_backend_types())}, or an import path "
            "pkg.module.Class naming a StoreBackend subclass")


def _import_path(path: str) -> Any:
    module_name, _, attr = path.rpartition(".")
    if not module_name or not attr:
        raise ConfigError(f"unknown den type {path!r}; {_valid_hint()}")
    try:
        module = importlib.import_module(module_name)
    except ImportError as e:
        raise ConfigError(f"den type {path!r}: cannot import module {module_name!r} ({e})") from e
    try:
        return getattr(module, attr)
    except AttributeError:
        raise ConfigError(f"den type {path!r}: module {module_name!r} has no {attr!r}") from None


def resolve_backend_class(type_name: str) -> Any:
    """The class (or factory) a type name stands for; raise ConfigError listing valid names."""
    if not isinstance(type_name, str) or not type_name.strip():
        raise ConfigError(f"empty den type; {_valid_hint()}")
    name = type_name.strip()
    if name.upper() in _BUILTINS:
        return _BUILTINS[name.upper()]
    eps = _entry_points()
    if name.upper() in eps:
        try:
            return eps[name.upper()].load()
        except Exception as e:  # noqa: BLE001 - a broken add-on must name itself
            raise ConfigError(f"den type {name!r} (entry point) failed to load: {e}") from e
    if "." in name:
        return _import_path(name)
    raise ConfigError(f"unknown den type {type_name!r}; {_valid_hint()}")


def create_backend(type_name: str, config: Mapping[str, Any] | None = None) -> StoreBackend:
    """Build the backend ``type_name`` with keyword arguments ``config``."""
    if config is not None and not isinstance(config, Mapping):
        raise ConfigError(f"config of den type {type_name!r} must be a mapping of keyword "
                          "arguments")
    cfg = {str(k): v for k, v in (config or {}).items()}
    target = resolve_backend_class(type_name)
    if target in _BUILTINS.values():
        backend: Any = target(cfg)
    elif inspect.isclass(target):
        if not issubclass(target, StoreBackend):
            raise ConfigError(f"den type {type_name!r} is not a StoreBackend subclass")
        if inspect.isabstract(target):
            raise ConfigError(f"den type {type_name!r} is abstract (it leaves methods "
                              "unimplemented)")
        backend = _construct(type_name, target, cfg)
    elif callable(target):
        backend = _construct(type_name, target, cfg)
    else:
        raise ConfigError(f"den type {type_name!r} is neither a class nor a factory")
    if not isinstance(backend, StoreBackend):
        raise ConfigError(f"den type {type_name!r} did not produce a StoreBackend")
    return backend


def _construct(type_name: str, target: Any, cfg: dict[str, Any]) -> Any:
    from_config = getattr(target, "from_config", None)
    if inspect.isclass(target) and callable(from_config):
        return from_config(cfg)
    try:
        inspect.signature(target).bind(**cfg)
    except TypeError as e:
        # names only: values may be secrets
        raise ConfigError(f"invalid config keys {sorted(cfg)} for den type {type_name!r}: {e}"
                          ) from None
    except ValueError:
        pass  # no signature available: let the call decide
    return target(**cfg)
