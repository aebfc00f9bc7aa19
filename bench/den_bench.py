"""Den benchmark: one run, one pack, ours vs raw MedCAT vs medcat-den 0.6.0.

    .venv/bin/python bench/den_bench.py [--pack PACK_FOLDER]

Prints: warm fetch / raw ``CAT.load_model_pack`` of the unpacked folder (target
<= 1.05), push time, bytes added by a derivative that changed one file / full
pack size, and the same push and fetch through medcat-den 0.6.0 (in its own
venv: ``bench/setup_peers.sh``).
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
from pathlib import Path

from _common import alternate, dir_size, print_table, run_peer, timed


def build_default_pack(tmp: str) -> str:
    # a dictionary-linking pack of the NCBI concepts: loadable by medcat-den 0.6.0 too
    from medcat_den.cli.demo import build_dictionary_pack, starter_concepts_path

    return build_dictionary_pack(starter_concepts_path(), tmp)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--pack", help="pack folder (default: the demo starter pack)")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()

    from medcat.cat import CAT

    from medcat_den.den import Den
    from medcat_den.store.local import LocalFolderBackend

    with tempfile.TemporaryDirectory(prefix="den-bench-") as tmp:
        pack = args.pack or build_default_pack(str(Path(tmp) / "pack"))
        size = dir_size(pack)
        den_root = Path(tmp) / "den"
        den = Den(LocalFolderBackend(str(den_root)))
        push_s, info = timed(lambda: den.push_model(pack, "bench", name="bench"))
        repush_s, _ = timed(lambda: den.push_model(pack, "bench again", name="bench"))
        fetch_s, raw_s, _ = alternate(lambda: den.fetch_model("den://bench"),
                                   lambda: CAT.load_model_pack(pack), args.repeats)
        cat = den.fetch_model("den://bench")
        cat.config.components.linking.similarity_threshold = 0.31
        before = dir_size(den_root / "objects")
        derivative = den.push_model(cat, "one config value changed")
        added = dir_size(den_root / "objects") - before
        changed = [rel for rel, e in den.manifest(derivative).files.items()
                   if den.manifest(info).files.get(rel) != e]
        n_files = len(den.manifest(info).files)
        peer = run_peer(".venv-medcat-den", "medcat_den_peer_bench.py", "--pack", pack)

    print(f"den benchmark: pack {pack} ({size / 1e6:.1f} MB, {n_files} files)")
    rows = [
        ("warm fetch / raw load_model_pack", f"{fetch_s / raw_s:.3f}", "target <= 1.05"),
        ("  warm fetch (s)", f"{fetch_s:.3f}", ""),
        ("  raw CAT.load_model_pack (s)", f"{raw_s:.3f}", ""),
        ("push, first (s)", f"{push_s:.3f}", ""),
        ("push, identical again (s)", f"{repush_s:.3f}", "stores nothing"),
        ("derivative bytes added / pack size", f"{added / size:.4f}",
         f"{added} B for {len(changed)} changed file(s)"),
    ]
    if peer:
        rows += [
            ("medcat-den 0.6.0 push (s)", f"{peer['push_s']:.3f}", ""),
            ("medcat-den 0.6.0 fetch (s)", f"{peer['fetch_s']:.3f}", ""),
            ("medcat-den 0.6.0 raw load in its venv (s)", f"{peer['load_s']:.3f}", ""),
            ("medcat-den 0.6.0 fetch / its raw load", f"{peer['fetch_s'] / peer['load_s']:.3f}",
             "MedCAT's load time depends on the venv (it snapshots installed packages)"),
            ("our push / medcat-den 0.6.0 push", f"{push_s / peer['push_s']:.3f}", ""),

        ]
    print_table(rows)
    shutil.rmtree(den_root, ignore_errors=True)


if __name__ == "__main__":
    main()
