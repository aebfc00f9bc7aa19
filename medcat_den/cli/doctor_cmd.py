"""``medcat-den doctor``: check that a den's store keeps the guarantees the den relies on.

Checks, in order: the store honours conditional create and compare-and-swap (S3
endpoints are probed on a scratch key; single-writer mode is reported), the
catalog reads (models, names, entries since the last checkpoint), stored models
the catalog does not list (interrupted pushes: push them again), and with
``--verify`` every blob is re-hashed. Exit status 1 when a problem is found.
"""

from __future__ import annotations

import argparse

from medcat_den.cache import unwrap
from medcat_den.cli.common import den_from_args, report
from medcat_den.errors import DenError
from medcat_den.storage.backend import StoreBackend
from medcat_den.storage.s3 import S3Backend


def _single_writer(backend: StoreBackend) -> bool:
    inner = unwrap(backend)
    return isinstance(inner, S3Backend) and inner.single_writer


def cmd_doctor(args: argparse.Namespace) -> int:
    den = den_from_args(args)
    problems: list[str] = []
    notes: list[str] = []
    missing = den.check_backend()
    single = _single_writer(den.backend)
    for guarantee in missing:
        line = f"store lacks {guarantee}"
        (notes if single else problems).append(
            line + (" (single-writer mode: only one process may write)" if single else ""))
    catalog: dict[str, int] = {}
    try:
        status = den.catalog.status()
        catalog = {"entries": status.seq, "checkpoint": status.checkpoint_seq,
                   "tail": status.tail, "models": status.models, "names": status.names}
        listed = den.catalog.view(lambda st: set(st.models))
        unlisted = [c for c in den.manifest_ids() if c not in listed]
        if unlisted:
            notes.append(f"{len(unlisted)} stored model(s) not in the catalog (interrupted "
                         f"pushes; push them again to name them): "
                         f"{', '.join(c[:12] for c in unlisted[:5])}")
    except DenError as e:
        problems.append(f"catalog: {e}")
    if args.verify:
        problems.extend(den.verify())
    data = {"den": den.label, "ok": not problems, "problems": problems, "notes": notes,
            "catalog": catalog, "single_writer": single}
    lines = [f"den: {den.label}"]
    if catalog:
        lines.append(f"catalog: {catalog['models']} models, {catalog['names']} names, "
                     f"{catalog['entries']} entries ({catalog['tail']} since checkpoint "
                     f"{catalog['checkpoint']})")
    lines += [f"note: {n}" for n in notes]
    lines += [f"PROBLEM: {p}" for p in problems]
    lines.append("ok" if not problems else f"{len(problems)} problem(s)")
    report(args, data, "\n".join(lines))
    return 0 if not problems else 1


def add_parser(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = subparsers.add_parser(
        "doctor", help="check the den's store guarantees (conditional writes) and catalog")
    p.add_argument("--verify", action="store_true", help="also re-hash every blob")
    p.set_defaults(func=cmd_doctor)
