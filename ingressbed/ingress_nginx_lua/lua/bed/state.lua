-- What is posted and what each worker applied, in the shared dict `bed_configuration`.
--
--   posted      "<generation>\n<backends JSON>": the last post, in one value so that a
--               worker never pairs one post's JSON with another post's generation
--   posted_at   the post's time in whole seconds (the sync compares these)
--   generation  a counter: one more per post
--   worker:<config generation>:<worker id>
--               "<pid> <post generation applied> <its posted_at>", written at worker start
--               and after every sync; keyed by the nginx.conf generation, so a worker of
--               the configuration before a reload never overwrites a current one's record
--   ticks:<config generation>:<worker id>
--               how many times the worker's 1 s sync timer ran (a test waits for ticks to
--               show that a post was seen and still not applied)

local ngx = ngx
local tonumber = tonumber
local format = string.format

local _M = {}

local config_generation = 0

local function dict()
  return ngx.shared.bed_configuration
end

local function worker_key(generation, id)
  return format("worker:%d:%d", generation, id)
end

--- Store a post; returns its generation.
function _M.store(body)
  local shared = dict()
  local generation = shared:incr("generation", 1, 0)
  local ok, err = shared:set("posted", generation .. "\n" .. body)
  if not ok then
    return nil, err
  end
  ngx.update_time()
  ok, err = shared:set("posted_at", ngx.time())
  if not ok then
    return nil, err
  end
  return generation
end

--- The time of the last post (1 when nothing was posted, as the controller's default).
function _M.posted_at()
  return dict():get("posted_at") or 1
end

--- The last post: its generation and JSON text (nil, nil when nothing was posted).
function _M.posted()
  local blob = dict():get("posted")
  if not blob then
    return nil, nil
  end
  local newline = blob:find("\n", 1, true)
  return tonumber(blob:sub(1, newline - 1)), blob:sub(newline + 1)
end

--- One more run of this worker's sync timer.
function _M.tick()
  dict():incr(format("ticks:%d:%d", config_generation, ngx.worker.id()), 1, 0)
end

function _M.register(generation)
  config_generation = generation
  _M.record_sync(0, 0)
end

function _M.record_sync(generation, posted_at)
  local value = format("%d %d %d", ngx.worker.pid(), generation or 0, posted_at or 0)
  dict():set(worker_key(config_generation, ngx.worker.id()), value)
end

--- The sync state as a table: this configuration's generation, the last post, and per
--- worker of this configuration its pid and the post it applied.
function _M.report()
  local shared = dict()
  local posted_generation = _M.posted()
  local workers = {}
  for id = 0, ngx.worker.count() - 1 do
    local value = shared:get(worker_key(config_generation, id))
    local ticks = shared:get(format("ticks:%d:%d", config_generation, id)) or 0
    local entry = { id = id, ticks = ticks }
    if value then
      local pid, synced, synced_at = value:match("^(%d+) (%d+) (%d+)$")
      entry.pid, entry.synced, entry.synced_at = tonumber(pid), tonumber(synced), tonumber(synced_at)
    end
    workers[#workers + 1] = entry
  end
  return {
    config_generation = config_generation,
    posted = posted_generation or 0,
    posted_at = shared:get("posted_at") or 0,
    workers = workers,
  }
end

return _M
