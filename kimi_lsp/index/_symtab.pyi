from collections.abc import Callable, Sequence

def build(
    names: Sequence[str], fids: Sequence[int], lines: Sequence[int], colkinds: Sequence[int], fold: Callable[[str], str]
) -> tuple[str, bytes, bytes, bytes, bytes]: ...
def merge(
    text: str,
    folded: str,
    offsets: object,
    fids: object,
    lines: object,
    colkinds: object,
    keep: bytes | None,
    names: Sequence[str],
    new_fids: Sequence[int],
    new_lines: Sequence[int],
    new_colkinds: Sequence[int],
    fold: Callable[[str], str],
) -> tuple[str, bytes, bytes, bytes, bytes]: ...
