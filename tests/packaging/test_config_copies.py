"""The caikit YAML lives in the package (``medcat_den/caikit/config/``, shipped in every install);
the repo's ``config/`` keeps byte-equal copies for ``CONFIG_FILES=config/ray.yml`` style use."""

from pathlib import Path

from medcat_den.caikit.server import BASE_CONFIG, CONFIG_DIR, RAY_CONFIG, RUNTIME_CONFIG

REPO = Path(__file__).resolve().parents[2]


def test_packaged_config_is_the_one_used_and_repo_copies_are_equal() -> None:
    assert CONFIG_DIR == REPO / "medcat_den" / "caikit" / "config"
    assert {BASE_CONFIG, RUNTIME_CONFIG, RAY_CONFIG} == set(CONFIG_DIR.glob("*.yml"))
    copies = sorted(p.name for p in (REPO / "config").glob("*.yml"))
    assert copies == sorted(p.name for p in CONFIG_DIR.glob("*.yml"))
    for name in copies:
        assert (REPO / "config" / name).read_bytes() == (CONFIG_DIR / name).read_bytes(), (
            f"config/{name} differs from medcat_den/caikit/config/{name}: edit the packaged "
            "file and copy it over")
