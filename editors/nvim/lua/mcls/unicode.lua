-- LaTeX math -> readable Unicode, for hovers in a terminal:
--   \frac{\partial M}{\partial X_{ij}} = A E_{ij} X^\top A^\top   ->   ∂M/∂Xᵢⱼ = A Eᵢⱼ Xᵀ Aᵀ
-- Not a TeX engine: it covers the notation matrix calculus uses and leaves
-- anything it does not know visible (as \name) rather than dropping it.
-- The tables follow the server's own Unicode printer (mcls/render/unicode.py).

local M = {}

local UTF8_CHAR = '[%z\1-\127\194-\244][\128-\191]*'

local function chars(s)
  local t = {}
  for ch in s:gmatch(UTF8_CHAR) do
    t[#t + 1] = ch
  end
  return t
end

local function zip(keys, values)
  local k, v, t = chars(keys), chars(values), {}
  assert(#k == #v, 'unicode tables out of step')
  for i = 1, #k do
    t[k[i]] = v[i]
  end
  return t
end

local SUB = zip('0123456789+-=()aehijklmnoprstuvxβγρφχ', '₀₁₂₃₄₅₆₇₈₉₊₋₌₍₎ₐₑₕᵢⱼₖₗₘₙₒₚᵣₛₜᵤᵥₓᵦᵧᵨᵩᵪ')
local SUP = zip(
  '0123456789+-=()abcdefghijklmnoprstuvwxyzABDEGHIJKLMNOPRTUVWαβγδεθιφχ×⊤⊺′*−',
  '⁰¹²³⁴⁵⁶⁷⁸⁹⁺⁻⁼⁽⁾ᵃᵇᶜᵈᵉᶠᵍʰⁱʲᵏˡᵐⁿᵒᵖʳˢᵗᵘᵛʷˣʸᶻᴬᴮᴰᴱᴳᴴᴵᴶᴷᴸᴹᴺᴼᴾᴿᵀᵁⱽᵂᵅᵝᵞᵟᵋᶿᶥᵠᵡˣᵀᵀ′*⁻'
)

-- Symbols written as they are.
local SYMBOLS = {
  alpha = 'α', beta = 'β', gamma = 'γ', delta = 'δ', epsilon = 'ϵ', varepsilon = 'ε', zeta = 'ζ',
  eta = 'η', theta = 'θ', vartheta = 'ϑ', iota = 'ι', kappa = 'κ', lambda = 'λ', mu = 'μ', nu = 'ν',
  xi = 'ξ', pi = 'π', varpi = 'ϖ', rho = 'ρ', varrho = 'ϱ', sigma = 'σ', varsigma = 'ς', tau = 'τ',
  upsilon = 'υ', phi = 'ϕ', varphi = 'φ', chi = 'χ', psi = 'ψ', omega = 'ω', Gamma = 'Γ',
  Delta = 'Δ', Theta = 'Θ', Lambda = 'Λ', Xi = 'Ξ', Pi = 'Π', Sigma = 'Σ', Upsilon = 'Υ',
  Phi = 'Φ', Psi = 'Ψ', Omega = 'Ω', ell = 'ℓ', hbar = 'ħ', nabla = '∇', partial = '∂',
  infty = '∞', top = '⊤', intercal = '⊺', prime = '′', dagger = '†', imath = 'ı', jmath = 'ȷ',
  sum = '∑', prod = '∏', int = '∫', oint = '∮', forall = '∀', exists = '∃', emptyset = '∅',
  varnothing = '∅', neg = '¬', lnot = '¬', ldots = '…', dots = '…', cdots = '⋯', vdots = '⋮',
  ddots = '⋱', langle = '⟨', rangle = '⟩', lVert = '‖', rVert = '‖', Vert = '‖', lvert = '|',
  rvert = '|', vert = '|', lbrace = '{', rbrace = '}', lfloor = '⌊', rfloor = '⌋', lceil = '⌈',
  rceil = '⌉', lbrack = '[', rbrack = ']', star = '⋆', ast = '∗', bullet = '•', circ = '∘',
  degree = '°', dag = '†', Re = 'ℜ', Im = 'ℑ', aleph = 'ℵ',
}

-- Binary operators and relations: written with a space on each side.
local OPERATORS = {
  odot = '⊙', otimes = '⊗', oplus = '⊕', ominus = '⊖', oslash = '⊘', cdot = '·', times = '×',
  div = '÷', pm = '±', mp = '∓', cup = '∪', cap = '∩', setminus = '∖', wedge = '∧', vee = '∨',
  land = '∧', lor = '∨', ['in'] = '∈', notin = '∉', ni = '∋', subset = '⊂', subseteq = '⊆',
  supset = '⊃', supseteq = '⊇', le = '≤', leq = '≤', ge = '≥', geq = '≥', ne = '≠', neq = '≠',
  approx = '≈', equiv = '≡', sim = '∼', simeq = '≃', cong = '≅', propto = '∝', succ = '≻',
  succeq = '⪰', prec = '≺', preceq = '⪯', ll = '≪', gg = '≫', to = '→', rightarrow = '→',
  leftarrow = '←', Rightarrow = '⇒', Leftarrow = '⇐', implies = '⟹', iff = '⟺',
  Leftrightarrow = '⇔', leftrightarrow = '↔', mapsto = '↦', longrightarrow = '⟶',
  longmapsto = '⟼', coloneqq = '≔', eqqcolon = '≕', mid = '∣', perp = '⊥', parallel = '∥',
  triangleq = '≜', defeq = '≝',
}

-- Operator names printed upright: \tr -> tr.
local NAMES = {}
for _, n in ipairs({
  'tr', 'Tr', 'det', 'log', 'ln', 'exp', 'sin', 'cos', 'tan', 'sinh', 'cosh', 'tanh', 'arcsin',
  'arccos', 'arctan', 'diag', 'vec', 'rank', 'max', 'min', 'sup', 'inf', 'arg', 'argmax',
  'argmin', 'lim', 'ker', 'dim', 'sgn', 'sign', 'softmax', 'logdet', 'etr', 'Pr', 'gcd', 'deg',
}) do
  NAMES[n] = n
end
NAMES.logdet = 'log det'

local SPACES = {
  quad = '\u{2003}', qquad = '\u{2003}\u{2003}', enspace = '\u{2002}', thinspace = '\u{2009}',
  medspace = ' ', thickspace = ' ', negthinspace = '', negmedspace = '', negthickspace = '',
}

local BOLD = { mathbf = true, boldsymbol = true, bm = true, pmb = true, textbf = true, mathbfit = true }
local PLAIN = {
  mathrm = true, mathit = true, mathsf = true, mathtt = true, operatorname = true, text = true,
  textrm = true, textit = true, textsf = true, texttt = true, mbox = true, mathop = true,
  mathnormal = true, emph = true, hbox = true, mathbin = true, mathrel = true, mathord = true,
}
local TEXT = { text = true, textrm = true, textit = true, textsf = true, texttt = true, mbox = true, hbox = true, emph = true, textbf = true }
local SIZES = {
  left = true, right = true, middle = true, big = true, Big = true, bigg = true, Bigg = true,
  bigl = true, bigr = true, Bigl = true, Bigr = true, biggl = true, biggr = true, Biggl = true,
  Biggr = true, bigm = true, Bigm = true, displaystyle = true, textstyle = true, scriptstyle = true,
  limits = true, nolimits = true, nonumber = true, notag = true, label = false, tag = false,
}
local ACCENTS = {
  hat = '\u{302}', widehat = '\u{302}', tilde = '\u{303}', widetilde = '\u{303}', bar = '\u{304}',
  overline = '\u{305}', dot = '\u{307}', ddot = '\u{308}', vec = '\u{20D7}', check = '\u{30C}',
  breve = '\u{306}', underline = '\u{332}',
}
local ENV_OPEN = { pmatrix = '(', bmatrix = '[', Bmatrix = '{', vmatrix = '|', Vmatrix = '‖' }
local ENV_CLOSE = { pmatrix = ')', bmatrix = ']', Bmatrix = '}', vmatrix = '|', Vmatrix = '‖' }

local DOUBLE_SPECIAL = { C = 'ℂ', H = 'ℍ', N = 'ℕ', P = 'ℙ', Q = 'ℚ', R = 'ℝ', Z = 'ℤ' }
local SCRIPT_SPECIAL = {
  B = 'ℬ', E = 'ℰ', F = 'ℱ', H = 'ℋ', I = 'ℐ', L = 'ℒ', M = 'ℳ', R = 'ℛ', e = 'ℯ', g = 'ℊ', o = 'ℴ',
}
local BOLD_EXTRA = { ['∂'] = '𝛛', ['ϵ'] = '𝛜', ['ϑ'] = '𝛝', ['ϕ'] = '𝛟', ['ϱ'] = '𝛠', ['ϖ'] = '𝛡', ['∇'] = '𝛁' }

local function codepoint(ch)
  if #ch == 1 then
    return ch:byte()
  end
  return vim.fn.char2nr(ch)
end

local function nr2char(n)
  return vim.fn.nr2char(n)
end

local function map_letters(s, f)
  local out = {}
  for _, ch in ipairs(chars(s)) do
    out[#out + 1] = f(ch)
  end
  return table.concat(out)
end

local function bold(ch)
  local o = codepoint(ch)
  if ch:match('^%u$') then
    return nr2char(0x1D400 + o - 65)
  elseif ch:match('^%l$') then
    return nr2char(0x1D41A + o - 97)
  elseif ch:match('^%d$') then
    return nr2char(0x1D7CE + o - 48)
  elseif o >= 0x391 and o <= 0x3A9 then
    return nr2char(0x1D6A8 + o - 0x391)
  elseif o >= 0x3B1 and o <= 0x3C9 then
    return nr2char(0x1D6C2 + o - 0x3B1)
  end
  return BOLD_EXTRA[ch] or ch
end

local function double(ch)
  if DOUBLE_SPECIAL[ch] then
    return DOUBLE_SPECIAL[ch]
  elseif ch:match('^%u$') then
    return nr2char(0x1D538 + ch:byte() - 65)
  elseif ch:match('^%l$') then
    return nr2char(0x1D552 + ch:byte() - 97)
  elseif ch:match('^%d$') then
    return nr2char(0x1D7D8 + ch:byte() - 48)
  end
  return ch
end

local function script(ch)
  if SCRIPT_SPECIAL[ch] then
    return SCRIPT_SPECIAL[ch]
  elseif ch:match('^%u$') then
    return nr2char(0x1D49C + ch:byte() - 65)
  elseif ch:match('^%l$') then
    return nr2char(0x1D4B6 + ch:byte() - 97)
  end
  return ch
end

local function script_chars(s, tbl)
  local cs = chars((s:gsub('%s+', '')))
  if #cs == 0 then
    return nil
  end
  local out = {}
  for _, ch in ipairs(cs) do
    if not tbl[ch] then
      return nil
    end
    out[#out + 1] = tbl[ch]
  end
  return table.concat(out)
end

--- Superscript: Unicode superscripts when every character has one, else ^x / ^(...).
function M.sup(s)
  s = vim.trim(s)
  local r = script_chars(s, SUP)
  if r then
    return r
  end
  return #chars(s) == 1 and ('^' .. s) or ('^(' .. s .. ')')
end

--- Subscript: Unicode subscripts when every character has one, else _x / _{...}.
function M.sub(s)
  s = vim.trim(s)
  local r = script_chars(s, SUB)
  if r then
    return r
  end
  return #chars(s) == 1 and ('_' .. s) or ('_{' .. s .. '}')
end

local function skip_spaces(s, i)
  local _, e = s:find('^%s*', i)
  return e + 1
end

-- The argument at i: a {group} (without braces), a \command, or one character.
local function read_arg(s, i)
  i = skip_spaces(s, i)
  if i > #s then
    return '', i
  end
  local c = s:sub(i, i)
  if c == '{' then
    local depth, j = 0, i
    while j <= #s do
      local cj = s:sub(j, j)
      if cj == '\\' then
        j = j + 1
      elseif cj == '{' then
        depth = depth + 1
      elseif cj == '}' then
        depth = depth - 1
        if depth == 0 then
          return s:sub(i + 1, j - 1), j + 1
        end
      end
      j = j + 1
    end
    return s:sub(i + 1), #s + 1
  end
  if c == '\\' then
    local name = s:match('^%a+', i + 1)
    if name then
      return '\\' .. name, i + 1 + #name
    end
    return s:sub(i, i + 1), i + 2
  end
  local ch = s:match(UTF8_CHAR, i)
  return ch, i + #ch
end

-- An optional [argument] at i.
local function read_optional(s, i)
  local j = skip_spaces(s, i)
  if s:sub(j, j) ~= '[' then
    return nil, i
  end
  local close = s:find(']', j, true)
  if not close then
    return nil, i
  end
  return s:sub(j + 1, close - 1), close + 1
end

local convert

local function needs_parens(t)
  return t:find('[%s%+%-/=,]') ~= nil or t:find('−', 1, true) ~= nil or t:find('·', 1, true) ~= nil
end

-- One command (name without the backslash) at i (just after it); appends to out.
local function command(name, s, i, out)
  if SYMBOLS[name] then
    out[#out + 1] = SYMBOLS[name]
  elseif OPERATORS[name] then
    out[#out + 1] = ' ' .. OPERATORS[name] .. ' '
  elseif NAMES[name] then
    -- \det X -> "det X", but \det(X) -> "det(X)" and \log\det X -> "log det X"
    local nx = s:sub(i, i)
    local tight = nx == '' or nx:match('[%(%[}%)%]^_|,.;:!]') or s:match('^\\left', i) or s:match('^\\[bB]ig', i)
    out[#out + 1] = NAMES[name] .. (tight and '' or ' ')
  elseif SPACES[name] then
    out[#out + 1] = SPACES[name]
  elseif name == 'frac' or name == 'dfrac' or name == 'tfrac' or name == 'cfrac' then
    local a, b
    a, i = read_arg(s, i)
    b, i = read_arg(s, i)
    a, b = vim.trim(convert(a)), vim.trim(convert(b))
    if needs_parens(a) then
      a = '(' .. a .. ')'
    end
    if needs_parens(b) then
      b = '(' .. b .. ')'
    end
    out[#out + 1] = a .. '/' .. b
  elseif name == 'sqrt' then
    local n, a
    n, i = read_optional(s, i)
    a, i = read_arg(s, i)
    a = vim.trim(convert(a))
    local root = n and (M.sup(convert(n)) .. '√') or '√'
    out[#out + 1] = root .. (#chars(a) == 1 and a or ('(' .. a .. ')'))
  elseif BOLD[name] or PLAIN[name] or name == 'mathbb' or name == 'mathcal' or name == 'mathscr' or name == 'mathfrak' then
    if s:sub(i, i) == '*' then -- \operatorname*
      i = i + 1
    end
    local a
    a, i = read_arg(s, i)
    local inner = TEXT[name] and a or convert(a)
    if BOLD[name] then
      inner = map_letters(inner, bold)
    elseif name == 'mathbb' then
      inner = map_letters(inner, double)
    elseif name == 'mathcal' or name == 'mathscr' then
      inner = map_letters(inner, script)
    end
    out[#out + 1] = inner
  elseif ACCENTS[name] then
    local a
    a, i = read_arg(s, i)
    out[#out + 1] = convert(a) .. ACCENTS[name]
  elseif SIZES[name] ~= nil then
    if SIZES[name] == false then -- \label{...}, \tag{...}: dropped with the argument
      local _
      _, i = read_arg(s, i)
    else
      local j = skip_spaces(s, i)
      if s:sub(j, j) == '.' then -- \left. \right.
        i = j + 1
      end
    end
  elseif name == 'begin' or name == 'end' then
    local env
    env, i = read_arg(s, i)
    env = vim.trim(env)
    if name == 'begin' then
      if env == 'array' or env == 'alignedat' or env == 'alignat' or env == 'alignat*' then
        local _
        _, i = read_arg(s, i)
      end
      out[#out + 1] = ENV_OPEN[env] or ''
    else
      out[#out + 1] = ENV_CLOSE[env] or ''
    end
  elseif name == 'not' then
    local a
    a, i = read_arg(s, i)
    out[#out + 1] = vim.trim(convert(a)) .. '\u{338}'
  elseif name == 'color' or name == 'textcolor' then
    local _
    _, i = read_arg(s, i)
  elseif name == 'hspace' or name == 'vspace' or name == 'phantom' or name == 'hphantom' or name == 'vphantom' then
    local _
    _, i = read_arg(s, i)
    out[#out + 1] = ' '
  else
    out[#out + 1] = '\\' .. name
  end
  return i
end

-- The main loop over a LaTeX math string.
convert = function(s)
  local out = {}
  local i, n = 1, #s
  while i <= n do
    local c = s:sub(i, i)
    if c == '\\' then
      local name = s:match('^%a+', i + 1)
      if name then
        i = skip_spaces(s, i + 1 + #name)
        i = command(name, s, i, out)
      else
        local ch = s:match(UTF8_CHAR, i + 1) or ''
        i = i + 1 + #ch
        if ch == '\\' then -- line break, maybe with a [skip]
          local _
          _, i = read_optional(s, i)
          out[#out + 1] = '\n'
        elseif ch == ',' or ch == ':' or ch == ';' or ch == ' ' or ch == '>' then
          out[#out + 1] = ' '
        elseif ch == '!' or ch == '/' then
          -- negative thin space, italic correction: nothing
        elseif ch == '|' then
          out[#out + 1] = '‖'
        else -- \{ \} \$ \% \& \# \_
          out[#out + 1] = ch
        end
      end
    elseif c == '^' or c == '_' then
      local a
      a, i = read_arg(s, i + 1)
      local inner = convert(a)
      out[#out + 1] = c == '^' and M.sup(inner) or M.sub(inner)
    elseif c == '{' then
      local a
      a, i = read_arg(s, i)
      out[#out + 1] = convert(a)
    elseif c == '}' or c == '&' then
      i = i + 1
    elseif c == '~' then
      out[#out + 1] = ' '
      i = i + 1
    elseif c == "'" then
      out[#out + 1] = '′'
      i = i + 1
    elseif c == '%' then -- a comment runs to the end of the line
      local e = s:find('\n', i, true)
      i = e or (n + 1)
    elseif c:match('%s') then
      local _, e = s:find('^%s+', i)
      out[#out + 1] = ' '
      i = e + 1
    else
      local ch = s:match(UTF8_CHAR, i)
      out[#out + 1] = ch
      i = i + #ch
    end
  end
  return table.concat(out)
end

--- LaTeX math (without $ delimiters) -> Unicode text; lines split at \\.
function M.latex(s)
  local text = convert(s)
  local lines = {}
  for line in (text .. '\n'):gmatch('(.-)\n') do
    line = vim.trim((line:gsub(' +', ' '):gsub('([%(%[]) ', '%1'):gsub(' ([%)%]])', '%1')))
    if line ~= '' then
      lines[#lines + 1] = line
    end
  end
  return table.concat(lines, '\n')
end

-- Inline $...$ in one stretch of Markdown text outside code.
local function inline_math(text)
  -- Protect `code spans`.
  local out, i = {}, 1
  while i <= #text do
    local tick = text:match('^`+', i)
    if tick then
      local close = text:find(tick, i + #tick, true)
      if close then
        out[#out + 1] = text:sub(i, close + #tick - 1)
        i = close + #tick
      else
        out[#out + 1] = tick
        i = i + #tick
      end
    elseif text:sub(i, i) == '\\' and text:sub(i + 1, i + 1) == '$' then
      out[#out + 1] = '\\$'
      i = i + 2
    elseif text:sub(i, i + 1) == '$$' then
      local close = text:find('$$', i + 2, true)
      if close then
        out[#out + 1] = M.latex(text:sub(i + 2, close - 1))
        i = close + 2
      else
        out[#out + 1] = '$$'
        i = i + 2
      end
    elseif text:sub(i, i) == '$' then
      local j, close = i + 1, nil
      while j <= #text do
        local cj = text:sub(j, j)
        if cj == '\\' then
          j = j + 2
        elseif cj == '$' then
          close = j
          break
        else
          j = j + 1
        end
      end
      if close and close > i + 1 then
        out[#out + 1] = M.latex(text:sub(i + 1, close - 1))
        i = close + 1
      else
        out[#out + 1] = '$'
        i = i + 1
      end
    else
      local nxt = text:find('[`$\\]', i + 1)
      nxt = nxt or (#text + 1)
      out[#out + 1] = text:sub(i, nxt - 1)
      i = nxt
    end
  end
  return table.concat(out)
end

--- Markdown with TeX math -> Markdown with Unicode math.
--- Fenced code blocks stay as they are (the server puts the LaTeX source to copy
--- in a ```latex block), except ```math blocks, which are math.
function M.markdown(md)
  local lines = vim.split(md, '\n', { plain = true })
  local out, prose = {}, {}
  local fence, fence_is_math, math_lines = nil, false, {}

  local function flush()
    if #prose > 0 then
      local text = inline_math(table.concat(prose, '\n'))
      vim.list_extend(out, vim.split(text, '\n', { plain = true }))
      prose = {}
    end
  end

  for _, line in ipairs(lines) do
    if fence then
      if line:match('^%s*' .. vim.pesc(fence) .. '%s*$') then
        if fence_is_math then
          vim.list_extend(out, vim.split(M.latex(table.concat(math_lines, '\n')), '\n', { plain = true }))
        else
          out[#out + 1] = line
        end
        fence, fence_is_math, math_lines = nil, false, {}
      elseif fence_is_math then
        math_lines[#math_lines + 1] = line
      else
        out[#out + 1] = line
      end
    else
      local f, info = line:match('^%s*(```+)%s*(%S*)')
      if not f then
        f, info = line:match('^%s*(~~~+)%s*(%S*)')
      end
      if f then
        flush()
        fence, fence_is_math = f, info == 'math'
        if not fence_is_math then
          out[#out + 1] = line
        end
      else
        prose[#prose + 1] = line
      end
    end
  end
  flush()
  if fence and fence_is_math then -- unterminated ```math: leave it as written
    out[#out + 1] = '```math'
    vim.list_extend(out, math_lines)
  end
  return table.concat(out, '\n')
end

return M
