"""Cross-file context: which definitions are found, how they are shown, and what fits the budget."""

from __future__ import annotations

import glob
from pathlib import Path

import pytest

from kimi_lsp.index.extract import extract_outline, parse
from kimi_lsp.index.languages import spec_for_path
from kimi_lsp.index.model import ImportRef, Outline, ResolvedImport
from kimi_lsp.prompt.render import definition_text
from kimi_lsp.prompt.select import cost_of, select
from kimi_lsp.prompt.sources import Candidate, Document, candidates
from kimi_lsp.prompt.tokens import Estimate

MONEY = '''class Money(Base):
    """Cents, never floats."""

    rate = 3

    def __init__(self, cents: int,
                 currency: str = "EUR") -> None:
        self.cents = cents

    def times(self, n: int) -> "Money":
        return Money(self.cents * n)

    def _private(self):
        pass


def parse_price(text: str) -> Money:
    """Parse a price like 3.50."""
    return Money(0)


LIMIT = 10
'''
BASE = "class Base:\n    def describe(self) -> str:\n        return ''\n"
INIT = "from .money import Money, parse_price\n"


def outline_of(path: str, text: str) -> Outline:
    spec = spec_for_path(path)
    assert spec is not None
    source = text.encode()
    return extract_outline(spec, parse(spec, source), source)


class FakeIndex:
    def __init__(self, files: dict[str, str], imports: dict[str, tuple[ResolvedImport, ...]]) -> None:
        self.outlines = {path: outline_of(path, text) for path, text in files.items()}
        self.imports = imports

    def outline(self, path_or_uri: str) -> Outline | None:
        return self.outlines.get(path_or_uri)

    def imports_of(self, path_or_uri: str) -> tuple[ResolvedImport, ...]:
        return self.imports.get(path_or_uri, ())


def imported(spec: str, names: tuple[str, ...], *targets: str) -> ResolvedImport:
    return ResolvedImport(ImportRef(spec, names, 0, 0), targets)


def document(text: str, imports: tuple[ResolvedImport, ...], path: str = "/w/app.py") -> Document:
    return Document(path, text, len(text), outline_of(path, text), imports)


INDEX = FakeIndex(
    {"/w/shop/money.py": MONEY, "/w/shop/base.py": BASE, "/w/shop/__init__.py": INIT},
    {"/w/shop/__init__.py": (imported(".money", ("Money", "parse_price"), "/w/shop/money.py"),)},
)


def found(doc: Document, first_shown_line: int = 0) -> dict[str, Candidate]:
    return {c.key: c for c in candidates(doc, INDEX, lambda p: p.removeprefix("/w/"), first_shown_line)}


def test_a_function_is_its_signature_and_doc_line_and_a_class_its_header_constructor_and_public_members() -> None:
    outline = INDEX.outlines["/w/shop/money.py"]
    names = [d.name for d in outline.definitions]
    function = definition_text(outline, names.index("parse_price"))
    assert function == "def parse_price(text: str) -> Money\n    # Parse a price like 3.50."
    cls = definition_text(outline, names.index("Money"))
    assert cls.splitlines()[0] == "class Money(Base)" and "def __init__(self, cents: int," in cls
    assert "def times(self, n: int)" in cls and "rate = 3" in cls and "_private" not in cls


def test_names_taken_from_other_files_are_found_whatever_the_import_form() -> None:
    imports = (imported("shop.money", ("parse_price",), "/w/shop/money.py"),)
    keys = found(document("from shop.money import parse_price\n\nprice = parse_price(text)\n", imports))
    assert "def:/w/shop/money.py:parse_price" in keys and "def:/w/shop/money.py:Money" not in keys
    imports = (imported("shop.money", (), "/w/shop/money.py"),)  # import shop.money as m; m.LIMIT
    keys = found(document("import shop.money as m\n\nif n > m.LIMIT:\n    pass\n", imports))
    assert "def:/w/shop/money.py:LIMIT" in keys and "map:/w/shop/money.py" in keys


def test_a_name_a_package_reexports_is_followed_to_its_definition() -> None:
    imports = (imported("shop", ("Money",), "/w/shop/__init__.py"),)
    keys = found(document("from shop import Money\n\ntotal = Money(5)\n", imports))
    assert keys["def:/w/shop/money.py:Money"].path == "shop/money.py"


def test_nearer_and_more_frequent_uses_rank_higher_and_bases_count_more_after_self() -> None:
    imports = (
        imported("shop.money", ("parse_price", "LIMIT"), "/w/shop/money.py"),
        imported("shop.base", ("Base",), "/w/shop/base.py"),
    )
    head = "from shop.money import parse_price, LIMIT\nfrom shop.base import Base\n" + "\n" * 40
    text = head + "x = LIMIT\n\nclass Cart(Base):\n    def total(self):\n        return parse_price(s)\n        self."
    keys = found(document(text, imports))
    base, price, limit = (
        keys[f"def:{k}"].score
        for k in ("/w/shop/base.py:Base", "/w/shop/money.py:parse_price", "/w/shop/money.py:LIMIT")
    )
    assert base > price > limit


def test_the_headers_around_the_cursor_are_shown_when_the_window_cut_them() -> None:
    text = "class Cart:\n    def total(self):\n" + "        x = 1\n" * 200 + "        y"
    assert "scope:/w/app.py" not in found(document(text, ()), first_shown_line=0)
    scope = found(document(text, ()), first_shown_line=150)["scope:/w/app.py"]
    assert scope.text == "class Cart\n    def total(self)" and scope.tier < 0


def test_similar_code_comes_from_other_open_documents() -> None:
    other = "def unrelated():\n    pass\n" * 20 + "total = sum(line.price * line.quantity for line in order.lines)\n"
    text = "def cart_total(order):\n    total = sum(line.price * line.quantity for line in order.lines)\n    "
    doc = document(text, ())
    similar = [c for c in candidates(doc, INDEX, str, 0, [("/w/orders.py", other)]) if c.tier == 1]
    assert len(similar) == 1 and "line.quantity" in similar[0].text


def test_selection_skips_what_does_not_fit_keeps_places_and_puts_the_scope_last() -> None:
    counter = Estimate()

    def make(key: str, size: int, tier: int = 0, score: float = 1.0) -> Candidate:
        return Candidate(key, key, "x" * size, tier, score)

    pieces = [make("big", 3000, score=5), make("a", 30, score=4), make("b", 30, score=3), make("s", 30, tier=-1)]
    budget = sum(cost_of(c, counter) for c in pieces[1:])
    chosen = select(pieces, counter, budget)
    assert [c.key for c in chosen] == ["a", "b", "s"]  # big skipped, the next ones tried; the scope last
    again = select([*pieces, make("c", 10, score=9)], counter, budget + 20, previous=[c.key for c in chosen])
    assert [c.key for c in again][:2] == ["a", "b"] and again[-1].key == "s"  # the old keep their places


def test_the_estimate_stays_close_to_a_real_tokenizer_on_code_and_errs_high() -> None:
    tokenizers = pytest.importorskip("tokenizers")
    path = Path(__file__).resolve().parents[2] / "engine" / "models" / "kimi-tiny" / "tokenizer.json"
    tokenizer = tokenizers.Tokenizer.from_file(str(path))
    sources = [
        Path(f).read_text()
        for f in sorted(
            glob.glob(str(Path(__file__).resolve().parents[2] / "kimi_lsp" / "**" / "*.py"), recursive=True)
        )
    ]
    real = sum(len(tokenizer.encode(s, add_special_tokens=False).ids) for s in sources)
    estimated = sum(Estimate().count(s) for s in sources)
    assert 1.0 <= estimated / real <= 1.35
