"""medcat-den 0.6.0's public names import from the same paths, with the same signatures.

The tables below are medcat-den 0.6.0's documented API, written down from its source
(README, module signatures): parameter name, kind and default. Annotations are not
compared (we write ``str | None`` where 0.6.0 wrote ``Optional[str]``). Where a name is
shared with our own API (``Den.fetch_model``, ``get_default_den``, ...), 0.6.0's
parameters must all be accepted at the same positions / by the same keywords
(``COMPATIBLE``), and every other difference is listed in ``DIFFERENCES`` (and in
docs/migrating-from-medcat-den.md).
"""

from __future__ import annotations

import importlib
import inspect
from typing import Any

import pytest

R = "<required>"
P, K, V, VK = "positional", "keyword", "*args", "**kwargs"

Param = tuple[str, str, Any]  # name, kind, default


def _params(func: Any) -> list[Param]:
    out = []
    for p in inspect.signature(func).parameters.values():
        kind = {inspect.Parameter.POSITIONAL_OR_KEYWORD: P, inspect.Parameter.POSITIONAL_ONLY: P,
                inspect.Parameter.KEYWORD_ONLY: K, inspect.Parameter.VAR_POSITIONAL: V,
                inspect.Parameter.VAR_KEYWORD: VK}[p.kind]
        out.append((p.name, kind, R if p.default is inspect.Parameter.empty else p.default))
    return out


def _resolve(path: str) -> Any:
    module_name, _, qual = path.partition(":")
    obj: Any = importlib.import_module(module_name)
    for part in qual.split("."):
        obj = inspect.getattr_static(obj, part) if part != qual.split(".")[0] else getattr(
            obj, part)
        if isinstance(obj, (classmethod, staticmethod)):
            obj = obj.__func__
        if isinstance(obj, property):
            obj = obj.fget
    return obj


def _pack_name() -> str:
    from medcat.utils.defaults import DEFAULT_PACK_NAME

    return DEFAULT_PACK_NAME


GDD = [("type_", P, None), ("location", P, None), ("host", P, None), ("credentials", P, None),
       ("local_cache_path", P, None), ("expiration_time", P, None), ("max_size", P, None),
       ("eviction_policy", P, None), ("remote_allow_local_fine_tune", P, None),
       ("remote_allow_push_fine_tuned", P, None)]
INJECT = [("den_getter", P, "get_default_den"), ("model_name_mapper", P, None),
          ("prefix", P, ""), ("inject_save", P, False)]

# 0.6.0 functions / methods we provide exactly (names, kinds, defaults)
EXACT: dict[str, list[Param]] = {
    "medcat_den.backend:DenType.is_local": [("self", P, R)],
    "medcat_den.backend:register_remote_den": [("den_type", P, R), ("den_cls", P, R)],
    "medcat_den.backend:has_registered_remote_den": [("den_type", P, R)],
    "medcat_den.backend:get_registered_remote_den": [("den_type", P, R)],
    "medcat_den.base:ModelInfo.from_model_pack": [("cls", P, R), ("cat", P, R)],
    "medcat_den.den:NoSuchModel.__init__": [("self", P, R), ("model_info", P, R),
                                            ("backend_name", P, R), ("extra", P, "")],
    "medcat_den.den:get_default_user_local_den": [("location", P, None)],
    "medcat_den.den:get_default_machine_local_den": [("location", P, None)],
    "medcat_den.den:Den.den_type": [("self", P, R)],
    "medcat_den.den:Den.list_available_base_models": [("self", P, R), ("backend_name", P, None)],
    "medcat_den.den:Den.list_available_derivative_models": [
        ("self", P, R), ("model", P, R), ("backend_name", P, None)],
    "medcat_den.den:Den.has_model": [("self", P, R), ("model", P, R), ("backend_name", P, None)],
    "medcat_den.den:Den._push_model_from_file": [
        ("self", P, R), ("file_path", P, R), ("description", P, R), ("backend_name", P, None)],
    "medcat_den.den:Den.delete_model": [
        ("self", P, R), ("model_info", P, R), ("allow_delete_base_models", P, False),
        ("backend_name", P, None)],
    "medcat_den.den:Den.finetune_model": [
        ("self", P, R), ("model_info", P, R), ("data", P, R), ("backend_name", P, None)],
    "medcat_den.den:Den.evaluate_model": [
        ("self", P, R), ("model_info", P, R), ("data", P, R), ("backend_name", P, None)],
    "medcat_den.den:Den.move_model": [
        ("self", P, R), ("model_info", P, R), ("origin", P, R), ("destination", P, R)],
    "medcat_den.den:Den.sync_backend": [("self", P, R), ("origin", P, R), ("destination", P, R)],
    "medcat_den.resolver:resolve": [*GDD, ("allow_multi_backend", P, True)],
    "medcat_den.resolver:resolve_from_config": [("config", P, R)],
    "medcat_den.resolver.resolver:resolve": [*GDD, ("allow_multi_backend", P, True)],
    "medcat_den.resolver.resolver:is_writable": [("path", P, R), ("propgate", P, True)],
    "medcat_den.wrappers:CATWrapper.__init__": [("self", P, R), ("cat", P, R)],
    "medcat_den.wrappers:CATWrapper.save_model_pack": [
        ("self", P, R), ("target_folder", P, R), ("pack_name", P, "<DEFAULT_PACK_NAME>"),
        ("serialiser_type", P, "dill"), ("make_archive", P, True), ("only_archive", P, False),
        ("add_hash_to_pack_name", P, True), ("change_description", P, None),
        ("force_save_local", P, False)],
    "medcat_den.wrappers:CATWrapper.load_model_pack": [
        ("cls", P, R), ("model_pack_path", P, R), ("config_dict", P, None),
        ("addon_config_dict", P, None), ("keep_addons_of_types", P, None),
        ("model_info", P, None), ("den_cnf", P, None)],
    "medcat_den.wrappers:WrappedTrainer.__init__": [
        ("self", P, R), ("den_cnf", P, R), ("delegate", P, R)],
    "medcat_den.wrappers:WrappedTrainer.train_supervised_raw": [
        ("self", P, R), ("data", P, R), ("reset_cui_count", P, False), ("nepochs", P, 1),
        ("print_stats", P, 0), ("use_filters", P, False), ("terminate_last", P, False),
        ("use_overlaps", P, False), ("use_cui_doc_limit", P, False), ("test_size", P, 0),
        ("devalue_others", P, False), ("use_groups", P, False), ("never_terminate", P, False),
        ("train_from_false_positives", P, False), ("extra_cui_filter", P, None),
        ("disable_progress", P, False), ("train_addons", P, False)],
    "medcat_den.cache:LocalCache.__init__": [("self", P, R), ("cnf", P, R)],
    "medcat_den.cache.local_cache:LocalCache.get": [("self", P, R), ("key", P, R)],
    "medcat_den.cache.local_cache:LocalCache.insert": [
        ("self", P, R), ("key", P, R), ("file_path", P, R)],
    "medcat_den.cache.local_cache:LocalCache.insert_raw": [
        ("self", P, R), ("key", P, R), ("data", P, R)],
    "medcat_den.cache.local_cache:LocalCache.delete": [("self", P, R), ("key", P, R)],
    "medcat_den.cache.local_cache:LocalCache.add_to_den": [("self", P, R), ("backend", P, R)],
    "medcat_den.cache.local_cache:has_local_cache": [("backend", P, R)],
    "medcat_den.injection:run_with_injection": [("target", P, R), ("args", P, R)],
    "medcat_den.injection.run_injected:run_with_injection": [("target", P, R), ("args", P, R)],
    "medcat_den.injection.medcat_injector:injected_load_model_pack": [
        ("model_pack_name", P, R), ("args", V, R), ("prefix", K, R), ("den", K, R),
        ("model_name_mapper", K, None), ("kwargs", VK, R)],
    "medcat_den.injection.medcat_injector:is_injected_for_save": [],
    "medcat_den.injection.medcat_injector:injected_save_model_pack": [
        ("prefix", P, R), ("den", P, R)],
    "medcat_den.injection.medcat_injector:inject_into_medcat": INJECT,
    "medcat_den.injection.medcat_injector:uninject_into_medcat": [],
    "medcat_den.injection.medcat_injector:injected_den": INJECT,
    "medcat_den.utils:summarise_den": [("den", P, R)],
    "medcat_den.utils:summarise_models": [("models", P, R)],
    "medcat_den.utils:cache_on_model": [("func", P, R)],
    "medcat_den.backend_impl:LocalFileDen.__init__": [("self", P, R), ("cnf", P, R)],
    "medcat_den.addons:_load_addons": [],
}

# names shared with our API: 0.6.0's parameters (in order) must all be accepted
COMPATIBLE: dict[str, list[Param]] = {
    "medcat_den.den:get_default_den": GDD,
    "medcat_den.den:Den.list_available_models": [("self", P, R), ("backend_name", P, None)],
    "medcat_den.den:Den.fetch_model": [("self", P, R), ("model_info", P, R),
                                       ("backend_name", P, None)],
    "medcat_den.den:Den.push_model": [("self", P, R), ("cat", P, R), ("description", P, R),
                                      ("backend_name", P, None), ("push_unchanged", P, False)],
    "medcat_den.injection:inject_into_medcat": INJECT,
    "medcat_den.injection:injected_den": INJECT,
    "medcat_den.injection:uninject_into_medcat": [],
}

# how ours differs, per name (each also in docs/migrating-from-medcat-den.md)
DIFFERENCES: dict[str, str] = {
    "medcat_den.den:get_default_den": "ours first (den_type, path, config_file, backend_name, "
    "offline); 0.6.0's type_/location same positions, the rest keyword",
    "medcat_den.den:Den.fetch_model": "first argument is any ref or ModelInfo (ours: ref); "
    "backend_name positional where 0.6.0 passes it (a str), else keyword",
    "medcat_den.den:Den.push_model": "description defaults to ''; backend_name / push_unchanged "
    "positional where 0.6.0 passes them",
    "medcat_den.injection:inject_into_medcat": "defaults are 'unset' (then MEDCAT_DEN_INJECT_*)",
    "medcat_den.injection:injected_den": "defaults are 'unset'; keyword process_wide added",
}

NAMES = {
    "medcat_den.backend": ["DenType", "register_remote_den", "has_registered_remote_den",
                           "get_registered_remote_den"],
    "medcat_den.base": ["ModelInfo", "ModelCard"],
    "medcat_den.config": ["DenConfig", "LocalDenConfig", "RemoteDenConfig", "LocalCacheConfig"],
    "medcat_den.den": ["Den", "DenBackend", "DenType", "ModelInfo", "DuplicateModelException",
                       "NoSuchBackendException",
                       "NoSuchModel", "UnsupportedAPIException", "get_default_den",
                       "get_default_user_local_den", "get_default_machine_local_den"],
    "medcat_den.resolver": ["resolve", "resolve_from_config"],
    "medcat_den.resolver.resolver": [
        "resolve", "resolve_from_config", "is_writable", "DEFAULT_USER_PATH",
        "DEFAULT_MACHINE_PATH", "MEDCAT_DEN_TYPE", "MEDCAT_DEN_PATH", "MEDCAT_DEN_REMOTE_HOST",
        "MEDCAT_DEN_LOCAL_CACHE_PATH", "MEDCAT_DEN_LOCAL_CACHE_EXPIRATION_TIME",
        "MEDCAT_DEN_LOCAL_CACHE_MAX_SIZE", "MEDCAT_DEN_LOCAL_CACHE_EVICTION_POLICY",
        "MEDCAT_DEN_REMOTE_ALLOW_LOCAL_FINE_TUNE", "MEDCAT_DEN_REMOTE_ALLOW_PUSH_FINETUNED",
        "MEDCAT_DEN_BACKENDS_JSON", "ALLOW_OPTION_LOWERCASE"],
    "medcat_den.wrappers": ["CATWrapper", "WrappedTrainer", "CannotWrapModel",
                            "CannotSaveOnDiskException", "CannotSendToRemoteException",
                            "NotAllowedToFineTuneLocallyException"],
    "medcat_den.cache": ["LocalCache"],
    "medcat_den.cache.local_cache": ["LocalCache", "has_local_cache", "DEFAULT_EXPIRATION_TIME",
                                     "DEFAULT_MAX_SIZE", "DEFAULT_EVICTION_POLICY"],
    "medcat_den.injection": ["inject_into_medcat", "uninject_into_medcat", "injected_den",
                             "run_with_injection"],
    "medcat_den.injection.medcat_injector": [
        "inject_into_medcat", "uninject_into_medcat", "injected_den", "is_injected_for_save",
        "injected_load_model_pack", "injected_save_model_pack", "_ORIG_CAT_LOAD_MODEL_PACK",
        "_ORIG_CAT_SAVE_MODEL_PACK"],
    "medcat_den.injection.run_injected": ["run_with_injection"],
    "medcat_den.utils": ["summarise_den", "summarise_models", "cache_on_model"],
    "medcat_den.backend_impl": ["LocalFileDen"],
    "medcat_den.backend_impl.file_den": ["LocalFileDen"],
    "medcat_den.addons": ["_load_addons"],
}


@pytest.mark.parametrize("module", sorted(NAMES))
def test_every_public_name_imports(module: str) -> None:
    mod = importlib.import_module(module)
    missing = [n for n in NAMES[module] if not hasattr(mod, n)]
    assert not missing, f"{module} lacks {missing}"


def _normalise(params: list[Param]) -> list[Param]:
    from medcat_den.den import get_default_den

    out = []
    for name, kind, default in params:
        if default == "get_default_den":
            default = get_default_den
        elif default == "<DEFAULT_PACK_NAME>":
            default = _pack_name()
        out.append((name, kind, default))
    return out


@pytest.mark.parametrize("path", sorted(EXACT))
def test_signature_equals_060(path: str) -> None:
    assert _params(_resolve(path)) == _normalise(EXACT[path])


@pytest.mark.parametrize("path", sorted(COMPATIBLE))
def test_shared_signature_accepts_every_060_call(path: str) -> None:
    ours = _params(_resolve(path))
    by_name = {p[0]: p for p in ours}
    theirs = _normalise(COMPATIBLE[path])
    for i, (name, _kind, default) in enumerate(theirs):
        if name in by_name:
            assert by_name[name][2] == default or path in DIFFERENCES, (path, name)
            continue
        # a renamed first argument (ours: "ref" / "model") at the same position
        assert i < len(ours) and ours[i][1] == P and name in ("model_info", "cat"), (path, name)
    if path in DIFFERENCES:
        assert DIFFERENCES[path]


def test_config_records_have_060_fields() -> None:
    from medcat_den.config import DenConfig, LocalCacheConfig, LocalDenConfig, RemoteDenConfig

    def fields(model: Any) -> dict[str, bool]:
        return {n: f.is_required() for n, f in model.model_fields.items()}

    assert fields(DenConfig) == {"type": True}
    assert fields(LocalDenConfig) == {"type": True, "location": True}
    assert fields(RemoteDenConfig) == {"type": True, "host": True, "credentials": False,
                                       "allow_local_fine_tune": True,
                                       "allow_push_fine_tuned": True}
    assert fields(LocalCacheConfig) == {"path": True, "expiration_time": True,
                                        "max_size": True, "eviction_policy": True}


def test_model_info_has_060_fields_and_is_ours() -> None:
    from medcat_den.base import ModelInfo
    from medcat_den.den import ModelInfo as OurModelInfo

    info = ModelInfo(model_id="abc", model_card=None, base_model=None)
    assert isinstance(info, OurModelInfo)
    assert (info.model_id, info.model_card, info.base_model) == ("abc", None, None)
    assert ModelInfo(model_id="b", model_card=None, base_model=info).base_model == info


def test_den_type_values_and_exceptions_are_ours_and_valueerrors() -> None:
    from medcat_den import errors
    from medcat_den.backend import DenType
    from medcat_den.den import (
        DuplicateModelException,
        NoSuchBackendException,
        NoSuchModel,
        UnsupportedAPIException,
    )
    from medcat_den.wrappers import (
        CannotSaveOnDiskException,
        CannotSendToRemoteException,
        CannotWrapModel,
        NotAllowedToFineTuneLocallyException,
    )

    assert {t.value for t in DenType} >= {"local_user", "local_machine", "medcattery",
                                          "multi_backend"}
    assert DenType("local_user") is DenType.LOCAL_USER and isinstance(DenType.LOCAL_USER, str)
    assert DenType("LOCAL_MACHINE") is DenType.LOCAL_MACHINE  # our env spelling too
    assert DenType.LOCAL_USER.is_local() and not DenType.MEDCATTERY.is_local()
    for exc in (DuplicateModelException, NoSuchBackendException, NoSuchModel,
                UnsupportedAPIException, CannotWrapModel, CannotSaveOnDiskException,
                CannotSendToRemoteException, NotAllowedToFineTuneLocallyException):
        assert issubclass(exc, ValueError) and issubclass(exc, errors.DenError), exc
        assert getattr(errors, exc.__name__) is exc
