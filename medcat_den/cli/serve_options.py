"""The ``serve`` command's options and its run: caikit runtime serving den models.

Shared by ``medcat-den serve`` (``medcat_den.cli.serve_cmd``) and ``python -m medcat_den.caikit
serve``. It imports caikit only when a server starts, so building the ``medcat-den`` parser
does not import caikit, the trainers or torch (every CLI command would pay ~4 s for them).
HTTP on ``--port`` and/or gRPC on ``--grpc-port``, both
bound to ``--host`` (127.0.0.1 by default); ``--dump-protos DIR`` writes the gRPC ``.proto``
files of the served services and exits.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

from medcat_den.errors import DenError

DEN_OPTION_KEYS = {"den_type": "den_type", "den_path": "den_path",
                   "den_config": "den_config_file", "backend": "den_backend"}

DESCRIPTION = (
    "Start caikit runtime serving den models: HTTP (default, port 8080) and/or gRPC "
    "(--grpc-port N; inference, training, training management, health, reflection), "
    "bound to 127.0.0.1 unless --host says otherwise. Requests name models as den refs, e.g. "
    '{"model_id": "den://NAME@ALIAS", "inputs": "text"} to POST /api/v1/task/entity-linking, '
    "or gRPC MedcatDenService/EntityLinkingTaskPredict with metadata mm-model-id: den://NAME. "
    "Unloaded refs load on first use. Config: medcat_den/caikit/config/{medcat_den,runtime}.yml, "
    "then --config files, CONFIG_FILES, env (RUNTIME_GRPC_ENABLED, RUNTIME_GRPC_PORT, ...); "
    "these options win over all of them.")


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port number: {text!r}") from None
    if not 0 < value < 65536:
        raise argparse.ArgumentTypeError(f"port must be 1-65535, got {value}")
    return value


def add_serve_arguments(p: argparse.ArgumentParser) -> None:
    """Add the serve options (and the den selection options unless already there)."""
    p.add_argument("--config", action="append", default=[], metavar="YAML",
                   help="extra caikit config file merged last (repeatable)")
    p.add_argument("--host", default="127.0.0.1",
                   help="address both servers bind (default 127.0.0.1; 0.0.0.0 / :: expose "
                        "them to the network)")
    p.add_argument("--port", type=_port, default=None,
                   help="HTTP port (default: runtime.http.port, 8080; env RUNTIME_HTTP_PORT)")
    p.add_argument("--grpc-port", type=_port, default=None, metavar="N",
                   help="serve gRPC on port N (default off; env RUNTIME_GRPC_ENABLED=true and "
                        "RUNTIME_GRPC_PORT, default 8085)")
    p.add_argument("--grpc", action=argparse.BooleanOptionalAction, default=None,
                   help="serve gRPC (on --grpc-port or runtime.grpc.port) / never")
    p.add_argument("--http", action=argparse.BooleanOptionalAction, default=None,
                   help="serve HTTP / not (--no-http --grpc-port N: gRPC only)")
    p.add_argument("--model", action="append", default=[], metavar="REF",
                   help="den ref to load before serving (repeatable); others load lazily")
    p.add_argument("--dump-protos", metavar="DIR", default=None,
                   help="write the .proto files of the gRPC services to DIR and exit")
    if "--den-type" not in p._option_string_actions:
        group = p.add_argument_group("den selection (default: environment, then the user den)")
        group.add_argument("--den-type", help="LOCAL_USER, LOCAL_MACHINE, S3 or pkg.module.Class")
        group.add_argument("--den-path", help="folder of a local den")
        group.add_argument("--den-config", help="YAML file naming backends (MEDCAT_DEN_CONFIG)")
        group.add_argument("--backend", help="backend name inside --den-config")


def den_overrides(args: argparse.Namespace) -> dict[str, Any]:
    """caikit config pointing the den finder at the den the options name."""
    den_cfg = {key: getattr(args, opt) for opt, key in DEN_OPTION_KEYS.items()
               if getattr(args, opt, None)}
    if not den_cfg:
        return {}
    return {"model_management": {"finders": {"den": {"config": den_cfg}}}}


def run_serve(args: argparse.Namespace, say: Callable[[str], None],
              complain: Callable[[str], None]) -> int:
    """Serve (or dump protos); status lines go to ``say``, errors to ``complain`` (the
    entry point decides where: ``medcat-den serve`` and ``python -m medcat_den.caikit``
    print them)."""
    from caikit.runtime.types.caikit_runtime_exception import CaikitRuntimeException

    if args.dump_protos:
        from medcat_den.caikit.proto_dump import dump_protos

        try:
            written = dump_protos(args.dump_protos, config_files=args.config,
                                  overrides=den_overrides(args))
        except DenError as e:
            complain(f"error: {e}")
            return 2
        say(f"medcat-den: wrote {len(written)} .proto files to {args.dump_protos}")
        return 0

    from medcat_den.caikit.server import DenServer

    try:
        server = DenServer(host=args.host, port=args.port, grpc_port=args.grpc_port,
                           http=args.http, grpc=args.grpc, preload=args.model,
                           config_files=args.config, overrides=den_overrides(args))
    except (DenError, CaikitRuntimeException, RuntimeError) as e:
        complain(f"error: {getattr(e, 'message', None) or e}")
        return 2
    if server.url:
        say(f"medcat-den: caikit runtime HTTP on {server.url} "
            f"(POST {server.url}/api/v1/task/entity-linking)")
    if server.grpc_address:
        say(f"medcat-den: caikit runtime gRPC on {server.grpc_address} "
            "(service caikit.runtime.MedcatDen.MedcatDenService, reflection on)")
    say("medcat-den: Ctrl-C stops")
    try:
        server.start(blocking=True)
    finally:
        server.stop()
    return 0
