-- The consistent hash ring of ingress-nginx's balancer, written for the bed.
--
-- Every node gets 160 points. Point 1 is the CRC-32 of the node string followed by four
-- zero bytes; point k is the CRC-32 of the node string followed by point k-1 as four
-- little-endian bytes. Points are sorted (equal values: the node listed first comes
-- first). A key goes to the first point whose value is >= CRC-32(key), wrapping to the
-- first point past the end. The bed's placement model builds the same ring in Python.

local crc32 = ngx.crc32_long
local floor = math.floor
local char = string.char
local sort = table.sort
local tostring = tostring
local setmetatable = setmetatable

local POINTS_PER_NODE = 160
-- A point value (< 2^32) times 2^20 plus the node's index (< 2^20) is exact in a double,
-- so one numeric sort orders by value, then by node order.
local INDEX_SPAN = 1048576

local _M = {}
_M.__index = _M

local function le32(value)
  return char(value % 256, floor(value / 256) % 256, floor(value / 65536) % 256,
              floor(value / 16777216) % 256)
end

--- A ring over `ids` (node strings, in order); lookups return the matching `owners` entry.
function _M.new(ids, owners)
  local packed = {}
  for index, id in ipairs(ids) do
    local previous = 0
    for _ = 1, POINTS_PER_NODE do
      previous = crc32(id .. le32(previous))
      packed[#packed + 1] = previous * INDEX_SPAN + index
    end
  end
  sort(packed)
  local points, holders = {}, {}
  for position, value in ipairs(packed) do
    local index = value % INDEX_SPAN
    points[position] = (value - index) / INDEX_SPAN
    holders[position] = owners[index]
  end
  return setmetatable({ points = points, holders = holders, size = #points }, _M)
end

--- The owner of the first point at or after CRC-32(key), wrapping around.
function _M.find(self, key)
  local size = self.size
  if size == 0 then
    return nil
  end
  local wanted = crc32(tostring(key))
  local points = self.points
  if points[size] < wanted then
    return self.holders[1]
  end
  local low, high = 1, size
  while low < high do
    local middle = floor((low + high) / 2)
    if points[middle] < wanted then
      low = middle + 1
    else
      high = middle
    end
  end
  return self.holders[low]
end

return _M
