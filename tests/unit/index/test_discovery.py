"""Which files are indexed: gitignore semantics, excludes, size cap, binary files, symlink loops, secrets."""

from __future__ import annotations

import builtins
import io
import os
import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pathspec import GitIgnoreSpec

from kimi_lsp.index.discovery import IgnoreRules, _combined, _patterns, walk
from kimi_lsp.index.worker import index_file, read_capped
from kimi_lsp.index.workspace import IndexSettings, WorkspaceIndex


def make(root: Path, files: dict[str, str | bytes]) -> None:
    for rel, content in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content)


def found(root: Path, **kw: object) -> set[str]:
    return {os.path.relpath(f.path, root) for f in walk(IgnoreRules(root, **kw))}  # type: ignore[arg-type]


def test_nested_gitignore_negation_and_info_exclude(tmp_path: Path) -> None:
    make(
        tmp_path,
        {
            ".git/info/exclude": "local_only.py\n",
            ".gitignore": "*.gen.py\nbuild/\n/top_only.py\n",
            "a.py": "",
            "x.gen.py": "",
            "top_only.py": "",
            "local_only.py": "",
            "build/out.py": "",
            "sub/.gitignore": "!keep.gen.py\nsecret_dir/\n",
            "sub/keep.gen.py": "",
            "sub/drop.gen.py": "",
            "sub/top_only.py": "",
            "sub/secret_dir/x.py": "",
            "sub/deeper/.gitignore": "*.py\n!wanted.py\n",
            "sub/deeper/unwanted.py": "",
            "sub/deeper/wanted.py": "",
            "node_modules/lib/index.js": "",
            "notes.txt": "",
        },
    )
    assert found(tmp_path) == {"a.py", "sub/keep.gen.py", "sub/top_only.py", "sub/deeper/wanted.py"}


def test_an_invalid_pattern_line_costs_only_itself(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    make(tmp_path, {"sub/.gitignore": "!\n[z-a]\n*.gen.py\n", "sub/a.py": "", "sub/b.gen.py": "", "top.py": ""})
    assert found(tmp_path) == {"sub/a.py", "top.py"}
    assert "2 invalid pattern line(s)" in caplog.text and "'!'" in caplog.text and "'[z-a]'" in caplog.text
    assert found(tmp_path, exclude=["\\", "top.py"]) == {"sub/a.py"}


def test_excluded_directory_cannot_be_reincluded(tmp_path: Path) -> None:
    make(tmp_path, {".gitignore": "gen/\n!gen/keep.py\n", "gen/keep.py": "", "ok.py": ""})
    assert found(tmp_path) == {"ok.py"}


def test_gitignore_above_the_root_applies_unless_it_ignores_the_root(tmp_path: Path) -> None:
    make(
        tmp_path,
        {
            ".git/HEAD": "",
            ".gitignore": "*.log.py\nvendored/\n",
            "proj/a.py": "",
            "proj/b.log.py": "",
            "vendored/lib/c.py": "",
        },
    )
    assert found(tmp_path / "proj") == {"a.py"}
    assert found(tmp_path / "vendored") == {"lib/c.py"}  # the folder the user opened is never itself ignored


def test_single_paths_are_judged_as_the_walk_would(tmp_path: Path) -> None:
    make(
        tmp_path,
        {
            ".git/HEAD": "",
            ".gitignore": "build/\n",
            "src/a.py": "",
            "build/gen/b.py": "",
            "node_modules/pkg/c.js": "",
            "vendor/d.py": "",
            ".env": "",
        },
    )
    rules = IgnoreRules(tmp_path, exclude=["vendor/"])
    assert {os.path.relpath(p, tmp_path) for p in map(str, tmp_path.rglob("*")) if rules.accepts(p)} == {"src/a.py"}
    assert rules.walks_into(tmp_path / "src")
    for directory in ("build", "build/gen", "node_modules", "node_modules/pkg", "vendor", "../elsewhere"):
        assert not rules.walks_into(tmp_path / directory), directory


def test_kimiignore_keeps_tracked_files_from_the_index_and_wins_over_gitignore(tmp_path: Path) -> None:
    make(
        tmp_path,
        {
            ".gitignore": "*.gen.py\n",
            ".kimiignore": "internal/\n!keep.gen.py\n",
            "a.py": "",
            "internal/algo.py": "",
            "keep.gen.py": "",
            "drop.gen.py": "",
            "sub/.kimiignore": "pricing.py\n",
            "sub/pricing.py": "",
            "sub/ok.py": "",
        },
    )
    assert found(tmp_path) == {"a.py", "keep.gen.py", "sub/ok.py"}


def test_excludes_judges_any_file_under_the_root_whatever_its_language(tmp_path: Path) -> None:
    make(
        tmp_path,
        {
            ".git/HEAD": "",
            ".gitignore": "build/\n*.log\n",
            ".kimiignore": "docs/private.md\n",
            "src/a.py": "",
            "build/gen/b.py": "",
            "app.log": "",
            "docs/private.md": "",
            "docs/ok.md": "",
            "vendor/d.txt": "",
        },
    )
    rules = IgnoreRules(tmp_path, exclude=["vendor/"])
    excluded = {os.path.relpath(p, tmp_path) for p in tmp_path.rglob("*") if p.is_file() and rules.excludes(p)}
    assert excluded == {"build/gen/b.py", "app.log", "docs/private.md", "vendor/d.txt", ".git/HEAD"}
    assert not rules.excludes(tmp_path.parent / "elsewhere.py")  # outside the root: not these rules' to judge


def test_exclude_globs_and_size_cap(tmp_path: Path) -> None:
    make(tmp_path, {"a.py": "x = 1\n", "big.py": "x" * 2000, "gen/out.py": "", "deep/x/tmp_1.py": ""})
    assert found(tmp_path, exclude=["gen/", "tmp_*.py"], max_file_bytes=1000) == {"a.py"}


def test_symlink_loops_are_cut(tmp_path: Path) -> None:
    make(tmp_path, {"pkg/a.py": ""})
    os.symlink(tmp_path, tmp_path / "pkg" / "loop")
    os.symlink(tmp_path / "pkg", tmp_path / "alias")
    assert len(found(tmp_path)) == 1  # one way into pkg/ only, and no endless descent


def test_binary_and_oversized_files_are_skipped_by_the_indexer(tmp_path: Path) -> None:
    make(tmp_path, {"bin.py": b"\x00\x01\x02def f(): pass\n", "big.py": "x = 1\n" * 100})
    assert index_file(str(tmp_path / "bin.py"), None, 1000).status == "skipped"
    assert index_file(str(tmp_path / "big.py"), None, 100).status == "skipped"


def test_a_file_is_read_whole_up_to_the_cap_whatever_fstat_said(tmp_path: Path) -> None:
    path = tmp_path / "grows.py"
    path.write_bytes(b"x = 1\n" * 50)  # 300 bytes
    with open(path, "rb") as f:  # fstat said 10 bytes, then the file grew: it is read to its end
        assert read_capped(f.fileno(), 10, 1000) == path.read_bytes()
    with open(path, "rb") as f:  # grew past the cap since fstat
        assert read_capped(f.fileno(), 10, 100) is None
    with open(path, "rb") as f:
        assert read_capped(f.fileno(), 300, 299) is None
    with open(path, "rb") as f:  # shrank since fstat
        assert read_capped(f.fileno(), 5000, 10_000) == path.read_bytes()


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs on this system")
def test_a_fifo_with_a_source_name_neither_blocks_nor_gets_indexed(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "pipe.py")  # nobody writes to it: opening it for reading must not wait
    assert index_file(str(tmp_path / "pipe.py"), None, 1000).status == "skipped"


_PIECES = ["a", "b", "x.py", "*", "**", "?", "[ab]", "[!a]", "build", "*.py", ".c", "\\#", "\\ ", "é"]


@given(
    lines=st.lists(
        st.tuples(
            st.sampled_from(["", "!", "/", "#"]),
            st.lists(st.sampled_from(_PIECES), min_size=1, max_size=3),
            st.sampled_from(["", "/"]),
        ),
        max_size=12,
    ),
    paths=st.lists(
        st.lists(st.sampled_from(["a", "b", "x.py", "build", "c.c", "#x", "é.py", "ab"]), min_size=1, max_size=4),
        min_size=1,
        max_size=8,
    ),
    is_dir=st.booleans(),
)
@settings(max_examples=300, deadline=None)
def test_the_one_regex_per_ignore_file_decides_as_its_patterns_do(
    lines: list[tuple[str, list[str], str]], paths: list[list[str]], is_dir: bool
) -> None:
    text = ["".join((lead, "/".join(parts), tail)) for lead, parts, tail in lines]
    patterns = _patterns(text, "test")
    spec = GitIgnoreSpec.from_lines(text)
    for parts in paths:
        rel = "/".join(parts) + ("/" if is_dir else "")
        expected = spec.check_file(rel).include
        assert (patterns.check(rel) if patterns is not None else None) == expected
        if patterns is not None:
            assert patterns.any_pattern is not None  # these patterns all combine


def test_the_combined_regex_keeps_search_semantics_for_any_source() -> None:
    sources = ["^a|b", "^(?:.+/)?c(?:(?P<ps_d>/)|$)", "(?P<ps_d>/)x", "^[|]z"]
    combined = _combined(sources)
    for path in ["a", "xb", "q/c", "c/", "cc", "d/x", "|z", "y|z", "q"]:
        assert bool(combined.match(path)) == any(re.search(s, path) for s in sources), path


SECRETS = {
    ".env": "API_KEY=1",
    ".env.local": "x",
    "config/prod.env": "x",
    "certs/server.pem": "x",
    "certs/tls.key": "x",
    "id_rsa": "x",
    "keys/id_ed25519.pub": "x",
    ".npmrc": "x",
    ".pypirc": "x",
    ".netrc": "x",
    "credentials.json": "{}",
    "store.p12": "x",
    "store.pfx": "x",
    "home/.aws/credentials": "x",
    "home/.ssh/config": "x",
    # secrets with indexable extensions must still never be opened
    ".ssh/helper.py": "x = 1",
    "secrets/.env.py": "x",
    "deploy/id_rsa.py": "x",
}


async def test_secret_files_are_never_opened(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    make(tmp_path, {**SECRETS, "ok.py": "def fine(): pass\n"})
    secret_paths = {str((tmp_path / rel).resolve()) for rel in SECRETS}
    opened: list[str] = []
    real_open, real_io_open, real_os_open = builtins.open, io.open, os.open

    def spy(real):  # type: ignore[no-untyped-def]
        def wrapper(file, *args, **kwargs):  # type: ignore[no-untyped-def]
            if isinstance(file, (str, os.PathLike)):
                opened.append(os.path.realpath(file))
            return real(file, *args, **kwargs)

        return wrapper

    monkeypatch.setattr(builtins, "open", spy(real_open))
    monkeypatch.setattr(io, "open", spy(real_io_open))
    monkeypatch.setattr(os, "open", spy(real_os_open))
    index = WorkspaceIndex([tmp_path], IndexSettings(cache_path=":memory:", workers=0))
    await index.start()
    await index.close()
    assert set(index.files) == {str(tmp_path.resolve() / "ok.py")}
    assert str(tmp_path.resolve() / "ok.py") in opened  # the spy does see the files we read
    assert not secret_paths & set(opened)


async def test_a_link_to_a_secret_file_is_never_opened_whatever_its_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home, root = tmp_path / "home", tmp_path / "ws"
    make(home, {".aws/credentials": "aws_secret_access_key = x", ".env": "TOKEN=x", "lib/ok.py": "y = 2"})
    make(root, {"main.py": "x = 1"})
    for link, target in (("notes.py", ".aws/credentials"), ("settings.py", ".env"), ("shared.py", "lib/ok.py")):
        (root / link).symlink_to(home / target)
    opened: list[str] = []
    real_os_open = os.open
    monkeypatch.setattr(
        os, "open", lambda file, *a, **k: opened.append(os.path.realpath(file)) or real_os_open(file, *a, **k)
    )
    index = WorkspaceIndex([root], IndexSettings(cache_path=":memory:", workers=0))
    await index.start()
    assert sorted(os.path.basename(p) for p in index.files) == ["main.py", "shared.py"]  # links are followed
    assert not {str(home / ".aws/credentials"), str(home / ".env")} & set(opened)
    rules = IgnoreRules(root)
    assert not rules.accepts(root / "notes.py") and rules.accepts(root / "shared.py")  # file events too
    await index.close()
