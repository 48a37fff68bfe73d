-- The `kimi` server for vim.lsp.enable('kimi') with no setup(): the plugin's defaults (kimi-lsp on PATH, the
-- server's own engine settings). setup({ ... }) configures it instead; vim.lsp.config('kimi', { ... }) merges
-- over either.
return require('kimi').lsp_config()
