"""The Neovim plugin (editors/neovim) in real Neovim, driven over msgpack-rpc with pynvim:
0.11.4 shows popup completion, diagnostics and applies the quick fix; 0.12.4 shows ghost text
(inline completion) and accepts it with <Tab>, cycles through several suggestions, accepts a word or a
line, dismisses, and <Tab> with no ghost text runs the user's own mapping; `vim.lsp.enable('kimi')` works
with no setup() (lsp/kimi.lua); adding and removing a workspace folder re-indexes; after
`module.` the popup lists the members of a file that is not open, from the index; files written and deleted
by other programs come and go (watchdog)."""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

try:
    import pynvim
except ImportError:  # a missing client fails the test (see conftest.require)
    pynvim = None

from .conftest import (
    BROKEN_LINE,
    FIXED_LINE,
    NEOVIM_PLUGIN,
    NVIM_011,
    NVIM_012,
    SID_ROOT,
    Processes,
    require,
    server_command,
    wait_for,
)

pytestmark = pytest.mark.editors

SETUP_LUA = """
local plugin, cmd = ...
vim.opt.runtimepath:prepend(plugin)
vim.opt.swapfile = false
require('kimi').setup({ cmd = cmd, settings = { debounceMs = 0 } })
"""


def nvim_env(binary: Path) -> dict[str, str]:
    env = dict(os.environ)
    if binary == NVIM_012:
        lib = SID_ROOT / "usr" / "lib" / "x86_64-linux-gnu"
        env["VIMRUNTIME"] = str(SID_ROOT / "usr" / "share" / "nvim" / "runtime")
        env["LUA_CPATH"] = f"{lib}/lua/5.1/?.so;;"
    return env


@pytest.fixture
def nvim_for(processes: Processes, tmp_path: Path, workspace: Path, engine_json: Path) -> Iterator[object]:
    if pynvim is None:
        require(Path("pynvim (python package)"))
    sessions = []

    def start(binary: Path, setup: str = SETUP_LUA):  # -> pynvim.Nvim
        require(binary)
        sock = tmp_path / f"nvim-{len(sessions)}.sock"
        processes.start(
            [str(binary), "--headless", "--clean", "--listen", str(sock)],
            cwd=workspace,
            env=nvim_env(binary),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
        )
        wait_for(sock.exists, 20, "nvim to listen")
        nvim = pynvim.attach("socket", path=str(sock))
        sessions.append(nvim)
        nvim.exec_lua(setup, str(NEOVIM_PLUGIN), server_command(engine_json))
        nvim.command("edit main.py")
        wait_for(
            lambda: nvim.exec_lua("return #vim.lsp.get_clients({bufnr = 0, name = 'kimi'})"),
            30,
            "the kimi client to attach",
        )
        return nvim

    yield start
    for nvim in sessions:
        try:
            nvim.command("qa!", async_=True)
            nvim.close()
        except (OSError, EOFError, RuntimeError):
            pass


def line(nvim, number: int) -> str:
    return nvim.current.buffer[number - 1]


def test_neovim_011_completion_diagnostics_code_action(nvim_for) -> None:
    nvim = nvim_for(NVIM_011)
    assert nvim.exec_lua("return vim.version().minor") == 11

    # Diagnostics: a syntax error from source kimi-lsp on the broken line.
    diags = wait_for(lambda: nvim.exec_lua("return vim.diagnostic.get(0)"), 30, "diagnostics")
    assert any(d.get("source") == "kimi-lsp" for d in diags)
    error_line = min(d["lnum"] for d in diags)
    assert BROKEN_LINE in line(nvim, error_line + 1) or BROKEN_LINE in line(nvim, error_line)

    # Code action: apply "Fix syntax error with Kimi" (resolved lazily by the server).
    nvim.current.window.cursor = (error_line + 1, 0)
    nvim.exec_lua("""vim.lsp.buf.code_action({ apply = true,
        filter = function(a) return a.title == 'Fix syntax error with Kimi' end })""")
    wait_for(lambda: FIXED_LINE in nvim.current.buffer[:], 30, "the quick fix to be applied")
    wait_for(lambda: not nvim.exec_lua("return vim.diagnostic.get(0)"), 30, "diagnostics to clear")

    # Popup completion: the menu opens by itself (autotrigger on the server's trigger characters, here
    # the space) and lists the file's symbols; <C-y> inserts the selected one.
    nvim.current.buffer.append("")
    nvim.input("GA")
    nvim.input("total = gr")
    wait_for(
        lambda: nvim.eval("mode()") == "i" and line(nvim, len(nvim.current.buffer)) == "total = gr", 10, "typed text"
    )
    wait_for(lambda: nvim.eval("pumvisible()"), 30, "the completion popup")
    words = [item["word"] for item in nvim.eval("complete_info(['items']).items")]
    assert "greet" in words
    while nvim.eval("complete_info(['selected']).selected") != words.index("greet"):
        nvim.input("<C-n>")
        time.sleep(0.05)
    nvim.input("<C-y>")
    wait_for(lambda: line(nvim, len(nvim.current.buffer)).startswith("total = greet"), 10, "the accepted item")


def kimi_findings(nvim) -> list[dict[str, object]]:
    return [d for d in nvim.exec_lua("return vim.diagnostic.get(0)") if d.get("source") == "kimi"]


def test_neovim_011_review_fix_explain_rewrite(nvim_for) -> None:
    """A review finding after :write, its "Apply suggested fix", :KimiExplain's message and :KimiRewrite's edit
    (the instruction from vim.ui.input)."""
    nvim = nvim_for(NVIM_011)
    wait_for(lambda: nvim.exec_lua("return vim.diagnostic.get(0)"), 30, "the syntax diagnostics")
    nvim.current.buffer[1] = "    return a - b"
    nvim.command("write")
    (finding,) = wait_for(lambda: kimi_findings(nvim), 30, "the review finding")
    assert (finding["message"], finding["lnum"], finding["code"]) == ("add subtracts", 1, "review")

    nvim.current.window.cursor = (2, 4)
    nvim.exec_lua("""vim.lsp.buf.code_action({ apply = true,
        filter = function(a) return a.title == 'Apply suggested fix: add subtracts' end })""")
    wait_for(lambda: line(nvim, 2) == "    return a + b", 30, "the suggested fix to be applied")
    wait_for(lambda: not kimi_findings(nvim), 30, "the finding to clear")

    nvim.command("1,2KimiExplain")
    wait_for(lambda: "Kimi: lines 1-2: Adds a and b." in nvim.command_output("messages"), 30, "the explanation")

    nvim.exec_lua("vim.ui.input = function(opts, on_confirm) on_confirm('name the sum') end")
    nvim.command("1,2KimiRewrite")
    wait_for(
        lambda: nvim.current.buffer[:3] == ["def add(a, b):", "    total = a + b", "    return total"],
        30,
        "the rewrite",
    )


def test_neovim_012_inline_completion(nvim_for) -> None:
    nvim = nvim_for(NVIM_012)
    assert nvim.exec_lua("return vim.version().minor") == 12
    assert nvim.exec_lua("return vim.lsp.inline_completion.is_enabled({ bufnr = 0 })")

    nvim.current.buffer.append("")
    nvim.input("GA")
    nvim.input("café = add")

    def ghost_text() -> str:
        marks = nvim.exec_lua("""
            local ns = vim.api.nvim_create_namespace('nvim.lsp.inline_completion')
            return vim.api.nvim_buf_get_extmarks(0, ns, 0, -1, { details = true })""")
        chunks = [chunk[0] for mark in marks for chunk in mark[3].get("virt_text", [])]
        return "".join(chunks)

    shown = wait_for(ghost_text, 30, "ghost text")
    assert shown == "(1, 2)"
    nvim.input("<Tab>")
    wait_for(lambda: line(nvim, len(nvim.current.buffer)) == "café = add(1, 2)", 10, "the accepted ghost text")
    assert not ghost_text()


def test_neovim_checkhealth(nvim_for) -> None:
    nvim = nvim_for(NVIM_011)
    nvim.command("checkhealth kimi")
    report = "\n".join(nvim.current.buffer[:])
    assert "kimi-lsp: server" in report
    assert "OK command:" in report
    assert "server provides completionProvider" in report
    assert "ERROR" not in report
    nvim.command("KimiReindex")

    def reindex_message() -> str:
        messages = nvim.command_output("messages")
        return messages if "kimi: reindex" in messages else ""

    assert "kimi: reindexed" in str(wait_for(reindex_message, 30, "the reindex answer"))


PROGRESS_LUA = """
_G.kimi_progress = {}
vim.api.nvim_create_autocmd('LspProgress', { callback = function(ev)
  table.insert(_G.kimi_progress, ev.data.params.value)
end })
"""

REQUEST_LUA = """
local method, params = ...
local client = vim.lsp.get_clients({ bufnr = 0, name = 'kimi' })[1]
local answer = client:request_sync(method, params, 10000, 0)
return answer and answer.result or vim.NIL
"""


def test_neovim_workspace_folders(nvim_for, tmp_path: Path) -> None:
    """:lua vim.lsp.buf.add_workspace_folder() indexes the added folder (with work-done progress) and
    remove_workspace_folder() forgets it; the open buffer, edited and unsaved, keeps its symbols."""
    other = tmp_path / "other"
    other.mkdir()
    (other / "helpers.py").write_text("def far_away_helper(x):\n    return x\n")
    nvim = nvim_for(NVIM_011)
    nvim.exec_lua(PROGRESS_LUA)
    nvim.current.buffer.append(["", "def only_in_buffer():", "    pass"])

    def symbols(query: str) -> list[str]:
        result = nvim.exec_lua(REQUEST_LUA, "workspace/symbol", {"query": query})
        return [s["location"]["uri"] for s in result or []]

    wait_for(lambda: symbols("greet"), 30, "the first index")
    assert not symbols("far_away_helper")

    nvim.exec_lua("vim.lsp.buf.add_workspace_folder(...)", str(other))
    found = wait_for(lambda: symbols("far_away_helper"), 30, "the added folder's symbols")
    assert found == [(other / "helpers.py").as_uri()]
    assert symbols("greet"), "the kept folder is still indexed"
    outline = nvim.exec_lua(
        REQUEST_LUA,
        "textDocument/documentSymbol",
        {"textDocument": {"uri": nvim.exec_lua("return vim.uri_from_bufnr(0)")}},
    )
    assert "only_in_buffer" in [s["name"] for s in outline], "the open buffer's text moved to the new index"

    progress = nvim.exec_lua("return _G.kimi_progress")  # the first index may end after the autocmd
    last_begin = max(i for i, value in enumerate(progress) if value["kind"] == "begin")
    new_index = progress[last_begin:]
    assert new_index[0]["title"] == "Indexing" and new_index[-1]["kind"] == "end", progress
    assert new_index[-2] == {"kind": "report", "title": "Indexing", "message": "Indexing 2/2", "percentage": 100}

    nvim.exec_lua("vim.lsp.buf.remove_workspace_folder(...)", str(other))
    wait_for(lambda: not symbols("far_away_helper"), 30, "the removed folder to be forgotten")
    assert symbols("greet"), "the old index answers until the new one has loaded its cache"


def test_neovim_module_members_from_the_index(nvim_for, workspace: Path) -> None:
    """After `util.` the completion popup lists the members of util.py, which is not open: from the index."""
    (workspace / "util.py").write_text(
        '"""Helpers."""\n\n\ndef helper_one():\n    pass\n\n\nclass HelperTwo:\n    def method(self):\n        pass\n'
    )
    nvim = nvim_for(NVIM_011)
    wait_for(lambda: nvim.exec_lua(REQUEST_LUA, "workspace/symbol", {"query": "helper_one"}), 30, "the index")
    nvim.command("normal! ggOimport util")
    nvim.input("GA")
    nvim.input("\rvalue = util.")
    wait_for(lambda: nvim.eval("pumvisible()"), 30, "the completion popup")
    words = [item["word"] for item in nvim.eval("complete_info(['items']).items")]
    assert {"helper_one", "HelperTwo"} <= set(words), words
    assert "method" not in words  # a member of the class, not of the module


def test_neovim_index_follows_files_changed_outside_the_editor(nvim_for, workspace: Path) -> None:
    """A file written, then deleted, by another program (a code generator, a branch switch) shows up in, then
    leaves, workspace/symbol; Neovim on Linux offers no file watcher, so the server watches with watchdog."""
    nvim = nvim_for(NVIM_011)

    def symbols(query: str) -> list[str]:
        result = nvim.exec_lua(REQUEST_LUA, "workspace/symbol", {"query": query})
        return [s["location"]["uri"] for s in result or []]

    wait_for(lambda: symbols("greet"), 30, "the first index")
    generated = workspace / "gen" / "api.py"
    generated.parent.mkdir()
    generated.write_text("def generated_endpoint():\n    pass\n")
    assert wait_for(lambda: symbols("generated_endpoint"), 30, "the written file") == [generated.as_uri()]
    generated.unlink()
    wait_for(lambda: not symbols("generated_endpoint"), 30, "the deleted file to be forgotten")


TAB_FIRST_LUA = """
local plugin, cmd = ...
vim.g.user_tab = 0
vim.keymap.set('i', '<Tab>', function() vim.g.user_tab = vim.g.user_tab + 1 end, { desc = 'a snippet plugin' })
vim.opt.runtimepath:prepend(plugin)
vim.opt.swapfile = false
require('kimi').setup({ cmd = cmd, settings = { debounceMs = 0 } })
"""


def ghost_text(nvim) -> str:
    marks = nvim.exec_lua("""
        local ns = vim.api.nvim_create_namespace('nvim.lsp.inline_completion')
        return vim.api.nvim_buf_get_extmarks(0, ns, 0, -1, { details = true })""")
    return "".join(chunk[0] for mark in marks for chunk in mark[3].get("virt_text", []))


def test_neovim_012_inline_keys(nvim_for, tmp_path: Path) -> None:
    """Dismiss (<C-]>), next (<M-]>: asks the server again, invoked, for several suggestions), previous
    (<M-[>), accept word (<M-Right>), accept line (<M-C-Right>); <Tab> with no ghost text runs the mapping
    <Tab> had before the plugin, and inserts no literal Tab."""
    nvim = nvim_for(NVIM_012, TAB_FIRST_LUA)
    last = len(nvim.current.buffer) + 1
    nvim.current.buffer.append("")
    nvim.input("GA")
    nvim.input("total = mul")
    assert wait_for(lambda: ghost_text(nvim), 30, "ghost text") == "(2, 3)"
    nvim.input("<C-]>")
    wait_for(lambda: not ghost_text(nvim), 10, "the ghost text to go")
    assert line(nvim, last) == "total = mul"

    nvim.input("<M-]>")
    wait_for(lambda: ghost_text(nvim) == "(3, 2) (2/3)", 30, "the second of three suggestions")
    nvim.input("<M-[>")
    wait_for(lambda: ghost_text(nvim) == "(2, 3) (1/3)", 10, "the first suggestion again")
    samples = [json.loads(row) for row in (tmp_path / "requests.jsonl").read_text().splitlines()]
    assert [row["n"] for row in samples if row["event"] == "request"][-1] == 4  # one request for the alternatives

    nvim.input("<M-Right>")
    wait_for(lambda: line(nvim, last) == "total = mul(", 10, "the accepted word")
    wait_for(lambda: ghost_text(nvim) == "2, 3)", 30, "the rest of the suggestion")
    nvim.input("<M-C-Right>")
    wait_for(lambda: line(nvim, last) == "total = mul(2, 3)", 10, "the accepted line")
    wait_for(lambda: not ghost_text(nvim), 10, "no more ghost text")
    nvim.input("<Tab>")
    wait_for(lambda: nvim.eval("g:user_tab") == 1, 10, "the user's own <Tab> mapping")
    assert line(nvim, last) == "total = mul(2, 3)"


ENABLE_ONLY_LUA = """
local plugin, cmd = ...
vim.opt.runtimepath:prepend(plugin)
vim.opt.swapfile = false
vim.lsp.config('kimi', { cmd = cmd })
vim.lsp.enable('kimi')
"""


def test_neovim_enable_without_setup(nvim_for) -> None:
    """lsp/kimi.lua: vim.lsp.enable('kimi') alone starts the server with the plugin's handlers and commands."""
    nvim = nvim_for(NVIM_011, ENABLE_ONLY_LUA)
    diags = wait_for(lambda: nvim.exec_lua("return vim.diagnostic.get(0)"), 30, "diagnostics")
    assert any(d.get("source") == "kimi-lsp" for d in diags)
    assert nvim.exec_lua("return vim.lsp.get_clients({ name = 'kimi' })[1].handlers['kimi/status'] ~= nil")
    assert nvim.exec_lua("return vim.fn.exists(':KimiRestart')") == 2
