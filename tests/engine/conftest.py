"""Fixtures for tests against a real SGLang server (cpu-tiny profile, our tiny MoE model, on the CPU).

SGLang runs in its own environment (`make engine`: .venv-engine), found as the server finds it
(kimi_lsp.model.embedded.engine_python). `engine_python` (session scope) is that interpreter; `sglang_engine`
(session scope) starts one server on a free 127.0.0.1 port through kimi_engine.launch, yields its base URL and
stops the whole process group at the end. They skip only when no environment has SGLang (`make test` installs
it first).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from kimi_engine.launch import TINY_MODEL_DIR, EngineConfig, EngineProcess, free_port

from kimi_lsp.model.embedded import engine_python as find_engine_python
from kimi_lsp.model.embedded import unavailable_reason


@pytest.fixture(scope="session")
def engine_python() -> str:
    python = find_engine_python()
    if python is None:
        pytest.skip(f"{unavailable_reason()}")
    return python


@pytest.fixture(scope="session")
def sglang_engine(tmp_path_factory: pytest.TempPathFactory, engine_python: str) -> Iterator[str]:
    if not (TINY_MODEL_DIR / "model.safetensors").is_file():
        pytest.fail(f"tiny model weights missing at {TINY_MODEL_DIR} (git lfs? partial checkout?)")
    log = tmp_path_factory.mktemp("engine") / "sglang.log"
    cfg = EngineConfig(
        profile="cpu-tiny",
        host="127.0.0.1",
        port=free_port(),
        python=engine_python,
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
