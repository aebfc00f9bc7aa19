"""The one training run (`medcat_den.jobs.run_training`) and the push, without caikit:
a real den, a real MedCAT pack, the real ToyLinker component."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from medcat_den.errors import TrainingCanceledError
from medcat_den.jobs import JobSpec, Progress, RunHooks, push_result, run_training, train_to_pack
from medcat_den.training import CancellationToken, TrainerConfig, fingerprint
from medcat_den.training.toy import make_toy_export
from tests.conftest import TINY_CONCEPTS

TOY = "medcat_den.training.toy:toy_component_factory"
TRAIN = make_toy_export(TINY_CONCEPTS, n_docs=20, seed=1)
QUICK = TrainerConfig(epochs=2, batch_size=8, learning_rate=0.05, num_threads=1)


def _spec(tmp: Path, **extra: object) -> JobSpec:
    return JobSpec(id="test:" + "a" * 32, uuid="a" * 32, trainer_name="test",
                   base_model="den://tiny", train_data=TRAIN, trainer_config=QUICK,
                   component_factory=TOY, scratch=str(tmp / "scratch"), name="tiny-job",
                   **extra)  # type: ignore[arg-type]


def test_run_then_push_records_lineage_and_progress(isolated_env: Path, tiny_pack: Path,
                                                    tmp_path: Path) -> None:
    from medcat_den.den import get_default_den

    den = get_default_den()
    base = den.push_model(str(tiny_pack), name="tiny")
    seen: list[Progress] = []
    spec = _spec(tmp_path)
    outcome = train_to_pack(spec, RunHooks(report=seen.append))
    phases = list(dict.fromkeys(p.phase for p in seen if p.phase))
    assert phases == ["loading", "training", "saving"]
    last = [p for p in seen if p.step is not None][-1]
    assert outcome.steps == last.step == last.max_steps > 0
    assert outcome.base_model_id == base.model_id
    assert outcome.fingerprints.train == fingerprint(TRAIN)
    assert (Path(outcome.pack) / "toy_linker_state.pt").is_file()
    info = push_result(spec, outcome)
    pushed = den.info(info.model_id)
    assert pushed.parents == [base.model_id] and pushed.name == "tiny-job"
    assert pushed.metadata["training"]["steps"] == outcome.steps

    # a run that may not save (a data-parallel rank > 0) trains and returns None
    assert run_training(_spec(tmp_path / "b"), RunHooks(may_save=lambda: False)) is None
    # the spec survives the trip to a Ray node
    assert JobSpec.decode(spec.encode()) == spec


def test_canceled_run_stops_before_touching_the_base(isolated_env: Path, tiny_pack: Path,
                                                     tmp_path: Path) -> None:
    from medcat_den.den import get_default_den

    den = get_default_den()
    den.push_model(str(tiny_pack), name="tiny")
    token = CancellationToken()
    token.cancel()
    with pytest.raises(TrainingCanceledError, match="before it started"):
        run_training(_spec(tmp_path), RunHooks(token=token))
    assert not (tmp_path / "scratch").exists()
    with pytest.raises(TrainingCanceledError):
        run_training(_spec(tmp_path), RunHooks(stop_requested=lambda: True))
    assert [m.name for m in den.list_available_models()] == ["tiny"]


def test_spec_refuses_unknown_fields() -> None:
    with pytest.raises(ValidationError, match="bogus"):
        JobSpec(id="x", uuid="0" * 32, trainer_name="t", base_model="den://x",
                train_data="a.json", bogus=1)  # type: ignore[call-arg]
