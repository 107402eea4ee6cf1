import pytest

from rag.config import Config, ConfigError


def test_precedence_defaults_toml_env_flags(tmp_path):
    toml = tmp_path / "newsrag.toml"
    toml.write_text('k = 7\nindex = "from-toml"\nsearch_mode = "bm25"\n')
    env = {"NEWSRAG_K": "8", "NEWSRAG_CONFIG": str(toml)}
    config = Config.load({"k": 9, "index": None}, environ=env)
    assert (config.k, config.index, config.search_mode, config.rrf_k) == (9, "from-toml", "bm25", 60)
    assert Config.load({}, environ=env).k == 8


@pytest.mark.parametrize("flags, env, message", [
    ({}, {"NEWSRAG_K": "ten"}, "setting 'k' (from environment variable NEWSRAG_K) must be a int"),
    ({"port": 70000}, {}, "setting 'port' (from flag --port) must be between 1 and 65535"),
    ({"search_mode": "magic"}, {}, "must be one of hybrid, dense, bm25"),
    ({"chunk_tokens": 60, "chunk_overlap": 40}, {}, "less than half"),
])
def test_bad_values_name_the_setting_and_its_source(flags, env, message):
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        Config.load(flags, environ=env)


def test_unknown_or_broken_toml_is_refused(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("chunk_size = 3\n")
    with pytest.raises(ConfigError, match="unknown setting.*chunk_size"):
        Config.load({}, environ={}, path=bad)
    bad.write_text("k = [\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        Config.load({}, environ={}, path=bad)
    with pytest.raises(ConfigError, match="does not exist"):
        Config.load({}, environ={}, path=tmp_path / "missing.toml")


def test_choices_accept_any_case():
    assert Config.load({"precision": "BF16"}, environ={}).precision == "bf16"
