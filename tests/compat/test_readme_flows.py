"""medcat-den 0.6.0's README flows and Den methods, run unchanged against our den."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from medcat.cat import CAT

from medcat_den.backend import DenType
from medcat_den.errors import (
    BaseModelDeletionError,
    DuplicateModelException,
    ModelInUseError,
    NoSuchBackendException,
    NoSuchModel,
    UnsupportedAPIException,
)
from tests.compat.conftest import changed


def test_single_den_readme_flow(den: Any, base_info: Any) -> None:
    # README "How to use", verbatim
    models = den.list_available_models()
    cat = den.fetch_model(models[0])
    changed(cat, 0.4)
    den.push_model(cat, "Did some fine-tuning")

    models = den.list_available_models()
    assert len(models) == 2
    tuned = next(m for m in models if m.model_id != base_info.model_id)
    assert tuned.description == "Did some fine-tuning"
    assert tuned.parents == [base_info.model_id]
    assert [m.model_id for m in den.list_available_base_models()] == [base_info.model_id]
    derived = den.list_available_derivative_models(base_info)
    assert [m.model_id for m in derived] == [tuned.model_id]
    assert derived[0].base_model.model_id == base_info.model_id
    assert derived[0].model_card["Model ID"] == tuned.medcat_model_id
    assert den.has_model(tuned) and den.has_model(base_info, backend_name="default")
    assert den.den_type is DenType.LOCAL_USER and den.den_type.is_local()


def test_0_6_0_ids_placeholder_infos_and_from_model_pack(den: Any, base_info: Any) -> None:
    from medcat_den.base import ModelInfo

    # 0.6.0's ids are MedCAT model hashes; a placeholder info or the bare hash finds the model
    medcat_id = base_info.medcat_model_id
    assert medcat_id and medcat_id != base_info.model_id
    placeholder = ModelInfo(model_id=medcat_id, model_card=None, base_model=None)
    assert den.has_model(placeholder)
    cat = den.fetch_model(placeholder)
    assert den.source_of(cat) == base_info.model_id
    assert den.source_of(den.fetch_model(medcat_id)) == base_info.model_id
    info = ModelInfo.from_model_pack(cat)
    assert info.model_id == base_info.model_id and info.model_card["Model ID"] == medcat_id
    assert not den.has_model(ModelInfo(model_id="0123456789abcdef", model_card=None,
                                       base_model=None))
    with pytest.raises(NoSuchModel, match="0123456789abcdef"):
        den.fetch_model(ModelInfo(model_id="0123456789abcdef", model_card=None, base_model=None))


def test_delete_model_keeps_base_models_and_parents(den: Any, base_info: Any) -> None:
    child = den.push_model(changed(den.fetch_model(base_info), 0.3), "child")
    with pytest.raises(BaseModelDeletionError, match="allow_delete_base_models=True"):
        den.delete_model(base_info)
    with pytest.raises(ModelInUseError):  # ours: a model with descendants is kept
        den.delete_model(base_info, allow_delete_base_models=True)
    with pytest.raises(TypeError, match="allow_delete_base_models must be a bool"):
        den.delete_model(child, "default")  # backend_name where 0.6.0 has the flag
    den.delete_model(child)
    den.delete_model(base_info, True)
    assert den.list_available_models() == []


def test_positional_traps_are_handled_or_refused(den: Any, base_info: Any, tiny_pack: Path,
                                                 isolated_env: Path) -> None:
    from medcat_den.den import get_default_den

    # 0.6.0 passes backend_name positionally; a single den's backend is "default"
    assert [m.model_id for m in den.list_available_models("default")] == [base_info.model_id]
    with pytest.raises(NoSuchBackendException, match="name="):
        den.list_available_models("tiny")  # ours: name= (was silently [] before)
    assert [m.model_id for m in den.list_available_models(name="tiny")] == [base_info.model_id]
    assert den.source_of(den.fetch_model(base_info, "default")) == base_info.model_id
    with pytest.raises(NoSuchBackendException, match="'prod'"):
        den.fetch_model(base_info, "prod")
    cat = den.fetch_model(base_info)
    with pytest.raises(NoSuchBackendException):
        den.push_model(changed(cat, 0.2), "to prod", "prod")
    assert den.push_model(cat, "pushed", "default", True).parents == [base_info.model_id]
    with pytest.raises(TypeError, match="positionally"):
        den.push_model(cat, "x", "default", False, "extra")
    with pytest.raises(TypeError, match="description must be a str"):
        den.push_model(cat, 42)
    # get_default_den: 0.6.0's first two positional arguments mean what ours do
    other = isolated_env / "other-den"
    d2 = get_default_den(DenType.LOCAL_USER, str(other))
    d3 = get_default_den(type_=DenType.LOCAL_USER, location=str(other))
    pushed = d2.push_model(str(tiny_pack), "x")
    assert [m.model_id for m in d3.list_available_models()] == [pushed.model_id]
    with pytest.raises(TypeError, match="both"):
        get_default_den("LOCAL_USER", type_=DenType.LOCAL_USER)
    with pytest.raises(ValueError, match="host"):
        get_default_den(DenType.MEDCATTERY)


def _backends_json(tmp: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    config = tmp / "multi_backend_config.json"
    config.write_text(json.dumps({
        "default_backend": "user_local_dev",
        "backends": {
            "user_local_dev": {"type": "local_user", "location": str(tmp / "dev")},
            "machine_prod": {"type": "local_machine", "location": str(tmp / "prod")},
        }}))
    monkeypatch.setenv("MEDCAT_DEN_BACKENDS_JSON", str(config))
    return config


def test_multi_backend_readme_flow(isolated_env: Path, monkeypatch: pytest.MonkeyPatch,
                                   tiny_pack: Path, tiny_pack_b: Path) -> None:
    from medcat_den.den import get_default_den

    _backends_json(isolated_env, monkeypatch)
    den = get_default_den()
    assert den.den_type is DenType.MULTI_BACKEND
    a = den.push_model(CAT.load_model_pack(str(tiny_pack)), "a")
    # README "Usage", verbatim apart from the backend names
    default_models = den.list_available_models()
    prod_models = den.list_available_models(backend_name="machine_prod")
    assert [m.model_id for m in default_models] == [a.model_id] and prod_models == []
    assert (isolated_env / "dev").is_dir()  # the JSON file's locations are used

    den.move_model(a, "user_local_dev", "machine_prod")
    prod_models = den.list_available_models(backend_name="machine_prod")
    assert [m.model_id for m in prod_models] == [a.model_id]  # same id in both
    assert prod_models[0].model_card is not None  # 0.6.0's fields on listed infos
    cat_model = den.fetch_model(prod_models[0], backend_name="machine_prod")
    assert den.get_backend("machine_prod").source_of(cat_model) == a.model_id
    assert den.list_available_models("machine_prod")[0].model_id == a.model_id  # positional
    with pytest.raises(DuplicateModelException):
        den.move_model(a, "user_local_dev", "machine_prod")
    with pytest.raises(NoSuchBackendException):
        den.move_model(a, "user_local_dev", "nowhere")

    b = den.push_model(str(tiny_pack_b), "b", backend_name="user_local_dev")
    with pytest.raises(NoSuchModel):
        den.move_model(b, "machine_prod", "user_local_dev")
    den.sync_backend("user_local_dev", "machine_prod")
    assert {m.model_id for m in den.list_available_models(backend_name="machine_prod")} == {
        a.model_id, b.model_id}
    # a den for one named backend, and 0.6.0's resolver view of the same file
    prod = get_default_den(backend_name="machine_prod")
    assert prod.den_type is DenType.LOCAL_MACHINE
    assert den._get_backend().den_type is DenType.LOCAL_USER  # 0.6.0: the default backend
    assert {m.model_id for m in prod.list_available_models()} == {a.model_id, b.model_id}
    from medcat_den.resolver import resolve

    backends, default = resolve()
    assert default == "user_local_dev" and sorted(backends) == ["machine_prod", "user_local_dev"]


def test_single_den_refuses_move_and_sync(den: Any, base_info: Any) -> None:
    with pytest.raises(UnsupportedAPIException, match="multi-backend"):
        den.move_model(base_info, "default", "other")
    with pytest.raises(UnsupportedAPIException):
        den.sync_backend("default", "other")


def test_bad_backends_json_is_a_clear_error(isolated_env: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    from medcat_den.den import get_default_den

    bad = isolated_env / "bad.json"
    bad.write_text("{not json")
    monkeypatch.setenv("MEDCAT_DEN_BACKENDS_JSON", str(bad))
    with pytest.raises(ValueError, match="Invalid JSON"):
        get_default_den()
    bad.write_text(json.dumps({"default_backend": "x", "backends": {"y": {"type": "local_user"}}}))
    with pytest.raises(ValueError, match="Default backend 'x' not found"):
        get_default_den()
    bad.write_text(json.dumps({"backends": {"default": {"type": "medcattery", "host": "h"}}}))
    with pytest.raises(ValueError, match="Unsupported Den type: medcattery"):
        get_default_den()


def test_registered_remote_den_is_a_named_backend(isolated_env: Path,
                                                  monkeypatch: pytest.MonkeyPatch,
                                                  tiny_pack: Path) -> None:
    """A 0.6.0-style remote den class (here one over another local den) behind backend_name."""
    from medcat_den import backend as backend_mod
    from medcat_den.config import RemoteDenConfig
    from medcat_den.den import DenBackend, get_default_den

    class Remote:  # 0.6.0's DenBackend protocol, delegating to a den of ours
        def __init__(self, cnf: RemoteDenConfig) -> None:
            self.cnf = cnf
            self.inner = get_default_den(path=str(isolated_env / "remote"))
            for name in ("list_available_models", "list_available_base_models",
                         "list_available_derivative_models", "has_model", "fetch_model",
                         "push_model", "_push_model_from_file", "delete_model",
                         "finetune_model", "evaluate_model", "move_model", "sync_backend"):
                setattr(self, name, getattr(self.inner, name))

        @property
        def den_type(self) -> DenType:
            return DenType.MEDCATTERY

    config = isolated_env / "multi.json"
    config.write_text(json.dumps({"default_backend": "local", "backends": {
        "local": {"type": "local_user", "location": str(isolated_env / "local")},
        "cattery": {"type": "medcattery", "host": "https://medcattery.example"}}}))
    monkeypatch.setenv("MEDCAT_DEN_BACKENDS_JSON", str(config))
    backend_mod.register_remote_den(DenType.MEDCATTERY, Remote)
    try:
        with pytest.raises(ValueError, match="already registered"):
            backend_mod.register_remote_den(DenType.MEDCATTERY, Remote)
        den = get_default_den()
        remote = den.get_backend("cattery")
        assert isinstance(remote, Remote) and isinstance(remote, DenBackend)
        assert remote.cnf.host == "https://medcattery.example"
        pushed = den.push_model(str(tiny_pack), "to the cattery", backend_name="cattery")
        assert [m.model_id for m in den.list_available_models("cattery")] == [pushed.model_id]
        assert den.list_available_models() == []
        den.move_model(pushed, "cattery", "local")  # through a fetch and a push
        moved = den.list_available_models()
        assert [m.medcat_model_id for m in moved] == [pushed.medcat_model_id]
        assert den.has_model(pushed, backend_name="local")  # same MedCAT model hash
        with pytest.raises(DuplicateModelException):
            den.move_model(pushed, "cattery", "local")
    finally:
        backend_mod._remote_den_map.pop(DenType.MEDCATTERY, None)


def test_utils_summary_and_local_cache(den: Any, base_info: Any, isolated_env: Path) -> None:
    from medcat_den.cache import LocalCache
    from medcat_den.cache.local_cache import has_local_cache
    from medcat_den.config import LocalCacheConfig
    from medcat_den.utils import summarise_den

    summary = summarise_den(den)
    assert summary.startswith("Den (LOCAL_USER) with 1 models:")
    assert base_info.model_id in summary and "History" in summary
    cache = LocalCache(LocalCacheConfig(path=str(isolated_env / "lc"), expiration_time=60,
                                        max_size=10**6, eviction_policy="least-recently-used"))
    cache["k"] = b"some bytes"
    assert "k" in cache and Path(cache["k"]).read_bytes() == b"some bytes"
    del cache["k"]
    assert "k" not in cache
    with pytest.raises(ValueError, match="not in the cache"):
        cache.get("k")
    cache.add_to_den(den)
    assert has_local_cache(den)


def test_admin_guide_environment_and_tutorial(isolated_env: Path, monkeypatch: pytest.MonkeyPatch,
                                              tiny_pack: Path) -> None:
    """0.6.0's admin guide (MEDCAT_DEN_TYPE / MEDCAT_DEN_PATH) and its tutorial notebook."""
    from medcat_den.den import (
        get_default_den,
        get_default_machine_local_den,
        get_default_user_local_den,
    )
    from medcat_den.utils import summarise_den

    monkeypatch.setenv("MEDCAT_DEN_TYPE", "LOCAL_MACHINE")
    monkeypatch.setenv("MEDCAT_DEN_PATH", str(isolated_env / "srv-models"))
    den = get_default_den()
    assert den.den_type is DenType.LOCAL_MACHINE
    pushed = den.push_model(str(tiny_pack), "shared")
    machine_local = get_default_machine_local_den()
    assert summarise_den(machine_local).startswith("Den (LOCAL_MACHINE) with 1 models:")
    assert pushed.model_id in summarise_den(machine_local)
    user_local = get_default_user_local_den(location=str(isolated_env / "mine"))
    assert summarise_den(user_local) == "Den (LOCAL_USER) with 0 models:\nNo models available"


def test_060_den_constructor_and_resolve_from_config(isolated_env: Path, tiny_pack: Path) -> None:
    from medcat_den.backend_impl import LocalFileDen
    from medcat_den.config import LocalDenConfig
    from medcat_den.den import Den
    from medcat_den.resolver import resolve_from_config

    cnf = LocalDenConfig(type=DenType.LOCAL_USER, location=str(isolated_env / "a"))
    a = resolve_from_config(cnf)
    assert isinstance(a, LocalFileDen) and resolve_from_config(cnf.model_copy()) is a
    b = LocalFileDen(LocalDenConfig(type=DenType.LOCAL_MACHINE, location=str(isolated_env / "b")))
    assert b.den_type is DenType.LOCAL_MACHINE
    den = Den(backends={"a": a, "b": b}, default_backend_name="b")
    assert den.den_type is DenType.MULTI_BACKEND and den._get_backend("a") is a
    pushed = den.push_model(str(tiny_pack), "to b")
    assert [m.model_id for m in b.list_available_models()] == [pushed.model_id]
    den.sync_backend("b", "a")
    assert a.has_model(pushed)
    with pytest.raises(ValueError, match="Default backend 'c' not found"):
        Den({"a": a}, "c")
    with pytest.raises(ValueError, match="at least one backend"):
        Den(backends={}, default_backend_name="a")
