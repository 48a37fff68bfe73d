#!/usr/bin/env bash
# Rebuild the cold indexer's extractor (kimi_lsp/index/_outline*.c with tree-sitter's runtime) in place with
# profile-guided optimisation: an instrumented build, a training run over this repository's own sources
# (tools/pgo_train.py), then the build that uses the profile. Its parse takes 15-30% less CPU than the same code
# built without a profile, in every language (docs/index.md). If a step fails, the extractor is built again
# without a profile, or else removed (indexing then runs in Python): an instrumented build is never left.
#
# Usage: tools/pgo-build.sh PYTHON RUNTIME   (RUNTIME: tree-sitter's lib/, from tools/tree-sitter-runtime.sh)
set -euo pipefail

PY=${1:?usage: tools/pgo-build.sh PYTHON RUNTIME}
RUNTIME=${2:?usage: tools/pgo-build.sh PYTHON RUNTIME}
cd "$(dirname "${BASH_SOURCE[0]}")/.."
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
profile=$work/profile

# build [KIMI_PGO value]: the extensions from scratch, in place; fails unless a new extractor was built. The
# extension is optional in setup.py (a failed compile is not an error there), hence the check by import.
# Every step builds in the same place: gcc finds the profile of an object file by the object's path.
build() {
    rm -f kimi_lsp/index/_outline.*.so
    KIMI_TS_RUNTIME=$RUNTIME KIMI_PGO=${1:-} "$PY" setup.py build_ext --inplace --force \
        --build-temp "$work/temp" --build-lib "$work/lib" >>"$work/build.log" 2>&1 \
        && "$PY" -c "import kimi_lsp.index._outline" 2>>"$work/build.log"
}

# trained: one profile per object file of the extractor, no more: one per unit of its own C (_outline*.c, the
# sources setup.py names in OUTLINE_SOURCES) and one of tree-sitter's runtime (_runtime.c)
trained() {
    local units=(kimi_lsp/index/_outline*.c kimi_lsp/index/_runtime.c) unit count
    count=$(find "$profile" -name '*.gcda' 2>/dev/null | wc -l)
    if [[ $count -ne ${#units[@]} ]]; then
        echo "pgo-build: $count profiles, expected ${#units[@]} (${units[*]})" >>"$work/build.log"
        return 1
    fi
    for unit in "${units[@]}"; do
        if [[ -z $(find "$profile" -name "$(basename "$unit" .c).gcda") ]]; then
            echo "pgo-build: no profile of $unit" >>"$work/build.log"
            return 1
        fi
    done
}

# the training runs the extractor whatever KIMI_LSP_NO_NATIVE says in the caller's environment
if build "generate:$profile" && KIMI_LSP_NO_NATIVE=0 "$PY" tools/pgo_train.py && trained && build "use:$profile"; then
    echo "pgo-build: the extractor is built with a profile" >&2
else
    tail -n 30 "$work/build.log" >&2 || true
    echo "warning: the profile-guided build of the extractor failed (above); building it without a profile" >&2
    build || { rm -f kimi_lsp/index/_outline.*.so; echo "warning: no C extractor; indexing runs in Python" >&2; }
fi
