"""Starting caikit runtime (HTTP) for medcat_den models: what ``medcat-den serve`` runs.

Config layering (later wins): caikit's defaults, ``config/medcat_den.yml``,
``config/runtime.yml``, the ``config_files`` given, then ``overrides``; caikit
then applies ``CONFIG_FILES`` and environment variables (``RUNTIME_HTTP_PORT=9000``...).
caikit binds its HTTP server to 0.0.0.0; we rebind it to ``host`` (127.0.0.1 by default).
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any

import caikit

from medcat_den.caikit.numpy_compat import apply_numpy_compat
from medcat_den.errors import ConfigError

logger = logging.getLogger(__name__)


def _config_dir() -> Path:
    """``medcat_den/config/`` when shipped as package data, else the source tree's ``config/``."""
    packaged = Path(__file__).resolve().parents[1] / "config"
    if (packaged / "medcat_den.yml").is_file():
        return packaged
    return Path(__file__).resolve().parents[2] / "config"


CONFIG_DIR = _config_dir()
BASE_CONFIG = CONFIG_DIR / "medcat_den.yml"
RUNTIME_CONFIG = CONFIG_DIR / "runtime.yml"
DEFAULT_HOST = "127.0.0.1"


def configure_caikit(
    config_files: Iterable[str | os.PathLike[str]] = (),
    overrides: Mapping[str, Any] | None = None,
    *,
    runtime: bool = True,
) -> None:
    """Merge our YAML configs (+ the given ones and overrides) into caikit's global config."""
    files: list[Path] = [BASE_CONFIG] + ([RUNTIME_CONFIG] if runtime else [])
    files += [Path(f) for f in config_files]
    for path in files:
        if not path.is_file():
            raise ConfigError(f"caikit config file not found: {path}")
        caikit.configure(config_yml_path=str(path))
    if overrides:
        caikit.configure(config_dict=dict(overrides))


class DenHTTPServer:
    """caikit's RuntimeHTTPServer bound to ``host``, with den refs optionally loaded at start.

    Use as a context manager or call :meth:`start` / :meth:`stop`. ``port`` overrides
    ``runtime.http.port``; ``preload`` refs are loaded before the first request, any other
    den ref is loaded lazily on its first request.
    """

    def __init__(
        self,
        *,
        host: str = DEFAULT_HOST,
        port: int | None = None,
        preload: Iterable[str] = (),
        config_files: Iterable[str | os.PathLike[str]] = (),
        overrides: Mapping[str, Any] | None = None,
    ) -> None:
        self._started = False
        self._private_models_dir: str | None = None
        apply_numpy_compat()
        import medcat_den.caikit  # noqa: F401  (registers the finder / initializer / module)

        runtime_overrides: dict[str, Any] = {"runtime": {"grpc": {"enabled": False}}}
        if port is not None:
            runtime_overrides["runtime"]["http"] = {"port": int(port)}
        configure_caikit(config_files, overrides)
        caikit.configure(config_dict=runtime_overrides)
        rt = caikit.get_config().runtime
        if rt.lazy_load_local_models and not (rt.local_models_dir
                                              and os.path.isdir(rt.local_models_dir)):
            # caikit only lazy-loads when local_models_dir is an existing folder; den refs
            # never live there, so an empty private one is enough.
            self._private_models_dir = tempfile.mkdtemp(prefix="medcat-den-serve-models-")
            caikit.configure(config_dict={"runtime": {"local_models_dir":
                                                      self._private_models_dir}})

        from caikit.runtime.http_server import RuntimeHTTPServer
        from caikit.runtime.model_management.model_manager import LOCAL_MODEL_TYPE, ModelManager

        self.host = host
        self._server = RuntimeHTTPServer()
        self._server.server.config.host = host
        self.port = int(self._server.port)
        self._model_manager = ModelManager.get_instance()
        try:
            for ref in preload:
                logger.info("loading %s", ref)
                self._model_manager.load_model(model_id=ref, local_model_path=ref,
                                               model_type=LOCAL_MODEL_TYPE, wait=True)
        except BaseException:
            self.stop()
            raise

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self, blocking: bool = False) -> None:
        self._started = True
        self._server.start(blocking=blocking)

    def stop(self) -> None:
        try:
            if self._started:
                self._server.stop()
        finally:
            self._started = False
            if self._private_models_dir:
                shutil.rmtree(self._private_models_dir, ignore_errors=True)
                self._private_models_dir = None

    def __enter__(self) -> DenHTTPServer:
        self.start(blocking=False)
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()
