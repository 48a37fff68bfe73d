from collections.abc import Callable

from kimi_lsp.index.model import RawImport, RawOutline

class Extractor:
    def __init__(
        self,
        language: object,
        query_source: bytes,
        language_name: str,
        max_start_depth: int,
        kinds: tuple[str, ...],
        method_parents: tuple[int, ...],
        node_types: tuple[tuple[str, ...], ...],
        text_imports: Callable[[str, str, int], list[RawImport]],
        clean_comment: Callable[[str], str],
        docstring_text: Callable[[str], str],
    ) -> None: ...
    def extract(self, source: bytes) -> RawOutline: ...
    def match_count(self, source: bytes, query: bool = True) -> int: ...
