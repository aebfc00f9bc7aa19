"""``medcat-den serve``: caikit runtime (HTTP) serving den models, bound to 127.0.0.1 by default."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from medcat_den.cli.common import add_den_options
from medcat_den.errors import DenError

DEN_OPTION_KEYS = {"den_type": "den_type", "den_path": "den_path",
                   "den_config": "den_config_file", "backend": "den_backend"}


def add_parser(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = subparsers.add_parser(
        "serve", help="serve den models over HTTP with caikit runtime",
        description="Start caikit runtime (HTTP only) with config/medcat_den.yml + "
                    "config/runtime.yml. Requests name models as den refs, e.g. "
                    '{"model_id": "den://NAME@ALIAS", "inputs": "text"} to '
                    "POST /api/v1/task/entity-linking; unloaded refs load on first use.")
    p.add_argument("--config", action="append", default=[], metavar="YAML",
                   help="extra caikit config file merged last (repeatable)")
    p.add_argument("--host", default="127.0.0.1",
                   help="address to bind (default 127.0.0.1; 0.0.0.0 exposes it to the network)")
    p.add_argument("--port", type=int, default=None,
                   help="HTTP port (default: runtime.http.port, 8080; env RUNTIME_HTTP_PORT)")
    p.add_argument("--model", action="append", default=[], metavar="REF",
                   help="den ref to load before serving (repeatable); others load lazily")
    add_den_options(p)
    p.set_defaults(func=run_serve)


def _den_overrides(args: argparse.Namespace) -> dict[str, Any]:
    den_cfg = {key: getattr(args, opt) for opt, key in DEN_OPTION_KEYS.items()
               if getattr(args, opt, None)}
    if not den_cfg:
        return {}
    return {"model_management": {"finders": {"den": {"config": den_cfg}}}}


def run_serve(args: argparse.Namespace) -> int:
    if args.port is not None and not 0 < args.port < 65536:
        print(f"error: --port must be 1-65535, got {args.port}", file=sys.stderr)
        return 2
    from caikit.runtime.types.caikit_runtime_exception import CaikitRuntimeException

    from medcat_den.caikit.server import DenHTTPServer

    try:
        server = DenHTTPServer(host=args.host, port=args.port, preload=args.model,
                               config_files=args.config, overrides=_den_overrides(args))
    except (DenError, CaikitRuntimeException) as e:
        print(f"error: {getattr(e, 'message', None) or e}", file=sys.stderr)
        return 2
    print(f"medcat-den: caikit runtime on {server.url} "
          f"(POST {server.url}/api/v1/task/entity-linking); Ctrl-C stops", flush=True)
    try:
        server.start(blocking=True)
    finally:
        server.stop()
    return 0
