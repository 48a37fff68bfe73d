"""The training run of the profile-guided build (tools/pgo-build.sh): the cold indexer's job over this
repository's own sources and index fixtures (nine languages), a few times, with the instrumented extractor.

    python tools/pgo_train.py [ROOT]
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(sys.argv[1] if len(sys.argv) > 1 else Path(__file__).resolve().parent.parent)
ROUNDS = 3


def main() -> None:
    sys.path.insert(0, str(ROOT))
    from kimi_lsp.index import extract
    from kimi_lsp.index.discovery import IgnoreRules, walk
    from kimi_lsp.index.worker import index_file

    if extract._outline is None:
        sys.exit("pgo_train: kimi_lsp.index._outline is not built")
    paths = [f.path for f in walk(IgnoreRules(ROOT))]
    indexed = 0
    for _ in range(ROUNDS):
        indexed += sum(index_file(path, None, 1_000_000).status == "indexed" for path in paths)
    print(f"pgo_train: indexed {indexed // ROUNDS} files {ROUNDS} times", file=sys.stderr)


if __name__ == "__main__":
    main()
