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

import os
from typing import Any

import yaml

from medcat_den.cache import CachedBackend, cache_for_remote
from medcat_den.den.den import Den
from medcat_den.den.policies import policy_for
from medcat_den.errors import ConfigError
from medcat_den.storage import registry
from medcat_den.storage.backend import StoreBackend

LOCAL_TYPES = ("LOCAL_USER", "LOCAL_MACHINE")
APP = registry.APP
default_local_root = registry.default_local_root


def _truthy(value: str | None) -> bool:
    return (value or "").strip().lower() in ("1", "true", "yes", "on")


def create_backend(den_type: str, config: dict[str, Any] | None = None) -> StoreBackend:
    """Build a backend by type name (the one place: ``medcat_den.storage.registry``)."""
    return registry.create_backend(den_type, config)


def _wrap(backend: StoreBackend, label: str | None, offline: bool | None) -> Den:
    off = _truthy(os.environ.get("MEDCAT_DEN_OFFLINE")) if offline is None else offline
    if backend.is_local:
        return Den(backend, label=label)
    cache = cache_for_remote()
    # manifests, the catalog and blobs through the cache, so offline mode can resolve refs
    cached = CachedBackend(backend, cache, offline=off)
    return Den(cached, cache=cache, policy=policy_for(cached), label=label)


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


def den_for_spec(spec: str, config_file: str | None = None) -> Den:
    """A den named on the command line: a backend name of the den YAML, s3://..., or a folder."""
    config_file = config_file or os.environ.get("MEDCAT_DEN_CONFIG") or None
    known: list[str] = []
    if config_file:
        known = sorted(load_den_config(config_file)["backends"])
        if spec in known:
            return den_from_config(config_file, backend_name=spec)
    if spec.startswith("s3://"):
        return get_default_den(den_type="S3", path=spec)
    if os.sep in spec or spec.startswith(".") or os.path.isdir(spec):
        return get_default_den(den_type="LOCAL_USER", path=spec)
    hint = f"backends in {config_file}: {', '.join(known)}" if known else "no MEDCAT_DEN_CONFIG"
    raise ConfigError(f"unknown den {spec!r}: give a backend name ({hint}), s3://bucket/prefix "
                      "or a den folder path")
