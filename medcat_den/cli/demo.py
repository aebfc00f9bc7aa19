"""``make demo``: the main job on the embedded default (a local den, no server).

Builds a starter pack from the NCBI disease concepts shipped in the package,
pushes it to the local den, lists the den, fetches the model back and
annotates a sentence. The CLI prints; this module prints too because it *is*
the demo program.
"""

from __future__ import annotations

import logging
import os
import sys
import tempfile
from importlib import resources
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("MEDCAT_DISABLE_VERSION_CHECK", "true")
# tqdm reads this when it is imported (below, via medcat): the background fine-tune runs in
# this process, and its bars would interleave with the demo's own lines; the demo reports the
# job as one status line per change instead. TQDM_DISABLE=0 brings the bars back.
os.environ.setdefault("TQDM_DISABLE", "1")

logger = logging.getLogger(__name__)

STARTER_NAME = "ncbi-disease-starter"
SENTENCE = (
    "A 45-year-old woman with congenital afibrinogenemia and a family history of "
    "breast cancer presented with visual loss."
)


def starter_concepts_path() -> str:
    return str(resources.files("medcat_den") / "data" / "ncbi_disease_concepts.csv")


def build_starter_pack(out_dir: str) -> str:
    """A MedCAT pack with the trainable embedding linker from the shipped concepts."""
    from medcat_den.linking import build_pack

    # the demo fine-tunes for one epoch, too short for training's simulation of unseen text
    # (ADR 0307): on 300 NCBI documents it scored 0.653 with it, 0.700 without
    return str(build_pack(starter_concepts_path(), out_dir, trainable=True,
                          config_overrides={"unseen_name_folds": 0}))


def build_dictionary_pack(concepts_csv: str, out_dir: str, pack_name: str = "starter") -> str:
    """A dictionary-linking MedCAT pack (no Vocab, regex tokenizer) from a cui,name CSV."""
    import pandas as pd
    from medcat.cat import CAT
    from medcat.config import Config
    from medcat.model_creation.cdb_maker import CDBMaker
    from medcat.vocab import Vocab

    os.makedirs(out_dir, exist_ok=True)
    df = pd.read_csv(concepts_csv)
    keep = [c for c in ("cui", "name", "ontologies", "name_status") if c in df.columns]
    csv_path = os.path.join(out_dir, "concepts.csv")
    df[keep].to_csv(csv_path, index=False)
    cdb = CDBMaker(Config()).prepare_csvs([csv_path])
    os.unlink(csv_path)
    cat = CAT(cdb, vocab=Vocab())
    return str(cat.save_model_pack(out_dir, pack_name=pack_name, make_archive=False,
                                   add_hash_to_pack_name=False))


def show_entities(result: Any) -> None:
    for ent in result.get("entities", {}).values():
        print(f"    {ent['start']:>4}-{ent['end']:<4} {ent['source_value']!r:<32} -> "
              f"{ent['cui']} ({ent['pretty_name']})")


def main() -> int:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    for handler in logging.getLogger().handlers:
        # MedCAT sets some of its loggers to INFO itself; keep the demo output readable
        handler.setLevel(logging.WARNING)
        handler.addFilter(lambda r: not r.name.startswith("medcat.") or r.levelno >= logging.ERROR)
    from medcat_den.den import get_default_den

    den = get_default_den()
    print(f"== den: {den.label}")
    with tempfile.TemporaryDirectory(prefix="medcat-den-demo-") as tmp:
        print("== building the starter pack from the shipped NCBI disease concepts")
        pack = build_starter_pack(tmp)
        info = den.push_model(pack, "Starter pack from the NCBI disease concepts",
                              name=STARTER_NAME)
    print(f"== pushed {info.ref} ({info.model_id[:12]}, {info.size} bytes)")
    print("== the den holds:")
    for m in den.list_available_models():
        print(f"    {m.model_id[:12]}  {m.name}/{m.version}  {','.join(m.aliases)}  {m.description}")
    cat = den.fetch_model(f"den://{STARTER_NAME}")
    print(f"== fetched den://{STARTER_NAME}; annotating:\n    {SENTENCE}")
    show_entities(cat.get_entities(SENTENCE))
    for step in _later_steps():
        step(den, info)
    print("== done")
    return 0


def caikit_step(den: Any, info: Any) -> None:
    """Load the starter model through caikit's ModelManager with a den ref."""
    import caikit.core

    from medcat_den.caikit.server import configure_caikit

    configure_caikit(runtime=False)
    model = caikit.core.MODEL_MANAGER.load(f"den://{STARTER_NAME}")
    print(f"== caikit ModelManager.load('den://{STARTER_NAME}') -> {type(model).__name__}:")
    for e in model.run(SENTENCE).entities:
        print(f"    {e.start:>4}-{e.end:<4} {e.text!r:<32} -> {e.cui} ({e.pretty_name})")


def _later_steps() -> list[Any]:
    from medcat_den.cli.demo_training import training_demo_step

    return [caikit_step, training_demo_step]


if __name__ == "__main__":
    sys.exit(main())
