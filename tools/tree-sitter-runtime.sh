#!/usr/bin/env bash
# Print the directory of tree-sitter's C runtime (lib/, with src/lib.c and include/), fetching it first if
# needed: the source distribution of the tree-sitter version pinned in pyproject.toml, from PyPI, unpacked in
# the download cache. The C extractor (kimi_lsp/index/_outline.c) is compiled against it, so its parser is the
# same code as the one in the Python binding.
#
# Usage: tools/tree-sitter-runtime.sh PYTHON   (a Python with pip, e.g. .venv/bin/python)
set -euo pipefail

PY=${1:?usage: tools/tree-sitter-runtime.sh PYTHON}
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
version=$(sed -n 's/^ *"tree-sitter==\([^"]*\)".*/\1/p' "$ROOT/pyproject.toml")
[[ -n "$version" ]] || { echo "tools/tree-sitter-runtime.sh: no tree-sitter pin in pyproject.toml" >&2; exit 2; }
cache="${XDG_CACHE_HOME:-$HOME/.cache}/kimi-lsp/tree-sitter-$version"
lib="$cache/tree_sitter-$version/tree_sitter/core/lib"
if [[ ! -f "$lib/src/lib.c" ]]; then
    mkdir -p "$cache"
    timeout 600 "$PY" -m pip download --quiet --no-deps --no-binary :all: "tree-sitter==$version" -d "$cache" >&2
    tar xzf "$cache/tree_sitter-$version.tar.gz" -C "$cache"
fi
echo "$lib"
