-- Round robin: per worker, a strict cycle over the endpoints in posted order, starting at a
-- random one. A post that changes the set of endpoints starts a new cycle at random; a post
-- that only reorders them changes nothing.

local nodes = require("bed.nodes")
local random = math.random
local setmetatable = setmetatable

local _M = { name = "round_robin" }
_M.__index = _M

local function start(self, list)
  self.peers = list
  self.position = random(#list) - 1
end

function _M.new(backend)
  local self = setmetatable({}, _M)
  start(self, nodes.list(backend.endpoints))
  self.traffic_shaping_policy = backend.trafficShapingPolicy
  self.alternative_backends = backend.alternativeBackends
  return self
end

function _M.sync(self, backend)
  self.traffic_shaping_policy = backend.trafficShapingPolicy
  self.alternative_backends = backend.alternativeBackends
  local list = nodes.list(backend.endpoints)
  if not nodes.same_set(self.peers, list) then
    start(self, list)
  end
end

function _M.is_affinitized()
  return false
end

function _M.balance(self)
  self.position = self.position % #self.peers + 1
  return self.peers[self.position]
end

return _M
