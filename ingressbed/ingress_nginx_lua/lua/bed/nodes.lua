-- Endpoints of a posted backend as the balancers use them: "address:port" strings in the
-- posted order (an address that is not dotted IPv4 goes in brackets), and set comparison.

local tostring = tostring

local _M = {}

local function node_of(endpoint)
  local address = tostring(endpoint.address)
  if not address:match("^%d+.%d+.%d+.%d+$") then
    address = "[" .. address .. "]"
  end
  return address .. ":" .. tostring(endpoint.port)
end

--- The node strings of `endpoints` in posted order, a repeated endpoint once.
function _M.list(endpoints)
  local list, seen = {}, {}
  for _, endpoint in ipairs(endpoints or {}) do
    local node = node_of(endpoint)
    if not seen[node] then
      seen[node] = true
      list[#list + 1] = node
    end
  end
  return list
end

--- Whether two node lists hold the same nodes, whatever their order.
function _M.same_set(a, b)
  if #a ~= #b then
    return false
  end
  local set = {}
  for _, node in ipairs(a) do
    set[node] = true
  end
  for _, node in ipairs(b) do
    if not set[node] then
      return false
    end
  end
  return true
end

--- Whether two node lists are equal, order included.
function _M.same_list(a, b)
  if #a ~= #b then
    return false
  end
  for i = 1, #a do
    if a[i] ~= b[i] then
      return false
    end
  end
  return true
end

return _M
