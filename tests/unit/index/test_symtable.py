"""The compact symbol table: lookups, fuzzy search, overlay and compaction."""

from __future__ import annotations

import shutil
import sysconfig

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kimi_lsp.index import symtable
from kimi_lsp.index.extract import native_enabled
from kimi_lsp.index.symtable import SymbolTable, build_compacted


def names(hits: list) -> list[str]:  # type: ignore[type-arg]
    return [h.name for h in hits]


def test_lookup_and_search_across_base_and_overlay() -> None:
    table = SymbolTable()
    table.replace_file(1, (("parse_file", 3, 4 << 5 | 9), ("Parser", 10, 6 << 5 | 2)))
    table.replace_file(2, (("parse", 1, 0), ("unparse", 2, 0)))
    table.install_base(build_compacted(table.compaction_input()))
    assert table.overlay == {} and len(table.base) == 4
    table.replace_file(3, (("parse", 7, 0),))
    hits = table.lookup("parse")
    assert [(h.fid, h.line) for h in hits] == [(2, 1), (3, 7)]
    assert table.lookup("parse_file")[0].col == 4 and table.lookup("parse_file")[0].kind == 9
    assert names(table.search("parse", 10))[:3] == ["parse", "parse", "Parser"]
    assert names(table.search("pf", 10)) == ["parse_file"]
    assert names(table.search("", 2)) == ["parse", "parse"]  # shorter names first


def test_replaced_and_removed_files_hide_their_base_entries() -> None:
    table = SymbolTable()
    table.replace_file(1, (("old_name", 1, 0),))
    table.replace_file(2, (("gone", 1, 0),))
    table.install_base(build_compacted(table.compaction_input()))
    table.replace_file(1, (("new_name", 1, 0),))
    table.remove_file(2)
    assert table.lookup("old_name") == [] and table.lookup("gone") == []
    assert names(table.search("name", 10)) == ["new_name"]


def test_changes_during_compaction_survive_it() -> None:
    table = SymbolTable()
    table.replace_file(1, (("a", 1, 0),))
    table.replace_file(2, (("b", 1, 0),))
    snapshot = table.compaction_input()
    table.replace_file(2, (("b2", 1, 0),))  # while the new base is being built
    table.replace_file(3, (("c", 1, 0),))
    table.install_base(build_compacted(snapshot))
    assert sorted(names(table.search("", 10))) == ["a", "b2", "c"]
    assert table.lookup("b") == []


def test_non_ascii_names_keep_offsets_aligned() -> None:
    table = SymbolTable()
    table.replace_file(1, (("İstanbul", 1, 0), ("größe", 2, 0), ("zeta", 3, 0)))
    table.install_base(build_compacted(table.compaction_input()))
    assert names(table.search("zeta", 5)) == ["zeta"]
    assert names(table.lookup("größe")) == ["größe"]


def test_best_matches_are_not_cut_off_by_many_weak_ones() -> None:
    table = SymbolTable()
    weak = tuple((f"a_p_a_r_s_e_{i:05d}", i, 0) for i in range(5000))  # subsequence matches, sorted first
    table.replace_file(1, (*weak, ("parse", 1, 0), ("parser_x", 2, 0), ("unparse", 3, 0)))
    table.install_base(build_compacted(table.compaction_input()))
    assert names(table.search("parse", 3)) == ["parse", "parser_x", "unparse"]
    assert names(table.search("PARSE", 1)) == ["parse"]


def require_extension() -> None:
    """Skip where there is no C compiler (so no extension) or KIMI_LSP_NO_NATIVE=1; fail where there is a
    compiler but no extension."""
    if not native_enabled():
        pytest.skip("KIMI_LSP_NO_NATIVE=1: the C extension is not used")
    if symtable._symtab is None:
        compiler = (sysconfig.get_config_var("CC") or "cc").split()[0]
        assert shutil.which(compiler) is None, "the _symtab extension is not built (make venv builds it)"
        pytest.skip("no C compiler here, so no C extension")


_NAME_CHARS = st.sampled_from([*list("aAbBzZ_09"), "é", "É", "İ", "ß", "ǅ", "😀", "İ", "Σ", "ς"])


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.text(_NAME_CHARS, max_size=6), st.integers(0, 2**32 - 1), st.integers(0, 50), st.integers(0, 2**32 - 1)
        ),
        max_size=60,
    )
)
def test_the_c_sort_builds_the_same_base_as_python(rows: list[tuple[str, int, int, int]]) -> None:
    require_extension()
    columns = [list(column) for column in zip(*rows)] if rows else [[], [], [], []]
    names, fids, lines, colkinds = columns
    assert symtable._build_columns(names, fids, lines, colkinds) == symtable._build_columns_python(
        names, fids, lines, colkinds
    )


_ASCII_NAME = st.text(st.sampled_from(list("aAbBzZ_09")), max_size=6)


@settings(max_examples=300, deadline=None)
@given(
    base_rows=st.lists(
        st.tuples(_ASCII_NAME, st.integers(0, 30), st.integers(0, 50), st.integers(0, 2**32 - 1)), max_size=60
    ),
    overlay=st.dictionaries(
        st.integers(0, 40),
        st.lists(
            st.tuples(st.text(_NAME_CHARS, max_size=6), st.integers(0, 50), st.integers(0, 2**32 - 1)), max_size=5
        ).map(tuple),
        max_size=8,
    ),
    dead=st.frozensets(st.integers(0, 30), max_size=10),
)
def test_merging_new_symbols_into_a_base_gives_what_sorting_everything_gives(
    base_rows: list[tuple[str, int, int, int]],
    overlay: dict[int, tuple[tuple[str, int, int], ...]],
    dead: frozenset[int],
) -> None:
    require_extension()
    base = symtable.build_base(base_rows)
    inp = symtable.CompactionInput(base, overlay, dead)
    live = [i for i in range(len(base)) if base.fids[i] not in dead]
    more = symtable._overlay_columns(overlay)
    names = [base.name(i) for i in live] + more[0]
    expected = (
        symtable._build_columns_python(
            names,
            [base.fids[i] for i in live] + more[1],
            [base.lines[i] for i in live] + more[2],
            [base.colkinds[i] for i in live] + more[3],
        )
        if names
        else symtable.EMPTY_BASE
    )
    assert build_compacted(inp) == expected  # the merge: the base is ASCII
    assert symtable._compacted_by_sort(inp) == expected


def test_adding_a_new_file_hides_nothing_in_the_base() -> None:
    table = SymbolTable()
    table.replace_file(1, (("alpha", 1, 0),))
    table.install_base(build_compacted(table.compaction_input()))
    table.add_file(2, (("beta", 2, 0),))
    assert table.dead == set()  # the compaction after this keeps the whole base without a per-entry check
    assert sorted(h.name for h in table.search("", 10)) == ["alpha", "beta"]
    snapshot = table.compaction_input()
    table.add_file(3, (("gamma", 3, 0),))  # while a compaction runs: stays in the overlay after it
    table.install_base(build_compacted(snapshot))
    assert sorted(h.name for h in table.search("", 10)) == ["alpha", "beta", "gamma"]


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.lists(st.tuples(st.text(_NAME_CHARS, min_size=1, max_size=6), st.integers(0, 50)), max_size=8), max_size=8
    ),
    st.text(_NAME_CHARS, max_size=3),
)
def test_search_finds_the_same_in_the_overlay_as_in_the_base(files: list[list[tuple[str, int]]], query: str) -> None:
    """A cold index holds many symbols in the overlay: its scans must find what the base's would."""
    table = SymbolTable()
    for fid, symbols in enumerate(files, start=1):
        table.add_file(fid, tuple((name, line, 0) for name, line in symbols))
        if fid % 3 == 0:  # a search meanwhile: the search text then grows by the files added after it
            table.search(query, 10)
        if fid == 5:
            table.remove_file(2)  # then it is built afresh
    in_overlay = sorted(table.search(query, 1000))
    table.install_base(build_compacted(table.compaction_input()))
    assert table.overlay == {}
    assert in_overlay == sorted(table.search(query, 1000))


def test_the_overlay_is_searched_from_a_text_rebuilt_only_after_changes() -> None:
    table = SymbolTable()
    table.add_file(1, (("parse_file", 1, 0), ("Parser", 2, 0)))
    assert names(table.search("pars", 10)) == ["Parser", "parse_file"]
    text = table._overlay_text()
    assert table._overlay_text() is text  # queries between changes share it
    table.remove_file(7)  # a file of the base: the overlay's text stays
    assert table._overlay_text() is text
    table.add_file(2, (("unparse", 3, 0),))
    assert names(table.search("pars", 10)) == ["Parser", "parse_file", "unparse"]  # prefix, then substring
    table.remove_file(1)
    assert names(table.search("pars", 10)) == ["unparse"]
