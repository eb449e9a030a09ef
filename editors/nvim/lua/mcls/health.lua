-- :checkhealth mcls

local M = {}

--- The oldest server this plugin is written for (it passes init_options.hoverFormat).
M.min_server_version = '0.1.0'

local health = vim.health

local function version_tuple(v)
  local t = {}
  for n in tostring(v):gmatch('%d+') do
    t[#t + 1] = tonumber(n)
  end
  return t
end

local function version_lt(a, b)
  local x, y = version_tuple(a), version_tuple(b)
  for i = 1, math.max(#x, #y) do
    local p, q = x[i] or 0, y[i] or 0
    if p ~= q then
      return p < q
    end
  end
  return false
end
M._version_lt = version_lt

--- The command that prints the version: cmd up to "serve", then --version.
--- { 'mcls', 'serve' } -> { 'mcls', '--version' };
--- { 'python3', '-m', 'mcls', 'serve', '--log-level', 'INFO' } -> { 'python3', '-m', 'mcls', '--version' }
function M.version_cmd(cmd)
  local out = {}
  for _, part in ipairs(cmd) do
    if part == 'serve' then
      break
    end
    out[#out + 1] = part
  end
  out[#out + 1] = '--version'
  return out
end

--- Run `<server> --version`: returns the version string, or nil and an error.
function M.server_version(cmd)
  local vcmd = M.version_cmd(cmd)
  local ok, res = pcall(function()
    return vim.system(vcmd, { text = true }):wait(15000)
  end)
  if not ok then
    return nil, tostring(res)
  end
  if res.code ~= 0 then
    return nil, ('`%s` exited with %s: %s'):format(table.concat(vcmd, ' '), tostring(res.code), vim.trim((res.stderr or '') .. (res.stdout or '')))
  end
  local text = vim.trim((res.stdout or '') .. ' ' .. (res.stderr or ''))
  local v = text:match('mcls%s+v?(%d+[%w%.%-%+]*)')
  if not v then
    return nil, ('unexpected output of `%s`: %s'):format(table.concat(vcmd, ' '), text)
  end
  return v
end

function M.check()
  health.start('mcls: Neovim')
  local v = vim.version()
  local vs = ('%d.%d.%d'):format(v.major, v.minor, v.patch)
  if vim.fn.has('nvim-0.11') == 1 then
    health.ok('Neovim ' .. vs .. ": vim.lsp.enable('mcls') uses lsp/mcls.lua")
  elseif vim.fn.has('nvim-0.10') == 1 then
    health.ok('Neovim ' .. vs .. ": use require('mcls').setup()")
  else
    health.error('Neovim ' .. vs .. ' is too old', { 'mcls needs Neovim 0.10 or newer' })
  end
  local files = vim.api.nvim_get_runtime_file('lsp/mcls.lua', true)
  if #files > 0 then
    health.ok('config: ' .. table.concat(files, ', '))
  else
    health.error('lsp/mcls.lua is not on runtimepath', { 'add the editors/nvim directory of mcls to runtimepath' })
  end

  health.start('mcls: server')
  local config = require('mcls').resolved_config()
  local cmd = config and config.cmd
  if type(cmd) ~= 'table' or #cmd == 0 then
    health.warn('cmd is not a list of strings (a function or unset): cannot check the server')
    return
  end
  health.info('cmd: ' .. table.concat(cmd, ' '))
  local exe = vim.fn.exepath(cmd[1])
  if exe == '' then
    health.error(('`%s` not found on PATH'):format(cmd[1]), {
      'install the server: pip install mcls (or pipx install mcls)',
      "or point cmd at it: vim.lsp.config('mcls', { cmd = { '/path/to/mcls', 'serve' } })",
      "or use a Python that has it: vim.lsp.config('mcls', { cmd = { 'python3', '-m', 'mcls', 'serve' } })",
    })
    return
  end
  health.ok('server executable: ' .. exe)
  local version, err = M.server_version(cmd)
  if not version then
    health.error('cannot get the server version: ' .. tostring(err), { 'is mcls installed in that environment? try: ' .. table.concat(M.version_cmd(cmd), ' ') })
  elseif version_lt(version, M.min_server_version) then
    health.error(('mcls %s is too old (need >= %s)'):format(version, M.min_server_version), { 'pip install --upgrade mcls' })
  else
    health.ok('mcls ' .. version)
  end

  health.start('mcls: clients')
  local get = vim.lsp.get_clients or vim.lsp.get_active_clients
  local clients = get({ name = 'mcls' })
  if #clients == 0 then
    health.info('no mcls client running (open a .tex or .md file)')
  end
  for _, client in ipairs(clients) do
    local info = client.server_info or {}
    health.ok(('client %d: %s %s, root %s'):format(client.id, info.name or 'mcls', info.version or '?', client.root_dir or '(single file)'))
  end
end

return M
