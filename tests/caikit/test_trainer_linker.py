"""The training framework and the caikit trainer driving the real trainable embedding
linker (tiny random BERT built in the test; frozen LM, so epochs are fast)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import caikit
import pytest
from caikit.core import MODEL_MANAGER
from caikit.core.data_model import JobStatus

from medcat_den.caikit import MedCATModule
from medcat_den.caikit.server import configure_caikit
from medcat_den.training import TrainableComponent, Trainer
from tests.conftest import write_concepts_csv
from tests.linking.conftest import CONCEPTS, LINKER_OVERRIDES, make_bert, make_export

CONFIG = {"epochs": 12, "batch_size": 32, "learning_rate": 5e-3, "num_threads": 1,
          "eval_each_epoch": False, "checkpoint_each_epoch": False}


@pytest.fixture(scope="module")
def linker_pack(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from medcat_den.linking.builder import build_pack

    bert = make_bert(tmp_path_factory.mktemp("bert"), 32, 0)
    csv = write_concepts_csv(tmp_path_factory.mktemp("c") / "concepts.csv", CONCEPTS)
    return Path(build_pack(str(csv), str(tmp_path_factory.mktemp("pack")), trainable=True,
                           config_overrides={"embedding_model_name": str(bert),
                                             **LINKER_OVERRIDES}))


def test_trainer_drives_the_real_linker(linker_pack: Path) -> None:
    from medcat.cat import CAT

    from medcat_den.jobs.components import embedding_linker_component

    cat = CAT.load_model_pack(str(linker_pack))
    component = embedding_linker_component(cat, str(linker_pack))
    assert isinstance(component, TrainableComponent)
    devel: dict[str, Any] = make_export(2, 15)
    trainer = Trainer(component, CONFIG, progress=False)
    before = trainer.evaluate(devel)
    result = trainer.fit(make_export(1, 40), devel)
    assert result.metrics["f1"] > before["f1"]
    assert result.metrics["eval_loss"] < before["eval_loss"]


def test_caikit_job_fine_tunes_the_linker_in_the_den(isolated_env: Path,
                                                      linker_pack: Path) -> None:
    from medcat_den.den import get_default_den

    den = get_default_den()
    base = den.push_model(str(linker_pack), name="toy-linker")
    configure_caikit(runtime=False)
    caikit.configure(config_dict={"model_management": {"trainers": {"linker": {
        "type": "MEDCAT_EMBEDDING_LINKER", "config": {}}}}})
    future = MODEL_MANAGER.train(MedCATModule, trainer="linker", base_model="den://toy-linker",
                                 train_data=make_export(1, 40), eval_data=make_export(2, 15),
                                 trainer_config=CONFIG, name="toy-linker-ft")
    assert future.wait(300)
    info = future.get_info()
    assert info.status == JobStatus.COMPLETED, info.errors
    pushed = den.info(info.result_model_id)
    assert pushed.parents == [base.model_id]
    assert pushed.metadata["training"]["metrics"]["f1"] == info.final_metrics["f1"]
    model = future.load()
    assert isinstance(model, MedCATModule)
    assert model.run("the patient was diagnosed with asthma last year .").entities

    # the synchronous path caikit's LOCAL trainer takes (MedCATModule.train)
    data = isolated_env / "train.json"
    data.write_text(json.dumps(make_export(1, 40)))
    sync = MedCATModule.train("den://toy-linker", str(data),
                              trainer_config={**CONFIG, "epochs": 2}, name="toy-linker-sync")
    assert isinstance(sync, MedCATModule)
    assert den.info(sync.den_model_id).parents == [base.model_id]
    assert den.info("den://toy-linker-sync").model_id == sync.den_model_id
