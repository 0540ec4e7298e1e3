-- wrk script for bench/lockout.sh: a brute force. Each request guesses a
-- fresh secret, half for the victim's client id and half for unknown ids,
-- from one of BENCH_ADDRS addresses (X-Forwarded-For; the server trusts
-- 127.0.0.1 as its proxy). BENCH_ROUND picks a fresh address range per run
-- so that every run starts with no locks. Paced by BENCH_DELAY_MS.
local victim = os.getenv("BENCH_VICTIM")
local naddr = tonumber(os.getenv("BENCH_ADDRS") or "200")
local round = tonumber(os.getenv("BENCH_ROUND") or "1")
local delay_ms = tonumber(os.getenv("BENCH_DELAY_MS") or "0")
local b64chars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
local n = 0
local threads = {}

local function base64(s)
	return ((s:gsub(".", function(x)
		local r, b = "", x:byte()
		for i = 8, 1, -1 do r = r .. (b % 2 ^ i - b % 2 ^ (i - 1) > 0 and "1" or "0") end
		return r
	end) .. "0000"):gsub("%d%d%d?%d?%d?%d?", function(x)
		if #x < 6 then return "" end
		local c = 0
		for i = 1, 6 do c = c + (x:sub(i, i) == "1" and 2 ^ (6 - i) or 0) end
		return b64chars:sub(c + 1, c + 1)
	end) .. ({ "", "==", "=" })[#s % 3 + 1])
end

function setup(thread)
	thread:set("id", #threads)
	table.insert(threads, thread)
end

function init(args)
	c401, c429, cother = 0, 0, 0
	math.randomseed(os.time() * 100 + id)
end

function request()
	n = n + 1
	local a = math.random(1, naddr)
	local addr = string.format("10.%d.%d.%d", round % 250, math.floor(a / 256) % 256, a % 256)
	local cid = victim
	if n % 2 == 0 then cid = "unknown-" .. math.random(1, 1000000) end
	local secret = string.format("guess-%d-%d", n, math.random(1, 1000000000))
	return wrk.format("POST", "/oauth/token", {
		["Authorization"] = "Basic " .. base64(cid .. ":" .. secret),
		["X-Forwarded-For"] = addr,
		["Content-Type"] = "application/x-www-form-urlencoded",
	}, "grant_type=client_credentials")
end

function delay()
	return delay_ms
end

function response(status, headers, body)
	if status == 401 then c401 = c401 + 1
	elseif status == 429 then c429 = c429 + 1
	else cother = cother + 1 end
end

function done(summary, latency, requests)
	local a, b, c = 0, 0, 0
	for _, t in ipairs(threads) do
		a = a + t:get("c401")
		b = b + t:get("c429")
		c = c + t:get("cother")
	end
	io.write(string.format("attack: %d requests, %d answered 401, %d answered 429, %d other\n",
		summary.requests, a, b, c))
end
