"""``medcat-den serve --dump-protos DIR``: the ``.proto`` files of the gRPC services we serve.

Configures caikit as ``serve`` does (so the services are generated from the same config) and runs
``caikit.runtime.dump_services.dump_grpc_services`` with package consolidation: one ``.proto`` per
package, holding the inference service (``MedcatDenService``), training, training management and
info services with their messages. caikit's fixed ModelMesh protos (``mmesh.ModelRuntime``) are
copied beside them. A client needs either these files or server reflection.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from medcat_den.errors import ConfigError


def dump_protos(
    out_dir: str | os.PathLike[str],
    *,
    config_files: Iterable[str | os.PathLike[str]] = (),
    overrides: Mapping[str, Any] | None = None,
) -> list[Path]:
    """Write the ``.proto`` files into ``out_dir`` (created; must be empty if it exists)."""
    out = Path(out_dir)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise ConfigError(f"--dump-protos needs an empty or new folder: {out}")

    from medcat_den.caikit.numpy_compat import apply_numpy_compat
    from medcat_den.caikit.protobuf_compat import apply_protobuf_compat
    from medcat_den.caikit.server import configure_caikit

    apply_numpy_compat()
    apply_protobuf_compat()

    configure_caikit(config_files, overrides)

    import caikit.core.toolkit.logging
    import caikit.runtime.protobufs
    from caikit.runtime.dump_services import dump_grpc_services

    caikit.core.toolkit.logging.configure()  # runtime.yml's log level, as serve has it
    out.mkdir(parents=True, exist_ok=True)
    dump_grpc_services(str(out), write_modules_file=False, consolidate=True)
    protos = Path(next(iter(caikit.runtime.protobufs.__path__))) / "protos"
    for name in ("model-runtime.proto", "model-mesh.proto"):
        if (protos / name).is_file():
            shutil.copyfile(protos / name, out / name)
    return sorted(out.glob("*.proto"))
