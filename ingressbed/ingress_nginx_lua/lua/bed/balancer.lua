-- The bed's ingress-nginx balancer: per-worker balancers synced from the posted backends,
-- and the request phases (rewrite: choose the backend or answer 503; balancer: choose the
-- peer; log: feed ewma).
--
-- Sync, as the controller's workers do it: every worker checks once a second whether the
-- post's timestamp (whole seconds) is later than the one it last applied. So a post in the
-- same second as the one applied before is not applied until a later post. For each backend:
-- no endpoints drops its balancer (requests get 503); a balancer of another algorithm is
-- replaced; otherwise the existing balancer takes the post's endpoints and canary settings
-- (and keeps its hash key). Backends no longer posted are dropped.

local cjson = require("cjson.safe")
local ngx_balancer = require("ngx.balancer")
local state = require("bed.state")
local canary = require("bed.canary")
local round_robin = require("bed.round_robin")
local chash = require("bed.chash")
local subset = require("bed.subset")
local sticky = require("bed.sticky")
local ewma = require("bed.ewma")

local ngx = ngx
local type = type
local pairs = pairs
local getmetatable = getmetatable

local SYNC_INTERVAL = 1

local _M = {}

local balancers = {}
local last_synced_at = 0

local ALGORITHMS = {
  round_robin = round_robin,
  ewma = ewma,
  chash = chash,
  chashsubset = subset,
}

-- cjson's null becomes nil, as a field the controller left out.
local function drop_nulls(value)
  if type(value) ~= "table" then
    return value
  end
  for key, item in pairs(value) do
    if item == cjson.null then
      value[key] = nil
    else
      drop_nulls(item)
    end
  end
  return value
end

-- The implementation for `backend` and, for sticky, its mode.
local function implementation(backend)
  local affinity = backend.sessionAffinityConfig
  if affinity and affinity.name == "cookie" then
    return sticky, affinity.mode == "persistent"
  end
  local hashing = backend.upstreamHashByConfig
  if hashing and hashing["upstream-hash-by"] then
    if hashing["upstream-hash-by-subset"] then
      return subset
    end
    return chash
  end
  local wanted = backend["load-balance"] or "round_robin"
  local chosen = ALGORITHMS[wanted]
  if not chosen then
    ngx.log(ngx.WARN, wanted, " is not supported, falling back to round_robin")
    chosen = round_robin
  end
  return chosen
end

local function same_kind(balancer, module, persistent)
  if getmetatable(balancer) ~= module then
    return false
  end
  return module ~= sticky or balancer.persistent == persistent
end

local function sync_backend(backend)
  if not backend.endpoints or #backend.endpoints == 0 then
    balancers[backend.name] = nil
    return
  end
  local module, persistent = implementation(backend)
  local balancer = balancers[backend.name]
  if balancer and same_kind(balancer, module, persistent) then
    balancer:sync(backend)
  else
    balancers[backend.name] = module.new(backend, persistent)
  end
end

local function is_external_name(backend)
  local service = backend.service
  return service and service.spec and service.spec.type == "ExternalName"
end

--- Apply the posted backends when they are newer than what this worker applied.
function _M.sync()
  local posted_at = state.posted_at()
  if posted_at <= last_synced_at then
    return
  end
  local generation, text = state.posted()
  if not text then
    balancers = {}
    return
  end
  local backends, err = cjson.decode(text)
  if type(backends) ~= "table" then
    ngx.log(ngx.ERR, "could not parse the posted backends: ", err)
    return
  end
  drop_nulls(backends)
  local keep = {}
  for _, backend in ipairs(backends) do
    if is_external_name(backend) then
      ngx.log(ngx.ERR, "backend ", backend.name, ": ExternalName is not balanced locally")
    else
      local ok, failure = pcall(sync_backend, backend)
      if not ok then
        ngx.log(ngx.ERR, "backend ", tostring(backend.name), " not applied: ", failure)
      end
    end
    keep[backend.name] = true
  end
  for name in pairs(balancers) do
    if not keep[name] then
      balancers[name] = nil
    end
  end
  last_synced_at = posted_at
  state.record_sync(generation, posted_at)
end

--- What this worker's balancers are, for the status listener.
function _M.describe()
  local out = {}
  for name, balancer in pairs(balancers) do
    out[name] = balancer.name
  end
  return out
end

--- Worker start: apply what is posted now, then check every second.
function _M.init_worker(config_generation)
  math.randomseed(ngx.now() * 1000 + ngx.worker.pid())
  state.register(config_generation)
  _M.sync()
  local ok, err = ngx.timer.every(SYNC_INTERVAL, function(premature)
    if not premature then
      state.tick()
      _M.sync()
    end
  end)
  if not ok then
    ngx.log(ngx.ERR, "could not start the backends sync timer: ", err)
  end
end

local function get_balancer()
  local chosen = ngx.ctx.bed_balancer
  if chosen then
    return chosen
  end
  local main = balancers[ngx.var.proxy_upstream_name]
  if not main then
    return nil
  end
  chosen = main
  local alternative = canary.route(main, balancers)
  if alternative then
    ngx.var.proxy_alternative_upstream_name = alternative
    chosen = balancers[alternative]
  end
  ngx.ctx.bed_balancer = chosen
  return chosen
end

--- Rewrite phase: pick the backend (main or canary); 503 when it has no balancer.
function _M.rewrite()
  if not get_balancer() then
    return ngx.exit(ngx.HTTP_SERVICE_UNAVAILABLE)
  end
end

--- Balancer phase (once per try): the peer.
function _M.balance()
  local balancer = get_balancer()
  if not balancer then
    return
  end
  local peer = balancer:balance()
  if not peer then
    ngx.log(ngx.WARN, "no peer from balancer ", balancer.name)
    return
  end
  ngx_balancer.set_more_tries(1)
  local ok, err = ngx_balancer.set_current_peer(peer)
  if not ok then
    ngx.log(ngx.ERR, "could not set peer ", peer, ": ", err)
  end
end

--- Log phase: ewma learns the answer's time.
function _M.log()
  local balancer = get_balancer()
  if balancer and balancer.after_balance then
    balancer:after_balance()
  end
end

return _M
