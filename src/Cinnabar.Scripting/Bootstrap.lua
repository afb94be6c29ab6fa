-- Cinnabar's Lua environment setup (our own code). Runs once per Lua state with the full
-- standard library, receives the C# entry points, builds the `redis` table and the Lua 5.1
-- compatibility shims, then hides everything unsafe behind a read-only globals proxy.
local cs, functions_mode = ...
local rawget, rawset, error, type, select, tostring, setmetatable, next = rawget, rawset, error, type, select, tostring, setmetatable, next
local getinfo, sethook = debug.getinfo, debug.sethook
local mathtype, format, concat = math.type, string.format, table.concat
local G = _G

local function readonly(t, strict)
  local index = t
  if strict then
    index = function(_, k)
      local v = t[k]
      if v == nil then error("Script attempted to access nonexistent global variable '" .. tostring(k) .. "'", 2) end
      return v
    end
  end
  return setmetatable({}, {
    __index = index,
    __newindex = function() error('Attempt to modify a readonly table', 2) end,
    __pairs = function() return next, t, nil end,
    __len = function() return #t end,
    __metatable = false,
  })
end

-- Lua 5.1 names scripts written for Redis use.
G.unpack = table.unpack
G.loadstring = nil
G.table.getn = function(t) return #t end
G.table.maxn = function(t) local m = 0 for k in next, t do if type(k) == 'number' and k > m then m = k end end return m end
G.math.pow = function(a, b) return a ^ b end
G.math.mod = math.fmod
G.math.ldexp = function(m, e) return m * 2.0 ^ e end
G.math.frexp = function(x)
  if x == 0 then return 0.0, 0 end
  local e = math.floor(math.log(math.abs(x), 2)) + 1
  local m = x / 2.0 ^ e
  if math.abs(m) >= 1 then m = m / 2 e = e + 1 end
  return m, e
end
G.string.gfind = string.gmatch
G.gcinfo = function() return math.floor(collectgarbage('count')) end
-- Every number is a double in Lua 5.1: tostring(3.0) is "3" there.
local rawtostring = tostring
G.tostring = function(v)
  if mathtype(v) == 'float' then return format('%.14g', v) end
  return rawtostring(v)
end
-- Lua 5.1's error() adds the position to numbers too.
local rawerror = error
G.error = function(m, level)
  if type(m) == 'number' then m = format('%.14g', m) end
  level = level or 1
  if level > 0 then level = level + 1 end
  return rawerror(m, level)
end

local redis = {}
local resp_env_current  -- set below: the table the globals proxy reads from

-- These are C# functions: a Lua wrapper would be tail-called by `return redis.call(...)` and
-- the user's frame (whose line Redis reports) would be gone when the error is raised.
for _, name in ipairs({'call', 'pcall', 'error_reply', 'status_reply', 'sha1hex', 'log', 'setresp', 'set_repl', 'acl_check_cmd'}) do
  redis[name] = cs[name]
end
redis.LOG_DEBUG, redis.LOG_VERBOSE, redis.LOG_NOTICE, redis.LOG_WARNING = 0, 1, 2, 3
redis.REPL_NONE, redis.REPL_AOF, redis.REPL_SLAVE, redis.REPL_REPLICA, redis.REPL_ALL = 0, 1, 2, 2, 3
redis.REDIS_VERSION = '7.0.15'
redis.REDIS_VERSION_NUM = 0x07000f
-- Redis 7.0 always replicates scripts by effects: this is a no-op that reports success.
redis.replicate_commands = function() return true end
redis.breakpoint = function() return false end
redis.debug = function() end

-- Globals scripts may use; everything else (os, io, debug, require, dofile, print ...) is gone.
local safe = {}
for _, name in ipairs({'assert', 'collectgarbage', 'getmetatable', 'ipairs', 'next', 'pairs', 'pcall', 'rawequal',
  'rawget', 'rawset', 'rawlen', 'select', 'setmetatable', 'tonumber', 'tostring', 'type', 'xpcall', 'unpack',
  'error', 'gcinfo', '_VERSION'}) do
  safe[name] = G[name]
end
for _, lib in ipairs({'string', 'table', 'math', 'coroutine', 'cjson', 'bit', 'cmsgpack', 'struct'}) do
  safe[lib] = readonly(G[lib])
end
safe._VERSION = 'Lua 5.1'
safe.redis = readonly(redis)

local proxy
local current = safe
local function load_in_sandbox(chunk, name, mode, env)
  if type(chunk) ~= 'string' and type(chunk) ~= 'function' then rawerror('bad argument #1 to load', 2) end
  return load(chunk, name, 't', env or proxy)
end
safe.load = load_in_sandbox
safe.loadstring = function(s, name) return load(s, name, 't', proxy) end

proxy = setmetatable({}, {
  __index = function(_, k)
    local v = current[k]
    if v == nil then rawerror("Script attempted to access nonexistent global variable '" .. rawtostring(k) .. "'", 2) end
    return v
  end,
  __newindex = function() rawerror('Attempt to modify a readonly table', 2) end,
  __pairs = function() return next, current, nil end,
  __metatable = false,
})
safe._G = proxy

-- FUNCTION LOAD runs a library's body with only register_function and log available.
local registered
local load_env
if functions_mode then
  local fredis = {}
  for _, k in ipairs({'log', 'setresp', 'LOG_DEBUG', 'LOG_VERBOSE', 'LOG_NOTICE', 'LOG_WARNING', 'REDIS_VERSION', 'REDIS_VERSION_NUM'}) do
    fredis[k] = redis[k]
  end
  local known_flags = {['no-writes'] = true, ['allow-oom'] = true, ['allow-stale'] = true, ['no-cluster'] = true, ['allow-cross-slot-keys'] = true}
  fredis.register_function = function(...)
    local n = select('#', ...)
    local name, callback, flags, description
    if n == 1 and type((...)) == 'table' then
      local t = ...
      for k, v in next, t do
        if k == 'function_name' then name = v
        elseif k == 'callback' then callback = v
        elseif k == 'flags' then flags = v
        elseif k == 'description' then description = v
        else rawerror('unknown argument given to redis.register_function', 0) end
      end
      if name == nil then rawerror('redis.register_function must get a function name argument', 0) end
      if callback == nil then rawerror('redis.register_function must get a callback argument', 0) end
    elseif n == 2 then
      name, callback = ...
    else
      rawerror('wrong number of arguments to redis.register_function', 0)
    end
    if type(name) ~= 'string' then rawerror('function_name argument given to redis.register_function must be a string', 0) end
    if type(callback) ~= 'function' then rawerror('callback argument given to redis.register_function must be a function', 0) end
    if description ~= nil and type(description) ~= 'string' then rawerror('description argument given to redis.register_function must be a string', 0) end
    if #name == 0 or name:find('[^%w_]') then
      rawerror('Library names can only contain letters, numbers, or underscores(_) and must be at least one character long', 0)
    end
    local fl = {}
    if flags ~= nil then
      if type(flags) ~= 'table' then rawerror('flags argument to redis.register_function must be a table representing function flags', 0) end
      for _, f in ipairs(flags) do
        if type(f) ~= 'string' or not known_flags[f] then rawerror('unknown flag given', 0) end
        fl[#fl + 1] = f
      end
    end
    for _, r in ipairs(registered) do
      if r.name == name then rawerror('Function already exists in the library', 0) end
    end
    registered[#registered + 1] = {name = name, callback = callback, flags = fl, description = description}
  end
  load_env = {redis = readonly(fredis, true), string = safe.string, math = safe.math, table = safe.table,
    cjson = safe.cjson, bit = safe.bit, cmsgpack = safe.cmsgpack, struct = safe.struct,
    pairs = pairs, ipairs = ipairs, type = type, tostring = safe.tostring, tonumber = tonumber, select = select,
    next = next, unpack = table.unpack, setmetatable = setmetatable, getmetatable = getmetatable,
    rawget = rawget, rawset = rawset, rawequal = rawequal, assert = assert}
end

-- Turns any error into Redis's error table {err=..., source=..., line=...}: the source and
-- line are those of the innermost frame running user code.
local user_sources = {['@user_script'] = true, ['@user_function'] = true}
local function error_handler(e)
  local source, line
  local level = 2
  while true do
    local info = getinfo(level, 'Sl')
    if not info then break end
    if user_sources[info.source] then
      source, line = info.source, info.currentline
      break
    end
    level = level + 1
  end
  local msg
  if type(e) == 'table' then
    msg = rawget(e, 'err')
    if type(msg) ~= 'string' then msg = 'ERR ' .. rawtostring(msg) end
  else
    msg = 'ERR ' .. rawtostring(e)
  end
  return {err = msg, source = source, line = line}
end

-- Checked every 100k instructions: lets SCRIPT KILL stop a busy script. After a kill the hook
-- fires on every line so a pcall in the script cannot swallow it.
local rcheck = cs.check
local killed_msg
local function on_count()
  local m = rcheck()
  if m then
    killed_msg = m
    sethook(function() rawerror({err = killed_msg}, 0) end, 'l')
    rawerror({err = m}, 0)
  end
end
local function arm_hook() sethook(on_count, '', 100000) end
arm_hook()

-- C# functions cannot raise (a longjmp across managed frames is unsafe): they store the error
-- and arm a return hook that raises it as soon as the C# function returns to the script.
local raisers = {}
for _, name in ipairs({'call', 'pcall', 'error_reply', 'status_reply', 'sha1hex', 'log', 'setresp', 'set_repl', 'acl_check_cmd'}) do
  raisers[cs[name]] = true
end
local pending
local function pending_hook()
  local info = getinfo(2, 'f')
  if info and raisers[info.func] then
    local e = pending
    pending = nil
    arm_hook()
    rawerror(e, 0)
  end
end
local function raise_on_return(e)
  pending = e
  sethook(pending_hook, 'r')
end

local api = {}
api.env = proxy
api.error_handler = error_handler
api.rearm = arm_hook
api.raise_on_return = raise_on_return
api.set_keys_args = function(keys, args) safe.KEYS = keys safe.ARGV = args end
api.begin_load = function()
  registered = {}
  current = load_env
end
api.end_load = function()
  current = safe
  local r = registered
  registered = nil
  return r
end
return api
