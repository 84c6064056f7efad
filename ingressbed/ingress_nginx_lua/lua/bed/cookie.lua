-- Cookies as the affinity balancer reads and writes them.
--
-- Reading: the Cookie header(s) split at ";", and when a name appears twice the LAST value
-- counts (nginx's own $cookie_NAME would take the first).
-- Writing: one more Set-Cookie header (earlier ones of the same request stay), attributes
-- in the order Expires; Max-Age; Domain; Path; Secure; HttpOnly; SameSite. SameSite is
-- written only as exactly Strict, Lax or None; anything else is dropped.

local ngx = ngx
local type = type
local tostring = tostring

local _M = {}

local SAME_SITE = { Strict = true, Lax = true, None = true }

local function trim(text)
  return (text:gsub("^%s+", ""):gsub("%s+$", ""))
end

--- The value of cookie `name` in the request (the last one of that name), or nil.
function _M.get(name)
  local header = ngx.var.http_cookie
  if not header then
    return nil
  end
  local found
  for item in header:gmatch("[^;]+") do
    local equals = item:find("=", 1, true)
    if equals and trim(item:sub(1, equals - 1)) == name then
      found = trim(item:sub(equals + 1))
    end
  end
  return found
end

--- The Set-Cookie text for `cookie` (key, value, expires, max_age, domain, path, secure,
--- httponly, samesite).
function _M.format(cookie)
  local parts = { cookie.key .. "=" .. cookie.value }
  if cookie.expires then
    parts[#parts + 1] = "Expires=" .. cookie.expires
  end
  if cookie.max_age then
    parts[#parts + 1] = "Max-Age=" .. tostring(cookie.max_age)
  end
  if cookie.domain then
    parts[#parts + 1] = "Domain=" .. cookie.domain
  end
  if cookie.path then
    parts[#parts + 1] = "Path=" .. cookie.path
  end
  if cookie.secure then
    parts[#parts + 1] = "Secure"
  end
  if cookie.httponly then
    parts[#parts + 1] = "HttpOnly"
  end
  if cookie.samesite and SAME_SITE[cookie.samesite] then
    parts[#parts + 1] = "SameSite=" .. cookie.samesite
  end
  return table.concat(parts, "; ")
end

--- Add a Set-Cookie header to the response, after any set before in this request.
function _M.set(cookie)
  local text = _M.format(cookie)
  local existing = ngx.header["Set-Cookie"]
  if existing == nil then
    ngx.header["Set-Cookie"] = text
  elseif type(existing) == "table" then
    existing[#existing + 1] = text
    ngx.header["Set-Cookie"] = existing
  else
    ngx.header["Set-Cookie"] = { existing, text }
  end
end

--- Whether a browser with this User-Agent takes SameSite=None (the old Chrome, iOS 12 and
--- macOS 10.14 Safari builds reject such cookies outright).
function _M.same_site_none_ok(agent)
  if not agent then
    return true
  end
  if agent:find("Chrome/4", 1, true) or agent:find("Chrome/5", 1, true)
      or agent:find("Chrome/6", 1, true) then
    return false
  end
  if agent:find("CPU iPhone OS 12", 1, true) or agent:find("iPad; CPU OS 12", 1, true) then
    return false
  end
  if agent:find("Macintosh", 1, true) and agent:find("Intel Mac OS X 10_14", 1, true)
      and agent:find("Safari", 1, true) and not agent:find("Chrome", 1, true) then
    return false
  end
  return true
end

return _M
