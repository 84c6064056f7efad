-- Cookie affinity (`affinity: cookie`), both modes.
--
-- The cookie value is "<key>|<backend key>", the backend key md5hex(md5hex(name) .. name).
-- balanced: the key is "<now + i>.<worker pid>.<random>" drawn at the first visit and
--   placed on the "address:port" ring; a removed pod's sessions move along the ring.
-- persistent: the key is md5hex(backend name .. "address:port") of an endpoint drawn at
--   random; a key naming no current endpoint draws again (with a new cookie).
-- A request goes where its cookie points. A new endpoint is drawn when there is no usable
-- cookie, or after a failed try when change-on-failure is on (the endpoints tried so far
-- are avoided). A drawn endpoint gets a cookie only on the locations the backend lists
-- for the request's host; elsewhere the draw is per request and sets nothing.

local ring = require("bed.ring")
local nodes = require("bed.nodes")
local cookie = require("bed.cookie")
local ngx_balancer = require("ngx.balancer")

local ngx = ngx
local md5 = ngx.md5
local random = math.random
local format = string.format
local tonumber = tonumber
local setmetatable = setmetatable

local DEFAULT_NAME = "INGRESSCOOKIE"
local DELIMITER = "|"
local BALANCED_TRIES = 20

local _M = {}
_M.__index = _M

local function index_nodes(self, list)
  self.peers = list
  if self.persistent then
    local by_key, key_of = {}, {}
    for _, node in ipairs(list) do
      local hashed = md5(self.backend_name .. node)
      by_key[hashed] = node
      key_of[node] = hashed
    end
    self.by_key, self.key_of = by_key, key_of
  else
    self.ring = ring.new(list, list)
  end
end

local function refresh(self, backend)
  self.traffic_shaping_policy = backend.trafficShapingPolicy
  self.alternative_backends = backend.alternativeBackends
  self.config = (backend.sessionAffinityConfig or {}).cookieSessionAffinity or {}
  self.backend_key = md5(md5(backend.name) .. backend.name)
  local list = nodes.list(backend.endpoints)
  if not self.peers or not nodes.same_set(self.peers, list) then
    index_nodes(self, list)
  end
end

--- A sticky balancer for `backend`; `persistent` picks the mode.
function _M.new(backend, persistent)
  local self = setmetatable({
    name = persistent and "sticky_persistent" or "sticky_balanced",
    persistent = persistent,
    backend_name = backend.name,
  }, _M)
  refresh(self, backend)
  return self
end

_M.sync = refresh

function _M.cookie_name(self)
  local name = self.config.name
  if not name or name == "" then
    return DEFAULT_NAME
  end
  return name
end

-- The key and backend key the request's cookie holds (each may be nil).
local function parsed(self)
  local value = cookie.get(self:cookie_name())
  if not value then
    return nil, nil
  end
  local pieces = {}
  for piece in value:gmatch("[^|]+") do
    pieces[#pieces + 1] = piece
  end
  return pieces[1], pieces[2]
end

function _M.is_affinitized(self)
  local _, backend_key = parsed(self)
  return backend_key == self.backend_key
end

local function find(self, key)
  if self.persistent then
    return self.by_key[key]
  end
  return self.ring:find(key)
end

-- The endpoints tried before in this request ($upstream_addr so far).
local function tried()
  local seen = {}
  local addresses = ngx.var.upstream_addr
  if addresses then
    for address in addresses:gmatch("[^%s,]+") do
      if address ~= ":" then -- " : " separates internal redirects
        seen[address] = true
      end
    end
  end
  return seen
end

local function draw(self, avoid)
  if self.persistent then
    local allowed = {}
    for _, node in ipairs(self.peers) do
      if not avoid[node] then
        allowed[#allowed + 1] = node
      end
    end
    if #allowed == 0 then
      return nil, nil
    end
    local node = allowed[random(#allowed)]
    return node, self.key_of[node]
  end
  for attempt = 1, BALANCED_TRIES do
    local key = format("%s.%s.%s", ngx.now() + attempt, ngx.worker.pid(), random(999999))
    local node = self.ring:find(key)
    if not avoid[node] then
      return node, key
    end
  end
  return nil, nil
end

-- Whether the request's location is one the backend's cookie config lists for its host.
local function listed_location(self)
  local locations = self.config.locations
  if not locations then
    return false
  end
  local host = ngx.var.host
  if ngx.var.server_name == "_" then
    host = "_"
  end
  local paths = locations[host]
  if paths == nil then
    local wildcard = host:gsub("^[^.]+%.", "*.", 1)
    paths = locations[wildcard]
  end
  if paths == nil then
    return false
  end
  local here = ngx.var.location_path
  for _, path in ipairs(paths) do
    if path == here then
      return true
    end
  end
  return false
end

local function set_cookie(self, key)
  local config = self.config
  local same_site = config.samesite
  if same_site and config.conditional_samesite_none and same_site == "None"
      and not cookie.same_site_none_ok(ngx.var.http_user_agent) then
    same_site = nil
  end
  local secure = config.secure
  if secure == nil then
    secure = ngx.var.https == "on"
  end
  local expires, max_age, domain
  if config.expires and config.expires ~= "" then
    expires = ngx.cookie_time(ngx.time() + tonumber(config.expires))
  end
  if config.maxage and config.maxage ~= "" then
    max_age = tonumber(config.maxage)
  end
  if config.domain and config.domain ~= "" then
    domain = config.domain
  end
  cookie.set({
    key = self:cookie_name(),
    value = key .. DELIMITER .. self.backend_key,
    expires = expires,
    max_age = max_age,
    domain = domain,
    path = config.path or ngx.var.location_path,
    secure = secure,
    httponly = true,
    samesite = same_site,
  })
end

function _M.balance(self)
  local key = parsed(self)
  local from_cookie = key and find(self, key)
  local failed_before = ngx_balancer.get_last_failure() ~= nil
  if from_cookie and not (failed_before and self.config.change_on_failure) then
    return from_cookie
  end
  local node, new_key = draw(self, tried())
  if node and listed_location(self) then
    set_cookie(self, new_key)
  end
  return node
end

return _M
