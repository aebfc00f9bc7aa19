"""Remote-den policies: pushing fine-tuned models and fine-tuning fetched models locally."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from medcat_den.den import Den, get_default_den
from medcat_den.den.policies import RemotePolicy, check_fine_tune, policy_for
from medcat_den.errors import PolicyError
from medcat_den.storage.local import LocalFolderBackend
from tests.helpers.s3 import S3Server, start_server


@pytest.fixture(scope="module")
def s3_server() -> Iterator[S3Server]:
    yield from start_server()


@pytest.fixture()
def remote(isolated_env: Path, s3_server: S3Server, monkeypatch: pytest.MonkeyPatch) -> Den:
    monkeypatch.setenv("MEDCAT_DEN_TYPE", "S3")
    monkeypatch.delenv("MEDCAT_DEN_PATH")
    monkeypatch.setenv("MEDCAT_DEN_REMOTE_HOST", f"s3://{s3_server.new_bucket()}/den")
    return get_default_den()


def snapshot(den: Den) -> tuple[list[str], list[str]]:
    return sorted(den.backend.list_keys("")), sorted(den.backend.list_refs(""))


def cdb_state(cat: Any) -> Any:
    return copy.deepcopy((cat.cdb.cui2info, cat.cdb.name2info))


def test_push_of_fine_tuned_model_refused_and_changes_nothing(
    remote: Den, tiny_pack: Path, tiny_pack_b: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    base = remote.push_model(str(tiny_pack), name="base")  # no parents: allowed
    before = snapshot(remote)
    with pytest.raises(PolicyError, match="MEDCAT_DEN_REMOTE_ALLOW_PUSH_FINETUNED"):
        remote.push_model(str(tiny_pack_b), name="tuned", parents=[base.model_id])
    assert snapshot(remote) == before
    monkeypatch.setenv("MEDCAT_DEN_REMOTE_ALLOW_PUSH_FINETUNED", "true")
    tuned = get_default_den().push_model(str(tiny_pack_b), name="tuned",
                                         parents=[base.model_id])
    assert tuned.parents == [base.model_id]


def test_local_dens_have_no_restrictions(tmp_path: Path, tiny_pack: Path,
                                         tiny_pack_b: Path) -> None:
    backend = LocalFolderBackend(str(tmp_path / "den"))
    assert policy_for(backend) is None
    den = Den(backend, policy=RemotePolicy(False, False))
    base = den.push_model(str(tiny_pack), name="base")
    den.push_model(str(tiny_pack_b), name="tuned", parents=[base.model_id])
    cat = den.fetch_model("den://base")
    cat.trainer.add_and_train_concept("C9", "new concept")
    assert "C9" in cat.cdb.cui2info
    check_fine_tune(den=den, model_id=base.model_id)


def test_every_training_entry_point_of_a_fetched_model_is_refused(
    remote: Den, tiny_pack: Path
) -> None:
    from medcat.components.types import CoreComponentType

    info = remote.push_model(str(tiny_pack), name="base")
    cat = remote.fetch_model("den://base")
    state = cdb_state(cat)
    linker = cat._pipeline.get_component(CoreComponentType.linking)
    export = {"projects": [{"name": "p", "id": 1, "cuis": "", "documents": [
        {"id": 1, "name": "d", "text": "patient has asthma", "annotations": [
            {"cui": "C0004096", "start": 12, "end": 18, "value": "asthma", "correct": True}]}]}]}
    attempts = {
        "train_unsupervised": lambda: cat.trainer.train_unsupervised(["patient has asthma"]),
        "train_supervised_raw": lambda: cat.trainer.train_supervised_raw(export),
        "add_and_train_concept": lambda: cat.trainer.add_and_train_concept("C9", "new thing"),
        "unlink_concept_name": lambda: cat.trainer.unlink_concept_name("C0004096", "asthma"),
        "linker.train": lambda: linker.train("C0004096", None, None),
        "linker.train_unsupervised": lambda: linker.train_unsupervised(None),
    }
    for what, attempt in attempts.items():
        with pytest.raises(PolicyError, match="MEDCAT_DEN_REMOTE_ALLOW_LOCAL_FINE_TUNE"):
            attempt()
        assert cdb_state(cat) == state, f"{what} changed the model"
    # the guard survives MedCAT recreating its pipeline and trainer
    cat._recreate_pipe()
    with pytest.raises(PolicyError):
        cat.trainer.add_and_train_concept("C9", "new thing")
    # the caikit trainer and the CLI ask the same function
    with pytest.raises(PolicyError):
        check_fine_tune(cat=cat)
    with pytest.raises(PolicyError):
        check_fine_tune(den=remote, model_id=info.model_id)
    assert cdb_state(cat) == state


def test_local_fine_tune_allowed_by_setting(remote: Den, tiny_pack: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    remote.push_model(str(tiny_pack), name="base")
    monkeypatch.setenv("MEDCAT_DEN_REMOTE_ALLOW_LOCAL_FINE_TUNE", "1")
    den = get_default_den()
    cat = den.fetch_model("den://base")
    cat.trainer.add_and_train_concept("C9", "new concept")
    assert "C9" in cat.cdb.cui2info
    check_fine_tune(cat=cat)
    check_fine_tune(den=den, model_id="x" * 64)


def make_tiny_bert(folder: Path, words: list[str]) -> Path:
    """A random BERT (hidden 32) and WordPiece tokenizer over ``words``, saved locally."""
    import torch
    from transformers import BertConfig, BertModel, BertTokenizerFast

    folder.mkdir(parents=True, exist_ok=True)
    alnum = "abcdefghijklmnopqrstuvwxyz0123456789"
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *sorted(set(words)),
             *[c for c in alnum if c not in words], *[f"##{c}" for c in alnum]]
    (folder / "vocab.txt").write_text("\n".join(vocab) + "\n")
    BertTokenizerFast(vocab_file=str(folder / "vocab.txt"), do_lower_case=True
                      ).save_pretrained(str(folder))
    torch.manual_seed(0)
    BertModel(BertConfig(vocab_size=len(vocab), hidden_size=32, num_hidden_layers=2,
                         num_attention_heads=2, intermediate_size=37,
                         max_position_embeddings=128)).save_pretrained(str(folder))
    return folder


def test_trainable_embedding_linker_of_a_fetched_model_is_refused(
    remote: Den, tmp_path: Path
) -> None:
    from medcat_den.linking.builder import build_pack, get_linker
    from tests.conftest import TINY_CONCEPTS, write_concepts_csv

    bert = make_tiny_bert(tmp_path / "bert", [w for _, n in TINY_CONCEPTS for w in n.split()])
    csv = write_concepts_csv(tmp_path / "concepts.csv", TINY_CONCEPTS)
    pack = build_pack(str(csv), str(tmp_path / "pack"), trainable=True,
                      config_overrides={"embedding_model_name": str(bert), "epochs": 1})
    remote.push_model(pack, name="linker")
    cat = remote.fetch_model("den://linker")
    linker = get_linker(cat)
    export = {"projects": [{"name": "p", "documents": [{"id": 1, "name": "d",
              "text": "asthma", "annotations": [{"cui": "C0004096", "start": 0, "end": 6,
                                                 "value": "asthma", "correct": True}]}]}]}
    with pytest.raises(PolicyError):
        linker.fit(export)
    with pytest.raises(PolicyError):
        linker.as_trainable()
