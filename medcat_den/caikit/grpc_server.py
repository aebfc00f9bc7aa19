"""caikit's gRPC runtime server, listening on ``host`` instead of caikit's hard-coded ``[::]``.

Reads (``config/runtime.yml``; env ``RUNTIME_GRPC_ENABLED``, ``RUNTIME_GRPC_PORT``...)::

    runtime:
        grpc:
            enabled: false            # `medcat-den serve --grpc-port N` turns it on
            port: 8085                # the port when --grpc-port is not given
            server_shutdown_grace_period_seconds: 5
            unix_socket_path: ""      # ModelMesh sidecars: /tmp/mmesh/grpc.sock

caikit's ``RuntimeGRPCServer.__init__`` builds a ``grpc.server`` and ends with
``add_insecure_port(f"[::]:{port}")`` (or ``add_secure_port`` with TLS). This subclass catches the
first object caikit assigns to ``self.server`` (the ``grpc.Server`` itself, before any port is
added) and makes that one instance's ``add_insecure_port`` / ``add_secure_port`` bind ``host:port``
instead of ``[::]:port``; unix-socket addresses pass unchanged. Everything else is caikit's:
inference, training, training management, model management, info, ``mmesh.ModelRuntime``,
health and reflection. Importing this module applies
:func:`medcat_den.caikit.protobuf_compat.apply_protobuf_compat` (caikit 0.29.1 cannot import its
gRPC server without it). See adrs/0406.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from medcat_den.caikit.protobuf_compat import apply_protobuf_compat

apply_protobuf_compat()

from caikit.runtime.grpc_server import RuntimeGRPCServer  # noqa: E402

_CAIKIT_ANY_HOST = "[::]:"


def host_port(host: str, port: int) -> str:
    """``host:port`` as gRPC wants it (IPv6 literals in brackets)."""
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    return f"{host}:{port}"


class HostBoundGRPCServer(RuntimeGRPCServer):  # type: ignore[misc]
    """``RuntimeGRPCServer`` bound to ``host`` and, when given, ``port`` (else ``runtime.grpc.port``)."""

    def __init__(self, host: str, port: int | None = None, tls_config_override: Any = None) -> None:
        self._bind_host = host
        self._bind_port = port
        self._bound: Any = None
        super().__init__(tls_config_override)
        if port is not None:
            self.port = port

    @property
    def server(self) -> Any:
        return self.__dict__["_server_chain"]

    @server.setter
    def server(self, value: Any) -> None:
        if self._bound is None:  # caikit's first assignment: the grpc.Server, no port added yet
            self._bound = value
            value.add_insecure_port = self._rebinding(value.add_insecure_port)
            value.add_secure_port = self._rebinding(value.add_secure_port)
        self.__dict__["_server_chain"] = value

    def _rebinding(self, add_port: Callable[..., int]) -> Callable[..., int]:
        def add(address: str, *args: Any) -> int:
            if address.startswith(_CAIKIT_ANY_HOST):
                port = self._bind_port or int(address[len(_CAIKIT_ANY_HOST):])
                address = host_port(self._bind_host, port)
                self.address = address
            return add_port(address, *args)

        return add

    address: str = ""
    """The ``host:port`` the server listens on (set while caikit adds its port)."""
