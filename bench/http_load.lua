-- wrk script of bench/http_load.py: replays the requests bench/http_load.py prepared in a file.
--
--   wrk -t2 -c32 -d10s -s bench/http_load.lua http://127.0.0.1:8000 -- /tmp/requests.tsv
--
-- The file, one request a line, tab-separated:
--   weight  <group> <weight>                       -- how often a request of the group is picked
--   req     <group> <once> <method> <path> <header: value> <body>
-- A group whose `once` is 1 holds writes (create, an action on an order): each of its lines is
-- sent exactly once over the whole run (thread n takes lines n, n + threads, ...), so no two
-- requests act on the same order; when a thread has sent all of them the group drops out of
-- its mix, and when a thread has no group left it stops. Other groups are reads, replayed in
-- a loop. Each request is a user's: the header is its X-Session-Token or session cookie.
-- At the end one line `RESULT {json}` with the counts, latency percentiles and errors.

local threads = {}
local counter = 0

function setup(thread)
   thread:set("id", counter)
   counter = counter + 1
   table.insert(threads, thread)
end

local function split(line)
   local fields = {}
   for field in (line .. "\t"):gmatch("([^\t]*)\t") do
      table.insert(fields, field)
   end
   return fields
end

local groups, order, total_weight
local spent_request
statuses = {} -- global: done() reads it through thread:get
local stopping = false

function init(args)
   local path = args[1]
   local nthreads = tonumber(args[2] or "1")
   groups, order, total_weight = {}, {}, 0
   local seen = {}
   math.randomseed(os.time() + id * 7919)
   for line in io.lines(path) do
      local f = split(line)
      if f[1] == "weight" then
         local g = f[2]
         if not groups[g] then
            groups[g] = {reqs = {}, next = 1, weight = tonumber(f[3]), once = false}
            table.insert(order, g)
         end
      elseif f[1] == "req" then
         local g = groups[f[2]]
         g.once = f[3] == "1"
         seen[f[2]] = (seen[f[2]] or 0) + 1
         if not g.once or (seen[f[2]] - 1) % nthreads == id then
            local headers = {}
            if f[6] ~= "" then
               local name, value = f[6]:match("^([^:]+):%s*(.*)$")
               headers[name] = value
            end
            local body = nil
            if f[7] ~= "" then
               body = f[7]
               headers["Content-Type"] = "application/json"
            end
            table.insert(g.reqs, wrk.format(f[4], f[5], headers, body))
         end
      end
   end
   for _, name in ipairs(order) do
      local g = groups[name]
      if not g.once and #g.reqs > 0 then
         -- Threads start at different places of the loop, not all on the same order.
         g.next = (id * 7) % #g.reqs + 1
      end
      if #g.reqs > 0 then
         total_weight = total_weight + g.weight
      end
   end
   spent_request = wrk.format("GET", "/healthz")
end

local function pick()
   local r = math.random() * total_weight
   local last
   for _, name in ipairs(order) do
      local g = groups[name]
      if #g.reqs >= g.next or not g.once then
         if #g.reqs > 0 then
            last = g
            r = r - g.weight
            if r <= 0 then
               return g
            end
         end
      end
   end
   return last
end

function request()
   local g = pick()
   if g == nil then
      stopping = true
      return spent_request -- in flight while the thread stops; see response()
   end
   local req = g.reqs[g.next]
   g.next = g.next + 1
   if g.once and g.next > #g.reqs then
      total_weight = total_weight - g.weight
   elseif not g.once and g.next > #g.reqs then
      g.next = 1
   end
   if total_weight <= 0 then
      stopping = true
   end
   return req
end

function response(status, headers, body)
   local key = tostring(status)
   statuses[key] = (statuses[key] or 0) + 1
   if stopping then
      wrk.thread:stop()
   end
end

function done(summary, latency, requests)
   local merged = {}
   for _, thread in ipairs(threads) do
      local s = thread:get("statuses")
      for code, n in pairs(s) do
         merged[code] = (merged[code] or 0) + n
      end
   end
   local codes = {}
   for code, n in pairs(merged) do
      table.insert(codes, string.format('"%s": %d', code, n))
   end
   local e = summary.errors
   io.write(string.format(
      'RESULT {"requests": %d, "duration_us": %d, "bytes": %d, ' ..
      '"p50_us": %d, "p90_us": %d, "p95_us": %d, "p99_us": %d, "max_us": %d, "mean_us": %.1f, ' ..
      '"connect": %d, "read": %d, "write": %d, "status": %d, "timeout": %d, "statuses": {%s}}\n',
      summary.requests, summary.duration, summary.bytes,
      latency:percentile(50), latency:percentile(90), latency:percentile(95), latency:percentile(99),
      latency.max, latency.mean,
      e.connect, e.read, e.write, e.status, e.timeout, table.concat(codes, ", ")))
end
