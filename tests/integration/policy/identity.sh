#!/bin/bash
# "attestation": {"verify_with": "nrf-cloud-identity"}: nrfca-server asks a
# local stand-in of nRF Cloud's Identity Service (tests/integration/policy/
# identity_standin.c, loopback) before it signs.  Genuine, forged (another
# identity key over the same UUID), unknown device, timeout, 5xx; the cache
# (a replay and a retry do not ask again), fail-closed 503 with Retry-After
# and the back-off, on_unavailable "issue", the metric, the API key kept out
# of the log, and the start-up refusals (key file mode, missing settings).
#
#   identity.sh BUILD SRC
set -uo pipefail
BUILD=$1
SRC=$2
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/softhsm.sh"
. "$here/../lib/server.sh"
. "$here/../lib/sim.sh"
. "$here/lib.sh"
policy_require bin/nrfca-server bin/nrfca-admin bin/nrf91-sim tests/policy_keygen_helper tests/identity_standin -- jq curl sqlite3
standin=$BUILD/tests/identity_standin
dir=$BUILD/tmp/policy-identity.$$
policy_test_begin "$dir"

server_setup "$dir" "$SRC/policies/default.json" >/dev/null || { echo "server setup failed"; exit 1; }
cd "$dir" || exit 1
ADMIN=$BUILD/bin/nrfca-admin

# ---------------------------------------------------------------- modems
UA=5a5a00a1-aaaa-4bbb-8ccc-0000000000a1   # known to the service
UU=5a5a00ff-aaaa-4bbb-8ccc-0000000000ff   # unknown to the service (an nRF9160, say)
start_sim simA --uuid $UA --identity-key idA.key --identity-pub-out idA.pem
keygen_files "$port" 8 a
start_sim forger --uuid $UA --identity-key idF.key
keygen_files "$port" 1 forged
start_sim simU --uuid $UU --identity-key idU.key
keygen_files "$port" 1 u
stop_sims

# ---------------------------------------------------------------- the stand-in
KEY=nrfcloud-test-api-key-$RANDOM$RANDOM
(umask 077; printf '%s\n' "$KEY" >api.key)
echo ok >mode
rm -f standin.port
"$standin" --port-file standin.port --api-key-file api.key --device "$UA=idA.pem" \
	--mode-file mode --log standin.log 2>standin.err &
extra_pids+=($!)
for i in $(seq 1 100); do [ -s standin.port ] && break; sleep 0.05; done
[ -s standin.port ] || { echo "the stand-in did not start: $(cat standin.err)" >&2; exit 1; }
asked() { [ -f standin.log ] && wc -l <standin.log || echo 0; }

# ---------------------------------------------------------------- start-up refusals
mkdir -p trust && cp "$SRC/policies/trust/"*.pem trust/
jq '
  .profiles as $p
  | .profiles["verified"] = ($p["nrf-cloud-mqtt"] + {attestation: ($p["nrf-cloud-mqtt"].attestation +
        {verify_with: "nrf-cloud-identity"})})
  | .profiles["verified-open"] = ($p["nrf-cloud-mqtt"] + {attestation: ($p["nrf-cloud-mqtt"].attestation +
        {verify_with: "nrf-cloud-identity", on_unavailable: "issue"})})
  | .default_profile = "verified"
' "$SRC/policies/default.json" >test.json || exit 1
jq --arg p "$dir/test.json" '.policy = $p' nrfca.json >nrfca.json.new && mv nrfca.json.new nrfca.json
out=$("$BUILD/bin/nrfca-server" --config nrfca.json 2>&1); rc=$?
[ $rc != 0 ] && grep -q 'verify_with "nrf-cloud-identity" but the configuration has no identity_service' <<<"$out" &&
	ok || fail "a policy asking the service without identity_service: rc=$rc $out"
url="http://127.0.0.1:$(cat standin.port)/v1/verify"
jq --arg u "$url" --arg k "$dir/api.key" '.identity_service = {url: $u, api_key_file: $k,
	timeout_ms: 700, backoff_seconds: 5, cache_seconds: 600}' nrfca.json >nrfca.json.new &&
	mv nrfca.json.new nrfca.json
chmod 644 api.key
out=$("$BUILD/bin/nrfca-server" --config nrfca.json 2>&1); rc=$?
[ $rc != 0 ] && grep -q 'api_key_file .*is accessible by group or others (mode 0644)' <<<"$out" && ! grep -q "$KEY" <<<"$out" && ok ||
	fail "an API key file readable by others: rc=$rc $out"
out=$("$ADMIN" check 2>&1); rc=$?
[ $rc = 1 ] && grep -q 'FAIL .*api_key_file .*accessible by group or others' <<<"$out" && ok ||
	fail "nrfca-admin check with an API key file readable by others: rc=$rc $out"
chmod 600 api.key
out=$("$ADMIN" check 2>&1) && grep -q "ok    nRF Cloud's Identity Service is configured" <<<"$out" && ok ||
	fail "nrfca-admin check: $out"
server_start "$dir" || exit 1

post() { enroll station.token "$1" "$2"; }

# ---------------------------------------------------------------- genuine, and the cache
post a.1 ""
expect "genuine modem" 201 "" && sA=$(jq -r .serial resp.json)
[ "$(asked)" = 1 ] && ok || fail "the service was asked $(asked) times for one enrollment"
grep -q "^$UA 200\$" standin.log && ok || fail "the stand-in log: $(cat standin.log)"
[ "$(sqlite3 "file:$dir/nrfca.db?mode=ro" "SELECT json_extract(detail, '$.attestation') FROM audit_log
	WHERE event = 'issue' AND json_extract(detail, '$.serial') = '$sA'")" = nrf-cloud-identity:genuine ] && ok ||
	fail "the verdict is not in the issue audit entry"
[ "$(metric 'nrfca_identity_verdicts_total{verdict="genuine",source="service"}')" = 1 ] && ok ||
	fail "verdict metric: $(curl -s "$SERVER_URL/metrics" | grep identity)"
post a.1 ""
expect "the same %KEYGEN output again (replay)" 200 ""
[ "$(asked)" = 1 ] && ok || fail "a replay asked the service again ($(asked))"
[ "$(metric 'nrfca_identity_verdicts_total{verdict="genuine",source="cache"}')" = 1 ] && ok ||
	fail "cache metric: $(curl -s "$SERVER_URL/metrics" | grep identity)"

# ---------------------------------------------------------------- forged, unknown device
post forged.1 ""
expect "another identity key over device A's UUID" 403 attestation_identity &&
	{ jq -r .detail resp.json | grep "does not accept the attestation of device '$UA'" >/dev/null && ok ||
	  fail "forged detail: $(cat resp.json)"; }
[ "$(curl -s -H "Authorization: Bearer $(cat operator.token)" "$SERVER_URL/v1/certificates/$sA" | jq -r .status)" = active ] &&
	ok || fail "A's certificate after the forgery"
post u.1 ""
expect "a device the service does not know" 403 attestation_identity &&
	{ jq -r .detail resp.json | grep "holds no identity key for device '$UU'" >/dev/null &&
	  jq -r .detail resp.json | grep nRF9160 >/dev/null && ok || fail "unknown-device detail: $(cat resp.json)"; }
# the refusals are audited like any other
n=$(sqlite3 "file:$dir/nrfca.db?mode=ro" "SELECT count(*) FROM audit_log WHERE event = 'reject'
	AND detail LIKE '%\"rule\":\"attestation_identity\"%'")
[ "$n" -ge 1 ] && ok || fail "no audited attestation_identity refusal"

# ---------------------------------------------------------------- timeout, back-off, 5xx
echo "delay 3000" >mode
n0=$(asked)
t0=$(date +%s%N)
post a.2 ""
t1=$(date +%s%N)
expect "the service does not answer in time" 503 identity_unavailable &&
	{ [ "$(jq -r .error resp.json)" = identity_unavailable ] && [ -n "$(retry_after)" ] &&
	  jq -r .detail resp.json | grep "Identity Service .* cannot answer now" >/dev/null &&
	  grep '"event":"error_detail"' server.log | grep "within 700 ms" >/dev/null && ok ||
	  fail "timeout answer: $(cat resp.json) $(cat hdr.txt)"; }
[ $(( (t1 - t0) / 1000000 )) -lt 2500 ] && ok || fail "the timeout took $(( (t1 - t0) / 1000000 )) ms"
# the stand-in logs the late request when its delay is over
for i in $(seq 1 80); do [ "$(asked)" -gt "$n0" ] && break; sleep 0.05; done
n0=$(asked)
post a.3 ""
expect "during the back-off" 503 identity_unavailable &&
	{ grep '"event":"error_detail"' server.log | tail -1 | grep "not asked again" >/dev/null && ok ||
	  fail "back-off detail: $(grep error_detail server.log | tail -1)"; }
[ "$(asked)" = "$n0" ] && ok || fail "the service was asked during the back-off"
# fail-open only where the profile says so, and the audit entry says so
post a.3 verified-open
expect "on_unavailable issue" 201 "" &&
	{ s3=$(jq -r .serial resp.json)
	  [ "$(sqlite3 "file:$dir/nrfca.db?mode=ro" "SELECT json_extract(detail, '$.attestation') FROM audit_log
		WHERE event = 'issue' AND json_extract(detail, '$.serial') = '$s3'")" = nrf-cloud-identity:unavailable ] &&
	  ok || fail "the fail-open issuance's audit entry"; }
sleep 6
echo "status 502" >mode
post a.4 ""
expect "the service answers 502" 503 identity_unavailable &&
	{ grep '"event":"error_detail"' server.log | tail -1 | grep "HTTP 502" >/dev/null && ok ||
	  fail "5xx detail: $(grep error_detail server.log | tail -1)"; }
[ "$(metric 'nrfca_identity_verdicts_total{verdict="unavailable",source="service"}')" -ge 2 ] && ok ||
	fail "unavailable metric: $(curl -s "$SERVER_URL/metrics" | grep identity)"
grep -q '"event":"identity_service_unavailable"' server.log && ok || fail "no log line for the outage"
sleep 6
echo ok >mode
post a.4 ""
expect "the service is back" 201 ""
grep -q '"event":"identity_service_ok"' server.log && ok || fail "no log line for the recovery"
# a refusal by a cheaper rule never reaches the service
n0=$(asked)
jq -n --rawfile v a.5 '{keygen: ($v | rtrimstr("\n")), validity_days: 9999}' >body.json
code=$(curl -s -o resp.json -w '%{http_code}' -X POST -H "Authorization: Bearer $(cat station.token)" \
	-H 'Content-Type: application/json' --data-binary @body.json "$SERVER_URL/v1/enroll")
expect "validity refused before asking" 403 validity
[ "$(asked)" = "$n0" ] && ok || fail "a request refused by a local rule asked the service"

server_stop
[ "${SERVER_RC:-1}" = 0 ] || fail "server exit status ${SERVER_RC:-?} after SIGTERM"
grep -q "$KEY" server.log && fail "the API key is in the server log" || ok
policy_test_end policy_identity
