"""Where kimi-lsp keeps its own files, by each platform's conventions (the `platformdirs` package).

Cache, config and data folders. Linux and the BSDs: `${XDG_CACHE_HOME:-~/.cache}/kimi-lsp`,
`${XDG_CONFIG_HOME:-~/.config}/kimi-lsp`, `${XDG_DATA_HOME:-~/.local/share}/kimi-lsp`; macOS: `~/Library/Caches/kimi-lsp`
and `~/Library/Application Support/kimi-lsp` (config and data); Windows: `%LOCALAPPDATA%\\kimi-lsp\\Cache` and
`%LOCALAPPDATA%\\kimi-lsp` (config and data). Nothing is created here; callers make the folders they write to.
"""

from __future__ import annotations

from pathlib import Path

import platformdirs

APP = "kimi-lsp"


def cache_dir() -> Path:
    """The index caches (index/), the embedded engine's log (logs/)."""
    return Path(platformdirs.user_cache_dir(APP, appauthor=False))


def data_dir() -> Path:
    """The embedded engine's environment for an installed server (engine-venv/; model/embedded.py)."""
    return Path(platformdirs.user_data_dir(APP, appauthor=False))


def config_dir() -> Path:
    """The user's config.toml (config_file.py)."""
    return Path(platformdirs.user_config_dir(APP, appauthor=False))
