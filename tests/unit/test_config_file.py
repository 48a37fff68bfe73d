"""Settings from the config file and the environment (kimi_lsp/config_file.py): parsing, precedence, masking,
loud failures, and `kimi-lsp --print-config`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from kimi_lsp.config_file import (
    ENV_SETTINGS,
    MASK,
    ConfigError,
    effective,
    env_tree,
    layer,
    load,
    parse_file,
)

FILE = """
[engine]
url = "http://file-host:30000"
apiKey = "file-key-0123456789"
timeoutMs = 2000

[model]
profile = "qwen2.5-coder"
"""


def test_the_file_is_the_settings_tree_in_the_lsp_spelling() -> None:
    settings = layer(parse_file(FILE, "config.toml"), {})
    assert settings.engine.url == "http://file-host:30000"
    assert settings.engine.api_key == "file-key-0123456789"
    assert settings.engine.timeout_ms == 2000
    assert settings.model.profile == "qwen2.5-coder"
    assert settings.model.max_tokens == 64  # not in the file: the default


def test_environment_variables_win_over_the_file_and_empty_ones_count_as_unset() -> None:
    env = {"KIMI_LSP_ENGINE_URL": "https://env-host", "KIMI_LSP_API_KEY": "", "KIMI_LSP_PROFILE": "starcoder"}
    assert env_tree(env) == {"engine": {"url": "https://env-host"}, "model": {"profile": "starcoder"}}
    settings = layer(parse_file(FILE, "config.toml"), env)
    assert settings.engine.url == "https://env-host"
    assert settings.engine.api_key == "file-key-0123456789"
    assert settings.model.profile == "starcoder"


def test_the_variables_are_the_documented_ones() -> None:
    assert ENV_SETTINGS == {
        "KIMI_LSP_ENGINE_URL": "engine.url",
        "KIMI_LSP_API_KEY": "engine.apiKey",
        "KIMI_LSP_PROFILE": "model.profile",
    }


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("[engine\nurl = 1", "not valid TOML"),
        ('[engine]\nadress = "http://x"', "engine.adress"),
        ('colour = "blue"', "colour"),
        ('[engine]\nurl = "ftp://x"', "engine.url (expected an http(s) URL)"),
        ("[engine]\ntimeoutMs = 5", "engine.timeoutMs (expected 100..600000)"),
        ('[model]\nprofile = "gpt"', "model.profile"),
        ('engine = "http://x"', "engine"),
    ],
)
def test_an_invalid_file_fails_loudly_naming_the_setting(text: str, named: str) -> None:
    with pytest.raises(ConfigError, match=r"config\.toml") as raised:
        layer(parse_file(text, "config.toml"), {})
    assert named in str(raised.value)


@pytest.mark.parametrize(
    ("variable", "value"),
    [("KIMI_LSP_ENGINE_URL", "gpu-host:30000"), ("KIMI_LSP_PROFILE", "gpt-4")],
)
def test_an_invalid_variable_fails_loudly_naming_it(variable: str, value: str) -> None:
    with pytest.raises(ConfigError, match=variable):
        layer({}, {variable: value})


def test_load_reads_the_file_and_says_where_each_value_came_from(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text(FILE)
    loaded = load({"KIMI_LSP_PROFILE": "deepseek-coder"}, path)
    assert loaded.found and loaded.path == path
    assert loaded.settings.model.profile == "deepseek-coder"
    assert loaded.origins == {
        "engine.url": "config file",
        "engine.apiKey": "config file",
        "model.profile": "KIMI_LSP_PROFILE",
    }
    missing = load({}, tmp_path / "absent.toml")
    assert not missing.found and missing.settings.engine.url is None and missing.origins == {}


def test_effective_settings_mask_the_key(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text(FILE)
    shown = effective(load({}, path))
    assert shown["settings"]["engine"]["apiKey"] == MASK
    assert "file-key-0123456789" not in json.dumps(shown)
    assert shown["engine"] == "http://file-host:30000"
    assert effective(load({}, path), "none")["engine"] == "none"
    assert effective(load({}, tmp_path / "absent.toml"))["settings"]["engine"]["apiKey"] is None


def _cli(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if k not in ENV_SETTINGS}
    clean["XDG_CONFIG_HOME"] = str(tmp_path / "config")
    return subprocess.run(
        [sys.executable, "-m", "kimi_lsp", *args],
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="XDG_CONFIG_HOME names the folder on Linux")
def test_print_config_shows_the_file_under_the_environment_with_the_key_masked(tmp_path: Path) -> None:
    (tmp_path / "config" / "kimi-lsp").mkdir(parents=True)
    (tmp_path / "config" / "kimi-lsp" / "config.toml").write_text(FILE)
    done = _cli(tmp_path, "--print-config", KIMI_LSP_ENGINE_URL="http://env-host:1")
    assert done.returncode == 0, done.stderr
    shown = json.loads(done.stdout)
    assert shown["configFile"] == str(tmp_path / "config" / "kimi-lsp" / "config.toml") and shown["configFileFound"]
    assert shown["engine"] == "http://env-host:1"
    assert shown["settings"]["model"]["profile"] == "qwen2.5-coder"
    assert shown["settings"]["engine"]["apiKey"] == MASK
    assert "file-key-0123456789" not in done.stdout + done.stderr
    assert shown["origins"]["engine.url"] == "KIMI_LSP_ENGINE_URL"


def test_the_server_refuses_to_start_on_an_invalid_variable(tmp_path: Path) -> None:
    done = _cli(tmp_path, "--stdio", KIMI_LSP_PROFILE="gpt-4")
    assert done.returncode == 2
    assert "KIMI_LSP_PROFILE" in done.stderr and done.stdout == ""


def test_engine_python_is_a_setting_like_the_others(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text('[engine]\npython = "/opt/sglang/bin/python"\n')
    assert load({}, path).settings.engine.python == "/opt/sglang/bin/python"
