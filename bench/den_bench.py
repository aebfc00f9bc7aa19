"""Den benchmark: one run, one pack, ours vs raw MedCAT vs medcat-den 0.6.0.

    .venv/bin/python bench/den_bench.py [--pack PACK_FOLDER]

Prints: warm fetch / raw ``CAT.load_model_pack`` of the unpacked folder (target
<= 1.05), push times, bytes added by a derivative that changed one file / full
pack size, and push and fetch through medcat-den 0.6.0 (in its own venv:
``bench/setup_peers.sh``).

Push is compared like with like: medcat-den 0.6.0 can only push a loaded ``CAT``
(it re-saves and zips it), so both sides push the same loaded CAT (loaded from
the same pack folder), each push into a fresh den, best of ``--repeats`` after
one untimed warm-up push. Most of either push is MedCAT's own ``save_model_pack``,
whose cost depends on the venv (it snapshots the installed packages, and ours has
many more), so each side also prints its push / a raw save of the same CAT in
its own venv. Our push of the folder itself (no re-save) is printed as a
separate figure, not divided by the peer's.
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
    from medcat_den.storage.local import LocalFolderBackend

    with tempfile.TemporaryDirectory(prefix="den-bench-") as tmp:
        pack = args.pack or build_default_pack(str(Path(tmp) / "pack"))
        size = dir_size(pack)
        den_root = Path(tmp) / "den"
        den = Den(LocalFolderBackend(str(den_root)))
        push_s, info = timed(lambda: den.push_model(pack, "bench", name="bench"))
        loaded = CAT.load_model_pack(pack)
        cat_pushes = []
        for i in range(args.repeats + 1):  # the first, untimed, warms every import a push uses
            fresh = Den(LocalFolderBackend(str(Path(tmp) / f"den-cat-{i}")))
            t, _ = timed(lambda d=fresh: d.push_model(loaded, "bench from a loaded CAT"))
            if i:
                cat_pushes.append(t)
        push_cat_s = min(cat_pushes)
        save_s, _, _ = alternate(
            lambda: loaded.save_model_pack(tempfile.mkdtemp(dir=tmp), pack_name="pack",
                                           make_archive=False, add_hash_to_pack_name=False),
            lambda: None, args.repeats)
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
        peer = run_peer(".venv-medcat-den", "medcat_den_peer_bench.py", "--pack", pack,
                        "--repeats", str(args.repeats))

    print(f"den benchmark: pack {pack} ({size / 1e6:.1f} MB, {n_files} files)")
    rows = [
        ("warm fetch / raw load_model_pack", f"{fetch_s / raw_s:.3f}", "target <= 1.05"),
        ("  warm fetch (s)", f"{fetch_s:.3f}", ""),
        ("  raw CAT.load_model_pack (s)", f"{raw_s:.3f}", ""),
        ("push of the pack folder, first (s)", f"{push_s:.3f}", "ours only: 0.6.0 cannot"),
        ("push of the folder, identical again (s)", f"{repush_s:.3f}", "stores nothing"),
        ("push of a loaded CAT (s)", f"{push_cat_s:.3f}",
         f"best of {len(cat_pushes)}, fresh den each"),
        ("  raw save_model_pack of that CAT (s)", f"{save_s:.3f}", "median, this venv"),
        ("  push of a loaded CAT / raw save", f"{push_cat_s / save_s:.3f}", ""),
        ("derivative bytes added / pack size", f"{added / size:.4f}",
         f"{added} B for {len(changed)} changed file(s)"),
    ]
    if peer:
        rows += [
            ("medcat-den 0.6.0 push of the same loaded CAT (s)", f"{peer['push_s']:.3f}",
             f"best of {len(peer.get('push_times_s', [0]))}, fresh den each"),
            ("medcat-den 0.6.0 fetch (s)", f"{peer['fetch_s']:.3f}", ""),
            ("medcat-den 0.6.0 raw load in its venv (s)", f"{peer['load_s']:.3f}", ""),
            ("medcat-den 0.6.0 fetch / its raw load", f"{peer['fetch_s'] / peer['load_s']:.3f}",
             "MedCAT's load time depends on the venv (it snapshots installed packages)"),
            ("  raw save_model_pack in its venv (s)", f"{peer['save_s']:.3f}", ""),
            ("  its push of a loaded CAT / raw save", f"{peer['push_s'] / peer['save_s']:.3f}",
             ""),
            ("our push / medcat-den 0.6.0 push (same loaded CAT)",
             f"{push_cat_s / peer['push_s']:.3f}", "same input; MedCAT's save differs by venv"),
            ("our push over raw save / 0.6.0's push over raw save",
             f"{(push_cat_s / save_s) / (peer['push_s'] / peer['save_s']):.3f}",
             "same input, venv cost factored out"),

        ]
    print_table(rows)
    shutil.rmtree(den_root, ignore_errors=True)


if __name__ == "__main__":
    main()
