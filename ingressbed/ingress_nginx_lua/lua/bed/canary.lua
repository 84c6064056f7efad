-- Whether a request of a main backend goes to its canary (its first alternative backend).
--
-- A request whose affinity cookie was issued by the main backend stays there; one whose
-- cookie was issued by the canary goes to the canary. Otherwise the canary's traffic
-- shaping policy decides, in this order:
--   header: with a header value set, only that value sends to the canary; else with a
--     pattern set, a (PCRE, unanchored) match does; else "always" / "never" decide;
--     anything else falls through;
--   cookie: "always" / "never" decide (nginx's $cookie_NAME: the first of that name);
--   weight: canary with probability weight / total (a total below 100 counts as 100).

local ngx = ngx
local random = math.random
local tonumber = tonumber

local _M = {}

local function header_decides(policy)
  local name = policy.header
  if not name or name == "" then
    return nil
  end
  local value = ngx.var["http_" .. name:gsub("%-", "_")]
  if not value then
    return nil
  end
  if policy.headerValue and #policy.headerValue > 0 then
    if value == policy.headerValue then
      return true
    end
  elseif policy.headerPattern and #policy.headerPattern > 0 then
    local matched, err = ngx.re.match(value, policy.headerPattern)
    if matched then
      return true
    elseif err then
      ngx.log(ngx.ERR, "canary header pattern ", policy.headerPattern, ": ", err)
      return false
    end
  elseif value == "always" then
    return true
  elseif value == "never" then
    return false
  end
  return nil
end

local function cookie_decides(policy)
  local name = policy.cookie
  if not name or name == "" then
    return nil
  end
  local value = ngx.var["cookie_" .. name]
  if value == "always" then
    return true
  elseif value == "never" then
    return false
  end
  return nil
end

--- The canary's name when this request goes to it, else nil.
--- `main` is the main backend's balancer, `balancers` every balancer by backend name.
function _M.route(main, balancers)
  if main:is_affinitized() then
    return nil
  end
  local alternatives = main.alternative_backends
  local name = alternatives and alternatives[1]
  if not name then
    return nil
  end
  local canary = balancers[name]
  if not canary then
    return nil
  end
  if canary:is_affinitized() then
    return name
  end
  local policy = canary.traffic_shaping_policy
  if not policy then
    return nil
  end
  local decided = header_decides(policy)
  if decided == nil then
    decided = cookie_decides(policy)
  end
  if decided == nil then
    local total = tonumber(policy.weightTotal) or 0
    if total <= 100 then
      total = 100
    end
    decided = random(total) <= (tonumber(policy.weight) or 0)
  end
  return decided and name or nil
end

return _M
