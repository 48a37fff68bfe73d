--- Inline completion keys (Neovim 0.12+, vim.lsp.inline_completion): accept, accept word, accept line, next,
--- previous, dismiss, each a configurable insert-mode key (false: none). A key that has nothing to do (no
--- ghost text shown) runs the mapping the key had before (snippets, cmp/blink), or types the key itself.
---
--- Cycling: Neovim asks for inline completions automatically (one suggestion each), and only cycles through
--- the items it has. When there is only one, next/previous asks the server again as an explicitly invoked
--- request, which answers with up to `model.suggestions` items, and then moves to the next one.
local M = {}

M.default_keys = {
  accept = '<Tab>',
  accept_word = '<M-Right>',
  accept_line = '<M-C-Right>',
  next = '<M-]>',
  prev = '<M-[>',
  dismiss = '<C-]>',
}

local counts = {} -- bufnr -> number of items in the last inline completion answer
local invoke = {} -- bufnr -> the step to select once the next (invoked) answer arrives

local function termcodes(keys)
  return vim.api.nvim_replace_termcodes(keys, true, false, true)
end

--- The first word of `text` (with the whitespace before it), or the run of punctuation it starts with.
function M.first_word(text)
  return text:match('^%s*[%w_]+') or text:match('^%s*[^%w_%s]+') or text:match('^%s+') or text
end

--- The first line of `text`; a text that starts a new line gives that newline and the line after it.
function M.first_line(text)
  return text:match('^\r?\n[^\r\n]*') or text:match('^[^\r\n]*')
end

--- What `key` did before kimi mapped it in `bufnr`, as a function that does it (else the key itself).
local function previous_mapping(key, bufnr)
  local previous = vim.api.nvim_buf_call(bufnr, function()
    return vim.fn.maparg(key, 'i', false, true)
  end)
  if vim.tbl_isempty(previous) or tostring(previous.desc or ''):match('^kimi:') then
    return function()
      vim.api.nvim_feedkeys(termcodes(key), 'in', false)
    end
  end
  local mode = previous.noremap == 1 and 'in' or 'im'
  return function()
    local keys
    if previous.callback then
      keys = previous.callback()
      if previous.expr ~= 1 or type(keys) ~= 'string' then
        return
      end
      keys = previous.replace_keycodes == 1 and termcodes(keys) or keys
    else
      keys = previous.expr == 1 and vim.api.nvim_eval(previous.rhs) or termcodes(previous.rhs)
    end
    vim.api.nvim_feedkeys(keys, mode, false)
  end
end

--- Accept the shown suggestion cut by `cut` (nil: all of it). False when none is shown.
local function accept(cut)
  return vim.lsp.inline_completion.get({
    on_accept = cut and function(item)
      if type(item.insert_text) == 'string' then
        item.insert_text = cut(item.insert_text)
      end
      return item
    end or nil,
  })
end

--- Show the suggestion `step` away (1: next, -1: previous); with only one item, ask for more first.
function M.cycle(step)
  local bufnr = vim.api.nvim_get_current_buf()
  if (counts[bufnr] or 0) > 1 then
    vim.lsp.inline_completion.select({ bufnr = bufnr, count = step })
  else
    invoke[bufnr] = step
    vim.api.nvim_exec_autocmds('CursorMovedI', { buffer = bufnr, modeline = false }) -- Neovim's own request
  end
end

--- Hide the suggestion shown (the next keystroke asks again).
function M.dismiss(bufnr)
  bufnr = bufnr or vim.api.nvim_get_current_buf()
  vim.lsp.inline_completion.enable(false, { bufnr = bufnr })
  vim.lsp.inline_completion.enable(true, { bufnr = bufnr })
end

--- Neovim's requests for `client` count their items; the one `cycle` asked for goes as an invoked request.
local function watch_requests(client)
  if client._kimi_inline then
    return
  end
  client._kimi_inline = true
  local request = client.request
  client.request = function(self, method, params, handler, bufnr)
    if method ~= 'textDocument/inlineCompletion' or not bufnr or not handler then
      return request(self, method, params, handler, bufnr)
    end
    local step = invoke[bufnr]
    invoke[bufnr] = nil
    if step then
      params = vim.tbl_deep_extend('force', params, { context = { triggerKind = 1 } }) -- Invoked
    end
    return request(self, method, params, function(err, result, ctx, ...)
      counts[bufnr] = result and #(result.items or result) or 0
      handler(err, result, ctx, ...)
      if step and counts[bufnr] > 1 then
        vim.lsp.inline_completion.select({ bufnr = bufnr, count = step })
      end
    end, bufnr)
  end
end

--- Map the keys of `keys` (M.default_keys' names) in `bufnr` for `client`.
function M.attach(client, bufnr, keys)
  watch_requests(client)
  local actions = {
    accept = function()
      return accept(nil)
    end,
    accept_word = function()
      return accept(M.first_word)
    end,
    accept_line = function()
      return accept(M.first_line)
    end,
    next = function()
      M.cycle(1)
      return true
    end,
    prev = function()
      M.cycle(-1)
      return true
    end,
    dismiss = function()
      local shown = #vim.api.nvim_buf_get_extmarks(
        bufnr,
        vim.api.nvim_create_namespace('nvim.lsp.inline_completion'),
        0,
        -1,
        { limit = 1 }
      ) > 0
      if shown then
        M.dismiss(bufnr)
      end
      return shown
    end,
  }
  for name, action in pairs(actions) do
    local key = keys[name]
    if key then
      local fallback = previous_mapping(key, bufnr)
      vim.keymap.set('i', key, function()
        if not action() then
          fallback()
        end
      end, { buffer = bufnr, desc = 'kimi: inline ' .. (name:gsub('_', ' ')) })
    end
  end
end

return M
