"""Option resolution (arguments / environment / mapper files) and name routing: no MedCAT loads."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from medcat_den.errors import ConfigError, InvalidNameError
from medcat_den.injection.options import (
    ENV_MAPPER,
    ENV_PREFIX,
    ENV_SAVE,
    InjectionOptions,
    load_mapper_file,
)
from medcat_den.injection.routing import apply_mapper, den_name_for_save, den_ref_for_load

CID = "ab" * 32


def test_environment_supplies_unset_options(tmp_path: Path) -> None:
    mapper = tmp_path / "names.yaml"
    mapper.write_text("prod: den://tiny@latest\n")
    env = {ENV_PREFIX: "den:", ENV_MAPPER: str(mapper), ENV_SAVE: "yes"}
    opts = InjectionOptions.resolve(environ=env)
    assert opts.prefix == "den:"
    assert opts.inject_save is True
    assert opts.model_name_mapper == {"prod": "den://tiny@latest"}
    assert opts.to_env() == {ENV_PREFIX: "den:", ENV_SAVE: "1", ENV_MAPPER: str(mapper)}
    # a child reading what we export resolves the same options
    again = InjectionOptions.resolve(environ=opts.to_env())
    assert (again.prefix, again.inject_save, again.model_name_mapper) == (
        "den:", True, {"prod": "den://tiny@latest"})


def test_explicit_arguments_beat_environment(tmp_path: Path) -> None:
    env = {ENV_PREFIX: "den:", ENV_SAVE: "1", ENV_MAPPER: str(tmp_path / "missing.json")}
    opts = InjectionOptions.resolve(model_name_mapper=None, prefix=None, inject_save=False,
                                    environ=env)
    assert (opts.prefix, opts.inject_save, opts.model_name_mapper) == (None, False, None)
    assert InjectionOptions.resolve(environ={}) == InjectionOptions()
    assert InjectionOptions.resolve(prefix="", environ={}).prefix is None


def test_bad_settings_are_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="MEDCAT_DEN_INJECT_SAVE='maybe'"):
        InjectionOptions.resolve(environ={ENV_SAVE: "maybe"})
    with pytest.raises(ConfigError, match="missing.json"):
        InjectionOptions.resolve(environ={ENV_MAPPER: str(tmp_path / "missing.json")})
    listing = tmp_path / "list.json"
    listing.write_text(json.dumps(["a", "b"]))
    with pytest.raises(ConfigError, match="mapping of name -> den ref"):
        load_mapper_file(listing)
    broken = tmp_path / "broken.yml"
    broken.write_text("a: [unclosed\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_mapper_file(broken)
    with pytest.raises(ConfigError, match="model_name_mapper must be"):
        InjectionOptions.resolve(model_name_mapper=42, environ={})  # type: ignore[arg-type]


def test_load_routing_without_prefix(tmp_path: Path) -> None:
    opts = InjectionOptions()
    existing = tmp_path / "pack"
    existing.mkdir()
    assert den_ref_for_load(str(existing), opts) is None
    assert den_ref_for_load(existing, opts) is None  # PathLike too
    assert den_ref_for_load("tiny", opts) == "tiny"
    assert den_ref_for_load("den://tiny@prod", opts) == "den://tiny@prod"
    assert den_ref_for_load(str(tmp_path / "missing"), opts) == str(tmp_path / "missing")
    assert den_ref_for_load(123, opts) is None


def test_load_routing_with_prefix(tmp_path: Path) -> None:
    opts = InjectionOptions(prefix="den:")
    assert den_ref_for_load("den:tiny", opts) == "tiny"
    assert den_ref_for_load("den:den://tiny/2", opts) == "den://tiny/2"
    assert den_ref_for_load("tiny", opts) is None
    assert den_ref_for_load(str(tmp_path), opts) is None


def test_mapper_rules() -> None:
    mapping = {"prod": "den://tiny@prod"}
    assert apply_mapper("prod", mapping) == "den://tiny@prod"
    assert apply_mapper("other", mapping) == "other"  # unknown names pass unchanged
    assert apply_mapper("den://prod", mapping) == "den://prod"  # refs skip the mapper
    assert apply_mapper(CID[:12], mapping) == CID[:12]
    assert apply_mapper("local", lambda n: None) is None  # callable: None means disk
    assert apply_mapper("x", lambda n: f"den://{n}-v2") == "den://x-v2"
    with pytest.raises(ConfigError, match="returned int"):
        apply_mapper("x", lambda n: 3)  # type: ignore[arg-type]
    opts = InjectionOptions(model_name_mapper=lambda n: None if n == "keep-local" else n)
    assert den_ref_for_load("keep-local", opts) is None
    assert den_ref_for_load("other", opts) == "other"


def test_save_routing() -> None:
    plain = InjectionOptions(inject_save=True)
    assert den_name_for_save("/anything", "tuned", plain) == "tuned"
    prefixed = InjectionOptions(prefix="den:", inject_save=True)
    assert den_name_for_save("den:", "tuned", prefixed) == "tuned"
    assert den_name_for_save("/models", "tuned", prefixed) is None
    by_folder = InjectionOptions(prefix="models/", inject_save=True)
    assert den_name_for_save("models", "tuned", by_folder) == "tuned"
    mapped = InjectionOptions(inject_save=True, model_name_mapper={"prod": "den://ner@prod"})
    assert den_name_for_save("/x", "prod", mapped) == "ner"
    with pytest.raises(InvalidNameError, match="content id"):
        den_name_for_save("/x", "m", InjectionOptions(model_name_mapper={"m": CID}))
    with pytest.raises(InvalidNameError):
        den_name_for_save("den:", "sub/dir", prefixed)
