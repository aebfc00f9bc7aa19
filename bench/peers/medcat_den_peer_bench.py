"""Push / fetch timings of the upstream medcat-den 0.6.0 (peer for issue 2).

Run with the peer venv (see bench/setup_peers.sh), never with the project's .venv (module clash):

    bench/.venv-medcat-den/bin/python bench/peers/medcat_den_peer_bench.py --pack PACK_FOLDER [--repeats 3]

The den lives in a fresh temporary directory (``get_default_den(type_=LOCAL_USER, location=tmp)``;
HOME / XDG dirs are pointed into it as well), removed at the end. medcat-den 0.6.0 pushes a loaded
``CAT`` (not a path): ``den.push_model(cat, description)`` re-serialises the pack with
``cat.save_model_pack`` into ``<den>/.medcat-den/models/<hash>`` and zips it. ``den.fetch_model(info)``
calls ``CAT.load_model_pack(<hash>.zip)``, which loads the folder left beside the zip when it
exists ("warm": what every fetch after a local push does) and unzips it first otherwise ("cold").

Prints ONE JSON object on the last stdout line:
  load_s          raw CAT.load_model_pack(PACK_FOLDER), best of --repeats (the reference)
  push_s          den.push_model(cat, ...) of that loaded pack, best of --repeats, each push into
                  a fresh den (a second push of the same content raises
                  DuplicateModelException upstream); imports warmed by a first, untimed push.
                  bench/den_bench.py times our push of the same loaded CAT the same way.
  push_times_s    every timed push
  save_s          raw cat.save_model_pack(<tmp>, make_archive=False) of the same CAT in this venv,
                  best of --repeats: MedCAT's save (which snapshots the installed packages, so it
                  depends on the venv) is most of either den's push of a loaded CAT
  first_model_card_import_s  the one-off cost of the first cat.get_model_card() in a process,
                  which push_model calls: it imports MedCAT's MetaCAT addon (torch,
                  transformers, peft) because medcat-den installs medcat[meta-cat]
  fetch_s         warm den.fetch_model(info), best of --repeats
  fetch_first_s   the first fetch after the push
  fetch_cold_s    fetch after deleting the unpacked folder (unzip + load), best of --repeats
  fetch_over_load warm fetch_s / load_s
  pack_bytes      size of PACK_FOLDER; den_bytes: bytes the den holds after the push
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from typing import Any


def _dir_bytes(path: str) -> int:
    total = 0
    for root, _dirs, files in os.walk(path):
        for name in files:
            fp = os.path.join(root, name)
            if not os.path.islink(fp):
                total += os.path.getsize(fp)
    return total


def _best(fn: Callable[[], Any], repeats: int) -> tuple[float, Any]:
    best = float("inf")
    result: Any = None
    for _ in range(repeats):
        t0 = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - t0)
    return best, result


def main() -> int:
    ap = argparse.ArgumentParser(description="medcat-den 0.6.0 push / fetch timings")
    ap.add_argument("--pack", required=True, help="unpacked MedCAT model pack folder")
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    pack = os.path.abspath(args.pack)
    if not os.path.isfile(os.path.join(pack, "model_card.json")):
        print(f"not a MedCAT pack folder (no model_card.json): {pack}", file=sys.stderr)
        return 2

    tmp = tempfile.mkdtemp(prefix="medcat-den-peer-")
    # Keep the peer away from the real home: explicit location, plus HOME/XDG redirected.
    os.environ.pop("MEDCAT_DEN_BACKENDS_JSON", None)
    os.environ.pop("MEDCAT_DEN_LOCAL_CACHE_PATH", None)
    os.environ["HOME"] = os.path.join(tmp, "home")
    os.environ["XDG_DATA_HOME"] = os.path.join(tmp, "xdg-data")
    os.environ["MEDCAT_DEN_TYPE"] = "local_user"
    os.environ["MEDCAT_DEN_PATH"] = os.path.join(tmp, "den")
    os.environ.setdefault("MEDCAT_DISABLE_VERSION_CHECK", "true")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TQDM_DISABLE", "1")
    try:
        from medcat.cat import CAT

        from medcat_den.backend import DenType
        from medcat_den.den import get_default_den

        den_dir = os.path.join(tmp, "den")

        load_s, cat = _best(lambda: CAT.load_model_pack(pack), args.repeats)

        # The first get_model_card() imports MedCAT's MetaCAT addon (torch, transformers, peft:
        # medcat-den depends on medcat[meta-cat]); a one-off per process, kept out of push_s.
        t0 = time.perf_counter()
        cat.get_model_card(as_dict=True)
        first_card_s = time.perf_counter() - t0

        push_times = []
        for i in range(args.repeats + 1):  # the first, untimed, warms every import a push uses
            den = get_default_den(type_=DenType.LOCAL_USER,
                                  location=den_dir if i == args.repeats else f"{den_dir}-{i}")
            t0 = time.perf_counter()
            den.push_model(cat, "medcat_den peer bench push")
            if i:
                push_times.append(time.perf_counter() - t0)
        push_s = min(push_times)

        def save() -> None:
            cat.save_model_pack(tempfile.mkdtemp(dir=tmp), pack_name="pack", make_archive=False,
                                add_hash_to_pack_name=False)

        save_s, _ = _best(save, args.repeats)

        models = den.list_available_models()
        if len(models) != 1:
            raise RuntimeError(f"expected one model in the peer den, found {len(models)}")
        info = models[0]

        t0 = time.perf_counter()
        den.fetch_model(info)
        fetch_first_s = time.perf_counter() - t0
        fetch_s, _ = _best(lambda: den.fetch_model(info), args.repeats)

        backend = den._get_backend()  # the LocalFileDen behind the Den facade
        zip_path = backend._get_model_zip_path(info)  # type: ignore[attr-defined]
        unpacked = zip_path.removesuffix(".zip")

        def cold() -> Any:
            shutil.rmtree(unpacked, ignore_errors=True)
            t = time.perf_counter()
            den.fetch_model(info)
            return time.perf_counter() - t

        cold_times = [cold() for _ in range(args.repeats)]
        den_bytes = _dir_bytes(den_dir)
        out = {
            "peer": "medcat-den 0.6.0",
            "pack": pack,
            "model_id": info.model_id,
            "load_s": round(load_s, 4),
            "push_s": round(push_s, 4),
            "push_times_s": [round(t, 4) for t in push_times],
            "save_s": round(save_s, 4),
            "first_model_card_import_s": round(first_card_s, 4),
            "fetch_s": round(fetch_s, 4),
            "fetch_first_s": round(fetch_first_s, 4),
            "fetch_cold_s": round(min(cold_times), 4),
            "fetch_over_load": round(fetch_s / load_s, 3) if load_s else None,
            "pack_bytes": _dir_bytes(pack),
            "den_bytes": den_bytes,
            "repeats": args.repeats,
        }
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
