"""Static linker, registration, save/load, nested entities, chunked top-k, metrics."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import torch


def _ents(cat, text: str) -> list[tuple[int, int, str]]:
    doc = cat(text)
    return [(e.base.start_char_index, e.base.end_char_index, e.cui) for e in doc.linked_ents]


TEXT = ("the patient was diagnosed with diabetes mellitus and heart failure . "
        "a hotel called asthma is on this street . history of copd is known .")


def test_registered_under_own_names() -> None:
    from medcat.components.types import CoreComponentType, get_registered_components

    import medcat_den.linking  # noqa: F401

    names = {n for n, _ in get_registered_components(CoreComponentType.linking)}
    assert {"medcat_den_embedding_linker", "medcat_den_trainable_embedding_linker"} <= names
    # the upstream plugin's names are not taken by ours (both can be installed together)
    from medcat.components.types import get_core_registry

    from medcat_den.linking.static_linker import EmbeddingLinker
    from medcat_den.linking.trainable_linker import TrainableEmbeddingLinker

    registry = get_core_registry(CoreComponentType.linking)
    ours = {"medcat_den_embedding_linker": EmbeddingLinker,
            "medcat_den_trainable_embedding_linker": TrainableEmbeddingLinker}
    for name, cls in ours.items():
        made = registry.get_component(name)
        assert made is cls or getattr(made, "__self__", None) is cls, name
    for upstream in ("embedding_linker", "trainable_embedding_linker"):
        if upstream in registry:  # only when the upstream plugin is installed
            made = registry.get_component(upstream)
            assert getattr(made, "__self__", made) not in ours.values()


def test_static_pack_links_and_reloads_identically(static_pack: Path, tmp_path: Path) -> None:
    from medcat.cat import CAT

    from medcat_den.linking.builder import get_linker
    from medcat_den.linking.static_linker import EmbeddingLinker

    cat1 = CAT.load_model_pack(str(static_pack))
    assert type(get_linker(cat1)) is EmbeddingLinker
    first = _ents(cat1, TEXT)
    assert {c for _, _, c in first} >= {"C01", "C05", "C07"}
    # moved pack: base weights travel inside it
    moved = shutil.copytree(static_pack, tmp_path / "elsewhere" / "pack")
    cat2 = CAT.load_model_pack(str(moved))
    assert _ents(cat2, TEXT) == first
    assert get_linker(cat2).get_hash() == get_linker(cat1).get_hash()
    assert (moved / "saved_components" / "core_linking" / "base_model" / "model.safetensors").exists()


def test_nested_entities_setting_is_honoured(static_pack: Path) -> None:
    from medcat.cat import CAT

    text = "we report a new case of severe heart failure ."
    cat = CAT.load_model_pack(str(static_pack))
    cat.config.general.show_nested_entities = False
    flat = _ents(cat, text)
    cat.config.general.show_nested_entities = True
    nested = _ents(cat, text)
    assert len(flat) == 1 and flat[0][2] == "C05"
    assert {c for _, _, c in nested} == {"C05", "C30"}  # "failure" nested in "heart failure"


def test_names_added_after_load_are_embedded(static_pack: Path) -> None:
    from medcat.cat import CAT

    from medcat_den.linking.builder import get_linker

    cat = CAT.load_model_pack(str(static_pack))
    linker = get_linker(cat)
    n_before = len(linker.index)
    cat.trainer.add_and_train_concept("C31", "lupus")
    assert ("C31" in {c for _, _, c in _ents(cat, "history of lupus is known .")})
    assert len(linker.index) == n_before + 1


def test_chunked_topk_matches_full_sort() -> None:
    from medcat_den.linking.name_index import chunked_topk

    g = torch.Generator().manual_seed(0)
    names = torch.nn.functional.normalize(torch.randn(1000, 16, generator=g), dim=-1)
    q = torch.nn.functional.normalize(torch.randn(5, 16, generator=g), dim=-1)
    allowed = torch.rand(1000, generator=g) > 0.3
    s, i = chunked_topk(q, names.half(), 7, 64, allowed)
    full = (q @ names.half().float().T).masked_fill(~allowed, float("-inf"))
    ref_s, ref_i = torch.topk(full, 7, dim=1)
    assert torch.equal(i, ref_i)
    assert torch.allclose(s, ref_s)


def test_span_metrics_strict_and_lenient() -> None:
    from medcat_den.linking.evaluate import span_metrics

    gold = [(0, 0, 5, "A"), (0, 10, 20, "B"), (1, 0, 4, "A")]
    pred = [(0, 0, 5, "A"), (0, 12, 20, "B"), (1, 0, 4, "C"), (1, 30, 35, "A")]
    m = span_metrics(gold, pred)
    assert (m["tp"], m["fp"], m["fn"]) == (1, 3, 2)
    assert m["precision"] == pytest.approx(0.25) and m["recall"] == pytest.approx(1 / 3)
    assert (m["lenient_tp"], m["lenient_fp"], m["lenient_fn"]) == (2, 2, 1)
    assert m["lenient_precision"] == pytest.approx(0.5)


def test_bfloat16_inference_copy_follows_weight_changes(tiny_bert_dir: Path) -> None:
    """No-grad encoding runs a bfloat16 copy; any change to the weights rebuilds it."""
    from medcat_den.linking.config import EmbeddingLinkingConfig
    from medcat_den.linking.context_model import ContextModel
    from medcat_den.linking.model_ref import ModelRef

    texts, spans = ["history of acute asthma is known ."], [(17, 23)]
    fp32 = ContextModel(ModelRef.from_name(str(tiny_bert_dir)),
                        EmbeddingLinkingConfig(encoder_dtype="float32"))
    bf16 = ContextModel(ModelRef.from_name(str(tiny_bert_dir)),
                        EmbeddingLinkingConfig(encoder_dtype="bfloat16"))
    assert fp32.inference_language_model() is fp32.model.language_model
    before = bf16.pooled(texts, spans)[0]
    copy1 = bf16.inference_language_model()
    assert copy1 is not bf16.model.language_model
    assert next(copy1.parameters()).dtype == torch.bfloat16
    assert bf16.inference_language_model() is copy1  # cached while nothing changed
    ref = fp32.pooled(texts, spans)[0]
    assert torch.nn.functional.cosine_similarity(before, ref).item() > 0.99

    shift = torch.randn(32, generator=torch.Generator().manual_seed(0))
    for cm in (fp32, bf16):  # an optimizer-like in-place update of the top layer
        with torch.no_grad():
            cm.model.lm_layers()[-1].output.LayerNorm.bias.add_(shift.to(cm.device))
    after = bf16.pooled(texts, spans)[0]
    assert bf16.inference_language_model() is not copy1
    assert torch.nn.functional.cosine_similarity(after, before).item() < 0.99
    assert torch.nn.functional.cosine_similarity(
        after, fp32.pooled(texts, spans)[0]).item() > 0.99


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks a machine without a GPU")
def test_pack_saved_for_gpu_loads_on_cpu(static_pack: Path, tmp_path: Path,
                                         caplog: pytest.LogCaptureFixture) -> None:
    from medcat.cat import CAT

    from medcat_den.linking.builder import get_linker

    cat = CAT.load_model_pack(str(static_pack))
    cat.config.components.linking.device = "cuda"  # as set_device("cuda") leaves it
    saved = cat.save_model_pack(str(tmp_path), pack_name="gpu", make_archive=False,
                                add_hash_to_pack_name=False)
    with caplog.at_level("WARNING"):
        loaded = CAT.load_model_pack(saved)
    assert "not available here; using the CPU" in caplog.text
    assert get_linker(loaded).context_model.device.type == "cpu"
    assert _ents(loaded, TEXT) == _ents(cat, TEXT)
