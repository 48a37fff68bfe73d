"""KIMI_LSP_NO_NATIVE: 1 makes the index run as if the C extensions were not built (`_outline` and `_symtab`),
in this process and in the index's worker processes; 0 or empty leaves them on; anything else fails loudly.
Runs in both modes (`make test` runs tests/unit/index once more with KIMI_LSP_NO_NATIVE=1)."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from kimi_lsp.index import extract, symtable
from kimi_lsp.index.extract import NO_NATIVE_ENV, native_enabled
from kimi_lsp.index.languages import spec_named

ROOT = Path(__file__).resolve().parents[3]
BUILT = {name: importlib.util.find_spec(f"kimi_lsp.index.{name}") is not None for name in ("_outline", "_symtab")}


@pytest.mark.parametrize(("value", "enabled"), [(None, True), ("", True), ("0", True), ("1", False)])
def test_the_variable_turns_the_extensions_off(
    monkeypatch: pytest.MonkeyPatch, value: str | None, enabled: bool
) -> None:
    if value is None:
        monkeypatch.delenv(NO_NATIVE_ENV, raising=False)
    else:
        monkeypatch.setenv(NO_NATIVE_ENV, value)
    assert native_enabled() is enabled


@pytest.mark.parametrize("value", ["yes", "true", "2", " 1", "on"])
def test_an_invalid_value_fails(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv(NO_NATIVE_ENV, value)
    with pytest.raises(ValueError, match=NO_NATIVE_ENV):
        native_enabled()


def test_an_invalid_value_fails_on_import() -> None:
    proc = subprocess.run(
        [sys.executable, "-c", "import kimi_lsp.index.symtable"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, NO_NATIVE_ENV: "yes"},
        timeout=120,
    )
    assert proc.returncode != 0
    assert f"ValueError: {NO_NATIVE_ENV} must be 0 or 1" in proc.stderr


def test_this_process_follows_the_variable() -> None:
    on = os.environ.get(NO_NATIVE_ENV, "") != "1"
    assert (extract._outline is not None) == (on and BUILT["_outline"])
    assert (symtable._symtab is not None) == (on and BUILT["_symtab"])
    python = spec_named("python")
    assert python is not None
    assert (extract.native_extractor(python) is not None) == (on and BUILT["_outline"])


_PROBE = """
import json, sys
from kimi_lsp.index import extract, symtable
from kimi_lsp.index.jobs import _new_pool


def state():
    return {"_outline": extract._outline is not None, "_symtab": symtable._symtab is not None}


if __name__ == "__main__":
    import probe  # the pool pickles probe.state by its module's name: not __main__
    with _new_pool(1) as pool:
        print(json.dumps({"parent": probe.state(), "worker": pool.submit(probe.state).result(timeout=60)}))
"""


@pytest.mark.parametrize("value", ["1", "0"])
def test_index_workers_follow_the_variable(tmp_path: Path, value: str) -> None:
    """The workers are forked by a forkserver that imported the extractor once: it must have seen the value."""
    (tmp_path / "probe.py").write_text(_PROBE, encoding="utf-8")
    env = {**os.environ, NO_NATIVE_ENV: value, "PYTHONPATH": os.pathsep.join([str(ROOT), str(tmp_path)])}
    proc = subprocess.run(
        [sys.executable, str(tmp_path / "probe.py")], cwd=tmp_path, capture_output=True, text=True, env=env, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    expected = {name: value == "0" and built for name, built in BUILT.items()}
    assert json.loads(proc.stdout) == {"parent": expected, "worker": expected}
