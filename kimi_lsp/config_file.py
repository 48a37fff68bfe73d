"""Settings from outside the editor: the user's config file and environment variables, for an editor with no
kimi extension (Helix, Emacs, Vim, a plain LSP client) or for values that belong to the machine, not a project.

Order of precedence, lowest first:

1. the built-in defaults (settings.py);
2. the config file: `config.toml` in the config folder (dirs.py: `$XDG_CONFIG_HOME/kimi-lsp/config.toml`, else
   `~/.config/kimi-lsp/config.toml` on Linux), the settings tree with the LSP spelling (any setting may be
   given there, not only these three):

       [engine]
       url = "http://gpu-host:30000"
       apiKey = "..."
       [model]
       profile = "qwen2.5-coder"

3. environment variables: KIMI_LSP_ENGINE_URL (engine.url), KIMI_LSP_API_KEY (engine.apiKey), KIMI_LSP_PROFILE
   (model.profile); an empty one counts as unset;
4. the LSP settings the client sends (initializationOptions, then workspace/didChangeConfiguration): a value the
   client sends, null included, wins over 1-3;
5. the `--engine` command-line flag, for the engine alone.

The client's settings are forgiving (an invalid value falls back to its default with one message to the user);
these are not: a file that is not TOML, an unknown key, a value of the wrong type or out of range, in the file
or a variable, raises ConfigError naming it, and `kimi-lsp` exits with status 2 before it serves anything.

Parsing is pure (`parse_file`, `env_tree`, `layer`); `load` reads the environment and the file; `effective`
is what `kimi-lsp --print-config` prints: the merged settings with the API key masked, and where the engine's
three values came from.
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .dirs import config_dir
from .settings import Settings, camel, parse_settings

CONFIG_NAME = "config.toml"
# environment variable -> the setting it gives (dotted, LSP spelling)
ENV_SETTINGS = {
    "KIMI_LSP_ENGINE_URL": "engine.url",
    "KIMI_LSP_API_KEY": "engine.apiKey",  # model/host.py reads the same variable (API_KEY_VARIABLE)
    "KIMI_LSP_PROFILE": "model.profile",
}
PRECEDENCE = "defaults < config file < environment < the editor's LSP settings < --engine"
MASK = "********"


class ConfigError(ValueError):
    """The config file or an environment variable is invalid; the message names which, and why."""


@dataclass(slots=True, frozen=True)
class Loaded:
    settings: Settings
    path: Path  # the config file looked for
    found: bool  # whether it exists
    origins: dict[str, str]  # dotted setting -> "config file" | an environment variable's name (default: absent)


def config_path() -> Path:
    return config_dir() / CONFIG_NAME


def parse_file(text: str, origin: str) -> dict[str, Any]:
    """The settings tree of a config file's text; ConfigError for TOML that does not parse or an unknown key."""
    try:
        tree = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{origin}: not valid TOML: {error}") from None
    unknown = _unknown_keys(Settings, tree, "")
    if unknown:
        raise ConfigError(f"{origin}: unknown setting(s) {', '.join(unknown)}")
    return tree


def env_tree(env: Mapping[str, str]) -> dict[str, Any]:
    """The settings tree the environment variables give (empty ones count as unset)."""
    tree: dict[str, Any] = {}
    for variable, dotted in ENV_SETTINGS.items():
        value = env.get(variable, "")
        if value:
            table, key = dotted.split(".")
            tree.setdefault(table, {})[key] = value
    return tree


def layer(file_tree: Mapping[str, Any], env: Mapping[str, str], origin: str = CONFIG_NAME) -> Settings:
    """defaults < file_tree < the environment's settings. ConfigError names the first invalid value's source."""
    parsed = parse_settings(file_tree)
    if parsed.invalid:
        raise ConfigError(f"{origin}: invalid value for {_described(parsed.invalid)}")
    from_env = parse_settings(env_tree(env), parsed.settings)
    if from_env.invalid:
        names = {dotted: variable for variable, dotted in ENV_SETTINGS.items()}
        bad = ", ".join(f"{names[name]} ({_rule(name)})" for name in from_env.invalid)
        raise ConfigError(f"invalid environment variable(s): {bad}")
    return from_env.settings


def load(env: Mapping[str, str] | None = None, path: Path | None = None) -> Loaded:
    """The settings below the client's: defaults, the config file, the environment. Raises ConfigError."""
    env = os.environ if env is None else env
    path = config_path() if path is None else path
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        text, found = "", False
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(f"{path}: cannot be read: {error}") from None
    else:
        found = True
    file_tree = parse_file(text, str(path))
    origins = {dotted: "config file" for dotted in ENV_SETTINGS.values() if _lookup(file_tree, dotted) is not None}
    origins.update({dotted: variable for variable, dotted in ENV_SETTINGS.items() if env.get(variable)})
    return Loaded(layer(file_tree, env, str(path)), path, found, origins)


_startup: Loaded | None = None


def startup() -> Loaded:
    """`load()` once per process: the server's base settings (main checks them before serving)."""
    global _startup
    if _startup is None:
        _startup = load()
    return _startup


def settings_json(settings: Any) -> dict[str, Any]:
    """A settings dataclass as its JSON tree (camelCase keys), the API key masked."""
    tree: dict[str, Any] = {}
    for f in dataclasses.fields(settings):
        value = getattr(settings, f.name)
        if dataclasses.is_dataclass(value):
            tree[camel(f.name)] = settings_json(value)
        elif isinstance(value, tuple):
            tree[camel(f.name)] = list(value)
        else:
            tree[camel(f.name)] = value
    if "apiKey" in tree and tree["apiKey"] is not None:
        tree["apiKey"] = MASK
    return tree


def effective(loaded: Loaded, engine_flag: str | None = None) -> dict[str, Any]:
    """What --print-config prints: the engine the server would use, the settings, and their sources."""
    settings = loaded.settings
    origins = dict(loaded.origins)
    if engine_flag is not None:
        engine = engine_flag
        origins["engine"] = "--engine"
    else:
        engine = settings.engine.url or "embedded"
    return {
        "engine": engine,
        "configFile": str(loaded.path),
        "configFileFound": loaded.found,
        "precedence": PRECEDENCE,
        "origins": origins,
        "settings": settings_json(settings),
    }


def _lookup(tree: Mapping[str, Any], dotted: str) -> Any:
    node: Any = tree
    for part in dotted.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return None
        node = node[part]
    return node


def _unknown_keys(cls: type[Any], tree: object, path: str) -> list[str]:
    if not isinstance(tree, Mapping):
        return []  # a table given a non-table value: parse_settings reports it as invalid
    hints = typing.get_type_hints(cls)
    fields = {camel(f.name): hints[f.name] for f in dataclasses.fields(cls)}
    unknown = []
    for key, value in tree.items():
        if key not in fields:
            unknown.append(f"{path}{key}")
        elif dataclasses.is_dataclass(fields[key]):
            unknown.extend(_unknown_keys(fields[key], value, f"{path}{key}."))
    return unknown


def _rule(dotted: str) -> str:
    cls: Any = Settings
    field: Any = None
    for part in dotted.split("."):
        hints = typing.get_type_hints(cls)
        field = next((f for f in dataclasses.fields(cls) if camel(f.name) == part), None)
        if field is None:
            return "invalid"
        cls = hints[field.name]
    rule = field.metadata.get("rule") if field is not None else None
    return f"expected {rule}" if rule else f"expected {getattr(cls, '__name__', cls)}"


def _described(names: tuple[str, ...]) -> str:
    return ", ".join(f"{name} ({_rule(name)})" for name in names)
