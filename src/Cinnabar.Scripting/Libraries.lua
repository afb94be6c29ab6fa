-- The libraries Redis scripts rely on (cjson, cmsgpack, bit, struct), written for Cinnabar on
-- top of Lua 5.4's native bitwise operators and string.pack. Behaviour follows what scripts
-- observe from Redis 7.0's bundled versions.
local type, pairs, ipairs, next, tostring, tonumber, error, select = type, pairs, ipairs, next, tostring, tonumber, error, select
local format, byte, char, sub, concat = string.format, string.byte, string.char, string.sub, table.concat
local spack, sunpack, mtype, floor, huge = string.pack, string.unpack, math.type, math.floor, math.huge

---------------------------------------------------------------- bit (LuaBitOp semantics: 32-bit signed results)
local function tobit(x)
  x = floor(x) % 4294967296
  if x >= 2147483648 then x = x - 4294967296 end
  return x
end
local function u32(x) return floor(x) % 4294967296 end
local bit = {}
bit.tobit = function(x) return tobit(x) end
bit.bnot = function(x) return tobit(~u32(x)) end
bit.band = function(x, ...) local r = u32(x) for i = 1, select('#', ...) do r = r & u32((select(i, ...))) end return tobit(r) end
bit.bor = function(x, ...) local r = u32(x) for i = 1, select('#', ...) do r = r | u32((select(i, ...))) end return tobit(r) end
bit.bxor = function(x, ...) local r = u32(x) for i = 1, select('#', ...) do r = r ~ u32((select(i, ...))) end return tobit(r) end
bit.lshift = function(x, n) return tobit(u32(x) << (floor(n) & 31)) end
bit.rshift = function(x, n) return tobit(u32(x) >> (floor(n) & 31)) end
bit.arshift = function(x, n) return tobit(tobit(x) >> 0 == 0 and 0 or (tobit(x) // (1 << (floor(n) & 31)))) end
bit.rol = function(x, n) n = floor(n) & 31 local v = u32(x) return tobit(((v << n) | (v >> (32 - n))) & 0xffffffff) end
bit.ror = function(x, n) n = floor(n) & 31 local v = u32(x) return tobit(((v >> n) | (v << (32 - n))) & 0xffffffff) end
bit.bswap = function(x) local v = u32(x) return tobit(((v & 0xff) << 24) | ((v & 0xff00) << 8) | ((v >> 8) & 0xff00) | (v >> 24)) end
bit.tohex = function(x, n)
  n = n or 8
  local up = false
  if n < 0 then n = -n up = true end
  if n > 8 then n = 8 end
  local v = u32(x) & ((1 << (4 * n)) - 1)
  return format(up and ('%0' .. n .. 'X') or ('%0' .. n .. 'x'), v)
end
_G.bit = bit

---------------------------------------------------------------- cjson
local cjson = {}
local null = setmetatable({}, {__tostring = function() return 'null' end})
cjson.null = null
local escapes = {['"'] = '\\"', ['\\'] = '\\\\', ['/'] = '\\/', ['\b'] = '\\b', ['\f'] = '\\f', ['\n'] = '\\n', ['\r'] = '\\r', ['\t'] = '\\t'}
local function escape_str(s)
  return '"' .. s:gsub('[%c"\\/]', function(c) return escapes[c] or format('\\u%04x', byte(c)) end) .. '"'
end
local function fmt_number(n)
  if n ~= n or n == huge or n == -huge then error('Cannot serialise number: must not be NaN or Inf', 0) end
  if mtype(n) == 'integer' then return tostring(n) end
  return format('%.14g', n)
end
local encode_value
local function encode_table(t, depth, buf)
  if depth > 1000 then error('Cannot serialise, excessive nesting (1001)', 0) end
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
local function decode_error(what, i) error(format('Expected %s but found invalid token at character %d', what, i), 0) end
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
        if not cp then decode_error('value', j) end
        j = j + 6
        if cp >= 0xD800 and cp <= 0xDBFF and sub(s, j, j + 1) == '\\u' then
          local lo = tonumber(sub(s, j + 2, j + 5), 16)
          if lo and lo >= 0xDC00 and lo <= 0xDFFF then
            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00)
            j = j + 6
          end
        end
        out[#out + 1] = utf8.char(cp)
      else decode_error('value', j) end
    else
      out[#out + 1] = c
      j = j + 1
    end
  end
end
decode_value = function(s, i, depth)
  if depth > 1000 then error(format('Found too many nested data structures (%d) at character %d', depth, i), 0) end
  i = skip_ws(s, i)
  local c = sub(s, i, i)
  if c == '{' then
    local t = {}
    i = skip_ws(s, i + 1)
    if sub(s, i, i) == '}' then return t, i + 1 end
    while true do
      i = skip_ws(s, i)
      if sub(s, i, i) ~= '"' then decode_error('object key string', i) end
      local k
      k, i = decode_string(s, i)
      i = skip_ws(s, i)
      if sub(s, i, i) ~= ':' then decode_error('colon', i) end
      local v
      v, i = decode_value(s, i + 1, depth + 1)
      t[k] = v
      i = skip_ws(s, i)
      local d = sub(s, i, i)
      if d == '}' then return t, i + 1 end
      if d ~= ',' then decode_error('comma or object end', i) end
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
      if d ~= ',' then decode_error('comma or array end', i) end
      i = i + 1
    end
  elseif c == '"' then return decode_string(s, i)
  elseif sub(s, i, i + 3) == 'true' then return true, i + 4
  elseif sub(s, i, i + 4) == 'false' then return false, i + 5
  elseif sub(s, i, i + 3) == 'null' then return null, i + 4
  else
    local num = s:match('^-?%d+%.?%d*[eE]?[-+]?%d*', i)
    if not num or num == '' then decode_error('value', i) end
    local v = tonumber(num)
    if not v then decode_error('value', i) end
    if mtype(v) == 'integer' and (v > 2^53 or v < -2^53) then v = v + 0.0 end
    return v, i + #num
  end
end
cjson.decode = function(...)
  if select('#', ...) ~= 1 then error('bad argument #1 to \'decode\' (expected 1 argument)', 0) end
  local s = ...
  if type(s) ~= 'string' then error('bad argument #1 to \'decode\' (string expected, got ' .. type(s) .. ')', 0) end
  local v, i = decode_value(s, 1, 1)
  i = skip_ws(s, i)
  if i <= #s then decode_error('the end', i) end
  return v
end
cjson.encode_keep_buffer = function() end
cjson.encode_max_depth = function() end
cjson.decode_max_depth = function() end
cjson.encode_number_precision = function() end
cjson.encode_sparse_array = function() end
cjson.encode_invalid_numbers = function() end
cjson.decode_invalid_numbers = function() end
_G.cjson = cjson

---------------------------------------------------------------- cmsgpack
local cmsgpack = {}
local pack_value
local function is_array(t)
  local max, count = 0, 0
  for k in next, t do
    if type(k) ~= 'number' or k <= 0 or floor(k) ~= k then return false end
    if k > max then max = k end
    count = count + 1
  end
  return max == count
end
pack_value = function(v, buf, depth)
  local t = type(v)
  if v == nil then buf[#buf + 1] = '\xc0'
  elseif t == 'boolean' then buf[#buf + 1] = v and '\xc3' or '\xc2'
  elseif t == 'number' then
    if mtype(v) == 'integer' or (v == floor(v) and v >= -2^63 and v < 2^63) then
      local n = floor(v)
      if n >= 0 then
        if n < 128 then buf[#buf + 1] = char(n)
        elseif n < 256 then buf[#buf + 1] = '\xcc' .. char(n)
        elseif n < 65536 then buf[#buf + 1] = spack('>BI2', 0xcd, n)
        elseif n < 4294967296 then buf[#buf + 1] = spack('>BI4', 0xce, n)
        else buf[#buf + 1] = spack('>Bi8', 0xcf, n) end
      else
        if n >= -32 then buf[#buf + 1] = char(n & 0xff)
        elseif n >= -128 then buf[#buf + 1] = spack('>Bi1', 0xd0, n)
        elseif n >= -32768 then buf[#buf + 1] = spack('>Bi2', 0xd1, n)
        elseif n >= -2147483648 then buf[#buf + 1] = spack('>Bi4', 0xd2, n)
        else buf[#buf + 1] = spack('>Bi8', 0xd3, n) end
      end
    elseif spack('>f', v) and sunpack('>f', spack('>f', v)) == v then buf[#buf + 1] = spack('>Bf', 0xca, v)
    else buf[#buf + 1] = spack('>Bd', 0xcb, v) end
  elseif t == 'string' then
    local n = #v
    if n < 32 then buf[#buf + 1] = char(0xa0 | n)
    elseif n < 256 then buf[#buf + 1] = spack('>BI1', 0xd9, n)
    elseif n < 65536 then buf[#buf + 1] = spack('>BI2', 0xda, n)
    else buf[#buf + 1] = spack('>BI4', 0xdb, n) end
    buf[#buf + 1] = v
  elseif t == 'table' then
    if depth >= 16 then buf[#buf + 1] = '\xc0' return end
    if is_array(v) then
      local n = #v
      if n < 16 then buf[#buf + 1] = char(0x90 | n)
      elseif n < 65536 then buf[#buf + 1] = spack('>BI2', 0xdc, n)
      else buf[#buf + 1] = spack('>BI4', 0xdd, n) end
      for i = 1, n do pack_value(v[i], buf, depth + 1) end
    else
      local n = 0
      for _ in next, v do n = n + 1 end
      if n < 16 then buf[#buf + 1] = char(0x80 | n)
      elseif n < 65536 then buf[#buf + 1] = spack('>BI2', 0xde, n)
      else buf[#buf + 1] = spack('>BI4', 0xdf, n) end
      for k, val in next, v do pack_value(k, buf, depth + 1) pack_value(val, buf, depth + 1) end
    end
  else buf[#buf + 1] = '\xc0' end
end
cmsgpack.pack = function(...)
  local n = select('#', ...)
  if n == 0 then error('MessagePack pack needs input.', 0) end
  local buf = {}
  for i = 1, n do pack_value((select(i, ...)), buf, 0) end
  return concat(buf)
end
local unpack_value
local function unpack_n(s, i, n, is_map)
  local t = {}
  for k = 1, n do
    local key, v
    if is_map then
      key, i = unpack_value(s, i)
      v, i = unpack_value(s, i)
      if key ~= nil then t[key] = v end
    else
      v, i = unpack_value(s, i)
      t[k] = v
    end
  end
  return t, i
end
unpack_value = function(s, i)
  local c = byte(s, i)
  if c == nil then error('Missing bytes in input.', 0) end
  if c < 0x80 then return c, i + 1 end
  if c >= 0xe0 then return c - 256, i + 1 end
  if c >= 0xa0 and c <= 0xbf then local n = c & 0x1f return sub(s, i + 1, i + n), i + 1 + n end
  if c >= 0x90 and c <= 0x9f then return unpack_n(s, i + 1, c & 0x0f, false) end
  if c >= 0x80 and c <= 0x8f then return unpack_n(s, i + 1, c & 0x0f, true) end
  if c == 0xc0 then return nil, i + 1 end
  if c == 0xc2 then return false, i + 1 end
  if c == 0xc3 then return true, i + 1 end
  local fmts = {[0xcc] = '>I1', [0xcd] = '>I2', [0xce] = '>I4', [0xcf] = '>i8', [0xd0] = '>i1', [0xd1] = '>i2',
    [0xd2] = '>i4', [0xd3] = '>i8', [0xca] = '>f', [0xcb] = '>d'}
  if fmts[c] then return sunpack(fmts[c], s, i + 1) end
  local lens = {[0xd9] = '>I1', [0xda] = '>I2', [0xdb] = '>I4', [0xc4] = '>I1', [0xc5] = '>I2', [0xc6] = '>I4'}
  if lens[c] then
    local n, j = sunpack(lens[c], s, i + 1)
    return sub(s, j, j + n - 1), j + n
  end
  if c == 0xdc or c == 0xdd then local n, j = sunpack(c == 0xdc and '>I2' or '>I4', s, i + 1) return unpack_n(s, j, n, false) end
  if c == 0xde or c == 0xdf then local n, j = sunpack(c == 0xde and '>I2' or '>I4', s, i + 1) return unpack_n(s, j, n, true) end
  error('Bad data format in input.', 0)
end
local function unpack_all(s, limit, offset)
  local out, n, i = {}, 0, offset + 1
  while i <= #s and (limit == 0 or n < limit) do
    local v
    v, i = unpack_value(s, i)
    n = n + 1
    out[n] = v
  end
  return out, n, i - 1
end
cmsgpack.unpack = function(s)
  if type(s) ~= 'string' then error('MessagePack unpack needs a string.', 0) end
  local out, n = unpack_all(s, 0, 0)
  return table.unpack(out, 1, n)
end
cmsgpack.unpack_one = function(s, offset)
  local out, n, pos = unpack_all(s, 1, offset or 0)
  if pos >= #s then pos = -1 end
  return pos, table.unpack(out, 1, n)
end
cmsgpack.unpack_limit = function(s, limit, offset)
  local out, n, pos = unpack_all(s, limit, offset or 0)
  if pos >= #s then pos = -1 end
  return pos, table.unpack(out, 1, n)
end
_G.cmsgpack = cmsgpack

---------------------------------------------------------------- struct (Roberto Ierusalimschy's struct, on string.pack)
local struct = {}
-- struct's formats are close to string.pack's; translate the differences: 'l'/'L' are 8 bytes
-- on 64-bit Linux in both, 'c0' means "size from the previous number" in struct (unsupported).
local function translate(fmt) return (fmt:gsub('c0', 's4')) end
struct.pack = function(fmt, ...)
  local args = {...}
  for k, v in ipairs(args) do
    if mtype(v) == 'float' and v == floor(v) then args[k] = floor(v) end
  end
  return spack(translate(fmt), table.unpack(args, 1, select('#', ...)))
end
struct.unpack = function(fmt, s, pos) return sunpack(translate(fmt), s, pos) end
struct.size = function(fmt) return string.packsize(translate(fmt)) end
_G.struct = struct
