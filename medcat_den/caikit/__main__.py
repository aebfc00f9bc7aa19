"""``python -m medcat_den.caikit serve ...``: the serve command without the full CLI."""

from __future__ import annotations

import argparse
import sys

from medcat_den.cli import serve_cmd


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m medcat_den.caikit")
    serve_cmd.add_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
