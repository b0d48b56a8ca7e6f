"""The two pseudo-relevance feedback settings: distinct names and help texts, the old name of
the candidate search's one still read with a deprecation note, in every layer."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from app.settings import RENAMED_KEYS, Settings, SettingsError, load_settings, parse_cli_overrides, setting_help
from retriever.expansion import ExpansionSettings

OLD = "retrieval.expansion.feedback_papers"
NEW = "retrieval.expansion.second_round_feedback_papers"
EVERY_SEARCH = "retrieval.feedback_papers"


def write_toml(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "cpmsurvey.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_each_help_text_says_where_it_applies_and_names_the_other():
    help_text = setting_help()
    assert RENAMED_KEYS[OLD] == NEW and OLD not in help_text
    assert "EVERY search" in help_text[EVERY_SEARCH] and NEW in help_text[EVERY_SEARCH]
    assert "SECOND round" in help_text[NEW] and EVERY_SEARCH in help_text[NEW]


def test_the_new_key_reaches_the_expansions_feedback(tmp_path):
    assert Settings().retrieval.expansion.to_expansion() == ExpansionSettings()
    path = write_toml(tmp_path, "[retrieval.expansion]\nsecond_round_feedback_papers = 9\n")
    loaded = load_settings(config_file=path, environ={})
    assert loaded.settings.retrieval.expansion.to_expansion().feedback_papers == 9
    assert loaded.settings.retrieval.feedback_papers == 0 and loaded.deprecations == []


def test_the_old_key_in_a_file_is_read_with_a_deprecation_note(tmp_path):
    path = write_toml(tmp_path, "[retrieval.expansion]\nfeedback_papers = 7\n")
    loaded = load_settings(config_file=path, environ={})
    assert loaded.settings.retrieval.expansion.second_round_feedback_papers == 7
    assert loaded.sources[NEW] == str(path)
    (note,) = loaded.deprecations
    assert OLD in note and NEW in note and "deprecated" in note and str(path) in note
    assert "second_round_feedback_papers = ... under [retrieval.expansion]" in note


def test_the_old_environment_variable_is_read_and_named_in_notes_and_errors(tmp_path):
    old_variable = "CPMSURVEY_RETRIEVAL__EXPANSION__FEEDBACK_PAPERS"
    loaded = load_settings(config_file=write_toml(tmp_path, ""), environ={old_variable: "4"})
    assert loaded.settings.retrieval.expansion.second_round_feedback_papers == 4
    assert loaded.sources[NEW] == old_variable
    (note,) = loaded.deprecations
    assert old_variable in note and "CPMSURVEY_RETRIEVAL__EXPANSION__SECOND_ROUND_FEEDBACK_PAPERS" in note
    with pytest.raises(SettingsError, match=old_variable):
        load_settings(config_file=write_toml(tmp_path, ""), environ={old_variable: "900"})


def test_layers_keep_their_order_whichever_name_they_use(tmp_path):
    path = write_toml(tmp_path, "[retrieval.expansion]\nsecond_round_feedback_papers = 3\n")
    loaded = load_settings(config_file=path, environ={}, cli_overrides=parse_cli_overrides([f"{OLD}=11"]))
    assert loaded.settings.retrieval.expansion.second_round_feedback_papers == 11
    assert loaded.sources[NEW] == "command line" and "--set " + NEW in loaded.deprecations[0]
    path = write_toml(tmp_path, "[retrieval.expansion]\nfeedback_papers = 3\n")
    loaded = load_settings(config_file=path, environ={}, cli_overrides={NEW: 5})
    assert loaded.settings.retrieval.expansion.second_round_feedback_papers == 5


def test_both_names_in_one_layer_are_refused(tmp_path):
    path = write_toml(tmp_path, "[retrieval.expansion]\nfeedback_papers = 3\nsecond_round_feedback_papers = 4\n")
    with pytest.raises(SettingsError, match="keep only the new one"):
        load_settings(config_file=path, environ={})


def test_config_explains_the_settings_and_warns_of_the_old_name(tmp_path):
    write_toml(tmp_path, "[retrieval.expansion]\nfeedback_papers = 2\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("CPMSURVEY_")}
    env["XDG_CONFIG_HOME"] = str(tmp_path / "xdg")
    command = [sys.executable, "-m", "app", "config", "--json", "--explain"]
    done = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    rows = json.loads(done.stdout)["settings"]
    assert rows[NEW]["value"] == 2 and rows[NEW]["help"] == setting_help()[NEW]
    assert rows[EVERY_SEARCH]["help"] == setting_help()[EVERY_SEARCH]
    assert done.stderr.startswith("warning: ") and OLD in done.stderr and "Traceback" not in done.stderr
