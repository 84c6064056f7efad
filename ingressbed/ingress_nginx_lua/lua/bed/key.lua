-- The `upstream-hash-by` expression: compiled once, evaluated per request.
--
-- `$name` and `${name}` read the nginx variable (a variable nginx does not find adds
-- nothing), `\$name` is literal text with its backslash, a `$` without a name is literal,
-- any other backslash is dropped, everything else is text. An all-digit name reads a
-- regex capture.

local ngx = ngx
local concat = table.concat
local tonumber = tonumber

local NAME = "[0-9a-zA-Z_]+"

local _M = {}

--- The parts of `expression`: a list of { text = "..." } and { var = name } tables.
function _M.compile(expression)
  local parts = {}
  local text = expression or ""
  local position, length = 1, #text
  while position <= length do
    local here = text:sub(position, position)
    if here == "\\" then
      local name = text:match("^%$(" .. NAME .. ")", position + 1)
      if name then
        parts[#parts + 1] = { text = "\\$" .. name }
        position = position + 2 + #name
      else
        position = position + 1 -- a lone backslash is dropped
      end
    elseif here == "$" then
      local braced = text:match("^{(" .. NAME .. ")}", position + 1)
      local plain = not braced and text:match("^(" .. NAME .. ")", position + 1)
      local name = braced or plain
      if name then
        parts[#parts + 1] = { var = tonumber(name:match("^%d+$")) or name:lower() }
        position = position + 1 + #name + (braced and 2 or 0)
      else
        parts[#parts + 1] = { text = "$" }
        position = position + 1
      end
    else
      local run = text:match("^[^$\\]+", position)
      parts[#parts + 1] = { text = run }
      position = position + #run
    end
  end
  return parts
end

--- The key for the current request.
function _M.evaluate(parts)
  local out = {}
  for _, part in ipairs(parts) do
    if part.var then
      local value = ngx.var[part.var]
      if value then
        out[#out + 1] = value
      end
    else
      out[#out + 1] = part.text
    end
  end
  return concat(out)
end

return _M
