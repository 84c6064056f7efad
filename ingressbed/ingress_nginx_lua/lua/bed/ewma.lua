-- ewma (`load-balance: ewma`): a latency score per endpoint, two random choices.
--
-- Each endpoint has an exponentially weighted moving average of its connect + response
-- time, decaying with a 10 s time constant, kept in a shared dict (so shared by every
-- worker, and by every backend listing the same "address:port"). A request draws two
-- distinct endpoints at random among those not yet tried for it and takes the one with
-- the lower score (the average decayed to now); an endpoint with no history scores 0.
-- After the answer, the average of the endpoint that answered is updated under a
-- non-blocking lock (a busy lock skips the update). Endpoints a post adds start at the
-- mean of the known averages; removed ones lose their history.

local nodes = require("bed.nodes")

local ngx = ngx
local exp = math.exp
local random = math.random
local tonumber = tonumber
local setmetatable = setmetatable

local DECAY_SECONDS = 10
local CHOICES = 2
local LOCK_SECONDS = 0.1

local _M = { name = "ewma" }
_M.__index = _M

local function stats()
  return ngx.shared.bed_ewma
end

local function decayed(average, touched, rtt, now)
  local elapsed = now - touched
  if elapsed < 0 then
    elapsed = 0
  end
  local weight = exp(-elapsed / DECAY_SECONDS)
  return average * weight + rtt * (1.0 - weight)
end

local function store(node, average, now)
  local dict = stats()
  dict:set("avg:" .. node, average)
  dict:set("at:" .. node, now)
end

local function score(node)
  local dict = stats()
  return decayed(dict:get("avg:" .. node) or 0, dict:get("at:" .. node) or 0, 0, ngx.now())
end

local function update(node, rtt)
  local dict = stats()
  local lock = "lock:" .. node
  if not dict:add(lock, true, LOCK_SECONDS) then
    return -- another request holds it: this sample is dropped
  end
  local now = ngx.now()
  local average = decayed(dict:get("avg:" .. node) or 0, dict:get("at:" .. node) or 0, rtt, now)
  store(node, average, now)
  dict:delete(lock)
end

local function seed_added(old, new)
  local dict = stats()
  local kept = {}
  for _, node in ipairs(new) do
    kept[node] = true
  end
  local known = {}
  for _, node in ipairs(old) do
    known[node] = true
    if not kept[node] then
      dict:delete("avg:" .. node)
      dict:delete("at:" .. node)
    end
  end
  local total, count = 0, 0
  for _, node in ipairs(new) do
    local average = dict:get("avg:" .. node)
    if average then
      total, count = total + average, count + 1
    end
  end
  if count == 0 then
    return
  end
  local now = ngx.now()
  for _, node in ipairs(new) do
    if not known[node] then
      store(node, total / count, now)
    end
  end
end

function _M.new(backend)
  return setmetatable({
    peers = nodes.list(backend.endpoints),
    traffic_shaping_policy = backend.trafficShapingPolicy,
    alternative_backends = backend.alternativeBackends,
  }, _M)
end

function _M.sync(self, backend)
  self.traffic_shaping_policy = backend.trafficShapingPolicy
  self.alternative_backends = backend.alternativeBackends
  local list = nodes.list(backend.endpoints)
  if not nodes.same_set(self.peers, list) then
    seed_added(self.peers, list)
    self.peers = list
  end
end

function _M.is_affinitized()
  return false
end

function _M.balance(self)
  local peers = self.peers
  if #peers == 1 then
    return peers[1]
  end
  local tried = ngx.ctx.bed_ewma_tried
  if not tried then
    tried = {}
    ngx.ctx.bed_ewma_tried = tried
  end
  local open = {}
  for _, node in ipairs(peers) do
    if not tried[node] then
      open[#open + 1] = node
    end
  end
  if #open == 0 then
    for i, node in ipairs(peers) do
      open[i] = node
    end
  end
  local best = open[1]
  if #open > 1 then
    -- two distinct random choices (a partial Fisher-Yates shuffle)
    for i = 1, CHOICES do
      local j = random(i, #open)
      open[i], open[j] = open[j], open[i]
    end
    best = open[1]
    local best_score = score(best)
    for i = 2, CHOICES do
      local candidate = score(open[i])
      if candidate < best_score then
        best, best_score = open[i], candidate
      end
    end
  end
  tried[best] = true
  return best
end

local function last_value(variable)
  local last
  if variable then
    for value in variable:gmatch("[^%s,]+") do
      if value ~= ":" then
        last = value
      end
    end
  end
  return last
end

--- In the log phase: fold this answer's time into the answering endpoint's average.
function _M.after_balance()
  local node = last_value(ngx.var.upstream_addr)
  if not node or node == "" then
    return
  end
  local rtt = (tonumber(last_value(ngx.var.upstream_response_time)) or 0)
    + (tonumber(last_value(ngx.var.upstream_connect_time)) or 0)
  update(node, rtt)
end

return _M
