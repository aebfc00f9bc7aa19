"""The den as a caikit ModelFinder, MedCAT as a ModelInitializer: real caikit, real packs."""

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import aconfig
import caikit
import pytest
from caikit.core import ModuleBase, ModuleConfig, ModuleSaver
from caikit.core.model_manager import ModelManager

from medcat_den.caikit import (
    DenModelFinder,
    EntityLinkingResult,
    MedCATModelInitializer,
    MedCATModule,
)
from medcat_den.caikit.server import configure_caikit
from medcat_den.errors import ConfigError, ModelNotFoundError, ServedModelNotFoundError

REPO = Path(__file__).resolve().parents[2]
TEXT = "History of diabetes, asthma and a heart attack in 2019."
TEXT_CUIS = ["C0011849", "C0004096", "C0027051"]


@caikit.module(id="0f3e1d2c-echo-4b5a-9c8d-medcatdentest", name="Echo", version="0.0.1")
class EchoModule(ModuleBase):
    """An ordinary caikit module saved as a config.yml folder (not a MedCAT model)."""

    def __init__(self, greeting: str) -> None:
        super().__init__()
        self.greeting = greeting

    def run(self, text: str) -> str:
        return f"{self.greeting} {text}"

    def save(self, model_path: str) -> None:
        with ModuleSaver(self, model_path=model_path) as saver:
            saver.update_config({"greeting": self.greeting})

    @classmethod
    def load(cls, model_path: str | ModuleConfig) -> "EchoModule":
        return cls(ModuleConfig.load(model_path).greeting)


def cuis(result: EntityLinkingResult) -> list[str]:
    return [e.cui for e in result.entities]


def test_caikit_load_den_ref(den_models) -> None:
    configure_caikit(runtime=False)
    model = caikit.load("den://tiny")
    assert isinstance(model, MedCATModule)
    assert model.den_model_id == den_models.a.model_id
    result = model.run(TEXT)
    assert cuis(result) == TEXT_CUIS
    ent = result.entities[0]
    assert (TEXT[ent.start:ent.end], ent.text, ent.pretty_name) == (
        "diabetes", "diabetes", "Diabetes Mellitus")
    assert result.model_id == den_models.a.model_id
    # caikit NLP view of the same entities
    tokens = model.run_token_classification(TEXT).results
    assert [(t.start, t.end, t.entity) for t in tokens] == [
        (e.start, e.end, e.cui) for e in result.entities]
    # batch form keeps input order
    batch = model.run_batch(["asthma", "no findings", "copd"])
    assert [cuis(r) for r in batch] == [["C0004096"], [], ["C0024117"]]
    # loaded through the den: the den knows where the CAT came from
    assert den_models.den.source_of(model.cat) == den_models.a.model_id


def test_model_manager_by_instance_name_and_by_object(den_models) -> None:
    configure_caikit(runtime=False)
    mm = ModelManager()
    by_name = mm.load("den://tiny-b@production", finder="den", initializer="medcat")
    assert by_name.den_model_id == den_models.b.model_id
    assert "C0018801" not in cuis(by_name.run("heart failure"))  # not in tiny-b's 6 concepts
    # versions, den:/ (what ModelManager.load normalises den:// to) and content-id prefixes
    assert mm.load("den://tiny/1").den_model_id == den_models.a.model_id
    assert mm.load("den:/tiny-b").den_model_id == den_models.b.model_id

    finder = DenModelFinder(aconfig.Config({"den_path": str(den_models.root),
                                            "den_type": "LOCAL_USER"}), "my_den")
    initializer = MedCATModelInitializer(
        aconfig.Config({"warm_up": True,
                        "config_dict": {"components": {"linking": {"filters": {
                            "cuis": ["C0004096"]}}}}}), "asthma_only")
    by_object = mm.load(den_models.a.model_id[:12], finder=finder, initializer=initializer)
    assert by_object.den_model_id == den_models.a.model_id
    assert cuis(by_object.run(TEXT)) == ["C0004096"]  # the initializer's config_dict applied
    # per-call overrides reach the initializer too
    only_dm = mm.load("den://tiny", finder=finder, initializer=initializer,
                      config_dict={"components": {"linking": {"filters": {"cuis": ["C0011849"]}}}})
    assert cuis(only_dm.run(TEXT)) == ["C0011849"]


def test_multi_chain_still_loads_ordinary_caikit_models(den_models, tmp_path: Path) -> None:
    configure_caikit(runtime=False)
    echo_dir = tmp_path / "echo"
    EchoModule("hello").save(str(echo_dir))
    assert (echo_dir / "config.yml").is_file()
    echo = caikit.load(str(echo_dir))  # den finder declines, LOCAL finds; MEDCAT declines, LOCAL inits
    assert isinstance(echo, EchoModule) and echo.run("den") == "hello den"

    # a MedCAT module saved to disk is an ordinary caikit model folder too
    saved = tmp_path / "saved_medcat"
    caikit.load("den://tiny").save(str(saved))
    reloaded = caikit.load(str(saved))
    assert isinstance(reloaded, MedCATModule)
    assert reloaded.den_model_id == den_models.a.model_id  # provenance kept in config.yml
    assert cuis(reloaded.run(TEXT)) == TEXT_CUIS
    with pytest.raises(ConfigError, match="not an empty folder"):
        reloaded.save(str(saved))


def test_missing_and_non_den_refs(den_models) -> None:
    configure_caikit(runtime=False)
    finder = DenModelFinder(aconfig.Config({}), "den")
    assert finder.find_model("some/local/folder") is None
    assert finder.find_model("/abs/path/model") is None
    with pytest.raises(ServedModelNotFoundError, match="no model named 'nope'") as err:
        finder.find_model("den:/nope")
    assert isinstance(err.value, ModelNotFoundError) and isinstance(err.value, ValueError)
    with pytest.raises(ServedModelNotFoundError, match="no alias|has no"):
        finder.find_model("den://tiny@staging")
    # through caikit.load with the named finder the den's message reaches the caller ...
    with pytest.raises(ServedModelNotFoundError, match="nope"):
        caikit.load("den://nope", finder="den", initializer="medcat")
    # ... and through the MULTI chain it is caikit's "not found" ValueError
    with pytest.raises(ValueError, match="den:/nope"):
        caikit.load("den://nope")


def test_initializer_config_is_validated() -> None:
    with pytest.raises(ConfigError, match="device"):
        MedCATModelInitializer(aconfig.Config({"device": "not-a-device"}), "bad")
    with pytest.raises(ConfigError, match="config_dict"):
        MedCATModelInitializer(aconfig.Config({"config_dict": [1, 2]}), "bad")
    with pytest.raises(ConfigError, match="warm_up"):
        MedCATModelInitializer(aconfig.Config({"warm_up": "yes"}), "bad")
    init = MedCATModelInitializer(aconfig.Config({}), "ok")
    assert init.init(ModuleConfig({"module_id": "something-else"})) is None


def test_import_class_config_in_fresh_interpreter(den_models, tmp_path: Path) -> None:
    config = tmp_path / "only_import_class.yml"
    config.write_text(textwrap.dedent(f"""
        model_management:
            finders:
                default:
                    type: MEDCAT_DEN
                    import_class: medcat_den.caikit.DenModelFinder
                    config:
                        den_type: LOCAL_USER
                        den_path: {den_models.root}
            initializers:
                default:
                    type: MEDCAT
                    import_class: medcat_den.caikit.MedCATModelInitializer
    """))
    script = textwrap.dedent(f"""
        import json, sys
        import caikit
        caikit.configure({str(config)!r})
        assert "medcat_den.caikit" not in sys.modules
        model = caikit.load("den://tiny-b@production")
        print(json.dumps({{"type": type(model).__name__, "id": model.den_model_id,
                           "cuis": [e.cui for e in model.run("asthma").entities]}}))
    """)
    env = {k: v for k, v in os.environ.items() if not k.startswith("MEDCAT_DEN_")}
    env["PYTHONPATH"] = str(REPO)
    proc = subprocess.run([sys.executable, "-c", script], cwd=str(tmp_path), env=env,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out == {"type": "MedCATModule", "id": den_models.b.model_id, "cuis": ["C0004096"]}


def test_den_only_finder_override_refuses_local_folders(den_models, tmp_path: Path) -> None:
    """The README's production override: default finder = the den, no LOCAL fallback."""
    echo_dir = tmp_path / "echo"
    EchoModule("hi").save(str(echo_dir))
    configure_caikit(runtime=False, overrides={"model_management": {"finders": {"default": {
        "type": "MEDCAT_DEN", "config": {"den_path": str(den_models.root)}}}}})
    assert caikit.load("den://tiny").den_model_id == den_models.a.model_id
    with pytest.raises(ValueError, match="Unable to find a ModuleConfig"):
        caikit.load(str(echo_dir))
