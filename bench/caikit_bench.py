"""caikit benchmark: one run, one pack, through the den + caikit vs raw MedCAT.

    .venv/bin/python bench/caikit_bench.py [--pack PACK_FOLDER] [--texts 60] [--repeats 5]

Prints: ``ModelManager.load("den://bench")`` (den finder + MEDCAT initializer: resolve,
materialise, verify, load) / raw ``CAT.load_model_pack`` of the same folder (target
<= 1.05), and inference throughput through caikit runtime over HTTP and over gRPC (one
request per text, sequential, on 127.0.0.1, both servers of one ``medcat-den serve``; the gRPC
client knows the service only through reflection) / direct ``cat.get_entities`` on the same
texts (target gRPC >= HTTP).
Texts: the NCBI-disease devel abstracts (never the held-out test split).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import statistics
import tempfile
from pathlib import Path
from typing import Any

from _common import SHARED, alternate, dir_size, free_port, print_table, timed


def devel_texts(n: int) -> list[str]:
    with open(SHARED / "devel.json", encoding="utf-8") as f:
        data = json.load(f)
    texts = [doc["text"] for project in data["projects"] for doc in project["documents"]]
    return texts[:n]


def grpc_entity_linker(address: str) -> tuple[Any, Any]:
    """A reflection-only gRPC caller of EntityLinkingTaskPredict: (call(text, ref), channel)."""
    import grpc
    from google.protobuf import message_factory
    from google.protobuf.descriptor_pool import DescriptorPool
    from grpc_reflection.v1alpha.proto_reflection_descriptor_database import (
        ProtoReflectionDescriptorDatabase,
    )

    channel = grpc.insecure_channel(address)
    pool = DescriptorPool(ProtoReflectionDescriptorDatabase(channel))
    method = pool.FindServiceByName("caikit.runtime.MedcatDen.MedcatDenService").FindMethodByName(
        "EntityLinkingTaskPredict")
    request_cls = message_factory.GetMessageClass(method.input_type)
    response_cls = message_factory.GetMessageClass(method.output_type)
    stub = channel.unary_unary(
        "/caikit.runtime.MedcatDen.MedcatDenService/EntityLinkingTaskPredict",
        request_serializer=request_cls.SerializeToString,
        response_deserializer=response_cls.FromString)

    def call(text: str, ref: str) -> Any:
        return stub(request_cls(text=text), metadata=(("mm-model-id", ref),), timeout=120)

    return call, channel


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--pack", help="pack folder (default: the demo starter pack)")
    parser.add_argument("--texts", type=int, default=30)
    parser.add_argument("--repeats", type=int, default=7, help="load timings per side")
    parser.add_argument("--rounds", type=int, default=2, help="alternating inference rounds")
    args = parser.parse_args()
    logging.disable(logging.WARNING)

    import aconfig
    import requests
    from caikit.core.model_manager import ModelManager
    from medcat.cat import CAT

    from medcat_den.caikit import DenModelFinder, MedCATModelInitializer
    from medcat_den.caikit.server import DenServer
    from medcat_den.den import get_default_den

    texts = devel_texts(args.texts)
    with tempfile.TemporaryDirectory(prefix="caikit-bench-") as tmp:
        if args.pack:
            pack = args.pack
        else:
            from medcat_den.cli.demo import build_starter_pack

            pack = build_starter_pack(str(Path(tmp) / "pack"))
        den_root = str(Path(tmp) / "den")
        os.environ["MEDCAT_DEN_TYPE"] = "LOCAL_USER"
        os.environ["MEDCAT_DEN_PATH"] = den_root
        den = get_default_den()
        den.push_model(pack, "caikit bench", name="bench")

        mm = ModelManager()
        finder = DenModelFinder(aconfig.Config({}), "bench_den")
        initializer = MedCATModelInitializer(aconfig.Config({}), "bench_medcat")
        via_den_s, raw_s, _ = alternate(
            lambda: mm.load("den://bench", finder=finder, initializer=initializer),
            lambda: CAT.load_model_pack(pack), args.repeats)
        via_den_min = min(timed(lambda: mm.load("den://bench", finder=finder,
                                                initializer=initializer))[0] for _ in range(3))
        raw_min = min(timed(lambda: CAT.load_model_pack(pack))[0] for _ in range(3))

        def materialise_only() -> None:
            with den.materialise("den://bench"):
                pass

        mat_s = statistics.median(timed(materialise_only)[0] for _ in range(args.repeats))

        cat = CAT.load_model_pack(pack)
        server = DenServer(port=free_port(), grpc_port=free_port(), preload=["den://bench"])
        server.start()
        grpc_call, channel = grpc_entity_linker(server.grpc_address)
        try:
            url = server.url + "/api/v1/task/entity-linking"
            with requests.Session() as s:

                def over_http() -> list[dict[str, Any]]:
                    out = []
                    for t in texts:
                        r = s.post(url, json={"model_id": "den://bench", "inputs": t})
                        r.raise_for_status()
                        out.append(r.json())
                    return out

                def over_grpc() -> list[Any]:
                    return [grpc_call(t, "den://bench") for t in texts]

                def direct() -> list[dict[str, Any]]:
                    return [cat.get_entities(t) for t in texts]

                for t in texts[:3]:  # warm all paths (lazy torch / tokenizer set-up)
                    cat.get_entities(t)
                    s.post(url, json={"model_id": "den://bench", "inputs": t}).raise_for_status()
                    grpc_call(t, "den://bench")
                d_times, h_times, g_times = [], [], []
                for _ in range(args.rounds):  # alternate to spread machine noise evenly
                    d_s, via_direct = timed(direct)
                    h_s, via_http = timed(over_http)
                    g_s, via_grpc = timed(over_grpc)
                    d_times.append(d_s)
                    h_times.append(h_s)
                    g_times.append(g_s)
                direct_s, http_s = statistics.median(d_times), statistics.median(h_times)
                grpc_s = statistics.median(g_times)
        finally:
            channel.close()
            server.stop()
        n_direct = sum(len(r.get("entities", {})) for r in via_direct)
        n_http = sum(len(r["entities"]) for r in via_http)
        n_grpc = sum(len(r.entities) for r in via_grpc)
        size = dir_size(pack)

    print(f"caikit benchmark: pack {pack} ({size / 1e6:.1f} MB), "
          f"{len(texts)} devel texts x {args.rounds} rounds, {os.cpu_count()} CPUs")
    rows = [
        ("ModelManager.load via den / raw CAT.load_model_pack", f"{via_den_s / raw_s:.3f}",
         "target <= 1.05"),
        ("  ModelManager.load('den://bench') (s, median)", f"{via_den_s:.3f}", ""),
        ("  raw CAT.load_model_pack (s, median)", f"{raw_s:.3f}", ""),
        ("  same ratio from the best of 3 each", f"{via_den_min / raw_min:.3f}", ""),
        ("  of which den materialise+verify+cleanup (s)", f"{mat_s:.3f}", ""),
        ("HTTP throughput / direct get_entities throughput", f"{direct_s / http_s:.3f}",
         "(1.0 = no serving overhead)"),
        ("gRPC throughput / direct get_entities throughput", f"{direct_s / grpc_s:.3f}", ""),
        ("gRPC throughput / HTTP throughput", f"{http_s / grpc_s:.3f}", "target >= 1.0"),
        ("  HTTP (texts/s)", f"{len(texts) / http_s:.1f}", ""),
        ("  gRPC (texts/s)", f"{len(texts) / grpc_s:.1f}", ""),
        ("  direct cat.get_entities (texts/s)", f"{len(texts) / direct_s:.1f}", ""),
        ("  entities found HTTP / gRPC / direct", f"{n_http} / {n_grpc} / {n_direct}",
         "must match"),
    ]
    print_table(rows)


if __name__ == "__main__":
    main()
