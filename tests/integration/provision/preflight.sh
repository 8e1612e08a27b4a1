#!/bin/bash
# nrfca provision checks the station with the CA before the modem is touched
# (credential, profile, id form, sec_tag), and a refusal that is the station's
# fault after %KEYGEN keeps the key for the rerun.  Every case asserts on the
# simulator's command log.  Usage: preflight.sh BUILD SRC
set -uo pipefail
BUILD=$1
src=$2
export BUILD
# shellcheck source=../lib/station.sh
. "$src/tests/integration/lib/station.sh"
station_test_begin provision-preflight
admin=$BUILD/bin/nrfca-admin

# The shipped policy; the imei profile limited to two sec_tag ranges; one
# IMEI on the default profile's deny list.
denied=$(imei_of 35265610990009)
cp -r "$src/policies/trust" "$dir/trust"
printf '%s\n' "$denied" >"$dir/deny.txt"
jq '.profiles.imei.sec_tags = [16842753, "100-199"] |
    .profiles["nrf-cloud-mqtt"].devices = { "deny_list": "deny.txt" }' \
	"$src/policies/default.json" >"$dir/policy.json"
server_setup "$srv" "$dir/policy.json" || { echo "server setup failed" >&2; exit 1; }
server_start "$srv" || exit 1

# untouched NAME WHAT: the port was not even opened
untouched() {
	if [ -s "$dir/$1.log" ]; then
		fail "$2: the modem received: $(jq -c . "$dir/$1.log" | head -3)"
		return 1
	fi
	grep -q "modem state: untouched" <<<"$err" || { fail "$2: modem state not said: $err"; return 1; }
	ok "$2: nothing sent to the modem"
}
# unchanged NAME WHAT: no command that changes credentials or makes a key
unchanged() {
	local bad
	bad=$(sim_sent "$1" '^AT%KEYGEN|^AT%CMNG=[03]')
	[ -z "$bad" ] && ok "$2: no key made, nothing written" || fail "$2: sent $bad"
}

# ---- the CA describes each profile's CN rule, sec_tags and input ----
curl -s -H "Authorization: Bearer $(cat "$srv/station.token")" "$SERVER_URL/v1/profiles" >"$dir/profiles.json"
jq -e '.profiles[] | select(.name == "imei") | .cn.source == "imei" and .cn.imei_forms == ["nrf-imei"]
       and .sec_tags == [16842753, "100-199"] and .input == ["keygen"] and .cn.max_length == 64' \
	"$dir/profiles.json" >/dev/null && ok "GET /v1/profiles describes CN rule, sec_tags, input" ||
	fail "profiles answer: $(head -c 400 "$dir/profiles.json")"
jq -e '.profiles[] | select(.name == "nrf-cloud-mqtt") | .cn.source == "attested_uuid" and (has("sec_tags") | not)' \
	"$dir/profiles.json" >/dev/null || fail "default profile description: $(head -c 300 "$dir/profiles.json")"

# ---- 1. a wrong credential: exit 13 before the port is opened ----
start_sim pf1 --imei "$(imei_of 35265610990001)"
printf 'not-a-valid-secret\n' >"$dir/bad.token"
prov 13 "bad token" --token-file "$dir/bad.token" && {
	grep -q "credential" <<<"$err" && grep -q "401" <<<"$err" &&
		ok "bad token: exit 13 naming the credential: $(head -1 <<<"$err" | cut -c1-120)" ||
		fail "bad token message: $err"
	untouched pf1 "bad token"
}
# ---- 2. a missing token file ----
prov 13 "missing token file" --token-file "$dir/nope.token" && {
	grep -q "nope.token" <<<"$err" && ok "missing token file: exit 13 naming the file" || fail "missing token: $err"
	untouched pf1 "missing token file"
}
# ---- 3. an unknown profile: the offered ones are listed ----
prov 6 "unknown profile" --profile nrf-cloud-mqqt && {
	grep -q 'profile "nrf-cloud-mqqt" is not offered' <<<"$err" && grep -q "nrf-cloud-mqtt" <<<"$err" &&
		ok "unknown profile: exit 6 listing the profiles offered" || fail "unknown profile: $err"
	untouched pf1 "unknown profile"
}
# ---- 4. an id form the profile refuses ----
prov 6 "--id nrf-imei on the UUID profile" --id nrf-imei && {
	grep -q "rule cn_uuid" <<<"$err" && ok "--id nrf-imei without --profile imei: refused early" || fail "id form: $err"
	untouched pf1 "id form"
}
prov 6 "fixed CN on the UUID profile" --id dev-0001 && untouched pf1 "fixed CN"
# ---- 5. a sec_tag the profile refuses ----
prov 6 "sec_tag outside the profile" --profile imei --id nrf-imei --sec-tag 7 && {
	grep -q "rule sec_tag" <<<"$err" && ok "sec_tag 7 refused by the imei profile" || fail "sec_tag: $err"
	untouched pf1 "sec_tag"
}
# ---- 6. a fixed CN naming another IMEI: found once the IMEI is read ----
prov 6 "CN of another IMEI" --profile imei --id "nrf-$(imei_of 35265610990002)" && {
	grep -q "rule imei_mismatch" <<<"$err" && ok "CN naming another IMEI refused before %KEYGEN" ||
		fail "imei mismatch: $err"
	unchanged pf1 "imei mismatch"
}
# the same modem provisions with the right options: the earlier refusals left no trace
prov 0 "after the refusals" --profile imei --id nrf-imei --sec-tag 150 && check_modem pf1 "imei profile, sec_tag 150" 150 >/dev/null &&
	ok "after the refusals the modem provisions normally"
stop_sim pf1

# ---- 7. the operator's credential: GET /v1/profiles works, POST /v1/enroll is
# forbidden after %KEYGEN: exit 13, the key is kept, the rerun resumes ----
start_sim pf2 --imei "$(imei_of 35265610990003)" --uuid "$(uuid_of 903)"
prov 13 "operator token enrolls" --token-file "$srv/operator.token" && {
	grep -q "refused this station's credential (HTTP 403 forbidden)" <<<"$err" &&
		ok "403 forbidden after %KEYGEN: exit 13" || fail "403 message: $err"
	grep -q "journal kept" <<<"$err" && ! grep -q -- "--replace" <<<"$err" &&
		ok "403: the journal keeps the CSR, --replace not advised" || fail "403 advice: $err"
}
k1=$(state_cred pf2 2 public_key_pem)
prov 0 "rerun with the station token" && {
	grep -q resumed <<<"$out" && ok "rerun resumed from the journal" || fail "not resumed: $out"
	[ "$(state_cred pf2 2 public_key_pem)" = "$k1" ] && [ "$(sim_sent pf2 '^AT%KEYGEN' | wc -l)" = 1 ] &&
		[ "$(cert_count "$(uuid_of 903)")" = 1 ] && ok "403 then rerun: one key, one certificate" ||
		fail "403 rerun: keys $(sim_sent pf2 '^AT%KEYGEN' | wc -l), certificates $(cert_count "$(uuid_of 903)")"
}
stop_sim pf2

# ---- 8. a 401 after %KEYGEN: the station's token is disabled while the modem
# makes its key; a fixed credential reruns with the same CSR ----
"$admin" token add --name line-7 --role station --quiet >"$dir/line7.token" || fail "token add"
start_sim pf3 --imei "$(imei_of 35265610990004)" --uuid "$(uuid_of 904)" --faults "keygen-wait=$dir/gate"
timeout 90 "$nrfca" provision --port "$port" --server "$SERVER_URL" --token-file "$dir/line7.token" \
	--journal "$dir/journal" >"$dir/stdout" 2>"$dir/stderr" &
provpid=$!
for i in $(seq 1 200); do
	[ -n "$(sim_sent pf3 '^AT%KEYGEN')" ] && break
	sleep 0.1
done
[ -n "$(sim_sent pf3 '^AT%KEYGEN')" ] || fail "401 case: %KEYGEN never sent: $(cat "$dir/stderr")"
"$admin" token disable --name line-7 >/dev/null || fail "token disable"
sleep 6     # a running server drops a disabled credential within 5 s
touch "$dir/gate"
wait $provpid
rc=$?
err=$(cat "$dir/stderr")
[ $rc = 13 ] && grep -q "HTTP 401" <<<"$err" && ok "401 after %KEYGEN: exit 13" ||
	fail "401 case: exit $rc: $(tail -3 "$dir/stderr")"
grep -q "journal kept" <<<"$err" && ! grep -q -- "--replace" <<<"$err" || fail "401 advice: $err"
[ -n "$(ls "$dir/journal" 2>/dev/null)" ] && ok "401: the journal entry is kept" || fail "401: journal entry removed"
"$admin" token add --name line-7b --role station --quiet >"$dir/line7.token" || fail "token add"
k1=$(state_cred pf3 2 public_key_pem)
prov 0 "401 rerun with a fixed credential" --token-file "$dir/line7.token" && {
	[ "$(state_cred pf3 2 public_key_pem)" = "$k1" ] && [ "$(sim_sent pf3 '^AT%KEYGEN' | wc -l)" = 1 ] &&
		[ "$(cert_count "$(uuid_of 904)")" = 1 ] && ok "401, fixed credential, rerun: one key, one certificate" ||
		fail "401 rerun: keys $(sim_sent pf3 '^AT%KEYGEN' | wc -l), certificates $(cert_count "$(uuid_of 904)")"
	check_modem pf3 "401 rerun" >/dev/null
}
stop_sim pf3

# ---- 9. the CA refuses the device itself (deny list) after %KEYGEN: a new
# key would not help, so --replace is not advised ----
start_sim pf4 --imei "$denied" --uuid "$(uuid_of 905)"
prov 6 "denied device" && {
	grep -q "rule deny_list" <<<"$err" && grep -q "refuses this device" <<<"$err" &&
		! grep -q -- "--replace" <<<"$err" && ok "device refused by the policy: exit 6, no --replace advice" ||
		fail "deny message: $err"
}
stop_sim pf4

# ---- 10. the CA refuses the CSR itself: on nRF9160 firmware (no %DEVICEUUID)
# a fixed UUID CN cannot be checked before %KEYGEN; the CA refuses it, the
# journal is dropped and --replace (a new key) is the way on ----
start_sim pf5 --fw mfw_nrf9160_1.3.5 --imei "$(imei_of 35265610990006)" --uuid "$(uuid_of 906)"
prov 6 "CSR with another device's UUID" --id "$(uuid_of 907)" && {
	grep -q "rule cn_uuid" <<<"$err" && grep -q -- "--replace" <<<"$err" &&
		ok "CSR refused: exit 6, --replace advised" || fail "CSR refusal message: $err"
	[ ! -e "$dir/journal/$(imei_of 35265610990006)-16842753.json" ] &&
		ok "CSR refused: its journal entry dropped" || fail "CSR refused: journal kept"
}
prov 0 "rerun with --replace" --replace && check_modem pf5 "nRF9160 rerun with --replace" >/dev/null &&
	[ "$(cert_count "$(uuid_of 906)")" = 1 ] && ok "after the CSR refusal: a new key, one certificate"
stop_sim pf5

station_test_end preflight
