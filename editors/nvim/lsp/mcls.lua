-- mcls, the matrix calculus language server: a Neovim >= 0.11 LSP config.
--
-- Add this directory (editors/nvim) to 'runtimepath' and call
--     vim.lsp.enable('mcls')
-- Override anything with vim.lsp.config('mcls', { ... }), e.g.
--     vim.lsp.config('mcls', { cmd = { 'python3', '-m', 'mcls', 'serve' } })
-- Neovim 0.10: require('mcls').setup() uses this same table.

---@type vim.lsp.Config
return {
  cmd = { 'mcls', 'serve' },
  filetypes = { 'tex', 'plaintex', 'markdown' },
  root_markers = {
    '.git',
    'latexmkrc',
    '.latexmkrc',
    '.latexmkrc.pl',
    'Tectonic.toml',
    '.texlabroot',
    'texlabroot',
  },
  -- Neovim shows Markdown hovers but no images and no TeX math: ask for Unicode math.
  init_options = { hoverFormat = 'unicode' },
  -- Answered to the server's workspace/configuration requests (section "mcls").
  -- Keys: hover.format (auto|unicode|latex|image), inlayHints.shapes (bool),
  -- wrt (string), diagnostics.enable (bool), claims.showVerified (bool), timeoutMs (number).
  settings = { mcls = vim.empty_dict() },
  on_init = function(client)
    -- Turn any $...$ math left in hovers into Unicode before a float shows it.
    local ok, hover = pcall(require, 'mcls.hover')
    if ok then
      hover.attach(client)
    end
  end,
}
