"""caikit runtime (HTTP and/or gRPC) serving medcat_den models: what ``medcat-den serve`` runs.

Config layering (later wins): caikit's defaults, ``medcat_den/caikit/config/medcat_den.yml``,
``.../runtime.yml``, the ``config_files`` given, then ``overrides``; caikit then applies
``CONFIG_FILES`` and environment variables (``RUNTIME_HTTP_PORT=9000``, ``RUNTIME_GRPC_ENABLED=true``,
``RUNTIME_GRPC_PORT=8085``...). Explicit arguments (``port``, ``grpc_port``, ``http``, ``grpc``) win
over all of them. caikit binds HTTP to 0.0.0.0 and gRPC to ``[::]``; both are bound to ``host``
(127.0.0.1 by default) here.
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

CONFIG_DIR = Path(__file__).resolve().parent / "config"
BASE_CONFIG = CONFIG_DIR / "medcat_den.yml"
RUNTIME_CONFIG = CONFIG_DIR / "runtime.yml"
RAY_CONFIG = CONFIG_DIR / "ray.yml"
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


class DenServer:
    """caikit runtime over HTTP and/or gRPC, bound to ``host``, den refs optionally loaded at start.

    ``http`` / ``grpc`` (None: ``runtime.http.enabled`` / ``runtime.grpc.enabled``, gRPC also on
    when ``grpc_port`` is given) choose the servers; ``port`` / ``grpc_port`` override
    ``runtime.http.port`` / ``runtime.grpc.port``. Both share caikit's one ModelManager:
    ``preload`` refs are loaded before the first request, any other den ref lazily on its first
    request. Use as a context manager or call :meth:`start` / :meth:`stop`.
    """

    def __init__(
        self,
        *,
        host: str = DEFAULT_HOST,
        port: int | None = None,
        grpc_port: int | None = None,
        http: bool | None = None,
        grpc: bool | None = None,
        preload: Iterable[str] = (),
        config_files: Iterable[str | os.PathLike[str]] = (),
        overrides: Mapping[str, Any] | None = None,
    ) -> None:
        self._started = False
        self._private_models_dir: str | None = None
        self._http: Any = None
        self._grpc: Any = None
        apply_numpy_compat()

        configure_caikit(config_files, overrides)
        rt = caikit.get_config().runtime
        self.http_enabled = bool(rt.http.enabled) if http is None else http
        self.grpc_enabled = (bool(rt.grpc.enabled) or grpc_port is not None) if grpc is None else grpc
        if not (self.http_enabled or self.grpc_enabled):
            raise ConfigError("nothing to serve: both HTTP and gRPC are disabled")
        if rt.lazy_load_local_models and not (rt.local_models_dir
                                              and os.path.isdir(rt.local_models_dir)):
            # caikit only lazy-loads when local_models_dir is an existing folder; den refs
            # never live there, so an empty private one is enough.
            self._private_models_dir = tempfile.mkdtemp(prefix="medcat-den-serve-models-")
            caikit.configure(config_dict={"runtime": {"local_models_dir":
                                                      self._private_models_dir}})

        from caikit.runtime.model_management.model_manager import LOCAL_MODEL_TYPE, ModelManager

        self.host = host
        try:
            if self.grpc_enabled:
                from medcat_den.caikit.grpc_server import HostBoundGRPCServer

                self._grpc = HostBoundGRPCServer(host, grpc_port)
            if self.http_enabled:
                from caikit.runtime.http_server import RuntimeHTTPServer

                self._http = RuntimeHTTPServer()
                self._http.server.config.host = host
                if port is not None:
                    self._http.port = self._http.server.config.port = int(port)
            self._model_manager = ModelManager.get_instance()
            for ref in preload:
                logger.info("loading %s", ref)
                self._model_manager.load_model(model_id=ref, local_model_path=ref,
                                               model_type=LOCAL_MODEL_TYPE, wait=True)
        except BaseException:
            self.stop()
            raise

    @property
    def port(self) -> int:
        """The HTTP port (0 when HTTP is off)."""
        return int(self._http.port) if self._http is not None else 0

    @property
    def url(self) -> str:
        """``http://host:port`` of the HTTP server ("" when HTTP is off)."""
        return f"http://{self.host}:{self.port}" if self._http is not None else ""

    @property
    def grpc_port(self) -> int:
        """The gRPC port (0 when gRPC is off)."""
        return int(self._grpc.port) if self._grpc is not None else 0

    @property
    def grpc_address(self) -> str:
        """``host:port`` the gRPC server listens on ("" when gRPC is off)."""
        return str(self._grpc.address) if self._grpc is not None else ""

    def start(self, blocking: bool = False) -> None:
        self._started = True
        if self._grpc is not None:
            self._grpc.start(blocking=blocking and self._http is None)
        if self._http is not None:
            self._http.start(blocking=blocking)

    def stop(self) -> None:
        try:
            if self._started and self._http is not None:
                self._http.stop()
            if self._grpc is not None:
                if self._started:
                    self._grpc.stop(0)
                else:  # grpc binds at construction and frees the port only once started
                    self._grpc.server.start()
                    self._grpc.server.stop(0)
                self._grpc.server.wait_for_termination(timeout=10)  # port free on return
        finally:
            self._started = False
            if self._private_models_dir:
                shutil.rmtree(self._private_models_dir, ignore_errors=True)
                self._private_models_dir = None

    def __enter__(self) -> DenServer:
        self.start(blocking=False)
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()


class DenHTTPServer(DenServer):
    """:class:`DenServer` over HTTP only (gRPC off whatever the config says)."""

    def __init__(
        self,
        *,
        host: str = DEFAULT_HOST,
        port: int | None = None,
        preload: Iterable[str] = (),
        config_files: Iterable[str | os.PathLike[str]] = (),
        overrides: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(host=host, port=port, http=True, grpc=False, preload=preload,
                         config_files=config_files, overrides=overrides)
        self._server = self._http
