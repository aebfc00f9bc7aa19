"""``medcat-den sync SRC DST [REF ...]``: copy models between dens, parents first."""

from __future__ import annotations

import argparse

from medcat_den.den.resolver import den_for_spec
from medcat_den.den.sync import sync_dens


def cmd_sync(args: argparse.Namespace) -> int:
    config = args.config or getattr(args, "den_config", None)
    src = den_for_spec(args.src, config)
    dst = den_for_spec(args.dst, config)
    report = sync_dens(src, dst, args.refs or None, names=not args.no_names,
                       dry_run=args.dry_run)
    verb = "would copy" if args.dry_run else "copied"
    print(f"{verb} {len(report.models_copied)} model(s), {report.blobs_copied} blob(s), "
          f"{report.bytes_copied} bytes from {src.label} to {dst.label}; "
          f"{len(report.models_present)} already there")
    for cid in report.models_copied:
        print(f"  {cid}")
    if report.names_updated:
        print(f"names: {', '.join(report.names_updated)}")
    for line in report.renumbered:
        print(f"  renumbered {line} (the number was taken in the destination)")
    for cid in report.missing_parents:
        print(f"  warning: parent {cid} is not in {src.label}")
    return 0


def add_parser(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = subparsers.add_parser(
        "sync", help="copy models (and their ancestors) from one den to another, verbatim")
    p.add_argument("src", help="backend name in the den YAML (MEDCAT_DEN_CONFIG), "
                               "s3://bucket/prefix, or a den folder")
    p.add_argument("dst", help="same forms as SRC")
    p.add_argument("refs", nargs="*", help="models to copy (default: all)")
    p.add_argument("--config", default=None, help="den YAML (default MEDCAT_DEN_CONFIG)")
    p.add_argument("--no-names", action="store_true", help="copy models but not names/aliases")
    p.add_argument("--dry-run", action="store_true", help="report what would be copied")
    p.set_defaults(func=cmd_sync)
