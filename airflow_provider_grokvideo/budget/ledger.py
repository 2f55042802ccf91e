"""The spend ledger's arithmetic: reserve, settle, release and expire, on one hash of text
fields per connection.  Pure: :func:`apply` (Python) and :data:`SCRIPT` (Lua, run atomically by
Redis) are twins, field for field and answer for answer (``tests/budget/test_ledger.py`` runs
the same operations through both and compares).

The hash holds, all money in integer ticks (1 USD = 10**10, as ``pricing``):

- ``spent:<period>``: what was settled in that period (``day:2026-12-07``, ``month:2026-12``);
- ``r:<id>``: a reservation, ``"<ticks> <expires> <period>,<period>"``: money that a request in
  flight (or a job whose bill is not known yet) may cost;
- ``s:<id>``: a settled reservation, the same format: what was counted, so that settling again
  (the billed cost after the estimate, a retry) corrects the count instead of adding to it.

A reservation lives ``lifetime`` seconds.  One that expires unsettled is counted as spent at its
estimate (the job may have been billed: never forget money), then kept as settled for another
lifetime, so that a late settlement corrects it rather than adds to it.

The arguments (the Lua script's ARGV, :func:`apply`'s ``args``): operation (``reserve``,
``settle``, ``release``, ``status``), id, ticks, now (epoch seconds), lifetime (seconds), alias
(``settle``: the id its settled marker is kept under, e.g. ``gen:<generation id>``; "" for the
same id), then pairs of (period, limit in ticks) of the periods ``now`` falls in.

Answers: ``reserve`` -> ``["reserved"|"held", ...]`` or ``["refused", period, limit, spent,
reserved]``; ``settle`` -> ``["settled"]``; ``release`` -> ``["released"|"none"]``; every answer
continues with (period, spent, reserved) for each period passed.
"""

from __future__ import annotations

from collections.abc import MutableMapping

#: Seconds the Redis hash lives after its last use: a month's spend must outlive the month.
HASH_EXPIRE_SECONDS = 40 * 86_400


def _parse(value: str) -> tuple[int, float, list[str]]:
    ticks, expires, periods = value.split(" ")
    return int(ticks), float(expires), [p for p in periods.split(",") if p]


def _entry(ticks: int, expires: float, periods: list[str]) -> str:
    return f"{ticks} {expires:.3f} {','.join(periods)}"


def apply(fields: MutableMapping[str, str], args: list[str]) -> list[str]:
    """Run one operation on ``fields`` (the hash, changed in place); the Lua twin's answer."""
    op, ident, ticks_text, now_text, lifetime_text, alias = args[:6]
    ticks = int(ticks_text or 0)
    now = float(now_text)
    lifetime = float(lifetime_text)
    pairs = args[6:]
    current = [pairs[i] for i in range(0, len(pairs), 2)]
    limits = [int(pairs[i + 1]) for i in range(0, len(pairs), 2)]

    def add(period: str, amount: int) -> None:
        key = "spent:" + period
        fields[key] = str(int(fields.get(key, "0")) + amount)

    # expire: a lapsed reservation is spent at its estimate; a lapsed settled marker goes
    for key in sorted(fields):
        value = fields[key]
        if key.startswith("r:"):
            t, expires, periods = _parse(value)
            if expires <= now:
                for period in periods:
                    add(period, t)
                del fields[key]
                fields["s:" + key[2:]] = _entry(t, now + lifetime, periods)
        elif key.startswith("s:") and _parse(value)[1] <= now:
            del fields[key]
    referenced = set(current)
    reserved = dict.fromkeys(current, 0)
    for key, value in fields.items():
        if key.startswith(("r:", "s:")):
            t, _, periods = _parse(value)
            referenced.update(periods)
            if key.startswith("r:"):
                for period in periods:
                    if period in reserved:
                        reserved[period] += t
    for key in [k for k in fields if k.startswith("spent:") and k[6:] not in referenced]:
        del fields[key]

    answer: list[str]
    if op == "reserve":
        if ("r:" + ident) in fields:
            answer = ["held", "", "", "", ""]
        else:
            answer = ["reserved", "", "", "", ""]
            for period, limit in zip(current, limits, strict=True):
                spent = int(fields.get("spent:" + period, "0"))
                if spent + reserved[period] + ticks > limit:
                    answer = ["refused", period, str(limit), str(spent), str(reserved[period])]
                    break
            if answer[0] == "reserved":
                fields["r:" + ident] = _entry(ticks, now + lifetime, current)
                fields.pop("s:" + ident, None)
                for period in current:
                    reserved[period] += ticks
    elif op == "settle":
        target = "s:" + (alias or ident)
        if ("r:" + ident) in fields:
            t, _, periods = _parse(fields.pop("r:" + ident))
            for period in periods:
                add(period, ticks)
                if period in reserved:
                    reserved[period] -= t
            fields[target] = _entry(ticks, now + lifetime, periods)
        elif target in fields:
            t, _, periods = _parse(fields[target])
            for period in periods:
                add(period, ticks - t)
            fields[target] = _entry(ticks, now + lifetime, periods)
        else:
            for period in current:
                add(period, ticks)
            fields[target] = _entry(ticks, now + lifetime, current)
        answer = ["settled"]
    elif op == "release":
        if ("r:" + ident) in fields:
            t, _, periods = _parse(fields.pop("r:" + ident))
            for period in periods:
                if period in reserved:
                    reserved[period] -= t
            answer = ["released"]
        else:
            answer = ["none"]
    else:
        answer = ["status"]
    for period in current:
        answer += [period, fields.get("spent:" + period, "0"), str(reserved[period])]
    return answer


SCRIPT = """
local key = KEYS[1]
local op, ident = ARGV[1], ARGV[2]
local ticks = tonumber(ARGV[3]) or 0
local now, lifetime, alias = tonumber(ARGV[4]), tonumber(ARGV[5]), ARGV[6]
local current, limits = {}, {}
for i = 7, #ARGV, 2 do
  current[#current + 1] = ARGV[i]
  limits[#limits + 1] = tonumber(ARGV[i + 1])
end
local function int(x) return string.format('%.0f', x) end
local function parse(v)
  local t, e, ps = string.match(v, '^(%S+) (%S+) (%S*)$')
  local periods = {}
  for p in string.gmatch(ps, '[^,]+') do periods[#periods + 1] = p end
  return tonumber(t), tonumber(e), periods
end
local function entry(t, e, periods)
  return int(t) .. ' ' .. string.format('%.3f', e) .. ' ' .. table.concat(periods, ',')
end
local function add(period, amount)
  local k = 'spent:' .. period
  redis.call('HSET', key, k, int((tonumber(redis.call('HGET', key, k)) or 0) + amount))
end

local all = redis.call('HGETALL', key)
local names = {}
for i = 1, #all, 2 do names[#names + 1] = all[i] end
table.sort(names)
for _, k in ipairs(names) do
  local v = redis.call('HGET', key, k)
  if v and string.sub(k, 1, 2) == 'r:' then
    local t, e, periods = parse(v)
    if e <= now then
      for _, p in ipairs(periods) do add(p, t) end
      redis.call('HDEL', key, k)
      redis.call('HSET', key, 's:' .. string.sub(k, 3), entry(t, now + lifetime, periods))
    end
  elseif v and string.sub(k, 1, 2) == 's:' then
    local _, e = parse(v)
    if e <= now then redis.call('HDEL', key, k) end
  end
end
local referenced, reserved = {}, {}
for _, p in ipairs(current) do referenced[p] = true; reserved[p] = 0 end
all = redis.call('HGETALL', key)
for i = 1, #all, 2 do
  local k, v = all[i], all[i + 1]
  local kind = string.sub(k, 1, 2)
  if kind == 'r:' or kind == 's:' then
    local t, _, periods = parse(v)
    for _, p in ipairs(periods) do
      referenced[p] = true
      if kind == 'r:' and reserved[p] ~= nil then reserved[p] = reserved[p] + t end
    end
  end
end
for i = 1, #all, 2 do
  local k = all[i]
  if string.sub(k, 1, 6) == 'spent:' and not referenced[string.sub(k, 7)] then
    redis.call('HDEL', key, k)
  end
end

local function spent_of(p) return tonumber(redis.call('HGET', key, 'spent:' .. p)) or 0 end
local answer
if op == 'reserve' then
  if redis.call('HEXISTS', key, 'r:' .. ident) == 1 then
    answer = {'held', '', '', '', ''}
  else
    answer = {'reserved', '', '', '', ''}
    for i, p in ipairs(current) do
      local spent = spent_of(p)
      if spent + reserved[p] + ticks > limits[i] then
        answer = {'refused', p, int(limits[i]), int(spent), int(reserved[p])}
        break
      end
    end
    if answer[1] == 'reserved' then
      redis.call('HSET', key, 'r:' .. ident, entry(ticks, now + lifetime, current))
      redis.call('HDEL', key, 's:' .. ident)
      for _, p in ipairs(current) do reserved[p] = reserved[p] + ticks end
    end
  end
elseif op == 'settle' then
  local target = 's:' .. ident
  if alias ~= '' then target = 's:' .. alias end
  local held = redis.call('HGET', key, 'r:' .. ident)
  local marker = redis.call('HGET', key, target)
  if held then
    local t, _, periods = parse(held)
    redis.call('HDEL', key, 'r:' .. ident)
    for _, p in ipairs(periods) do
      add(p, ticks)
      if reserved[p] ~= nil then reserved[p] = reserved[p] - t end
    end
    redis.call('HSET', key, target, entry(ticks, now + lifetime, periods))
  elseif marker then
    local t, _, periods = parse(marker)
    for _, p in ipairs(periods) do add(p, ticks - t) end
    redis.call('HSET', key, target, entry(ticks, now + lifetime, periods))
  else
    for _, p in ipairs(current) do add(p, ticks) end
    redis.call('HSET', key, target, entry(ticks, now + lifetime, current))
  end
  answer = {'settled'}
elseif op == 'release' then
  local held = redis.call('HGET', key, 'r:' .. ident)
  if held then
    local t, _, periods = parse(held)
    redis.call('HDEL', key, 'r:' .. ident)
    for _, p in ipairs(periods) do
      if reserved[p] ~= nil then reserved[p] = reserved[p] - t end
    end
    answer = {'released'}
  else
    answer = {'none'}
  end
else
  answer = {'status'}
end
for _, p in ipairs(current) do
  answer[#answer + 1] = p
  answer[#answer + 1] = int(spent_of(p))
  answer[#answer + 1] = int(reserved[p])
end
if redis.call('EXISTS', key) == 1 then redis.call('EXPIRE', key, EXPIRE_SECONDS) end
return answer
""".replace("EXPIRE_SECONDS", str(HASH_EXPIRE_SECONDS))
