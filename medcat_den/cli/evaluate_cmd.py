"""``medcat-den evaluate PACK --data JSON [--json] [--set KEY=VALUE ...]``: P/R/F1 of a pack
on an export.

PACK is a pack folder / zip or a den ref. Prints strict (same span and CUI) and
lenient (overlapping span, same CUI) micro precision, recall and F1 with
tp/fp/fn, scored on what ``cat.get_entities`` returns. ``--set`` changes an embedding-linker
setting for this evaluation only (JSON value; the pack is not changed), e.g.
``--set use_tagger=false``.
"""

from __future__ import annotations

import argparse
import json
from typing import Any


def cmd_evaluate(args: argparse.Namespace) -> int:
    from medcat.cat import CAT

    import medcat_den.linking  # noqa: F401  (registers the linkers)
    from medcat_den.cli.linker_cmd import _load_json, _parse_sets, pack_folder
    from medcat_den.linking.evaluate import evaluate

    overrides = _parse_sets(getattr(args, "set", None) or [])
    data = _load_json(args.data)
    with pack_folder(args, args.pack) as folder:
        cat = CAT.load_model_pack(folder)
    if overrides:
        _apply_linker_settings(cat, overrides)
    m = evaluate(cat, data)
    if getattr(args, "json", False):
        print(json.dumps(m, indent=2, sort_keys=True))
    else:
        print(f"strict:  P {m['precision']:.4f}  R {m['recall']:.4f}  F1 {m['f1']:.4f}  "
              f"(tp {m['tp']:.0f} fp {m['fp']:.0f} fn {m['fn']:.0f})")
        print(f"lenient: P {m['lenient_precision']:.4f}  R {m['lenient_recall']:.4f}  "
              f"F1 {m['lenient_f1']:.4f}  (tp {m['lenient_tp']:.0f} fp {m['lenient_fp']:.0f} "
              f"fn {m['lenient_fn']:.0f})")
    return 0


def _apply_linker_settings(cat: Any, overrides: dict[str, Any]) -> None:
    from medcat_den.errors import ConfigError
    from medcat_den.linking.builder import get_linker
    from medcat_den.linking.config import apply_settings

    try:
        cnf = get_linker(cat).cnf
    except (ValueError, KeyError, AttributeError) as err:
        raise ConfigError(f"--set needs a pack with a medcat_den embedding linker: {err}") from err
    apply_settings(cnf, overrides)


def add_parser(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = subparsers.add_parser("evaluate", help="precision / recall / F1 of a pack on an export",
                              description=__doc__)
    p.add_argument("pack", metavar="PACK", help="pack folder / zip, or a den ref")
    p.add_argument("--data", required=True, help="MedCATtrainer export (JSON)")
    p.add_argument("--set", action="append", metavar="KEY=VALUE",
                   help="linker setting for this evaluation only (JSON value), repeatable")
    p.set_defaults(func=cmd_evaluate)
