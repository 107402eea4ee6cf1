import pytest

from newscite.config import Config, ConfigError


def test_precedence_defaults_toml_env_flags(tmp_path):
    toml = tmp_path / "newscite.toml"
    toml.write_text('k = 7\nindex = "from-toml"\nsearch_mode = "bm25"\n')
    env = {"NEWSCITE_K": "8", "NEWSCITE_CONFIG": str(toml)}
    config = Config.load({"k": 9, "index": None}, environ=env)
    assert (config.k, config.index, config.search_mode, config.rrf_k) == (9, "from-toml", "bm25", 60)
    assert Config.load({}, environ=env).k == 8


@pytest.mark.parametrize("flags, env, message", [
    ({}, {"NEWSCITE_K": "ten"}, "setting 'k' (from environment variable NEWSCITE_K) must be a int"),
    ({"port": 70000}, {}, "setting 'port' (from flag --port) must be between 1 and 65535"),
    ({"search_mode": "magic"}, {}, "must be one of hybrid, dense, bm25"),
    ({"chunk_tokens": 60, "chunk_overlap": 40}, {}, "less than half"),
    ({"sentence_vectors": "maybe"}, {}, "setting 'sentence_vectors' (from flag "
                                        "--sentence-vectors) must be true or false"),
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


def test_booleans_from_toml_environment_and_flags(tmp_path):
    toml = tmp_path / "newscite.toml"
    toml.write_text("sentence_vectors = false\n")
    assert Config.load({}, environ={}).sentence_vectors is True
    assert Config.load({}, environ={}, path=toml).sentence_vectors is False
    assert Config.load({}, environ={"NEWSCITE_SENTENCE_VECTORS": "No"}).sentence_vectors is False
    assert Config.load({"sentence_vectors": "on"}, environ={}, path=toml).sentence_vectors is True


def test_choices_accept_any_case():
    assert Config.load({"precision": "BF16"}, environ={}).precision == "bf16"


def test_fetch_and_watch_settings():
    config = Config.load({"watch_every": "90s"},
                         environ={"NEWSCITE_FETCH_ALLOW_PRIVATE": "127.0.0.1, Intranet.local"})
    assert config.watch_seconds == 90 and config.private_hosts == {"127.0.0.1", "intranet.local"}
    assert Config.load({}, environ={}).watch_seconds == 900
    assert Config.load({}, environ={}).private_hosts == frozenset()
    with pytest.raises(ConfigError, match="'watch_every' must be a duration"):
        Config.load({"watch_every": "soon"}, environ={})
    with pytest.raises(ConfigError, match="'watch_every' must be between 10s and 7d"):
        Config.load({"watch_every": "2s"}, environ={})
    with pytest.raises(ConfigError, match="'fetch_allow_private' lists host names"):
        Config.load({"fetch_allow_private": "http://10.0.0.1/"}, environ={})
    with pytest.raises(ConfigError, match="fetch_timeout.*between"):
        Config.load({"fetch_timeout": 0}, environ={})


def test_store_and_ray_settings():
    assert Config.load({}, environ={}).store == "faiss"
    for good in ("milvus:///data/news.db", "milvus://news.db", "http://milvus:19530"):
        assert Config.load({"store": good}, environ={}).store == good
    for bad in ("milvus", "milvus:///data/news", "sqlite:///x.db"):
        with pytest.raises(ConfigError, match="setting 'store' must be"):
            Config.load({"store": bad}, environ={})
    assert Config.load({}, environ={"NEWSCITE_INGEST_WORKERS": "4"}).ingest_workers == 4
    with pytest.raises(ConfigError, match="'ray_address' needs 'ingest_workers'"):
        Config.load({"ray_address": "auto"}, environ={})
