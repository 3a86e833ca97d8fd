"""Configuration: defaults, grader.toml and [tool.rnn-grader], clear errors, flag overrides."""

from pathlib import Path

import pytest

from grader.config import Config, ConfigError, describe_keys, load_config


def test_defaults_without_a_file() -> None:
    config = load_config(None)
    assert config == Config()
    assert config.limits.call_seconds > 0 and config.tolerance.factor >= 1


def test_grader_toml_sets_values(tmp_path: Path) -> None:
    path = tmp_path / "grader.toml"
    path.write_text("[limits]\ncall_seconds = 3\n[scoring]\npoints_per_case = 8\n")
    config = load_config(path)
    assert config.limits.call_seconds == 3.0
    assert config.scoring.points_per_case == 8.0
    assert config.tolerance == Config().tolerance


def test_pyproject_table_is_read(tmp_path: Path) -> None:
    path = tmp_path / "pyproject.toml"
    path.write_text("[project]\nname = 'x'\n[tool.rnn-grader.tolerance]\nfactor = 3.0\n")
    assert load_config(path).tolerance.factor == 3.0


@pytest.mark.parametrize("text, words", [
    ("[limits]\ncall_secs = 3\n", "unknown key"),
    ("[limitz]\n", "unknown section"),
    ("[limits]\nmemory_mb = 'lots'\n", "must be an integer"),
    ("[limits]\nmemory_mb = 1.5\n", "must be an integer"),
    ("[tolerance]\nfactor = 0.5\n", "at least 1"),
    ("[limits\n", "not valid TOML"),
])
def test_bad_files_say_what_is_wrong(tmp_path: Path, text: str, words: str) -> None:
    path = tmp_path / "grader.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=words):
        load_config(path)


def test_flags_override_and_are_validated() -> None:
    config = Config().override("limits", call_seconds=2.5, memory_mb=None)
    assert config.limits.call_seconds == 2.5
    assert config.limits.memory_mb == Config().limits.memory_mb
    with pytest.raises(ConfigError, match="at least"):
        Config().override("limits", call_seconds=0.0)


def test_every_key_is_described() -> None:
    text = describe_keys()
    assert "[limits]" in text and "call_seconds" in text and "#" in text
