"""Fixtures for the linker tests: a tiny random BERT + WordPiece tokenizer, toy concepts
and toy MedCATtrainer exports where context decides whether a dictionary match is a mention."""

from __future__ import annotations

import random
import shutil
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import write_concepts_csv

CONCEPTS: list[tuple[str, str]] = [
    ("C01", "diabetes mellitus"), ("C01", "diabetes"), ("C02", "hypertension"),
    ("C02", "high blood pressure"), ("C03", "asthma"), ("C04", "myocardial infarction"),
    ("C04", "heart attack"), ("C05", "heart failure"), ("C06", "cancer"),
    ("C06", "malignant neoplasm"), ("C07", "chronic obstructive pulmonary disease"),
    ("C07", "copd"), ("C08", "migraine"), ("C09", "epilepsy"), ("C09", "seizure disorder"),
    ("C10", "anemia"), ("C11", "pneumonia"), ("C12", "sepsis"), ("C13", "stroke"),
    ("C14", "obesity"), ("C15", "psoriasis"), ("C16", "arthritis"),
    ("C16", "rheumatoid arthritis"), ("C17", "gout"), ("C18", "hepatitis"),
    ("C19", "cirrhosis"), ("C20", "tuberculosis"), ("C21", "malaria"), ("C22", "measles"),
    ("C23", "glaucoma"), ("C24", "cataract"), ("C25", "dementia"), ("C26", "depression"),
    ("C27", "anxiety"), ("C28", "insomnia"), ("C29", "fever"), ("C30", "failure"),
]
FILLER = ("the patient was diagnosed with treated for history of no signs a an and of "
          "in on at to for we report new case presented shows suffered from clinic street "
          "band named after journal called hotel brand book titled road song about "
          "last year today this study his her mother father . , ( ) ; : - has had is "
          "severe mild acute chronic known risk").split()

POS_TEMPLATES = ["the patient was diagnosed with {n} last year .",
                 "we report a new case of severe {n} .",
                 "his mother suffered from {n} .", "history of acute {n} is known ."]
NEG_TEMPLATES = ["the band named {n} played a song today .",
                 "a hotel called {n} is on this street .",
                 "the journal titled {n} has a new book ."]


@pytest.fixture(scope="module", autouse=True)
def _one_torch_thread() -> Any:
    """Tiny models: intra-op threads only contend on the shared 2-core machine."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _vocab_words() -> list[str]:
    words = {w for _, n in CONCEPTS for w in n.split()} | set(FILLER)
    return sorted(words)


def make_bert(folder: Path, hidden: int, extra_vocab: int) -> Path:
    """Save a random BERT + WordPiece tokenizer (vocab from the toy texts) into ``folder``."""
    import torch
    from transformers import BertConfig, BertModel, BertTokenizerFast

    folder.mkdir(parents=True, exist_ok=True)
    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    alnum = "abcdefghijklmnopqrstuvwxyz0123456789"
    chars = list(alnum) + [f"##{c}" for c in alnum]
    vocab = specials + _vocab_words() + [c for c in chars if c not in _vocab_words()]
    vocab += [f"zz{i}" for i in range(extra_vocab)]
    (folder / "vocab.txt").write_text("\n".join(vocab) + "\n")
    # transformers 5 ignores ``vocab_file`` here (every token became [UNK]): pass the vocab
    tok = BertTokenizerFast(vocab={t: i for i, t in enumerate(vocab)}, do_lower_case=True)
    assert "[UNK]" not in tok.tokenize("the patient asthma"), "toy tokenizer lost its vocab"
    tok.save_pretrained(str(folder))
    torch.manual_seed(0)
    cfg = BertConfig(vocab_size=len(vocab), hidden_size=hidden, num_hidden_layers=2,
                     num_attention_heads=2, intermediate_size=37, max_position_embeddings=128)
    BertModel(cfg).save_pretrained(str(folder))
    return folder


@pytest.fixture(scope="session")
def tiny_bert_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny random BERT (hidden 32, ~100 KB) saved as a local model folder."""
    return make_bert(tmp_path_factory.mktemp("tiny_bert"), 32, 0)


@pytest.fixture(scope="session")
def wide_vocab_bert_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Same architecture with a 40k-token vocabulary (~5 MB of frozen embeddings)."""
    return make_bert(tmp_path_factory.mktemp("wide_bert"), 32, 40000)


@pytest.fixture(scope="session")
def concepts_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_concepts_csv(tmp_path_factory.mktemp("concepts") / "concepts.csv", CONCEPTS)


def make_export(seed: int, n_docs: int) -> dict[str, Any]:
    """Toy export: each doc has annotated mentions and unannotated look-alikes."""
    rng = random.Random(seed)
    names = [(c, n) for c, n in CONCEPTS if c != "C30"]
    docs = []
    for d in range(n_docs):
        parts: list[str] = []
        anns = []
        pos = 0
        for _ in range(4):
            cui, name = rng.choice(names)
            tpl = rng.choice(POS_TEMPLATES + NEG_TEMPLATES)
            pre, post = tpl.split("{n}")
            start = pos + len(pre)
            sentence = pre + name + post + " "
            if tpl in POS_TEMPLATES:
                anns.append({"cui": cui, "start": start, "end": start + len(name),
                             "value": name, "correct": True})
            parts.append(sentence)
            pos += len(sentence)
        docs.append({"id": d, "name": f"doc{d}", "text": "".join(parts), "annotations": anns})
    return {"projects": [{"name": "toy", "documents": docs}]}


@pytest.fixture(scope="session")
def toy_train() -> dict[str, Any]:
    return make_export(1, 40)


@pytest.fixture(scope="session")
def toy_test() -> dict[str, Any]:
    return make_export(2, 15)


LINKER_OVERRIDES: dict[str, Any] = {"context_window_size": 6, "epochs": 30,
                                    "training_batch_size": 32, "learning_rate": 5e-3}


def _toy_pack(tmp_path_factory: pytest.TempPathFactory, model_dir: Path, concepts_csv: Path,
              trainable: bool) -> Path:
    from medcat_den.linking.builder import build_pack

    folder = tmp_path_factory.mktemp("trainable" if trainable else "static")
    return Path(build_pack(str(concepts_csv), str(folder), trainable=trainable, config_overrides={
        "embedding_model_name": str(model_dir), **LINKER_OVERRIDES}))


@pytest.fixture(scope="session")
def static_pack(tmp_path_factory: pytest.TempPathFactory, tiny_bert_dir: Path,
                concepts_csv: Path) -> Path:
    return _toy_pack(tmp_path_factory, tiny_bert_dir, concepts_csv, trainable=False)


@pytest.fixture(scope="session")
def trainable_pack(tmp_path_factory: pytest.TempPathFactory, tiny_bert_dir: Path,
                   concepts_csv: Path) -> Path:
    return _toy_pack(tmp_path_factory, tiny_bert_dir, concepts_csv, trainable=True)


@pytest.fixture(scope="session")
def trained(tmp_path_factory: pytest.TempPathFactory, trainable_pack: Path,
            toy_train: dict[str, Any], toy_test: dict[str, Any]) -> dict[str, Any]:
    """Train once per session: returns the pack paths, fit result and F1 before/after."""
    from medcat.cat import CAT

    from medcat_den.linking import evaluate
    from medcat_den.linking.builder import get_linker

    cat = CAT.load_model_pack(str(trainable_pack))
    before = evaluate(cat, toy_test)
    hash_before = get_linker(cat).get_hash()
    weights_before = {k: v.clone() for k, v in
                      get_linker(cat).trainable_state_dict()["weights"].items()}
    # 10 epochs: F1 0.681 -> 0.909, P 0.517 -> 0.857, as at 15 (7 to 15 all give these;
    # 6 gives P 0.811, under the test's +0.3); see test_training.py
    result = get_linker(cat).fit(toy_train, epochs=10)
    after = evaluate(cat, toy_test)
    out = tmp_path_factory.mktemp("trained")
    path = cat.save_model_pack(str(out), pack_name="trained", make_archive=False,
                               add_hash_to_pack_name=False)
    return {"cat": cat, "path": Path(path), "fit": result, "before": before, "after": after,
            "hash_before": hash_before, "weights_before": weights_before}


def copy_pack(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    return dst
