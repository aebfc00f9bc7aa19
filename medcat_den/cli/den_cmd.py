"""Den commands: list, info, push, fetch, delete, tag, untag, lineage, verify, gc."""

from __future__ import annotations

import argparse

from medcat_den.cli.common import (
    den_from_args,
    emit_json,
    format_table,
    human_size,
    info_dict,
    report,
)
from medcat_den.den import ModelInfo

HEADERS = ("ID", "NAME/VERSION", "ALIASES", "SIZE", "CREATED", "DESCRIPTION")


def _cells(info: ModelInfo) -> list[str]:
    name = f"{info.name}/{info.version}" if info.name and info.version else (info.name or "-")
    first_line = info.description.splitlines()[0] if info.description else ""
    return [info.model_id[:12], name, ",".join(info.aliases) or "-", human_size(info.size),
            f"{info.created_at:%Y-%m-%d %H:%M}", first_line]


def cmd_list(args: argparse.Namespace) -> int:
    models = den_from_args(args).list_available_models(name=args.name)
    if args.json:
        emit_json([info_dict(m) for m in models])
        return 0
    if not models:
        print("the den is empty")
        return 0
    for line in format_table(HEADERS, [_cells(m) for m in models], right=("SIZE",)):
        print(line)
    return 0


def cmd_info(args: argparse.Namespace) -> int:
    den = den_from_args(args)
    info = den.info(args.ref)
    if args.json:
        data = info_dict(info)
        data["files"] = {k: v.model_dump() for k, v in den.manifest(info).files.items()}
        emit_json(data)
        return 0
    for key, value in info_dict(info).items():
        print(f"{key:>16}: {value}")
    return 0


def cmd_push(args: argparse.Namespace) -> int:
    info = den_from_args(args).push_model(
        args.pack, args.description or "", name=args.name, aliases=args.alias or None
    )
    report(args, info_dict(info), f"pushed {info.ref} ({info.model_id})")
    return 0


def cmd_fetch(args: argparse.Namespace) -> int:
    out = den_from_args(args).fetch_pack(args.ref, args.out)
    report(args, {"path": out}, out)
    return 0


def cmd_delete(args: argparse.Namespace) -> int:
    cid = den_from_args(args).delete(args.ref, force=args.force)
    report(args, {"deleted": cid}, f"deleted {cid}")
    return 0


def cmd_tag(args: argparse.Namespace) -> int:
    info = den_from_args(args).tag(args.ref, args.alias)
    report(args, info_dict(info), f"den://{info.name}@{args.alias} -> {info.model_id}")
    return 0


def cmd_untag(args: argparse.Namespace) -> int:
    den_from_args(args).untag(args.name, args.alias)
    report(args, {"untagged": f"{args.name}@{args.alias}"}, None)
    return 0


def cmd_lineage(args: argparse.Namespace) -> int:
    chain = den_from_args(args).lineage(args.ref)
    if args.json:
        emit_json([info_dict(m) for m in chain])
        return 0
    rows = []
    for m in chain:
        *cells, description = _cells(m)
        rows.append([*cells, ", ".join(p[:12] for p in m.parents) or "(root)", description])
    headers = (*HEADERS[:-1], "PARENTS", HEADERS[-1])
    for line in format_table(headers, rows, right=("SIZE",)):
        print(line)
    return 0


def cmd_verify(args: argparse.Namespace) -> int:
    problems = den_from_args(args).verify(args.ref)
    if args.json:
        emit_json({"ok": not problems, "problems": problems})
    else:
        for p in problems:
            print(p)
        print("ok" if not problems else f"{len(problems)} problem(s)")
    return 0 if not problems else 1


def cmd_gc(args: argparse.Namespace) -> int:
    freed = den_from_args(args).gc(grace_seconds=args.grace, dry_run=args.dry_run)
    verb = "would free" if args.dry_run else "freed"
    report(args, {"freed_bytes": freed, "dry_run": args.dry_run}, f"{verb} {human_size(freed)}")
    return 0


def add_parser(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = subparsers.add_parser("list", help="list the models in the den")
    p.add_argument("--name", help="only models with this name")
    p.set_defaults(func=cmd_list)

    p = subparsers.add_parser("info", help="show one model")
    p.add_argument("ref")
    p.set_defaults(func=cmd_info)

    p = subparsers.add_parser("push", help="store a pack folder or .zip")
    p.add_argument("pack")
    p.add_argument("--name")
    p.add_argument("--description", "-d", default="")
    p.add_argument("--alias", action="append", help="alias to point at it (repeatable)")
    p.set_defaults(func=cmd_push)

    p = subparsers.add_parser("fetch", help="write a verified copy of a pack to a folder")
    p.add_argument("ref")
    p.add_argument("--out", required=True, help="new or empty folder")
    p.set_defaults(func=cmd_fetch)

    p = subparsers.add_parser("delete", help="delete a model (blobs are freed by gc)")
    p.add_argument("ref")
    p.add_argument("--force", action="store_true", help="even if other models name it as parent")
    p.set_defaults(func=cmd_delete)

    p = subparsers.add_parser("tag", help="point an alias of the model's name at it")
    p.add_argument("ref")
    p.add_argument("alias")
    p.set_defaults(func=cmd_tag)

    p = subparsers.add_parser("untag", help="remove an alias")
    p.add_argument("name")
    p.add_argument("alias")
    p.set_defaults(func=cmd_untag)

    p = subparsers.add_parser("lineage", help="the model and its ancestors")
    p.add_argument("ref")
    p.set_defaults(func=cmd_lineage)

    p = subparsers.add_parser("verify", help="re-hash every stored blob")
    p.add_argument("ref", nargs="?")
    p.set_defaults(func=cmd_verify)

    p = subparsers.add_parser("gc", help="delete blobs no model uses")
    p.add_argument("--grace", type=float, default=3600.0, help="keep blobs younger than this (s)")
    p.add_argument("--dry-run", action="store_true")
    p.set_defaults(func=cmd_gc)
