#!/usr/bin/env bash
# Install the serving side (CPU torch, SGLang and its pure-Python runtime deps) into an existing venv.
#
# Usage: engine/install.sh VENV_DIR
# Idempotent: a stamp file in the venv records the hash of the pins; a second run with the same pins is a no-op.
# Every pip call runs under engine/constraints.txt (torch==2.13.0 = the CPU wheel) and is bounded by `timeout`.
# Nothing inside site-packages is patched: SGLang's missing CPU kernel package is engine/cpu/sgl_kernel, put on
# the engine process's PYTHONPATH by engine/launch.py only.
set -euo pipefail

VENV_DIR=${1:?usage: engine/install.sh VENV_DIR}
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
PY="$VENV_DIR/bin/python"
STAMP="$VENV_DIR/.kimi-lsp-engine.stamp"
STEP_TIMEOUT=${KIMI_LSP_ENGINE_INSTALL_TIMEOUT:-1800}
CACHE="${XDG_CACHE_HOME:-$HOME/.cache}/kimi-lsp/pip"

if [[ ! -x "$PY" ]]; then
    echo "engine/install.sh: no venv at $VENV_DIR (create it first: python3 -m venv $VENV_DIR)" >&2
    exit 2
fi

want=$(cat "$HERE/install.sh" "$HERE/constraints.txt" "$HERE/requirements-runtime.txt" | sha256sum | cut -d' ' -f1)
if [[ -f "$STAMP" && "$(cat "$STAMP")" == "$want" ]] && "$PY" -c "import importlib.util as u, sys; sys.exit(not all(u.find_spec(m) for m in ('sglang', 'sglang_router', 'torch', 'transformers')))"; then
    echo "engine/install.sh: already installed in $VENV_DIR"
    exit 0
fi

mkdir -p "$CACHE"
pip_install() {
    timeout "$STEP_TIMEOUT" "$PY" -m pip install --cache-dir "$CACHE" --progress-bar off --quiet \
        -c "$HERE/constraints.txt" "$@"
}

echo "engine/install.sh: [1/4] torch (CPU build)"
pip_install torch==2.13.0
echo "engine/install.sh: [2/4] sglang runtime requirements"
pip_install -r "$HERE/requirements-runtime.txt"
# last, and with --no-deps: pip then checks no dependencies, so it prints no conflict block for the CUDA-only
# pins of sglang's metadata (sglang-kernel, flashinfer, ...) that are left out on purpose
echo "engine/install.sh: [3/4] sglang (no deps)"
pip_install --no-deps sglang==0.5.23
# SGLang's own router (the `team` profile, engine/launch.py): a Rust binary in a manylinux wheel, so nothing
# builds here; 0.3.2 is its newest release under this name (its successor is the `smg` gateway) and the one
# whose HTTP routes and cache-aware policy docs/deployment.md describes. Its few deps (fastapi, uvicorn,
# aiohttp, orjson, setproctitle) are sglang's too, so --no-deps again.
echo "engine/install.sh: [4/4] sglang-router (no deps)"
pip_install --no-deps sglang-router==0.3.2

"$PY" - <<'PYEOF'
import torch
import sglang
import sglang_router
assert not torch.cuda.is_available() or torch.version.cuda is not None
print(f"engine/install.sh: torch {torch.__version__}, sglang {sglang.__version__}, sglang-router {sglang_router.__version__}")
PYEOF
echo "$want" > "$STAMP"
echo "engine/install.sh: done"
