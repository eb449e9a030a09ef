-- mcls for Neovim.
--
-- Neovim >= 0.11: vim.lsp.enable('mcls') is enough (the config is lsp/mcls.lua).
-- Neovim 0.10 (and 0.11+ if you like one call):
--     require('mcls').setup({ settings = { mcls = { wrt = 'X' } } })
-- Options are the fields of an LSP client config (cmd, filetypes, root_markers,
-- init_options, settings, on_attach, capabilities, ...); lists replace the
-- defaults, tables (settings, init_options) are merged into them. One option is
-- not a client field: native = false makes 0.11+ use the 0.10 way (vim.lsp.start
-- on FileType) instead of vim.lsp.config + vim.lsp.enable.

local M = {}

M.min_nvim = '0.10'

--- The defaults from lsp/mcls.lua on 'runtimepath'.
--- @return table
function M.default_config()
  local files = vim.api.nvim_get_runtime_file('lsp/mcls.lua', false)
  if #files == 0 then
    error('mcls: lsp/mcls.lua is not on runtimepath (add the editors/nvim directory)')
  end
  return dofile(files[1])
end

-- Merge opts into defaults: maps are merged recursively, lists and values replaced.
local function merge(base, over)
  if type(base) ~= 'table' or type(over) ~= 'table' or vim.islist(over) and not vim.tbl_isempty(over) then
    return vim.deepcopy(over)
  end
  local out = vim.deepcopy(base)
  for k, v in pairs(over) do
    if type(v) == 'table' and type(out[k]) == 'table' and not vim.islist(out[k]) then
      out[k] = merge(out[k], v)
    else
      out[k] = vim.deepcopy(v)
    end
  end
  return out
end
M._merge = merge

--- The config setup() was called with, merged into the defaults (nil before setup).
M.config = nil

--- The effective config: vim.lsp.config (0.11+), else setup()'s, else the defaults.
function M.resolved_config()
  if M.config and M._lsp_start then
    return M.config
  end
  if vim.lsp.config ~= nil and vim.fn.has('nvim-0.11') == 1 then
    local ok, cfg = pcall(function()
      return vim.lsp.config.mcls
    end)
    if ok and cfg then
      return cfg
    end
  end
  if M.config then
    return M.config
  end
  local ok, cfg = pcall(M.default_config)
  return ok and cfg or nil
end

local function root_dir(bufnr, markers)
  local name = vim.api.nvim_buf_get_name(bufnr)
  if name == '' then
    return nil
  end
  local root = vim.fs.root and vim.fs.root(bufnr, markers) or nil
  return root or vim.fs.dirname(name)
end

--- Start mcls for the tex, plaintex and markdown buffers.
--- @param opts? table  LSP client config fields to override.
function M.setup(opts)
  opts = vim.deepcopy(opts or {})
  local native = opts.native
  opts.native = nil
  if vim.fn.has('nvim-' .. M.min_nvim) == 0 then
    vim.notify('mcls needs Neovim >= ' .. M.min_nvim, vim.log.levels.ERROR)
    return
  end
  local config = merge(M.default_config(), opts)
  M.config = config

  if vim.fn.has('nvim-0.11') == 1 and native ~= false then
    -- The native mechanism: the same thing vim.lsp.enable('mcls') does.
    vim.lsp.config('mcls', opts)
    vim.lsp.enable('mcls')
    return
  end

  -- Neovim 0.10: start (or reuse) a client per root on FileType.
  M._lsp_start = true
  local group = vim.api.nvim_create_augroup('mcls', { clear = true })
  local function start(bufnr)
    if vim.bo[bufnr].buftype ~= '' then
      return
    end
    local cfg = vim.deepcopy(config)
    cfg.name = 'mcls'
    cfg.root_dir = cfg.root_dir or root_dir(bufnr, cfg.root_markers or { '.git' })
    cfg.root_markers = nil
    cfg.filetypes = nil
    vim.lsp.start(cfg, { bufnr = bufnr })
  end
  vim.api.nvim_create_autocmd('FileType', {
    group = group,
    pattern = config.filetypes,
    callback = function(args)
      start(args.buf)
    end,
  })
  -- Buffers already open when setup() runs (e.g. lazy-loaded on ft).
  for _, bufnr in ipairs(vim.api.nvim_list_bufs()) do
    if vim.api.nvim_buf_is_loaded(bufnr) and vim.tbl_contains(config.filetypes, vim.bo[bufnr].filetype) then
      start(bufnr)
    end
  end
end

return M
