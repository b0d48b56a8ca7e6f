"""Settings: precedence, sources, and one-line errors for bad input."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.settings import SettingsError, load_settings, parse_cli_overrides


def write_toml(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "cpmsurvey.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults_without_file_or_env(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    loaded = load_settings(environ={})
    assert loaded.config_file is None
    assert loaded.settings.llm.backend == "local"
    assert loaded.sources["llm.backend"] == "default"
    assert loaded.settings.store_path == loaded.settings.data_dir / "papers.sqlite"


def test_precedence_file_then_env_then_cli(tmp_path):
    path = write_toml(tmp_path, '[generate]\nsections = 5\nwords_per_section = 300\n[llm]\nbackend = "openai"\n')
    env = {"CPMSURVEY_GENERATE__SECTIONS": "6", "CPMSURVEY_LLM__BACKEND": "local"}
    loaded = load_settings(config_file=path, environ=env, cli_overrides={"generate.sections": 7})
    assert loaded.settings.generate.sections == 7
    assert loaded.sources["generate.sections"] == "command line"
    assert loaded.settings.llm.backend == "local"
    assert loaded.sources["llm.backend"] == "CPMSURVEY_LLM__BACKEND"
    assert loaded.settings.generate.words_per_section == 300
    assert loaded.sources["generate.words_per_section"] == str(path)


def test_data_dir_from_env_expands_home(tmp_path):
    loaded = load_settings(config_file=write_toml(tmp_path, ""), environ={"CPMSURVEY_DATA_DIR": "~/elsewhere"})
    assert loaded.settings.data_dir == Path.home() / "elsewhere"


def test_malformed_toml_names_the_file(tmp_path):
    path = write_toml(tmp_path, "[llm\nbackend = 'x'\n")
    with pytest.raises(SettingsError) as caught:
        load_settings(config_file=path, environ={})
    message = str(caught.value)
    assert str(path) in message and "\n" not in message


def test_bad_value_in_file_names_key_and_file(tmp_path):
    path = write_toml(tmp_path, "[generate]\nsections = 'many'\n")
    with pytest.raises(SettingsError) as caught:
        load_settings(config_file=path, environ={})
    message = str(caught.value)
    assert "generate.sections" in message and str(path) in message


def test_bad_env_value_names_the_variable(tmp_path):
    with pytest.raises(SettingsError) as caught:
        load_settings(config_file=write_toml(tmp_path, ""), environ={"CPMSURVEY_LLM__BACKEND": "telepathy"})
    assert "CPMSURVEY_LLM__BACKEND" in str(caught.value) and "llm.backend" in str(caught.value)


def test_unknown_key_is_refused(tmp_path):
    path = write_toml(tmp_path, "[llm]\nbakend = 'openai'\n")
    with pytest.raises(SettingsError, match=r"llm\.bakend"):
        load_settings(config_file=path, environ={})


def test_cli_override_syntax():
    assert parse_cli_overrides(["llm.max_retries=5", "corpus=a.jsonl"]) == {
        "llm.max_retries": 5,
        "corpus": "a.jsonl",
    }
    with pytest.raises(SettingsError, match="KEY=VALUE"):
        parse_cli_overrides(["llm.backend"])


def test_retrieval_settings_reach_the_library(tmp_path):
    """The library is configured from the settings file: feedback, fusion and index choices."""
    from app.workflow.library import open_library

    path = write_toml(tmp_path, "[retrieval]\nfeedback_papers = 7\nrrf_k = 30\nindex_type = 'hnsw'\n")
    settings = load_settings(config_file=path, environ={"CPMSURVEY_DATA_DIR": str(tmp_path / "data")}).settings
    library = open_library(settings)
    try:
        assert (library.feedback_papers, library.rrf_k, library.index_type) == (7, 30, "hnsw")
    finally:
        library.close()


def test_expansion_settings_keys_reach_the_retrievers_settings(tmp_path):
    """retrieval.expansion.* from a file, the environment and the command line become the
    retriever's ExpansionSettings; their defaults are the retriever's own."""
    from app.settings import Settings
    from retriever.expansion import ExpansionSettings

    assert Settings().retrieval.expansion.to_expansion() == ExpansionSettings()
    path = write_toml(tmp_path, "[retrieval.expansion]\npaper_queries = 5\nanchor_queries = false\n")
    loaded = load_settings(
        config_file=path,
        cli_overrides=parse_cli_overrides(["retrieval.expansion.paper_query_weight=1.5"]),
        environ={"CPMSURVEY_RETRIEVAL__EXPANSION__GROUPS": "4"},
    )
    assert loaded.settings.retrieval.expansion.to_expansion() == ExpansionSettings(
        paper_queries=5, anchor_queries=False, paper_query_weight=1.5, groups=4
    )
    assert loaded.sources["retrieval.expansion.groups"] == "CPMSURVEY_RETRIEVAL__EXPANSION__GROUPS"
    with pytest.raises(SettingsError, match=r"retrieval\.expansion\.paper_query_weight"):
        load_settings(config_file=write_toml(tmp_path, "[retrieval.expansion]\npaper_query_weight = 0\n"), environ={})
    with pytest.raises(SettingsError, match=r"retrieval\.expansion\.seed_paper"):
        load_settings(config_file=write_toml(tmp_path, "[retrieval.expansion]\nseed_paper = 3\n"), environ={})
