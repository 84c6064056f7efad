-- Subset hashing (`upstream-hash-by-subset`): the endpoints, in posted order, are cut into
-- groups of `upstream-hash-by-subset-size` (default 3) named set1, set2, ...; the last
-- group is filled up with endpoints from the start of the list. The ring's nodes are the
-- group names; a key picks a group, and each request takes a member at random.
--
-- As in the controller, the key is read only at creation, and a later post is applied only
-- when the endpoint list itself changed (then the groups are rebuilt with the posted size);
-- canary settings are those of the first post.

local ring = require("bed.ring")
local key = require("bed.key")
local nodes = require("bed.nodes")
local random = math.random
local ceil = math.ceil
local tostring = tostring
local tonumber = tonumber
local setmetatable = setmetatable

local DEFAULT_SIZE = 3

local _M = { name = "chashsubset" }
_M.__index = _M

local function endpoint_list(backend)
  local list = {}
  for _, endpoint in ipairs(backend.endpoints) do
    list[#list + 1] = nodes.list({ endpoint })[1]
  end
  return list
end

local function build(self, backend)
  local size = tonumber(backend.upstreamHashByConfig["upstream-hash-by-subset-size"])
  if not size or size < 1 then
    size = DEFAULT_SIZE
  end
  local list = endpoint_list(backend)
  local count = ceil(#list / size)
  local groups, names = {}, {}
  local next_member = 1
  for number = 1, count do
    local group = {}
    for _ = 1, size do
      group[#group + 1] = list[(next_member - 1) % #list + 1]
      next_member = next_member + 1
    end
    local name = "set" .. tostring(number)
    names[number] = name
    groups[name] = group
  end
  self.endpoints = list
  self.groups = groups
  self.names = names
  self.ring = ring.new(names, names)
end

function _M.new(backend)
  local self = setmetatable({
    hash_by = key.compile(backend.upstreamHashByConfig["upstream-hash-by"]),
    traffic_shaping_policy = backend.trafficShapingPolicy,
    alternative_backends = backend.alternativeBackends,
  }, _M)
  build(self, backend)
  return self
end

function _M.sync(self, backend)
  if not nodes.same_list(self.endpoints, endpoint_list(backend)) then
    build(self, backend)
  end
end

function _M.is_affinitized()
  return false
end

function _M.balance(self)
  local group = self.groups[self.ring:find(key.evaluate(self.hash_by))]
  return group[random(#group)]
end

--- The groups by name, for the status listener.
function _M.describe(self)
  return { groups = self.groups, names = self.names }
end

return _M
