from collections.abc import Callable, Sequence

def build(names: Sequence[str], fids: Sequence[int], lines: Sequence[int], colkinds: Sequence[int],
          fold: Callable[[str], str]) -> tuple[str, bytes, bytes, bytes, bytes]: ...
