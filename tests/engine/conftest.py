"""Fixtures for tests against a real SGLang server (cpu-tiny profile, our tiny MoE model, on the CPU).

`sglang_engine` (session scope) starts one server on a free 127.0.0.1 port through kimi_engine.launch, yields
its base URL and stops the whole process group at the end. It skips only when sglang is not importable in the
test interpreter (`engine/install.sh .venv` installs it; `make test` runs that first).
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterator

import pytest
from kimi_engine.launch import TINY_MODEL_DIR, EngineConfig, EngineProcess, free_port


@pytest.fixture(scope="session")
def sglang_engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if importlib.util.find_spec("sglang") is None:
        pytest.skip(f"sglang is not importable in {sys.executable}: run engine/install.sh on this venv")
    if not (TINY_MODEL_DIR / "model.safetensors").is_file():
        pytest.fail(f"tiny model weights missing at {TINY_MODEL_DIR} (git lfs? partial checkout?)")
    log = tmp_path_factory.mktemp("engine") / "sglang.log"
    cfg = EngineConfig(
        profile="cpu-tiny",
        host="127.0.0.1",
        port=free_port(),
        python=sys.executable,
        log_file=str(log),
        startup_timeout=600,
    )
    engine = EngineProcess(cfg)
    engine.start()
    try:
        engine.wait_ready()
        yield engine.base_url
    finally:
        engine.stop()
