--- kimi-lsp for Neovim: registers the `kimi` server with vim.lsp.config/vim.lsp.enable, turns on
--- inline completion (ghost text, Neovim 0.12+) and popup completion, keeps the last `kimi/status`
--- and offers the :Kimi* commands. Needs Neovim 0.11+. Usage: require('kimi').setup({ ... }), or, with the
--- defaults, just vim.lsp.enable('kimi') (lsp/kimi.lua is this plugin's config for the `kimi` server).
local M = {}

M.filetypes = { 'python', 'javascript', 'javascriptreact', 'typescript', 'typescriptreact', 'go', 'rust', 'java',
  'c', 'cpp' }

--- Defaults of setup(); `settings` mirrors the server's settings tree (initializationOptions).
M.defaults = {
  cmd = nil, -- default: { 'kimi-lsp' }, or { python, '-m', 'kimi_lsp' } when `python` is set
  python = nil,
  filetypes = M.filetypes,
  root_markers = { '.git', 'pyproject.toml', 'package.json', 'go.mod', 'Cargo.toml', 'pom.xml' },
  settings = {
    engine = { url = vim.NIL, apiKey = vim.NIL, timeoutMs = 10000 },
    model = { profile = 'kimi-tiny', maxTokens = 64, temperature = 0.0 },
    debounceMs = 20,
    features = { inlineCompletion = true, completion = true, diagnostics = true, codeActions = true },
    exclude = {},
  },
  -- ghost text, Neovim 0.12+; each key false for none (kimi/inline.lua); accept_key: an older name of keys.accept
  inline = { enabled = true, keys = require('kimi.inline').default_keys, accept_key = nil },
  -- popup menu (vim.lsp.completion); completeopt is set for the attached buffers unless false
  completion = { enabled = true, autotrigger = true, completeopt = 'menu,menuone,noinsert' },
}

M.config = vim.deepcopy(M.defaults)
M.status = { engine = 'off', latencyMs = vim.NIL, cacheRatio = vim.NIL, message = '' }

function M.has_inline_completion()
  return vim.lsp.inline_completion ~= nil
end

local function server_cmd(config)
  if config.cmd then
    return config.cmd
  end
  if config.python then
    return { config.python, '-m', 'kimi_lsp' }
  end
  return { 'kimi-lsp' }
end

local function on_status(_, params)
  M.status = params
  vim.api.nvim_exec_autocmds('User', { pattern = 'KimiStatus', modeline = false, data = params })
end

local function on_attach(client, bufnr)
  local cfg = M.config
  if cfg.inline.enabled and M.has_inline_completion() then
    vim.lsp.inline_completion.enable(true, { bufnr = bufnr })
    local keys = vim.tbl_extend('force', cfg.inline.keys, cfg.inline.accept_key and { accept = cfg.inline.accept_key } or {})
    require('kimi.inline').attach(client, bufnr, keys)
  end
  if cfg.completion.enabled then
    if cfg.completion.completeopt then
      vim.bo[bufnr].completeopt = cfg.completion.completeopt
    end
    vim.lsp.completion.enable(true, client.id, bufnr, { autotrigger = cfg.completion.autotrigger })
  end
end

function M.clients(filter)
  return vim.lsp.get_clients(vim.tbl_extend('force', filter or {}, { name = 'kimi' }))
end

--- One line for a statusline: `kimi: ready 42ms cache 87%`.
function M.statusline()
  local s = M.status
  local parts = { 'kimi: ' .. (s.engine or 'off') }
  if type(s.latencyMs) == 'number' then
    parts[#parts + 1] = string.format('%dms', math.floor(s.latencyMs + 0.5))
  end
  if type(s.cacheRatio) == 'number' then
    parts[#parts + 1] = string.format('cache %d%%', math.floor(s.cacheRatio * 100 + 0.5))
  end
  return table.concat(parts, ' ')
end

function M.notify_settings()
  for _, client in ipairs(M.clients()) do
    client.settings = { kimi = M.config.settings }
    client:notify('workspace/didChangeConfiguration', { settings = client.settings })
  end
end

function M.toggle_inline()
  local features = M.config.settings.features
  features.inlineCompletion = not features.inlineCompletion
  M.config.inline.enabled = features.inlineCompletion
  if M.has_inline_completion() then
    vim.lsp.inline_completion.enable(features.inlineCompletion)
  end
  M.notify_settings()
  vim.notify('kimi: inline suggestions ' .. (features.inlineCompletion and 'on' or 'off'))
end

function M.reindex()
  for _, client in ipairs(M.clients()) do
    client:request('workspace/executeCommand', { command = 'kimi.reindex', arguments = {} }, function(err, result)
      if err then
        vim.notify('kimi: reindex failed: ' .. err.message, vim.log.levels.ERROR)
      else
        local count = type(result) == 'table' and result.documents or '?'
        vim.notify(string.format('kimi: reindexed (%s open documents)', count))
      end
    end)
  end
end

--- The lines first..last (1-based, inclusive) as an LSP range: whole lines, so no column encoding is involved.
local function lines_range(first, last)
  return { start = { line = first - 1, character = 0 }, ['end'] = { line = last, character = 0 } }
end

--- Run a kimi-lsp command on lines first..last of the current buffer. The server shows what it has to say
--- (window/showMessage) and applies edits itself (workspace/applyEdit).
local function on_lines(command, first, last, extra)
  local bufnr = vim.api.nvim_get_current_buf()
  local clients = M.clients({ bufnr = bufnr })
  if #clients == 0 then
    vim.notify('kimi: not attached to this buffer', vim.log.levels.WARN)
    return
  end
  local arguments = { vim.uri_from_bufnr(bufnr), lines_range(first, last) }
  if extra ~= nil then
    table.insert(arguments, extra)
  end
  clients[1]:request('workspace/executeCommand', { command = command, arguments = arguments }, function(err)
    if err then
      vim.notify('kimi: ' .. command .. ' failed: ' .. err.message, vim.log.levels.ERROR)
    end
  end, bufnr)
end

--- Explain lines first..last (:KimiExplain over a range): the explanation is shown as a message.
function M.explain(first, last)
  on_lines('kimi.explain', first, last)
end

--- Rewrite lines first..last as the instruction asked with vim.ui.input says (:KimiRewrite over a range).
function M.rewrite(first, last)
  vim.ui.input({ prompt = 'Rewrite with Kimi: ' }, function(instruction)
    if instruction ~= nil and instruction ~= '' then
      on_lines('kimi.rewrite', first, last, instruction)
    end
  end)
end

function M.restart()
  vim.lsp.enable('kimi', false)
  for _, client in ipairs(M.clients()) do
    client:stop(true)
  end
  vim.defer_fn(function()
    vim.lsp.enable('kimi')
  end, 500)
end

local function create_commands()
  local cmds = {
    KimiRestart = M.restart,
    KimiReindex = M.reindex,
    KimiToggleInline = M.toggle_inline,
    KimiStatus = function()
      print(M.statusline() .. (M.status.message ~= '' and (' - ' .. tostring(M.status.message)) or ''))
    end,
    KimiLog = function()
      vim.cmd.tabnew(vim.lsp.log.get_filename())
    end,
  }
  for name, fn in pairs(cmds) do
    vim.api.nvim_create_user_command(name, function()
      fn()
    end, { desc = 'kimi-lsp' })
  end
  for name, fn in pairs({ KimiExplain = M.explain, KimiRewrite = M.rewrite }) do
    vim.api.nvim_create_user_command(name, function(args)
      fn(args.line1, args.line2)
    end, { desc = 'kimi-lsp', range = true })
  end
end

--- The `kimi` server's vim.lsp.config from M.config (lsp/kimi.lua returns it with the defaults); the :Kimi*
--- commands exist from then on.
function M.lsp_config()
  local cfg = M.config
  create_commands()
  return {
    cmd = server_cmd(cfg),
    filetypes = cfg.filetypes,
    root_markers = cfg.root_markers,
    init_options = cfg.settings,
    settings = { kimi = cfg.settings },
    handlers = { ['kimi/status'] = on_status },
    on_attach = on_attach,
  }
end

--- Register and enable the `kimi` language server. `opts` is deep-merged into M.defaults.
function M.setup(opts)
  M.config = vim.tbl_deep_extend('force', vim.deepcopy(M.defaults), opts or {})
  vim.lsp.config('kimi', M.lsp_config())
  vim.lsp.enable('kimi')
end

return M
