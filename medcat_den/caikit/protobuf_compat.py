"""caikit 0.29.1's missing runtime protobuf modules, supplied only when missing.

caikit's gRPC server imports ``caikit.runtime.protobufs.{model_runtime,process}_pb2{,_grpc}``;
the 0.29.1 wheel lacks them (``cannot import name 'model_runtime_pb2'``). :func:`apply_protobuf_compat`
appends ``medcat_den/caikit/runtime_protobufs/`` (the modules of the 0.29.0 wheel, generated
from the same ``.proto`` files) to the ``__path__`` of ``caikit.runtime.protobufs`` when, and
only when, caikit cannot find ``model_runtime_pb2`` itself; a caikit that ships them is left
alone. Called by our gRPC entry points, never on import. See adrs/0405.
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
from pathlib import Path

logger = logging.getLogger(__name__)

PROBE_MODULE = "caikit.runtime.protobufs.model_runtime_pb2"
SHIPPED_DIR = Path(__file__).resolve().parent / "runtime_protobufs"


def needs_protobuf_compat() -> bool:
    """True when caikit's runtime protobuf package has no ``model_runtime_pb2``."""
    return importlib.util.find_spec(PROBE_MODULE) is None


def apply_protobuf_compat() -> bool:
    """Make the shipped modules importable under ``caikit.runtime.protobufs`` if caikit lacks
    them; return whether the package path was extended."""
    if not needs_protobuf_compat():
        return False
    package = importlib.import_module("caikit.runtime.protobufs")
    package.__path__.append(str(SHIPPED_DIR))
    importlib.invalidate_caches()
    logger.debug("caikit lacks %s; serving its runtime protobufs from %s", PROBE_MODULE,
                 SHIPPED_DIR)
    return True
