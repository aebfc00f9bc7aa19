"""Which den to use: explicit arguments > environment > defaults.

Environment:
    MEDCAT_DEN_TYPE: ``LOCAL_USER`` (default), ``LOCAL_MACHINE`` (case-insensitive),
        or any type the backend registry knows (``S3``, ``pkg.module.Class``, entry points).
    MEDCAT_DEN_PATH: the folder of a local den (overrides the per-user / machine default).
    MEDCAT_DEN_CONFIG: a YAML file naming one or more backends and the default::

        default: team
        backends:
          mine: {type: LOCAL_USER}
          team: {type: LOCAL_MACHINE, config: {root: /srv/medcat-den}}

    MEDCAT_DEN_OFFLINE: ``1``/``true`` to never contact a remote backend.
"""

from __future__ import annotations

import importlib
import os
from typing import Any

import platformdirs
import yaml

from medcat_den.den.den import Den
from medcat_den.errors import ConfigError
from medcat_den.store.backend import StoreBackend
from medcat_den.store.local import LocalFolderBackend

LOCAL_TYPES = ("LOCAL_USER", "LOCAL_MACHINE")
APP = "medcat_den"


def default_local_root(den_type: str) -> str:
    if den_type == "LOCAL_USER":
        return os.path.join(platformdirs.user_data_dir(APP), "den")
    # machine-wide: the platform's site data dir, never a world-writable temp folder
    return os.path.join(platformdirs.site_data_dir(APP), "den")


def _truthy(value: str | None) -> bool:
    return (value or "").strip().lower() in ("1", "true", "yes", "on")


def create_backend(den_type: str, config: dict[str, Any] | None = None) -> StoreBackend:
    """Build a backend by type name (local types here; others via the registry)."""
    upper = den_type.strip().upper()
    cfg = dict(config or {})
    if upper in LOCAL_TYPES:
        root = cfg.pop("root", None) or cfg.pop("path", None) or default_local_root(upper)
        shared = bool(cfg.pop("shared", upper == "LOCAL_MACHINE"))
        if cfg:
            raise ConfigError(f"unknown config keys for {upper}: {sorted(cfg)} (valid: root, shared)")
        return LocalFolderBackend(root, shared=shared)
    try:
        registry = importlib.import_module("medcat_den.store.registry")
    except ImportError:
        registry = None
    if registry is not None and hasattr(registry, "create_backend"):
        backend: StoreBackend = registry.create_backend(den_type, config)
        return backend
    raise ConfigError(f"unknown den type {den_type!r}; valid types: {', '.join(LOCAL_TYPES)}")


def _wrap(backend: StoreBackend, label: str | None, offline: bool | None) -> Den:
    off = _truthy(os.environ.get("MEDCAT_DEN_OFFLINE")) if offline is None else offline
    cache = None
    policy = None
    if not backend.is_local:
        try:
            cache_mod = importlib.import_module("medcat_den.cache")
            cache = cache_mod.cache_for_remote(offline=off)
            # manifests and name refs through the cache too, so offline mode can resolve refs
            backend = cache_mod.CachedBackend(backend, cache, offline=off)
        except (ImportError, AttributeError):
            cache = None
        try:
            policy = importlib.import_module("medcat_den.den.policies").policy_for(backend)
        except (ImportError, AttributeError):
            policy = None
    return Den(backend, cache=cache, policy=policy, offline=off, label=label)


def load_den_config(path: str) -> dict[str, Any]:
    try:
        with open(path, encoding="utf-8") as f:
            data = yaml.safe_load(f) or {}
    except OSError as e:
        raise ConfigError(f"cannot read den config {path}: {e.strerror}") from e
    except yaml.YAMLError as e:
        raise ConfigError(f"den config {path} is not valid YAML: {e}") from e
    if not isinstance(data, dict) or not isinstance(data.get("backends"), dict) or not data["backends"]:
        raise ConfigError(f"den config {path} must have a non-empty 'backends' mapping")
    return data


def den_from_config(path: str, backend_name: str | None = None, offline: bool | None = None) -> Den:
    data = load_den_config(path)
    backends: dict[str, Any] = data["backends"]
    chosen = backend_name or data.get("default") or (next(iter(backends)) if len(backends) == 1 else None)
    if chosen is None:
        raise ConfigError(f"den config {path} has several backends and no 'default'")
    if chosen not in backends:
        raise ConfigError(
            f"den config {path} has no backend {chosen!r}; valid: {', '.join(sorted(backends))}"
        )
    spec = backends[chosen] or {}
    if not isinstance(spec, dict) or "type" not in spec:
        raise ConfigError(f"backend {chosen!r} in {path} needs a 'type'")
    backend = create_backend(str(spec["type"]), spec.get("config") or {})
    return _wrap(backend, f"{chosen} ({backend.describe()})", offline)


def get_default_den(
    den_type: str | None = None,
    path: str | None = None,
    config_file: str | None = None,
    backend_name: str | None = None,
    offline: bool | None = None,
) -> Den:
    """The den to use, from explicit arguments, else the environment, else the user's local den."""
    if config_file or (not den_type and not path and os.environ.get("MEDCAT_DEN_CONFIG")):
        return den_from_config(config_file or os.environ["MEDCAT_DEN_CONFIG"], backend_name, offline)
    den_type = den_type or os.environ.get("MEDCAT_DEN_TYPE") or "LOCAL_USER"
    path = path or os.environ.get("MEDCAT_DEN_PATH") or None
    config: dict[str, Any] = {}
    if den_type.strip().upper() in LOCAL_TYPES:
        if path:
            config["root"] = path
    elif path:
        config["path"] = path
    backend = create_backend(den_type, config)
    return _wrap(backend, None, offline)
