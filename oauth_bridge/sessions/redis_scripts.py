"""The Redis store's Lua scripts: one round trip each, so a session is never half-written.

Kept apart from :mod:`oauth_bridge.sessions.redis` so the store reads as the steps it takes; each
script's comment says its KEYS and ARGV.
"""

# Every session script declares its flags (Redis 7 "script flags"): one that only reads, expires
# or deletes is allow-oom, so signed-in users keep working when Redis is full; one that can grow
# memory has none, so Redis refuses it up front (OOM, a 503 here) before it writes anything.
# Each declares every key it touches in KEYS; the ones read from an index are passed in as read
# and the script compares the index first (false: it changed, read again and retry).

# KEYS[1] session key, KEYS[2] the marks zset; ARGV: now_ms, idle_ms, max_age_ms.
# One round trip per request: GET, the user's logout-everywhere mark, absolute age, slide.
LOAD_LUA = """#!lua flags=allow-oom
local v = redis.call('GET', KEYS[1])
if not v then return false end
local sep = string.find(v, ':', 1, true)
local created = sep and tonumber(string.sub(v, 1, sep - 1))
if not created then return v end
local left = created + tonumber(ARGV[3]) - tonumber(ARGV[1])
local tag = string.sub(v, sep + 1, sep + 32)
if string.sub(v, sep + 33, sep + 33) == ':' and string.match(tag, '^%x+$') and #tag == 32 then
  local mark = redis.call('ZSCORE', KEYS[2], tag)
  if mark and created <= tonumber(mark) then left = 0 end
end
if left <= 0 then
  redis.call('DEL', KEYS[1])
  return false
end
local ttl = tonumber(ARGV[2])
if left < ttl then ttl = left end
redis.call('PEXPIRE', KEYS[1], string.format('%d', ttl))
return v
"""

# Compare-and-set that keeps the TTL: re-sealing under a new key must never undo a refresh.
RESEAL_LUA = """#!lua
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('SET', KEYS[1], ARGV[2], 'KEEPTTL')
end
return false
"""

# KEYS[1] new session key, KEYS[2] user index, KEYS[3..] the indexed sessions' keys as read.
# ARGV: value, ttl_ms, deadline_ms, now_ms, index_ttl_ms, max_sessions, new id, indexed ids.
# Returns the ended sessions as a flat {id, value, ...} list.
CREATE_LUA = """#!lua
local members = redis.call('ZRANGE', KEYS[2], 0, -1)
if #members ~= #KEYS - 2 then return false end
for i, member in ipairs(members) do
  if member ~= ARGV[7 + i] then return false end
end
if redis.call('EXISTS', KEYS[1]) == 1 then return redis.error_reply('session id taken') end
local now = tonumber(ARGV[4])
local live = {}
for i = 3, #KEYS do
  local id = ARGV[5 + i]
  local value = redis.call('GET', KEYS[i])
  if value and tonumber(redis.call('ZSCORE', KEYS[2], id)) > now then
    live[#live + 1] = {KEYS[i], id, value}
  else
    redis.call('ZREM', KEYS[2], id)
  end
end
local ended = {}
for j = 1, #live - tonumber(ARGV[6]) + 1 do
  redis.call('DEL', live[j][1])
  redis.call('ZREM', KEYS[2], live[j][2])
  ended[#ended + 1] = live[j][2]
  ended[#ended + 1] = live[j][3]
end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[7])
redis.call('PEXPIRE', KEYS[2], ARGV[5])
return ended
"""

# KEYS[1] user index, KEYS[2] marks zset, KEYS[3..] the indexed sessions' keys as read.
# ARGV: now_ms, max_age_ms, user tag, indexed ids. Deletes first, then one mark per user
# (replaced, never added twice): bounded, and only a signed-in user can ask for it.
END_USER_LUA = """#!lua flags=allow-oom
local members = redis.call('ZRANGE', KEYS[1], 0, -1)
if #members ~= #KEYS - 2 then return false end
for i, member in ipairs(members) do
  if member ~= ARGV[3 + i] then return false end
end
local ended = {}
for i = 3, #KEYS do
  local value = redis.call('GET', KEYS[i])
  if value then
    ended[#ended + 1] = ARGV[1 + i]
    ended[#ended + 1] = value
  end
  redis.call('DEL', KEYS[i])
end
redis.call('DEL', KEYS[1])
local now = tonumber(ARGV[1])
local max_age = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', string.format('%d', now - max_age))
redis.call('ZADD', KEYS[2], ARGV[1], ARGV[3])
redis.call('PEXPIRE', KEYS[2], ARGV[2])
return ended
"""
