"""The ``MEDCAT_DEN`` ModelFinder: finds MedCAT models in a den by ref.

Configuration::

    model_management:
        finders:
            <name>:
                type: MEDCAT_DEN
                import_class: medcat_den.caikit.DenModelFinder   # optional
                config:
                    den_type: null         # LOCAL_USER | LOCAL_MACHINE | S3 | ... (default: env)
                    den_path: null         # local den folder / backend path
                    den_config_file: null  # den YAML config naming backends
                    den_backend: null      # backend of that file

Accepted paths: ``den://NAME``, ``den://NAME@ALIAS``, ``den://NAME/VERSION``, the
``den:/...`` form ``ModelManager.load`` makes of them, and content ids (or unique
prefixes of >= 12 hex digits). Anything else returns ``None`` so that a ``MULTI``
chain falls through (e.g. to ``LOCAL``). A den ref naming no model raises
``ServedModelNotFoundError`` (a ValueError, which caikit runtime answers with 404).

The returned ModuleConfig carries the resolved content id and the den spec; the
pack itself is materialised, verified and loaded by the initializer (see
adrs/0401-finder-hands-a-resolved-ref.md).
"""

from __future__ import annotations

import logging
import os
from typing import Any

import aconfig
from caikit.core import ModuleConfig
from caikit.core.model_management import ModelFinderBase

from medcat_den.caikit.den_access import den_spec, open_den
from medcat_den.caikit.module import DEN_MODEL_ID_KEY, DEN_REF_KEY, DEN_SPEC_KEY, MODULE_ID
from medcat_den.den import Den
from medcat_den.den.refs import SCHEME_RE, is_den_ref
from medcat_den.errors import ModelNotFoundError, ServedModelNotFoundError

logger = logging.getLogger(__name__)


class DenModelFinder(ModelFinderBase):  # type: ignore[misc]
    __doc__ = __doc__

    name = "MEDCAT_DEN"

    def __init__(self, config: aconfig.Config, instance_name: str) -> None:
        self._instance_name = instance_name
        self.spec = den_spec(config, f"finder {instance_name!r}")
        self._den: Den | None = None

    @property
    def den(self) -> Den:
        if self._den is None:
            self._den = open_den(self.spec)
        return self._den

    def find_model(self, model_path: str, **_: Any) -> ModuleConfig | None:
        if not isinstance(model_path, str) or not is_den_ref(model_path):
            return None
        ref = model_path.strip()
        if not SCHEME_RE.match(ref) and os.path.exists(ref):
            return None  # a hex-named local folder, not a content id
        try:
            content_id = self.den.resolve(ref)
        except ModelNotFoundError as e:
            logger.warning("%s: %s", self._instance_name, e)
            raise ServedModelNotFoundError(f"{ref}: {e}") from e
        config = ModuleConfig({
            "module_id": MODULE_ID,
            "name": ref,
            DEN_MODEL_ID_KEY: content_id,
            DEN_REF_KEY: ref,
            DEN_SPEC_KEY: dict(self.spec),
        })
        config["model_path"] = ref
        logger.debug("%s: %s -> %s", self._instance_name, ref, content_id)
        return config
