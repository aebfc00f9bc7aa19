"""``medcat-den evaluate PACK --data JSON [--json]``: P/R/F1 of a pack on an export.

PACK is a pack folder / zip or a den ref. Prints strict (same span and CUI) and
lenient (overlapping span, same CUI) micro precision, recall and F1 with
tp/fp/fn.
"""

from __future__ import annotations

import argparse
import json


def cmd_evaluate(args: argparse.Namespace) -> int:
    from medcat.cat import CAT

    import medcat_den.linking  # noqa: F401  (registers the linkers)
    from medcat_den.cli.linker_cmd import _load_json, pack_folder
    from medcat_den.linking.evaluate import evaluate

    data = _load_json(args.data)
    with pack_folder(args, args.pack) as folder:
        cat = CAT.load_model_pack(folder)
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


def add_parser(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = subparsers.add_parser("evaluate", help="precision / recall / F1 of a pack on an export",
                              description=__doc__)
    p.add_argument("pack", metavar="PACK", help="pack folder / zip, or a den ref")
    p.add_argument("--data", required=True, help="MedCATtrainer export (JSON)")
    p.set_defaults(func=cmd_evaluate)
