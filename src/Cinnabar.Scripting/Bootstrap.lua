-- Cinnabar's Lua 5.1 environment setup (our own code). Runs once per Lua state with the full
-- standard library, receives the C# entry points, builds the `redis` table, then hides
-- everything unsafe behind read-only proxies (Redis 7.0 makes its globals and library tables
-- read-only with a patched Lua; stock 5.1 needs proxies and guarded raw functions instead).
local cs, functions_mode = ...
local rawget, rawset, error, type, select, tostring, setmetatable, getmetatable, next, pairs, ipairs =
  rawget, rawset, error, type, select, tostring, setmetatable, getmetatable, next, pairs, ipairs
local setfenv, loadstring, load, pcall, unpack = setfenv, loadstring, load, pcall, unpack
local getinfo, sethook, gethook, getlocal = debug.getinfo, debug.sethook, debug.gethook, debug.getlocal
local cocreate, cowrap = coroutine.create, coroutine.wrap
local G = _G
local READONLY = 'Attempt to modify a readonly table'

-- proxy -> the table it protects
local protected = setmetatable({}, {__mode = 'k'})
local function readonly(t, strict)
  local proxy = {}
  local index = t
  if strict then
    index = function(_, k)
      local v = t[k]
      if v == nil then error("Script attempted to access nonexistent global variable '" .. tostring(k) .. "'", 2) end
      return v
    end
  end
  local mt = {
    __index = index,
    __newindex = function() error(READONLY, 2) end,
  }
  mt.__metatable = mt
  setmetatable(proxy, mt)
  protected[proxy] = t
  protected[mt] = mt
  return proxy
end

local redis = {}

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
-- The Lua debugger's functions (LuaDebugger.cs): no-ops outside a debugging session.
redis.breakpoint = cs.breakpoint
redis.debug = cs.debug

-- Globals scripts may use (Redis 7.0.15's allow list; newproxy is not reachable there either).
local safe = {}
for _, name in ipairs({'assert', 'collectgarbage', 'getmetatable', 'ipairs', 'next', 'pairs', 'pcall', 'rawequal',
  'rawget', 'rawset', 'select', 'setmetatable', 'tonumber', 'tostring', 'type', 'xpcall', 'unpack',
  'error', 'gcinfo', '_VERSION', 'loadstring', 'load'}) do
  safe[name] = G[name]
end
local libs = {}
for _, lib in ipairs({'string', 'table', 'math', 'coroutine', 'cjson', 'bit', 'cmsgpack', 'struct'}) do
  libs[lib] = readonly(G[lib])
  safe[lib] = libs[lib]
end
safe.redis = readonly(redis)

-- The string metatable: scripts see a read-only view whose __index is the read-only string library.
do
  local smt = getmetatable('')
  smt.__metatable = readonly({__index = libs.string})
end

-- Raw functions must not write through (or read around) a read-only proxy.
safe.rawset = function(t, k, v)
  if protected[t] then error(READONLY, 0) end
  return rawset(t, k, v)
end
safe.rawget = function(t, k)
  local real = protected[t]
  if real then return rawget(real, k) end
  return rawget(t, k)
end
safe.setmetatable = function(t, mt)
  if protected[t] then error(READONLY, 0) end
  return setmetatable(t, mt)
end
safe.next = function(t, k)
  local real = protected[t]
  if real then return next(real, k) end
  return next(t, k)
end
safe.pairs = function(t)
  local real = protected[t]
  if real then return next, real, nil end
  return pairs(t)
end
safe.ipairs = function(t)
  local real = protected[t]
  if real then return ipairs(real) end
  return ipairs(t)
end

for _, name in ipairs({'rawset', 'rawget', 'setmetatable', 'next', 'pairs', 'ipairs'}) do
  safe[name] = cs.wrap(safe[name])
end

local proxy
local current = safe
local user_sources = {['@user_script'] = true, ['@user_function'] = true}

-- Chunks are parsed as text only (Redis disables bytecode loading).
local function text_only(s)
  if cs.is_bytecode(s) then return ' ' .. s end
  return s
end
safe.loadstring = function(s, name)
  if type(s) ~= 'string' and type(s) ~= 'number' then return loadstring(s, name) end
  s = tostring(s)
  local f, err = loadstring(text_only(s), name or s)
  if f then setfenv(f, proxy) end
  return f, err
end
safe.load = function(fn, name)
  if type(fn) ~= 'function' then return load(fn, name) end
  local parts = {}
  while true do
    local piece = fn()
    if piece == nil or piece == '' then break end
    if type(piece) ~= 'string' then return nil, 'reader function must return a string' end
    parts[#parts + 1] = piece
  end
  local f, err = loadstring(text_only(table.concat(parts)), name or '=(load)')
  if f then setfenv(f, proxy) end
  return f, err
end
safe.loadstring = cs.wrap(safe.loadstring)
safe.load = cs.wrap(safe.load)

local hook_fn, hook_mask, hook_count
-- Coroutines get the count hook too (Lua 5.1 hooks set from Lua are per thread).
local function rehook(co)
  if hook_fn then sethook(co, hook_fn, hook_mask, hook_count) end
  return co
end
safe.coroutine = readonly(setmetatable({
  create = function(f) return rehook(cocreate(f)) end,
  wrap = function(f)
    local co = rehook(cocreate(f))
    return function(...)
      local r = {coroutine.resume(co, ...)}
      if not r[1] then error(r[2], 2) end
      return unpack(r, 2, table.maxn(r))
    end
  end,
}, {__index = coroutine}))
libs.coroutine = safe.coroutine

local globals_mt = {
  __index = function(_, k)
    local v = current[k]
    if v == nil then error("Script attempted to access nonexistent global variable '" .. tostring(k) .. "'", 2) end
    return v
  end,
  __newindex = function() error(READONLY, 2) end,
}
globals_mt.__metatable = readonly(globals_mt)
proxy = setmetatable({}, globals_mt)
protected[proxy] = setmetatable({}, {__index = function(_, k) return current[k] end})
safe._G = proxy

-- FUNCTION LOAD runs a library's body with only register_function and log available.
local registered
local load_env
if functions_mode then
  local fredis = {}
  -- Only register_function, log and the version fields (luaEngineInitEngine): any other field,
  -- setresp included, is a "nonexistent global variable" there.
  for _, k in ipairs({'log', 'LOG_DEBUG', 'LOG_VERBOSE', 'LOG_NOTICE', 'LOG_WARNING', 'REDIS_VERSION', 'REDIS_VERSION_NUM'}) do
    fredis[k] = redis[k]
  end
  local known_flags = {['no-writes'] = true, ['allow-oom'] = true, ['allow-stale'] = true, ['no-cluster'] = true, ['allow-cross-slot-keys'] = true}
  -- lua_isstring: a string or a number (then converted).
  local function as_string(v)
    local t = type(v)
    if t == 'string' then return v end
    if t == 'number' then return tostring(v) end
    return nil
  end
  local function read_flags(flags)
    local fl = {}
    local j = 1
    while true do
      local f = flags[j]
      if f == nil then break end
      f = as_string(f)
      if f == nil or not known_flags[f:lower()] then error('unknown flag given', 0) end
      fl[#fl + 1] = f:lower()
      j = j + 1
    end
    return fl
  end
  -- luaRegisterFunctionReadNamedArgs: keys are matched without case, in the table's order.
  local function named_args(t)
    if type(t) ~= 'table' then
      error('calling redis.register_function with a single argument is only applicable to Lua table (representing named arguments).', 0)
    end
    local name, callback, flags, description
    for k, v in next, t do
      if type(k) ~= 'string' and type(k) ~= 'number' then error('named argument key given to redis.register_function is not a string', 0) end
      local key = tostring(k):lower()
      if key == 'function_name' then
        name = as_string(v)
        if name == nil then error('function_name argument given to redis.register_function must be a string', 0) end
      elseif key == 'description' then
        description = as_string(v)
        if description == nil then error('description argument given to redis.register_function must be a string', 0) end
      elseif key == 'callback' then
        if type(v) ~= 'function' then error('callback argument given to redis.register_function must be a function', 0) end
        callback = v
      elseif key == 'flags' then
        if type(v) ~= 'table' then error('flags argument to redis.register_function must be a table representing function flags', 0) end
        flags = read_flags(v)
      else
        error('unknown argument given to redis.register_function', 0)
      end
    end
    if name == nil then error('redis.register_function must get a function name argument', 0) end
    if callback == nil then error('redis.register_function must get a callback argument', 0) end
    return name, callback, flags or {}, description
  end
  fredis.register_function = function(...)
    -- A reference kept past FUNCTION LOAD cannot register anything later.
    if registered == nil then error('redis.register_function can only be called on FUNCTION LOAD command', 0) end
    local n = select('#', ...)
    local name, callback, flags, description
    if n == 1 then
      name, callback, flags, description = named_args((...))
    elseif n == 2 then
      local a, b = ...
      name = as_string(a)
      if name == nil then error('first argument to redis.register_function must be a string', 0) end
      if type(b) ~= 'function' then error('second argument to redis.register_function must be a function', 0) end
      callback, flags = b, {}
    else
      error('wrong number of arguments to redis.register_function', 0)
    end
    if #name == 0 or name:find('[^%w_]') then
      error('Library names can only contain letters, numbers, or underscores(_) and must be at least one character long', 0)
    end
    for _, r in ipairs(registered) do
      if r.name == name then error('Function already exists in the library', 0) end
    end
    registered[#registered + 1] = {name = name, callback = callback, flags = flags, description = description}
  end
  -- Redis 7.0.15 runs a library's body with nothing but the redis API in its globals (string,
  -- pairs, error, tostring... are all "nonexistent global variable" there: checked live).
  load_env = {redis = readonly(fredis, true)}
end

-- Turns any error into Redis's error table {err=..., source=..., line=...}: the source and
-- line are those of the innermost frame running user code.
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
  if type(e) == 'table' then
    local msg = rawget(e, 'err')
    if type(msg) ~= 'string' then msg = 'ERR ' .. tostring(msg) end
    -- The mark a redis.call error carries (its statistics are already counted) is kept, as
    -- Redis's handler keeps the whole table.
    return {err = msg, source = source, line = line, ignore_error_stats_update = rawget(e, 'ignore_error_stats_update')}
  end
  return {err = 'ERR ' .. tostring(e), source = source, line = line}
end

-- Checked every 100k instructions: lets SCRIPT KILL stop a busy script. After a kill the hook
-- fires on every line so a pcall in the script cannot swallow it.
local rcheck = cs.check
local killed_msg
local function killer() error({err = killed_msg}, 0) end
local function on_count()
  local m = rcheck()
  if m then
    killed_msg = m
    hook_fn, hook_mask, hook_count = killer, 'l', 0
    sethook(killer, 'l')
    error({err = m}, 0)
  end
end
local function arm_hook()
  hook_fn, hook_mask, hook_count = on_count, '', 100000
  sethook(on_count, '', 100000)
end
arm_hook()

-- C# functions cannot raise (a longjmp across managed frames is unsafe): they store the error
-- and arm a return hook that raises it as soon as the C# function returns to the script.
local pending, pending_level
local function pending_hook()
  local info = getinfo(2, 'f')
  if pending ~= nil and info and info.func ~= sethook and getinfo(2, 'S').what == 'C' then
    local e, level = pending, pending_level
    pending = nil
    sethook(hook_fn, hook_mask, hook_count)
    -- A library error names the caller's position, as Redis's Lua does for C functions.
    error(e, level)
  end
end
-- level 3 = the caller of the C# function (string errors only); 0 = raise e unchanged.
local function raise_on_return(e, level)
  pending = e
  pending_level = level or (type(e) == 'string' and 3 or 0)
  sethook(pending_hook, 'r')
end

-- The Lua debugger (SCRIPT DEBUG): a line hook (plus a count hook for endless loops) that hands
-- the script's lines to C#, which may stop there and serve debugger commands. Our own frames
-- (source '=cinnabar') are invisible to it, as Redis's C functions are.
local ldb_cb = cs.ldb_hook
local function ldb_hook(event)
  local info = getinfo(2, 'Sl')
  if not info or info.source == '=cinnabar' then return end
  local r = ldb_cb(event == 'count', info.currentline or -1, info.short_src:find('user_script', 1, true) ~= nil)
  if r then error({err = r}, 0) end
end

local api = {}
api.ldb_arm = function()
  hook_fn, hook_mask, hook_count = ldb_hook, 'l', 100000
  sethook(ldb_hook, 'l', 100000)
end
-- An error a C# function left to raise while hooks were off (debugger eval/redis): taken back here.
api.take_pending = function()
  local e = pending
  if e == nil then return nil end
  pending = nil
  sethook(hook_fn, hook_mask, hook_count)
  return e
end
api.get_global = function(k) return rawget(safe, k) end
-- The frames of the stopped script, innermost first: {user=, name=, line=, n=, names=, values=}.
api.ldb_frames = function(with_locals)
  local level = 2
  while true do
    local info = getinfo(level, 'f')
    if not info then return {} end
    if info.func == ldb_hook then break end
    level = level + 1
  end
  local frames = {}
  level = level + 1
  while true do
    local info = getinfo(level, 'Snl')
    if not info then break end
    if info.source ~= '=cinnabar' then
      local f = {user = info.short_src:find('user_script', 1, true) ~= nil, name = info.name, line = info.currentline,
        n = 0, names = {}, values = {}}
      if with_locals then
        local i = 1
        while true do
          local name, value = getlocal(level, i)
          if name == nil then break end
          f.names[i], f.values[i], f.n = name, value, i
          i = i + 1
        end
      end
      frames[#frames + 1] = f
    end
    level = level + 1
  end
  return frames
end
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
