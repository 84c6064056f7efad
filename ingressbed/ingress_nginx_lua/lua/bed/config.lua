-- The status listener's Lua handlers: the backends endpoint and the sync state.
--
--   POST /configuration/backends   store the body (the backends JSON, unchanged) -> 201
--                                  with {"generation": N}; 400 on an empty body
--   GET  /configuration/backends   the JSON held (204 when nothing was posted)
--   GET  /sync                     {"config_generation", "posted", "posted_at",
--                                   "workers": [{"id", "pid", "synced", "synced_at",
--                                                "ticks"}]}
-- The JSON is not checked here (the controller does not either): the bed checks it in
-- Python before posting, and a worker that cannot decode it logs and keeps what it had.

local cjson = require("cjson.safe")
local state = require("bed.state")

local ngx = ngx
local io = io

local _M = {}

local function body()
  ngx.req.read_body()
  local data = ngx.req.get_body_data()
  if data then
    return data
  end
  local path = ngx.req.get_body_file()
  if not path then
    return nil
  end
  local file = io.open(path, "rb")
  if not file then
    return nil
  end
  data = file:read("*a")
  file:close()
  return data
end

function _M.backends()
  local method = ngx.req.get_method()
  if method == "GET" then
    local _, text = state.posted()
    if not text then
      return ngx.exit(ngx.HTTP_NO_CONTENT)
    end
    ngx.header["Content-Type"] = "application/json"
    ngx.print(text)
    return
  end
  if method ~= "POST" then
    ngx.status = ngx.HTTP_BAD_REQUEST
    ngx.say("only POST and GET")
    return
  end
  local text = body()
  if not text or text == "" then
    ngx.status = ngx.HTTP_BAD_REQUEST
    ngx.say("empty body: post the backends JSON")
    return
  end
  local generation, err = state.store(text)
  if not generation then
    ngx.status = ngx.HTTP_INTERNAL_SERVER_ERROR
    ngx.say("could not store the backends: ", err)
    return
  end
  ngx.status = ngx.HTTP_CREATED
  ngx.header["Content-Type"] = "application/json"
  ngx.say(cjson.encode({ generation = generation }))
end

function _M.sync_state()
  ngx.header["Content-Type"] = "application/json"
  ngx.say(cjson.encode(state.report()))
end

--- Every worker's balancer algorithm per backend is per worker; this one's, for debugging.
function _M.balancers()
  ngx.header["Content-Type"] = "application/json"
  ngx.say(cjson.encode(require("bed.balancer").describe()))
end

return _M
