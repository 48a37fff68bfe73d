--- :checkhealth kimi - Neovim version, server command, running clients and the last engine status.
local M = {}

function M.check()
  local health = vim.health
  local kimi = require('kimi')
  health.start('kimi-lsp: Neovim')
  local v = vim.version()
  local version = string.format('%d.%d.%d', v.major, v.minor, v.patch)
  if vim.fn.has('nvim-0.11') == 0 then
    health.error('Neovim ' .. version .. ' is too old: kimi needs 0.11+ (vim.lsp.config)')
  elseif kimi.has_inline_completion() then
    health.ok('Neovim ' .. version .. ': inline completion (ghost text) available')
  else
    health.warn('Neovim ' .. version .. ': no inline completion UI before 0.12; popup completion only')
  end

  health.start('kimi-lsp: server')
  local config = vim.lsp.config['kimi']
  if not config then
    health.error("server 'kimi' is not configured: call require('kimi').setup()")
    return
  end
  local cmd = config.cmd
  if type(cmd) ~= 'table' or #cmd == 0 then
    health.error('no server command')
  elseif vim.fn.executable(cmd[1]) == 1 then
    health.ok('command: ' .. table.concat(cmd, ' '))
  else
    health.error('not executable: ' .. cmd[1], { 'install kimi-lsp, or pass cmd = {...} / python = ... to setup()' })
  end

  local clients = kimi.clients()
  if #clients == 0 then
    health.info('no kimi client running (open a file of type: ' .. table.concat(config.filetypes or {}, ', ') .. ')')
  end
  for _, client in ipairs(clients) do
    local caps = client.server_capabilities or {}
    health.ok(string.format('client %d running (root %s, encoding %s)', client.id, client.root_dir or '-',
      client.offset_encoding or '?'))
    for _, cap in ipairs({ 'inlineCompletionProvider', 'completionProvider', 'codeActionProvider' }) do
      if caps[cap] then
        health.ok('server provides ' .. cap)
      else
        health.warn('server does not provide ' .. cap)
      end
    end
  end

  health.start('kimi-lsp: engine')
  local status = kimi.status
  local line = kimi.statusline() .. (status.message ~= '' and (' - ' .. tostring(status.message)) or '')
  if status.engine == 'ready' then
    health.ok(line)
  elseif status.engine == 'down' then
    health.warn(line, { 'check settings.engine.url and that the SGLang engine is running' })
  else
    health.info(line)
  end
end

return M
