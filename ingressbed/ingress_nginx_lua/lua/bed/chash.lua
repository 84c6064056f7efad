-- Consistent hashing on `upstream-hash-by` over the "address:port" ring.
--
-- The key expression is read when the balancer is created and never again: a later post
-- refreshes endpoints and canary settings only, so a changed key stays unused until the
-- balancer is recreated (another algorithm, or no endpoints in between).

local ring = require("bed.ring")
local key = require("bed.key")
local nodes = require("bed.nodes")
local setmetatable = setmetatable

local _M = { name = "chash" }
_M.__index = _M

function _M.new(backend)
  local list = nodes.list(backend.endpoints)
  local self = setmetatable({
    peers = list,
    ring = ring.new(list, list),
    hash_by = key.compile(backend.upstreamHashByConfig["upstream-hash-by"]),
    traffic_shaping_policy = backend.trafficShapingPolicy,
    alternative_backends = backend.alternativeBackends,
  }, _M)
  return self
end

function _M.sync(self, backend)
  self.traffic_shaping_policy = backend.trafficShapingPolicy
  self.alternative_backends = backend.alternativeBackends
  local list = nodes.list(backend.endpoints)
  if not nodes.same_set(self.peers, list) then
    self.peers = list
    self.ring = ring.new(list, list)
  end
end

function _M.is_affinitized()
  return false
end

function _M.balance(self)
  return self.ring:find(key.evaluate(self.hash_by))
end

return _M
