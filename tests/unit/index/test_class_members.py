"""WorkspaceIndex.class_members and the pure parts beneath it: the bases a class signature names, the attributes a
method line assigns, and bases followed across files through imports (the index in process, no server)."""

from __future__ import annotations

from pathlib import Path

import pytest

from kimi_lsp.index.answers import assigned_attributes
from kimi_lsp.index.signature import base_names
from kimi_lsp.index.workspace import IndexSettings, WorkspaceIndex


@pytest.mark.parametrize(
    ("language", "signature", "bases"),
    [
        ("python", "class Cart(Model)", ("Model",)),
        ("python", "class Cart(base.Model, Generic[T], metaclass=Meta)", ("base.Model", "Generic")),
        ("python", "class Point(namedtuple('P', 'x y'), *mixins)", ("namedtuple",)),
        ("python", "class Plain", ()),
        ("python", "class Old(object)", ()),
        ("typescript", "class Button extends Widget<Map<string, number>> implements Clickable, Focus", None),
        ("java", "public class Cart<T extends Comparable<T>> extends Model implements Serializable", None),
        ("javascript", "class A extends mixin(B, C)", ("mixin",)),
    ],
)
def test_base_names(language: str, signature: str, bases: tuple[str, ...] | None) -> None:
    expected = {
        "typescript": ("Widget", "Clickable", "Focus"),
        "java": ("Model", "Serializable"),
    }
    assert base_names(language, signature) == (bases if bases is not None else expected[language])


def test_assigned_attributes() -> None:
    assert assigned_attributes("        self.items = []", "self") == [("items", 13)]
    assert assigned_attributes("        self.total: int = 0", "self") == [("total", 13)]
    assert [n for n, _ in assigned_attributes("        self.a, self.b = 1, 2", "self")] == ["a", "b"]
    assert assigned_attributes("        self.count += 1", "self") == [("count", 13)]
    assert assigned_attributes("    this.parent = null;", "this") == [("parent", 9)]
    for line in ("self.items[0] = 1", "self.a.b = 1", "if self.x == 1:", "x = self.y", "f(a=self.b)", "myself.x = 1"):
        assert assigned_attributes(line, "self") == [], line


async def test_members_come_from_the_class_and_its_bases_across_files(tmp_path: Path) -> None:
    root = tmp_path / "ws"
    (root / "pkg").mkdir(parents=True)
    (root / "pkg" / "__init__.py").write_text("")
    (root / "pkg" / "root.py").write_text("class Root:\n    def ping(self):\n        self.seen = True\n")
    (root / "pkg" / "base.py").write_text(
        "from pkg.root import Root\n\n\nclass Base(Root):\n    def save(self):\n        pass\n\n    def ping(self):\n"
        "        pass\n"
    )
    (root / "pkg" / "cycle.py").write_text("class Loop(Loop):\n    def spin(self):\n        pass\n")
    (root / "pkg" / "leaf.py").write_text(
        "from pkg import base\n\n\nclass Leaf(base.Base):\n    size = 1\n\n    def grow(self):\n        self.height = 2\n"
    )
    index = WorkspaceIndex([root], IndexSettings(cache_path=":memory:", workers=0, debounce_ms=10))
    await index.start()
    try:
        members = index.class_members(str(root / "pkg" / "leaf.py"), "Leaf")
        assert [(m.definition.name, m.owner, m.depth) for m in members] == [
            ("size", "Leaf", 0),
            ("grow", "Leaf", 0),
            ("height", "Leaf", 0),
            ("save", "Base", 1),
            ("ping", "Base", 1),  # Base.ping hides Root.ping
            ("seen", "Root", 2),
        ]
        assert members[3].path == str(root / "pkg" / "base.py")
        assert [m.definition.name for m in index.class_members(str(root / "pkg" / "cycle.py"), "Loop")] == ["spin"]
        assert index.class_members(str(root / "pkg" / "leaf.py"), "Missing") == ()
        chain = index.enclosing_definitions(str(root / "pkg" / "leaf.py"), 7)
        assert [d.name for d in chain] == ["Leaf", "grow"]
    finally:
        await index.close()
