"""Parse CPU of the indexer's own build of tree-sitter (the C extractor, profile-guided) against the binding's,
per language, on the same files, in one process, interleaved chunk by chunk.

    python bench/parser_build.py [DIR ...]     (default: the standard library and this repository)

Files are those the index would take (gitignore, size cap, secrets); at most --files per language.
"""

from __future__ import annotations

import argparse
import sys
import sysconfig
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def main() -> None:
    from kimi_lsp.index import extract
    from kimi_lsp.index.discovery import IgnoreRules, walk
    from kimi_lsp.index.languages import LanguageSpec, spec_for_path

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dirs", nargs="*", default=[sysconfig.get_paths()["stdlib"], str(Path(__file__).parent.parent)])
    parser.add_argument("--files", type=int, default=400, help="files per language at most")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    if extract._outline is None:
        sys.exit("the C extractor is not built (make venv builds it)")
    sources: dict[str, list[tuple[LanguageSpec, bytes]]] = defaultdict(list)
    for root in args.dirs:
        for found in walk(IgnoreRules(root, ("site-packages/", "__pycache__/"))):
            spec = spec_for_path(found.path)
            if spec is not None and len(sources[spec.name]) < args.files:
                sources[spec.name].append((spec, Path(found.path).read_bytes()))
    print(f"{'language':16} {'files':>6} {'binding ms/file':>16} {'ours ms/file':>13} {'ours / binding':>15}")
    for name, items in sorted(sources.items()):
        native = extract.native_extractor(items[0][0])
        assert native is not None
        binding = ours = 0.0
        for _ in range(args.rounds):
            for i in range(0, len(items), 16):
                chunk = items[i : i + 16]
                start = time.process_time()
                for spec, data in chunk:
                    extract.parse(spec, data)
                binding += time.process_time() - start
                start = time.process_time()
                for _, data in chunk:
                    native.match_count(data, query=False)
                ours += time.process_time() - start
        per_file = 1000 / (len(items) * args.rounds)
        print(f"{name:16} {len(items):6} {binding * per_file:16.3f} {ours * per_file:13.3f} {ours / binding:15.2f}")


if __name__ == "__main__":
    main()
