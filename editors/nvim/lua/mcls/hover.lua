-- Hovers in a terminal: mcls is asked for Unicode math (init_options.hoverFormat),
-- but a server told otherwise (or an older one) sends $...$ LaTeX, which a
-- Neovim float shows as raw TeX. This filter rewrites that math to Unicode.
--
-- It sits on the client's RPC connection rather than in vim.lsp.handlers:
-- since Neovim 0.11, vim.lsp.buf.hover() takes results through its own callback
-- and bypasses handlers, and hover plugins do the same. Filtering the response
-- once, where it arrives, works for every consumer on 0.10 and 0.11+.

local M = {}

local unicode = require('mcls.unicode')

-- One MarkedString or MarkupContent.
local function convert_content(c)
  if type(c) == 'string' then -- MarkedString as Markdown text
    return unicode.markdown(c)
  end
  if type(c) ~= 'table' then
    return c
  end
  if c.kind == 'markdown' and type(c.value) == 'string' then
    return { kind = c.kind, value = unicode.markdown(c.value) }
  end
  -- Plain text is left alone, and so is a { language = 'latex', value = ... }
  -- MarkedString: that is the source, for copying.
  return c
end

--- Rewrite the LaTeX math in a textDocument/hover result to Unicode.
--- @param result lsp.Hover|nil
--- @return lsp.Hover|nil
function M.transform(result)
  if type(result) ~= 'table' or result.contents == nil then
    return result
  end
  local c = result.contents
  if type(c) == 'table' and c.kind == nil and c.language == nil and vim.islist(c) then
    local list = {}
    for i, item in ipairs(c) do
      list[i] = convert_content(item)
    end
    result.contents = list
  else
    result.contents = convert_content(c)
  end
  return result
end

--- Install the filter on a client (idempotent); called from on_init.
--- @param client vim.lsp.Client
function M.attach(client)
  local rpc = client and client.rpc
  if type(rpc) ~= 'table' or type(rpc.request) ~= 'function' or rpc._mcls_hover_filter then
    return
  end
  local request = rpc.request
  rpc.request = function(method, params, callback, ...)
    if method == 'textDocument/hover' and type(callback) == 'function' then
      local inner = callback
      callback = function(err, result, ...)
        if err == nil and vim.g.mcls_hover_unicode ~= false then
          local ok, converted = pcall(M.transform, result)
          if ok then
            result = converted
          end
        end
        return inner(err, result, ...)
      end
    end
    return request(method, params, callback, ...)
  end
  rpc._mcls_hover_filter = true
end

return M
