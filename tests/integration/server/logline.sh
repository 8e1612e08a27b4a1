#!/bin/bash
# The request log: exactly one JSON line per request, typed fields (numbers
# are numbers, an absent value is null), the facts an operator looks for
# (method, route, status, error code, rule, serial, device id, station,
# client address, latency), and no secret (bearer tokens, request bodies).
# usage: logline.sh BUILD
. "$(dirname "$0")/common.sh" "$1" logline
setup_with_policy || exit 1
cd "$DIR"
server_start "$DIR" || exit 1
log=$DIR/server.log

# 1. an enrollment that issues (201), 2. the same again (200 replay)
jq -n --arg k "$(cat "$VEC/keygen-csr-sectag17.txt")" '{keygen: $k}' >enroll.json
c=$(req POST /v1/enroll station.token enroll.json); [ "$c" = 201 ] || fail "enroll: HTTP $c"
serial=$(jf serial)
c=$(req POST /v1/enroll station.token enroll.json); [ "$c" = 200 ] || fail "replay: HTTP $c"
# 3. a policy refusal (403, rule cn_uuid)
jq -n --arg k "$(cat "$VEC/keygen-line-custom-cn.txt")" '{keygen: $k}' >custom.json
c=$(req POST /v1/enroll station.token custom.json); [ "$c" = 403 ] || fail "custom CN: HTTP $c"
# 4. a fetch by serial (operator), 5. no credential (401), 6. an unknown route (404)
c=$(req GET "/v1/certificates/$serial" operator.token); [ "$c" = 200 ] || fail "get: HTTP $c"
c=$(req GET /v1/certificates ""); [ "$c" = 401 ] || fail "no credential: HTTP $c"
c=$(req GET /v1/nothing-here ""); [ "$c" = 404 ] || fail "unknown route: HTTP $c"
server_stop   # flushes nothing: each line was written whole when its request completed

jq -c 'select(.event == "request")' "$log" >requests.jsonl 2>/dev/null || fail "the log is not JSON lines: $(head -3 "$log")"
[ "$(wc -l <requests.jsonl)" = 6 ] || fail "$(wc -l <requests.jsonl) request lines for 6 requests: $(cat requests.jsonl)"
line() { sed -n "${1}p" requests.jsonl; }
# every line: the same keys, each of its type
bad=$(jq -c 'select(
	(.method | type) != "string" or (.route | type) != "string" or (.status | type) != "number" or
	(.ms | type) != "number" or .ms < 0 or (.client | type) != "string" or
	([.error, .rule, .serial, .device_id, .station] | map(type) - ["string", "null"] | length) != 0)' requests.jsonl)
[ -z "$bad" ] || fail "lines with a field of the wrong type: $bad"
want() { # N jq-expression description
	[ "$(line "$1" | jq "$2")" = true ] || fail "request $1 ($3): $(line "$1")"
}
want 1 '.method == "POST" and .route == "enroll" and .status == 201 and .error == null and .rule == null' "issued"
want 1 ".serial == \"$serial\" and .device_id == \"50363154-3931-44f0-8022-121b6401627d\"" "serial and device"
want 1 '.station == "test-station" and .client == "127.0.0.1"' "station and client"
want 2 ".status == 200 and .serial == \"$serial\"" "replay"
want 3 '.status == 403 and .error == "policy_denied" and .rule == "cn_uuid" and .serial == null' "refusal"
want 4 ".method == \"GET\" and .route == \"certificate\" and .status == 200 and .serial == \"$serial\"" "fetch"
want 4 '.station == null' "an operator is no station"
want 5 '.status == 401 and .error == "unauthorized" and .station == null' "no credential"
want 6 '.status == 404 and .error == "not_found" and .route == "unknown"' "unknown route"
# no secret: no bearer token, no request body
for t in station operator; do
	grep -qF "$(cat "$t.token")" "$log" && fail "the $t bearer token is in the log"
done
grep -q 'Bearer' "$log" && fail "an Authorization header is in the log"
grep -qF "$(cut -c1-40 "$VEC/keygen-csr-sectag17.txt")" "$log" && fail "the request body is in the log"
finish
