"""``get_default_den`` with medcat-den 0.6.0's arguments and ``MEDCAT_DEN_BACKENDS_JSON``.

Environment (besides those of :mod:`medcat_den.den.resolver`, which does the work):
    MEDCAT_DEN_BACKENDS_JSON: a JSON file of named backends (0.6.0's multi-backend den)::

        {"default_backend": "dev",
         "backends": {"dev":  {"type": "local_user", "location": "/data/den-dev"},
                      "prod": {"type": "local_machine", "location": "/srv/den"}}}

        ``type`` is a :class:`~medcat_den.backend.DenType` value (or one of our den types,
        e.g. ``S3`` with a ``config`` mapping); a type registered with
        :func:`medcat_den.backend.register_remote_den` builds that class. The den returned
        is the default backend's, and ``backend_name=`` reaches the others.

Explicit arguments win over the environment, as in 0.6.0 and in ours.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from typing import Any

from medcat_den.addons import _load_addons
from medcat_den.backend import DenType, get_registered_remote_den, has_registered_remote_den
from medcat_den.config import DenConfig, LocalDenConfig, RemoteDenConfig
from medcat_den.den import resolver as core
from medcat_den.den.den import Den
from medcat_den.den.legacy_api import DEFAULT_BACKEND
from medcat_den.den.legacy_backend import DenBackend
from medcat_den.den.legacy_file_den import LocalFileDen
from medcat_den.errors import ConfigError, NoSuchBackendException, UnsupportedAPIException

logger = logging.getLogger(__name__)

MEDCAT_DEN_BACKENDS_JSON = "MEDCAT_DEN_BACKENDS_JSON"
ALLOW_OPTION_LOWERCASE = ("true", "yes", "1", "y")


def _den_type(value: Any) -> DenType | None:
    if value is None or value == "":
        return None
    try:
        return DenType(value)
    except ValueError:
        return None  # one of our own types (e.g. a registered "pkg.module.Class")


_resolved: dict[tuple[type, str], Any] = {}
_resolved_lock = threading.Lock()


def resolve_from_config(config: DenConfig) -> Any:
    """The den (or registered 0.6.0 backend) a 0.6.0 config describes; the same one for equal
    configs (as 0.6.0 cached it)."""
    key = (type(config), config.model_dump_json())
    with _resolved_lock:
        if key not in _resolved:
            _resolved[key] = _build_from_config(config)
        return _resolved[key]


def _build_from_config(config: DenConfig) -> Any:
    if isinstance(config, LocalDenConfig):
        return LocalFileDen(config)
    if has_registered_remote_den(config.type):
        den = get_registered_remote_den(config.type)(cnf=config)
        if not isinstance(den, DenBackend):
            raise ConfigError(f"Registered den class for {config.type} is not a Den. "
                              f"Got {type(den)}: {den}")
        return den
    if config.type is DenType.S3:
        return core.get_default_den("S3")
    raise ConfigError(f"Unsupported Den type: {config.type.value} (register a class for it "
                      "with medcat_den.backend.register_remote_den)")


def _single(type_: Any, location: str | None, host: str | None,
            credentials: dict[str, Any] | None, allow_local_fine_tune: Any,
            allow_push_fine_tuned: Any, config: dict[str, Any] | None,
            offline: bool | None) -> Any:
    raw = type_ or os.environ.get("MEDCAT_DEN_TYPE") or DenType.LOCAL_USER
    kind = _den_type(raw)
    if kind is None or kind is DenType.S3 or (kind.is_local() and config):
        # our own den types (and config mappings) go straight to our resolver
        if not config:
            return core.get_default_den(str(getattr(raw, "value", raw)), location, None, None, offline)
        backend = core.create_backend(str(getattr(raw, "value", raw)), dict(config))
        return core._wrap(backend, None, offline)
    if kind is DenType.MULTI_BACKEND:
        raise ConfigError("multi_backend is set up through MEDCAT_DEN_BACKENDS_JSON")
    if kind.is_local():
        where = location or os.environ.get("MEDCAT_DEN_PATH") or core.default_local_root(
            kind.value.upper())
        return LocalFileDen(LocalDenConfig(type=kind, location=where))
    _load_addons()
    host = host or os.environ.get("MEDCAT_DEN_REMOTE_HOST")
    if not host:
        raise ConfigError("Need to specify a host for remote den")
    return resolve_from_config(RemoteDenConfig(
        type=kind, host=host, credentials=credentials,
        allow_local_fine_tune=str(allow_local_fine_tune or os.environ.get(
            "MEDCAT_DEN_REMOTE_ALLOW_LOCAL_FINE_TUNE")).lower() in ALLOW_OPTION_LOWERCASE,
        allow_push_fine_tuned=str(allow_push_fine_tuned or os.environ.get(
            "MEDCAT_DEN_REMOTE_ALLOW_PUSH_FINETUNED")).lower() in ALLOW_OPTION_LOWERCASE))


def _read_backends_json(path: str) -> dict[str, Any]:
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except OSError as e:
        raise ConfigError(f"cannot read {MEDCAT_DEN_BACKENDS_JSON} file {path}: {e.strerror}") \
            from e
    except json.JSONDecodeError as e:
        raise ConfigError(f"Invalid JSON for {path}: {e}") from e
    if not isinstance(data, dict) or not isinstance(data.get("backends"), dict) \
            or not data["backends"]:
        raise ConfigError(f"{path} must hold a non-empty 'backends' mapping")
    return data


def resolve_multi_backend(path: str, offline: bool | None = None) -> tuple[dict[str, Any], str]:
    """The named backends of a MEDCAT_DEN_BACKENDS_JSON file, and the default's name."""
    _load_addons()  # 0.6.0 add-ons register remote den classes
    data = _read_backends_json(path)
    default = str(data.get("default_backend", DEFAULT_BACKEND))
    if default not in data["backends"]:
        raise ConfigError(f"Default backend '{default}' not found in {path} "
                          f"(backends: {', '.join(sorted(data['backends']))})")
    backends: dict[str, Any] = {}
    for name, spec in data["backends"].items():
        if not isinstance(spec, dict):
            raise ConfigError(f"backend {name!r} in {path} must be a mapping")
        den = _single(spec.get("type", DenType.LOCAL_USER), spec.get("location"),
                      spec.get("host"), spec.get("credentials"),
                      spec.get("remote_allow_local_fine_tune"),
                      spec.get("remote_allow_push_fine_tuned"), spec.get("config"), offline)
        if isinstance(den, Den):
            den.label = f"{name} ({den.label})"
        backends[name] = den
    for den in backends.values():
        if isinstance(den, Den):
            den.attach_backends(backends, default)
    if not isinstance(backends[default], Den):
        raise UnsupportedAPIException(
            f"the default backend {default!r} of {path} is a registered 0.6.0 den class; only "
            "our dens can be the default (make it a named backend and pass backend_name=)")
    return backends, default


def get_default_den(
    den_type: str | None = None,
    path: str | None = None,
    config_file: str | None = None,
    backend_name: str | None = None,
    offline: bool | None = None,
    *,
    type_: DenType | str | None = None,
    location: str | None = None,
    host: str | None = None,
    credentials: dict[str, Any] | None = None,
    local_cache_path: str | None = None,
    expiration_time: int | None = None,
    max_size: int | None = None,
    eviction_policy: str | None = None,
    remote_allow_local_fine_tune: str | None = None,
    remote_allow_push_fine_tuned: str | None = None,
) -> Den:
    """The den to use: explicit arguments > environment > the user's local den.

    Ours: ``den_type``, ``path``, ``config_file`` (MEDCAT_DEN_CONFIG YAML),
    ``backend_name``, ``offline``. medcat-den 0.6.0's (keyword; its first two positional
    arguments mean the same as ours): ``type_``, ``location``, ``host``, ``credentials``,
    the local-cache settings (which, as in ours, also come from MEDCAT_DEN_LOCAL_CACHE_*)
    and the remote fine-tune / push permissions.
    """
    if type_ is not None and den_type is not None:
        raise TypeError("get_default_den() got both den_type and type_ (the same argument)")
    if location is not None and path is not None:
        raise TypeError("get_default_den() got both path and location (the same argument)")
    if isinstance(den_type, DenType) and config_file is not None and host is None:
        # 0.6.0 positional order: (type_, location, host, ...)
        host, config_file = config_file, None
    kind = type_ if type_ is not None else den_type
    where = location if location is not None else path
    cache_args = {k: v for k, v in {"local_cache_path": local_cache_path,
                                    "expiration_time": expiration_time, "max_size": max_size,
                                    "eviction_policy": eviction_policy}.items() if v is not None}
    if cache_args:
        logger.info("get_default_den: the local cache is configured by MEDCAT_DEN_LOCAL_CACHE_*; "
                    "ignoring %s (local dens need no cache)", sorted(cache_args))
    multi = os.environ.get(MEDCAT_DEN_BACKENDS_JSON)
    if multi and kind is None and where is None and config_file is None:
        backends, default = resolve_multi_backend(multi, offline)
        if backend_name is None:
            # 0.6.0's multi-backend den (over the same stores as the default backend)
            multi_den: Den = Den.from_backends(backends, default)
            return multi_den
        den = backends.get(backend_name)
        if not isinstance(den, Den):
            raise NoSuchBackendException(
                f"{MEDCAT_DEN_BACKENDS_JSON} has no backend {backend_name!r} of ours; backends: "
                f"{', '.join(sorted(backends))}")
        return den
    if config_file is not None or (kind is None and where is None and host is None):
        return core.get_default_den(None, None, config_file, backend_name, offline)
    got = _single(kind, where, host, credentials, remote_allow_local_fine_tune,
                  remote_allow_push_fine_tuned, None, offline)
    if not isinstance(got, Den):
        raise UnsupportedAPIException(
            f"den type {kind} is a registered 0.6.0 den class, not one of our dens: list it as "
            f"a backend in {MEDCAT_DEN_BACKENDS_JSON} or build it with "
            "medcat_den.resolver.resolve_from_config")
    return got


def get_default_user_local_den(location: str | None = None) -> Den:
    """0.6.0: the user-local den (at ``location`` if given)."""
    return get_default_den(type_=DenType.LOCAL_USER, location=location)


def get_default_machine_local_den(location: str | None = None) -> Den:
    """0.6.0: the machine-local den (at ``location`` if given)."""
    return get_default_den(type_=DenType.LOCAL_MACHINE, location=location)
