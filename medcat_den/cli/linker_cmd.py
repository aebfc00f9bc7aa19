"""``medcat-den linker build|train``: packs with the medcat_den embedding linkers.

- ``linker build --concepts CSV --out DIR [--trainable] [--model NAME_OR_DIR]
  [--name PACK_NAME] [--set KEY=VALUE ...]``: a pack whose linker has embedded
  every name of the concepts CSV (``cui,name[,ontologies,name_status]``).
- ``linker train PACK --train JSON [--devel JSON] --out DIR [--epochs N] [--lr LR]
  [--weight-decay WD] [--batch-size N] [--unfreeze N] [--calibrate]``: fine-tune
  the trainable linker of PACK (a pack folder/zip or a den ref) on a
  MedCATtrainer export and save the result; ``--devel`` reports P/R/F1 (scored on
  what ``cat.get_entities`` returns); ``--calibrate`` picks the rejection threshold on
  every 7th training document, held out of training (never on ``--devel``).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
from collections.abc import Iterator
from typing import Any

from medcat_den.errors import ConfigError, TrainingError


def _load_json(path: str) -> dict[str, Any]:
    try:
        with open(path, encoding="utf-8") as f:
            data: dict[str, Any] = json.load(f)
    except OSError as err:
        raise ConfigError(f"cannot read {path!r}: {err}") from err
    except ValueError as err:
        raise TrainingError(f"{path!r} is not JSON: {err}") from err
    return data


def _parse_sets(items: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for item in items:
        if "=" not in item:
            raise ConfigError(f"--set expects KEY=VALUE, got {item!r}")
        key, raw = item.split("=", 1)
        try:
            out[key] = json.loads(raw)
        except ValueError:
            out[key] = raw
    return out


@contextlib.contextmanager
def pack_folder(args: argparse.Namespace, pack: str) -> Iterator[str]:
    """A local pack folder for PACK (a path, a zip, or a den ref)."""
    from medcat_den.den.refs import is_den_ref

    if os.path.exists(pack):
        yield pack
        return
    if is_den_ref(pack):
        from medcat_den.cli.common import den_from_args

        with den_from_args(args).materialise(pack) as folder:
            yield folder
        return
    raise ConfigError(f"pack {pack!r} is neither a path nor a den ref")


def _emit(args: argparse.Namespace, data: dict[str, Any], text: str) -> None:
    if getattr(args, "json", False):
        print(json.dumps(data, indent=2, sort_keys=True, default=str))
    else:
        print(text)


def cmd_build(args: argparse.Namespace) -> int:
    from medcat_den.linking.builder import build_pack

    overrides = _parse_sets(args.set or [])
    if args.model:
        overrides["embedding_model_name"] = args.model
    path = build_pack(args.concepts, args.out, trainable=args.trainable,
                      pack_name=args.name, config_overrides=overrides)
    _emit(args, {"pack": path}, f"built {path}")
    return 0


def cmd_train(args: argparse.Namespace) -> int:
    from medcat.cat import CAT

    from medcat_den.linking.builder import get_linker
    from medcat_den.linking.trainable_linker import TrainableEmbeddingLinker

    train = _load_json(args.train)
    devel = _load_json(args.devel) if args.devel else None
    with pack_folder(args, args.pack) as folder:
        cat = CAT.load_model_pack(folder)
    linker = get_linker(cat)
    if not isinstance(linker, TrainableEmbeddingLinker):
        raise ConfigError(
            f"pack {args.pack!r} has linker {type(linker).__name__}; build it with "
            "'medcat-den linker build --trainable'")
    result = linker.fit(train, devel, epochs=args.epochs, learning_rate=args.lr,
                        weight_decay=args.weight_decay, batch_size=args.batch_size,
                        top_n_layers_to_unfreeze=args.unfreeze,
                        calibrate_threshold=bool(args.calibrate))
    os.makedirs(args.out, exist_ok=True)
    path = cat.save_model_pack(args.out, pack_name=args.name, make_archive=False,
                               add_hash_to_pack_name=False,
                               change_description=f"linker trained on {os.path.basename(args.train)}")
    out: dict[str, Any] = {**result, "pack": path}
    lines = [f"saved {path}",
             f"loss: {result['loss_first_epoch']:.4f} -> {result['loss_last_epoch']:.4f}"]
    if devel is not None:
        lines.append(f"devel: P {result['precision']:.3f} R {result['recall']:.3f} "
                     f"F1 {result['f1']:.3f} (lenient F1 {result['lenient_f1']:.3f})")
    _emit(args, out, "\n".join(lines))
    return 0


def add_parser(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    group = subparsers.add_parser("linker", help="build and train embedding-linker packs",
                                  description=__doc__,
                                  formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = group.add_subparsers(dest="linker_command", metavar="ACTION")
    group.set_defaults(func=lambda _args: (group.print_help(), 2)[1])

    b = sub.add_parser("build", help="build a pack from a concepts CSV")
    b.add_argument("--concepts", required=True, help="CSV with columns cui,name")
    b.add_argument("--out", required=True, help="folder to write the pack into")
    b.add_argument("--trainable", action="store_true", help="use the trainable linker")
    b.add_argument("--model", help="embedding model (default all-MiniLM-L6-v2, or a folder)")
    b.add_argument("--name", default="linker_pack", help="pack folder name")
    b.add_argument("--set", action="append", metavar="KEY=VALUE",
                   help="linker setting (JSON value), repeatable")
    b.set_defaults(func=cmd_build)

    t = sub.add_parser("train", help="fine-tune the trainable linker of a pack")
    t.add_argument("pack", metavar="PACK", help="pack folder / zip, or a den ref")
    t.add_argument("--train", required=True, help="MedCATtrainer export to train on")
    t.add_argument("--devel", help="MedCATtrainer export to report P/R/F1 on")
    t.add_argument("--out", required=True, help="folder to write the trained pack into")
    t.add_argument("--name", default="trained_linker_pack", help="pack folder name")
    t.add_argument("--epochs", type=int, help="epochs (default: config)")
    t.add_argument("--lr", type=float, help="learning rate of projection and head")
    t.add_argument("--weight-decay", type=float, help="AdamW weight decay")
    t.add_argument("--batch-size", type=int, help="training batch size")
    t.add_argument("--unfreeze", type=int, help="top LM layers to unfreeze (-1: all)")
    t.add_argument("--calibrate", action="store_true",
                   help="choose the rejection threshold on held-out training documents")
    t.set_defaults(func=cmd_train)
