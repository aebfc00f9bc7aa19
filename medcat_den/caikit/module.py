"""The caikit module wrapping a loaded MedCAT ``CAT``.

Saved layout (what :meth:`MedCATModule.save` writes and caikit's ``LOCAL`` finder reads)::

    <model_path>/config.yml     caikit module config; keys below
    <model_path>/<pack>/        the MedCAT model pack folder

config.yml keys: ``module_id`` (this module's stable id), ``medcat_pack`` (pack folder,
relative to model_path), ``den_model_id`` (den content id the pack came from, or "").
The den finder hands over a ModuleConfig without ``medcat_pack`` but with
``den_model_id`` (resolved content id), ``den_ref`` and ``den`` (which den; see
den_access.py): the pack is then materialised, verified and loaded through the den.
"""

# No `from __future__ import annotations`: caikit reads run() signatures at class creation.
import logging
import os
import shutil
import tempfile
from collections.abc import Callable, Iterable
from typing import Any, List, Optional  # noqa: UP035  (caikit reads typing.Optional)

import caikit
from caikit.core import ModuleBase, ModuleConfig, ModuleSaver
from caikit.core.data_model.json_dict import JsonDict
from caikit.interfaces.nlp.data_model import TokenClassificationResult, TokenClassificationResults
from caikit.interfaces.nlp.tasks import TokenClassificationTask
from medcat.cat import CAT

from medcat_den.caikit.data_model import EntityLinkingResult, LinkedEntity, MetaAnnotation
from medcat_den.caikit.den_access import fetch_cat, open_den
from medcat_den.caikit.pack_loading import load_cat
from medcat_den.caikit.tasks import EntityLinkingTask
from medcat_den.errors import ConfigError, InvalidPackError

logger = logging.getLogger(__name__)

MODULE_ID = "9b1c4a52-7d0e-4f3b-8e21-5a6c0d3f7e19"
PACK_KEY = "medcat_pack"
DEN_MODEL_ID_KEY = "den_model_id"
DEN_REF_KEY = "den_ref"
DEN_SPEC_KEY = "den"
SAVED_PACK_NAME = "medcat_pack"

# MedCATModule.train's implementation; the trainers layer (above this one) sets it
_local_training: Callable[..., "MedCATModule"] | None = None


def set_local_training(implementation: Callable[..., "MedCATModule"]) -> None:
    """Register what :meth:`MedCATModule.train` runs (done by ``medcat_den.caikit.trainers``)."""
    global _local_training
    _local_training = implementation


def _entity(ent: dict[str, Any]) -> LinkedEntity:
    metas = [
        MetaAnnotation(name=str(m.get("name", name)), value=str(m.get("value", "")),
                       confidence=float(m.get("confidence", 0.0)))
        for name, m in (ent.get("meta_anns") or {}).items()
    ]
    return LinkedEntity(
        start=int(ent["start"]),
        end=int(ent["end"]),
        text=str(ent.get("source_value", "")),
        cui=str(ent["cui"]),
        pretty_name=str(ent.get("pretty_name", "")),
        type_ids=[str(t) for t in ent.get("type_ids", [])],
        score=float(ent.get("context_similarity", 0.0)),
        accuracy=float(ent.get("acc", 0.0)),
        detected_name=str(ent.get("detected_name", "")),
        meta_annotations=metas,
    )


@caikit.module(id=MODULE_ID, name="MedCAT", version="0.1.0",
               tasks=[EntityLinkingTask, TokenClassificationTask])
class MedCATModule(ModuleBase):  # type: ignore[misc]
    """A MedCAT pipeline (NER + linking + addons) served through caikit."""

    def __init__(self, cat: CAT, den_model_id: str = "") -> None:
        super().__init__()
        self.cat = cat
        self.den_model_id = den_model_id

    # -- inference ---------------------------------------------------------------------
    def _result(self, raw: Any) -> EntityLinkingResult:
        ents = sorted((raw or {}).get("entities", {}).values(),
                      key=lambda e: (e["start"], e["end"]))
        return EntityLinkingResult(entities=[_entity(e) for e in ents],
                                   model_id=self.den_model_id)

    @EntityLinkingTask.taskmethod()  # type: ignore[untyped-decorator]
    def run(self, text: str) -> EntityLinkingResult:
        """Entities linked in ``text``."""
        return self._result(self.cat.get_entities(text))

    def run_batch(self, text: Iterable[str]) -> list[EntityLinkingResult]:
        """Entities for many texts, in input order.

        One ``get_entities`` per text: MedCAT 2.9's ``get_entities_multi_texts`` imports
        RelCAT, which fails with transformers 5 (``tokenization_bert_fast`` is gone).
        """
        return [self.run(t) for t in text]

    @TokenClassificationTask.taskmethod()  # type: ignore[untyped-decorator]
    def run_token_classification(self, text: str) -> TokenClassificationResults:
        """caikit NLP view: one result per entity; ``entity`` = CUI, ``entity_group`` = type id."""
        linked = self.run(text)
        return TokenClassificationResults(results=[
            TokenClassificationResult(
                start=e.start, end=e.end, word=e.text, entity=e.cui,
                entity_group=e.type_ids[0] if e.type_ids else "",
                score=min(1.0, max(0.0, e.score)), token_count=None)
            for e in linked.entities
        ])

    # -- persistence -------------------------------------------------------------------
    def save(self, model_path: str) -> None:
        """Write config.yml + the pack to ``model_path`` (must not exist or be empty)."""
        target = os.path.abspath(model_path)
        if os.path.exists(target) and (not os.path.isdir(target) or os.listdir(target)):
            raise ConfigError(f"save target {target} exists and is not an empty folder")
        parent = os.path.dirname(target)
        os.makedirs(parent, exist_ok=True)
        tmp = tempfile.mkdtemp(prefix=".medcat-module-", dir=parent)
        try:
            with ModuleSaver(self, model_path=tmp) as saver:
                pack = self.cat.save_model_pack(tmp, pack_name=SAVED_PACK_NAME,
                                                make_archive=False, add_hash_to_pack_name=False)
                saver.update_config({PACK_KEY: os.path.basename(pack),
                                     DEN_MODEL_ID_KEY: self.den_model_id})
            if os.path.isdir(target):
                os.rmdir(target)
            os.replace(tmp, target)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise

    @classmethod
    def train(
        cls,
        base_model: str,
        train_data: str,
        eval_data: Optional[str] = None,  # noqa: UP045
        trainer_config: Optional[JsonDict] = None,  # noqa: UP045
        name: Optional[str] = None,  # noqa: UP045
        aliases: Optional[List[str]] = None,  # noqa: UP006, UP045
    ) -> "MedCATModule":
        """Fine-tune the base model's trainable linker; the result is pushed to the den.

        This is what caikit runtime's training route calls with a plain caikit ``LOCAL``
        trainer: the job runs synchronously in this thread, on the default den and
        component factory (the ``MEDCAT_EMBEDDING_LINKER`` trainer runs the same job in the
        background). caikit reads only this signature (``typing.Optional`` / ``List``). The
        work is done by the trainers layer, which registers it (:func:`set_local_training`)
        when ``medcat_den.caikit.trainers`` is imported.
        """
        if _local_training is None:
            raise ConfigError("MedCATModule.train runs in the trainers layer: import "
                              "medcat_den.caikit.trainers first")
        return _local_training(cls, base_model, train_data, eval_data=eval_data,
                               trainer_config=trainer_config, name=name, aliases=aliases)

    @classmethod
    def load(
        cls,
        model_path: str | ModuleConfig,
        *,
        config_dict: dict[str, Any] | None = None,
        device: str | None = None,
        warm_up: bool = False,
        **_: Any,
    ) -> "MedCATModule":
        """Load from a saved module folder or a den finder's ModuleConfig."""
        module_config = ModuleConfig.load(model_path)
        base = str(module_config.model_path)
        rel = module_config.get(PACK_KEY)
        content_id = str(module_config.get(DEN_MODEL_ID_KEY) or "")
        if rel:
            pack_path = os.path.abspath(os.path.join(base, str(rel)))
            if os.path.commonpath([os.path.abspath(base), pack_path]) != os.path.abspath(base):
                raise InvalidPackError(f"{base}: {PACK_KEY} {rel!r} points outside the model")
            cat = load_cat(pack_path, config_dict=config_dict, device=device, warm_up=warm_up)
        elif content_id:
            den = open_den(module_config.get(DEN_SPEC_KEY) or {})
            cat = fetch_cat(den, content_id, config_dict=config_dict, device=device,
                            warm_up=warm_up)
        else:
            raise InvalidPackError(
                f"{base}: module config has neither {PACK_KEY!r} nor {DEN_MODEL_ID_KEY!r}")
        module = cls(cat, den_model_id=content_id)
        ref = module_config.get(DEN_REF_KEY)
        logger.info("MedCAT module ready%s", f" ({ref} = {module.den_model_id})" if ref else "")
        return module
