-- The Lua libraries Redis scripts rely on. bit, struct and cmsgpack are C# functions (cs.*,
-- Lua 5.1 has no bitwise operators nor string.pack); cjson is written here in Lua 5.1.
-- Behaviour and error texts follow Redis 7.0's bundled versions.
local cs = ...
local type, pairs, ipairs, next, tostring, tonumber, error, select, pcall = type, pairs, ipairs, next, tostring, tonumber, error, select, pcall
local format, byte, char, sub, concat, floor, huge = string.format, string.byte, string.char, string.sub, table.concat, math.floor, math.huge

_G.bit = cs.bit
_G.struct = cs.struct
_G.cmsgpack = cs.cmsgpack
cs.cmsgpack._NAME = 'cmsgpack'
cs.cmsgpack._VERSION = 'lua-cmsgpack 0.4.0'
cs.cmsgpack._COPYRIGHT = 'Copyright (C) 2012, Salvatore Sanfilippo'
cs.cmsgpack._DESCRIPTION = 'MessagePack C implementation for Lua'

local function utf8_char(cp)
  if cp < 0x80 then return char(cp) end
  if cp < 0x800 then return char(0xC0 + floor(cp / 64), 0x80 + cp % 64) end
  if cp < 0x10000 then return char(0xE0 + floor(cp / 4096), 0x80 + floor(cp / 64) % 64, 0x80 + cp % 64) end
  return char(0xF0 + floor(cp / 262144), 0x80 + floor(cp / 4096) % 64, 0x80 + floor(cp / 64) % 64, 0x80 + cp % 64)
end

---------------------------------------------------------------- cjson
local cjson = {}
local null = cs.null()
cjson.null = null
local escapes = {['"'] = '\\"', ['\\'] = '\\\\', ['/'] = '\\/', ['\b'] = '\\b', ['\f'] = '\\f', ['\n'] = '\\n', ['\r'] = '\\r', ['\t'] = '\\t'}
local function escape_str(s)
  return '"' .. s:gsub('[%c"\\/]', function(c) return escapes[c] or format('\\u%04x', byte(c)) end) .. '"'
end
local cfg = {encode_max_depth = 1000, decode_max_depth = 1000, encode_invalid_numbers = false}
local function fmt_number(n)
  if n ~= n or n == huge or n == -huge then
    if cfg.encode_invalid_numbers == 'null' then return 'null' end
    if not cfg.encode_invalid_numbers then error('Cannot serialise number: must not be NaN or Inf', 0) end
  end
  return format('%.14g', n)
end
local encode_value
local function encode_table(t, depth, buf)
  if depth + 1 > cfg.encode_max_depth then error(format('Cannot serialise, excessive nesting (%d)', depth + 1), 0) end
  local max, count, is_array = 0, 0, true
  for k in next, t do
    if type(k) == 'number' and k > 0 and floor(k) == k then
      if k > max then max = k end
      count = count + 1
    else
      is_array = false
      break
    end
  end
  if is_array and max > 0 and max > count * 2 and max > 10 then
    error('Cannot serialise table: excessively sparse array', 0)
  end
  if is_array and max > 0 then
    buf[#buf + 1] = '['
    for i = 1, max do
      if i > 1 then buf[#buf + 1] = ',' end
      encode_value(t[i], depth + 1, buf)
    end
    buf[#buf + 1] = ']'
  else
    buf[#buf + 1] = '{'
    local first = true
    for k, v in next, t do
      local kt = type(k)
      if kt ~= 'string' and kt ~= 'number' then error('Cannot serialise ' .. kt .. ': table key must be a number or string', 0) end
      if not first then buf[#buf + 1] = ',' end
      first = false
      buf[#buf + 1] = escape_str(kt == 'number' and fmt_number(k) or k)
      buf[#buf + 1] = ':'
      encode_value(v, depth + 1, buf)
    end
    buf[#buf + 1] = '}'
  end
end
encode_value = function(v, depth, buf)
  local t = type(v)
  if v == null or v == nil then buf[#buf + 1] = 'null'
  elseif t == 'boolean' then buf[#buf + 1] = v and 'true' or 'false'
  elseif t == 'number' then buf[#buf + 1] = fmt_number(v)
  elseif t == 'string' then buf[#buf + 1] = escape_str(v)
  elseif t == 'table' then encode_table(v, depth, buf)
  else error('Cannot serialise ' .. t .. ': type not supported', 0) end
end
cjson.encode = function(...)
  if select('#', ...) ~= 1 then error('bad argument #1 to \'encode\' (expected 1 argument)', 0) end
  local buf = {}
  encode_value((...), 0, buf)
  return concat(buf)
end

local decode_value
local function skip_ws(s, i)
  local _, e = s:find('^[ \t\r\n]*', i)
  return e + 1
end
local token_names = {['{'] = 'T_OBJ_BEGIN', ['}'] = 'T_OBJ_END', ['['] = 'T_ARR_BEGIN', [']'] = 'T_ARR_END',
  ['"'] = 'T_STRING', [':'] = 'T_COLON', [','] = 'T_COMMA', [''] = 'T_END'}
local function token_at(s, i)
  local c = sub(s, i, i)
  if token_names[c] then return token_names[c] end
  if c:find('[%d%-]') then
    if s:find('^-?%d+%.?%d*[eE]?[-+]?%d*', i) then return 'T_NUMBER' end
    return 'invalid number'
  end
  if sub(s, i, i + 3) == 'true' or sub(s, i, i + 4) == 'false' then return 'T_BOOLEAN' end
  if sub(s, i, i + 3) == 'null' then return 'T_NULL' end
  return 'invalid token'
end
local function decode_error(what, i, s) error(format('Expected %s but found %s at character %d', what, s and token_at(s, i) or 'invalid token', i), 0) end
local function decode_string(s, i)
  local out, j = {}, i + 1
  while true do
    local c = sub(s, j, j)
    if c == '' then error(format('Expected value but found unexpected end of string at character %d', j), 0) end
    if c == '"' then return concat(out), j + 1 end
    if c == '\\' then
      local e = sub(s, j + 1, j + 1)
      local map = {['"'] = '"', ['\\'] = '\\', ['/'] = '/', b = '\b', f = '\f', n = '\n', r = '\r', t = '\t'}
      if map[e] then out[#out + 1] = map[e] j = j + 2
      elseif e == 'u' then
        local cp = tonumber(sub(s, j + 2, j + 5), 16)
        if not cp then error(format('Expected value but found invalid unicode escape code at character %d', i), 0) end
        j = j + 6
        if cp >= 0xD800 and cp <= 0xDBFF and sub(s, j, j + 1) == '\\u' then
          local lo = tonumber(sub(s, j + 2, j + 5), 16)
          if lo and lo >= 0xDC00 and lo <= 0xDFFF then
            cp = 0x10000 + (cp - 0xD800) * 1024 + (lo - 0xDC00)
            j = j + 6
          end
        end
        out[#out + 1] = utf8_char(cp)
      else error(format('Expected value but found invalid escape code at character %d', i), 0) end
    else
      out[#out + 1] = c
      j = j + 1
    end
  end
end
decode_value = function(s, i, depth)
  i = skip_ws(s, i)
  local c = sub(s, i, i)
  if (c == '{' or c == '[') and depth > cfg.decode_max_depth then
    error(format('Found too many nested data structures (%d) at character %d', depth, i), 0)
  end
  if c == '{' then
    local t = {}
    i = skip_ws(s, i + 1)
    if sub(s, i, i) == '}' then return t, i + 1 end
    while true do
      i = skip_ws(s, i)
      if sub(s, i, i) ~= '"' then decode_error('object key string', i, s) end
      local k
      k, i = decode_string(s, i)
      i = skip_ws(s, i)
      if sub(s, i, i) ~= ':' then decode_error('colon', i, s) end
      local v
      v, i = decode_value(s, i + 1, depth + 1)
      t[k] = v
      i = skip_ws(s, i)
      local d = sub(s, i, i)
      if d == '}' then return t, i + 1 end
      if d ~= ',' then decode_error('comma or object end', i, s) end
      i = i + 1
    end
  elseif c == '[' then
    local t, n = {}, 0
    i = skip_ws(s, i + 1)
    if sub(s, i, i) == ']' then return t, i + 1 end
    while true do
      local v
      v, i = decode_value(s, i, depth + 1)
      n = n + 1
      t[n] = v
      i = skip_ws(s, i)
      local d = sub(s, i, i)
      if d == ']' then return t, i + 1 end
      if d ~= ',' then decode_error('comma or array end', i, s) end
      i = i + 1
    end
  elseif c == '"' then return decode_string(s, i)
  elseif sub(s, i, i + 3) == 'true' then return true, i + 4
  elseif sub(s, i, i + 4) == 'false' then return false, i + 5
  elseif sub(s, i, i + 3) == 'null' then return null, i + 4
  else
    local num = s:match('^-?%d+%.?%d*[eE]?[-+]?%d*', i)
    if not num or num == '' then decode_error('value', i, s) end
    local v = tonumber(num)
    if not v then decode_error('value', i, s) end
    return v, i + #num
  end
end
cjson.decode = function(...)
  if select('#', ...) ~= 1 then error('bad argument #1 to \'decode\' (expected 1 argument)', 0) end
  local s = ...
  if type(s) ~= 'string' then error('bad argument #1 to \'decode\' (string expected, got ' .. type(s) .. ')', 0) end
  local v, i = decode_value(s, 1, 1)
  i = skip_ws(s, i)
  if i <= #s then decode_error('the end', i, s) end
  return v
end
cjson.encode_keep_buffer = function() return true end
local function depth_setting(name)
  return function(n)
    if n ~= nil then
      n = tonumber(n)
      if not n or n < 1 or n ~= floor(n) then error("bad argument #1 to '" .. name .. "' (expected integer between 1 and 2147483647)", 0) end
      cfg[name] = n
    end
    return cfg[name]
  end
end
cjson.encode_max_depth = depth_setting('encode_max_depth')
cjson.decode_max_depth = depth_setting('decode_max_depth')
cjson.encode_number_precision = function() return 14 end
cjson.encode_sparse_array = function() return false, 2, 10 end
cjson.encode_invalid_numbers = function(v)
  if v ~= nil then cfg.encode_invalid_numbers = v end
  return cfg.encode_invalid_numbers
end
cjson.decode_invalid_numbers = function() return true end
cjson._NAME = 'cjson'
cjson._VERSION = '2.1.0'
cjson.new = function() return cjson end
_G.cjson = cjson


-- Errors name the user's position, as Redis's Lua does for its C libraries; exposed as C
-- functions (cs.wrap) so that a tail call keeps the user's frame.
local getinfo = debug.getinfo
-- Levels: 1 where, 2 the function below, 3 the C closure made by cs.wrap, 4 its caller.
local function where()
  local info = getinfo(4, 'Sl')
  if info and info.what ~= 'C' and info.currentline > 0 then return info.short_src .. ':' .. info.currentline .. ': ' end
  return ''
end
for _, name in ipairs({'encode', 'decode'}) do
  local raw = cjson[name]
  cjson[name] = cs.wrap(function(...)
    local ok, r = pcall(raw, ...)
    if not ok then
      if type(r) == 'string' then error(where() .. r, 0) end
      error(r, 0)
    end
    return r
  end)
end
