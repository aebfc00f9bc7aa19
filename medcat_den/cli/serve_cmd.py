"""``medcat-den serve``: caikit runtime (HTTP and/or gRPC) serving den models, on 127.0.0.1 by default."""

from __future__ import annotations

import argparse

from medcat_den.cli.common import add_den_options
from medcat_den.cli.serve_options import DESCRIPTION, add_serve_arguments


def _serve(args: argparse.Namespace) -> int:
    # the same printing entry point as ``python -m medcat_den.caikit serve``; imported here
    # because importing medcat_den.caikit registers the plugin (caikit, trainers, torch)
    from medcat_den.caikit.__main__ import serve_and_print

    return serve_and_print(args)


def add_parser(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = subparsers.add_parser("serve", help="serve den models over HTTP and/or gRPC with caikit runtime",
                              description=DESCRIPTION)
    add_den_options(p)
    add_serve_arguments(p)
    p.set_defaults(func=_serve)
