"""``Den.finetune_model`` / ``evaluate_model`` (0.6.0 only declared them) really work.

Fine-tuning trains the real ToyLinker component (``medcat_den.training.toy``) on the real
tiny MedCAT pack through our Trainer, as a background job, and pushes the result.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from medcat_den.compat import CompatModelService
from medcat_den.den.model_services import register_model_service
from medcat_den.errors import TrainingError, UnsupportedAPIException
from medcat_den.training.toy import make_toy_export
from tests.conftest import TINY_CONCEPTS

TOY = "medcat_den.training.toy:toy_component_factory"
TRAIN = make_toy_export(TINY_CONCEPTS, n_docs=12, seed=1)
DEVEL = make_toy_export(TINY_CONCEPTS, n_docs=6, seed=2)


class RecordingService(CompatModelService):
    """Notes the thread each fine-tune ran in (to show it is a background job)."""

    threads: list[str]

    def _finetune(self, den: Any, model_id: str, export: dict[str, Any]) -> Any:
        self.threads.append(threading.current_thread().name)
        return super()._finetune(den, model_id, export)


@pytest.fixture()
def service() -> Iterator[RecordingService]:
    svc = RecordingService(component_factory=TOY,
                           trainer_config={"epochs": 1, "batch_size": 8, "learning_rate": 0.05})
    svc.threads = []
    previous = register_model_service(svc)
    try:
        yield svc
    finally:
        register_model_service(previous)


def test_finetune_model_trains_pushes_and_records_lineage(
        den: Any, base_info: Any, service: RecordingService, isolated_env: Path) -> None:
    from medcat_den.base import ModelInfo

    placeholder = ModelInfo(model_id=base_info.medcat_model_id, model_card=None,
                            base_model=None)  # 0.6.0 code knows the MedCAT hash
    tuned = den.finetune_model(placeholder, TRAIN)
    assert service.threads and service.threads[0].startswith("medcat-den-finetune")
    assert isinstance(tuned, ModelInfo)
    assert tuned.parents == [base_info.model_id]
    assert tuned.base_model is not None and tuned.base_model.model_id == base_info.model_id
    assert tuned.name == "tiny-finetuned"
    training = tuned.metadata["training"]
    assert training["base_model"] == base_info.model_id and training["steps"] >= 1
    assert [m.model_id for m in den.lineage(tuned.model_id)] == [tuned.model_id,
                                                                 base_info.model_id]
    assert [m.model_id for m in den.list_available_derivative_models(base_info)] == [
        tuned.model_id]
    # the trained weights are in the pushed pack
    with den.materialise(tuned.model_id) as pack:
        assert any("toy" in p.name.lower() for p in Path(pack).rglob("*"))

    # data as 0.6.0's list form (here: paths of exports)
    path = isolated_env / "more.json"
    path.write_text(json.dumps(DEVEL))
    again = den.finetune_model(tuned, [str(path)], backend_name="default")
    assert again.parents == [tuned.model_id]


def test_evaluate_model_returns_precision_recall_f1(den: Any, base_info: Any) -> None:
    metrics = den.evaluate_model(base_info, DEVEL)
    for key in ("precision", "recall", "f1"):
        assert 0.0 <= metrics[key] <= 1.0
    gold = sum(len(d["annotations"]) for p in DEVEL["projects"] for d in p["documents"])
    assert metrics["tp"] + metrics["fn"] == gold
    assert metrics["f1"] > 0  # the tiny pack's dictionary finds the concepts it was built on


def test_bad_data_and_missing_service_are_clear(den: Any, base_info: Any,
                                                service: RecordingService) -> None:
    with pytest.raises(TrainingError, match="project ids are not supported"):
        den.finetune_model(base_info, ["project-17"])
    with pytest.raises(TrainingError, match="must be a MedCATtrainer export"):
        den.evaluate_model(base_info, 42)
    assert service.threads == []
    previous = register_model_service(None)
    try:
        with pytest.raises(UnsupportedAPIException, match="import medcat_den.compat"):
            den.finetune_model(base_info, TRAIN)
    finally:
        register_model_service(previous)
