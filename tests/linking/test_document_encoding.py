"""Each document is encoded once: the tagger and every mention vector read one chunked
encoder pass (``mention_encoding: document``); the per-window path stays selectable."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest
import torch

from medcat_den.errors import ConfigError
from medcat_den.linking.mention_tagger import DocStates, pool_spans

from .conftest import LINKER_OVERRIDES


def test_pool_spans_is_the_mean_of_the_tokens_a_span_overlaps() -> None:
    offsets = torch.tensor([[0, 3], [4, 7], [8, 12], [13, 15]])
    last = torch.arange(8, dtype=torch.float32).reshape(4, 2)
    states = DocStates(offsets, last.repeat(1, 2), last)
    got = pool_spans(states, [(4, 12), (5, 6), (0, 15), (16, 20)])
    assert torch.equal(got[0], last[1:3].mean(dim=0))
    assert torch.equal(got[1], last[1])  # a span inside one token pools that token
    assert torch.equal(got[2], last.mean(dim=0))
    assert torch.equal(got[3], torch.zeros(2))  # covers no token
    assert pool_spans(states, []).shape == (0, 2)


@pytest.mark.parametrize("words", [2, 12, 30, 300])
def test_chunks_are_balanced_and_own_every_token_once(words: int, tiny_bert_dir: Path) -> None:
    from transformers import AutoTokenizer

    from medcat_den.linking.mention_tagger import chunk_inputs

    tokenizer = AutoTokenizer.from_pretrained(str(tiny_bert_dir))
    text = " ".join(f"word{i % 37} of-{i}" for i in range(words))
    full = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
    inputs, owned = chunk_inputs(tokenizer, text, 64, 8)
    lengths = inputs["attention_mask"].sum(dim=1).tolist()
    assert max(lengths) <= 64
    # equal chunks: the last is not a padded stub (the encoder pays for padding)
    assert max(lengths) - min(lengths) < len(lengths), lengths
    rows = torch.cat([inputs["offset_mapping"][c, lo:hi] for c, (lo, hi) in enumerate(owned)])
    assert rows.tolist() == [list(o) for o in full["offset_mapping"]]
    needed = 1 if len(full["input_ids"]) <= 62 else math.ceil((len(full["input_ids"]) - 8) / 54)
    assert len(owned) == needed


@pytest.mark.parametrize(("max_tokens", "stride"), [(64, 8), (64, 0), (16, 13), (512, 32)])
def test_chunks_are_the_tokenizers_own_overflow_chunks(max_tokens: int, stride: int,
                                                        tiny_bert_dir: Path) -> None:
    """The text is tokenised once and cut into chunks by hand: the same ids, masks and
    offsets as the tokenizer's overflowing truncation at the balanced length."""
    from transformers import AutoTokenizer

    from medcat_den.linking.mention_tagger import balanced_chunk_length, chunk_inputs

    tokenizer = AutoTokenizer.from_pretrained(str(tiny_bert_dir))
    for words in (0, 1, 7, 31, 62, 200):
        text = " ".join(f"word{i % 37} of-{i}" for i in range(words))
        n = len(tokenizer(text, add_special_tokens=False)["input_ids"])
        length = balanced_chunk_length(n, max_tokens, stride, 2)
        ref = tokenizer(text, max_length=length, truncation=True, stride=stride,
                        return_overflowing_tokens=True, return_offsets_mapping=True,
                        padding=True, return_tensors="pt")
        inputs, owned = chunk_inputs(tokenizer, text, max_tokens, stride)
        for key in ("input_ids", "attention_mask", "offset_mapping"):
            assert torch.equal(inputs[key], ref[key]), (words, key)
        assert len(owned) == ref["input_ids"].shape[0]


def test_a_stride_as_long_as_a_chunk_is_a_config_error(tiny_bert_dir: Path) -> None:
    from transformers import AutoTokenizer

    from medcat_den.linking.mention_tagger import chunk_inputs

    tokenizer = AutoTokenizer.from_pretrained(str(tiny_bert_dir))
    with pytest.raises(ConfigError, match=r"tagger_chunk_stride \(14\).*14 = tagger_chunk_tokens 16"):
        chunk_inputs(tokenizer, "a short text", 16, 14)


def test_document_states_follow_weight_changes_and_keep_the_training_mode(
        tiny_bert_dir: Path) -> None:
    """A document's states are kept until a weight changes; encoding one in training
    mode runs the encoder without dropout and leaves the mode as it was."""
    from medcat_den.linking.config import EmbeddingLinkingConfig
    from medcat_den.linking.context_model import ContextModel
    from medcat_den.linking.model_ref import ModelRef

    text = "history of acute asthma is known ."
    cm = ContextModel(ModelRef.from_name(str(tiny_bert_dir)),
                      EmbeddingLinkingConfig(encoder_dtype="float32"))
    cm.model.train()
    first = cm.encode_document(text)
    assert cm.model.training and cm.model.language_model.training
    assert cm.encode_document(text) is first  # kept
    cm._doc_cache = None
    assert torch.equal(cm.encode_document(text).last, first.last)  # no dropout
    with torch.no_grad():
        cm.model.lm_layers()[-1].output.LayerNorm.bias.add_(1.0)
    changed = cm.encode_document(text)
    assert changed is not first and not torch.allclose(changed.last, first.last)


def _count_passes(monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    import medcat_den.linking.context_model as cm

    calls = {"documents": 0, "windows": 0}
    real_chunks = cm.chunk_inputs
    real_pooled = cm.ContextModel.pooled

    def chunks(*args: Any, **kwargs: Any) -> Any:
        calls["documents"] += 1
        return real_chunks(*args, **kwargs)

    def pooled(self: Any, texts: Any, spans: Any = None, desc: str = "") -> Any:
        if spans is not None:
            calls["windows"] += 1
        return real_pooled(self, texts, spans, desc)

    monkeypatch.setattr(cm, "chunk_inputs", chunks)
    monkeypatch.setattr(cm.ContextModel, "pooled", pooled)
    return calls


def test_tagger_and_mentions_share_one_pass_per_document(
        trained: dict[str, Any], toy_test: dict[str, Any],
        monkeypatch: pytest.MonkeyPatch) -> None:
    from medcat_den.linking.builder import get_linker

    cat = trained["cat"]
    linker = get_linker(cat)
    assert linker.cnf.mention_encoding == "auto" and linker.tagger_active()
    assert linker.encodes_documents()
    docs = toy_test["projects"][0]["documents"][:4]
    calls = _count_passes(monkeypatch)
    found = [cat.get_entities(d["text"])["entities"] for d in docs]
    assert sum(len(f) for f in found) > 0
    assert calls == {"documents": len(docs), "windows": 0}


def test_window_mode_is_the_per_candidate_path_and_links_alike(
        trained: dict[str, Any], toy_test: dict[str, Any],
        monkeypatch: pytest.MonkeyPatch) -> None:
    from medcat_den.linking import evaluate
    from medcat_den.linking.builder import get_linker

    cat = trained["cat"]
    linker = get_linker(cat)
    calls = _count_passes(monkeypatch)
    monkeypatch.setattr(linker.cnf, "mention_encoding", "window")
    window_f1 = evaluate(cat, toy_test, progress=False)["f1"]
    assert calls["windows"] > 0
    # the pack was trained on document-pass vectors; window vectors still link most mentions
    assert window_f1 > 0.5 * trained["after"]["f1"]


def test_auto_encodes_documents_only_when_the_tagger_reads_the_pass(
        static_pack: Path, trainable_pack: Path, toy_test: dict[str, Any],
        monkeypatch: pytest.MonkeyPatch) -> None:
    from medcat.cat import CAT

    from medcat_den.linking.builder import get_linker

    text = toy_test["projects"][0]["documents"][0]["text"]
    for pack in (static_pack, trainable_pack):  # no trained tagger: window passes
        cat = CAT.load_model_pack(str(pack))
        linker = get_linker(cat)
        assert not linker.encodes_documents()
        calls = _count_passes(monkeypatch)
        assert cat.get_entities(text)["entities"]
        assert calls["documents"] == 0 and calls["windows"] > 0
        monkeypatch.undo()
    # ... but an untrained tagger being trained reads the document pass, so do its rows
    assert get_linker(CAT.load_model_pack(str(trainable_pack))).encodes_documents(training=True)


def test_unknown_mention_encoding_is_a_config_error(concepts_csv: Path, tiny_bert_dir: Path,
                                                    tmp_path: Path) -> None:
    from medcat_den.linking.builder import build_pack

    with pytest.raises(ConfigError, match="mention_encoding must be 'auto', 'document' or 'window'"):
        build_pack(str(concepts_csv), str(tmp_path), config_overrides={
            **LINKER_OVERRIDES, "embedding_model_name": str(tiny_bert_dir),
            "mention_encoding": "sentence"})


def test_unfrozen_layers_train_through_the_document_pass(
        trainable_pack: Path, toy_train: dict[str, Any]) -> None:
    from medcat.cat import CAT

    from medcat_den.linking.builder import get_linker

    cat = CAT.load_model_pack(str(trainable_pack))
    linker = get_linker(cat)
    layer = linker.context_model.model.lm_layers()[-1]
    before = {k: v.clone() for k, v in layer.state_dict().items()}
    small = {"projects": [{"name": "t", "documents":
                           toy_train["projects"][0]["documents"][:8]}]}
    result = linker.fit(small, epochs=1, top_n_layers_to_unfreeze=1)
    assert math.isfinite(result["loss_last_epoch"])
    changed = [k for k, v in layer.state_dict().items() if not torch.equal(v, before[k])]
    assert changed, "no weight of the unfrozen top layer moved"
