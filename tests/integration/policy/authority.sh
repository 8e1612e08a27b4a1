#!/bin/bash
# Station authority over devices, through a real nrfca-server (SoftHSM2,
# SQLite) and nrf91-sim modems (issue 9 item 1 and parts of item 5):
#   - the forged-attestation takeover: station B signs its own COSE_Sign1
#     over a CSR for station A's device UUID -> 409 supersede_scope, A's
#     certificate untouched, active, not in the CRL; allowed where the
#     profile says supersede_from "any"; an operator's revocation moves the
#     device; A itself may still re-provision (supersede);
#   - replay and GET agree: B posting A's %KEYGEN output is refused like B
#     reading A's certificate; both allowed under supersede_from "any";
#   - the supersede budget per station (429 supersede_rate_limit);
#   - refused enrollments audited per (station, rule) and interval, with the
#     metric counting every one, and a summary written at shutdown;
#   - an attested sec_tag of 2^63 refused at parse time (400), nothing stored;
#   - `policy check` and the start-up log say what a station is trusted with.
#
#   authority.sh BUILD SRC
set -uo pipefail
BUILD=$1
SRC=$2
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/softhsm.sh"
. "$here/../lib/server.sh"
. "$here/../lib/sim.sh"
. "$here/lib.sh"
policy_require bin/nrfca-server bin/nrfca-admin bin/nrf91-sim tests/policy_keygen_helper /usr/bin/python3 -- jq openssl curl sqlite3
dir=$BUILD/tmp/policy-authority.$$
policy_test_begin "$dir"

server_setup "$dir" "$SRC/policies/default.json" >/dev/null || { echo "server setup failed"; exit 1; }
cd "$dir" || exit 1
ADMIN=$BUILD/bin/nrfca-admin
# station A is test-station (server_setup); station B:
"$ADMIN" token add --name station-b --role station --quiet >b.token || exit 1
cp station.token a.token

# ---------------------------------------------------------------- modems
UA=5a5a00a1-aaaa-4bbb-8ccc-0000000000a1   # station A's device
UC=5a5a00c1-aaaa-4bbb-8ccc-0000000000c1   # a device for the "any" profile
# the genuine modem of device A, at station A
start_sim simA --uuid $UA --identity-key idA.key
keygen_files "$port" 6 a
# station B's forgery: its own "modem" (its own identity key) claiming UUID A
start_sim forger --uuid $UA --identity-key idB.key
keygen_files "$port" 2 forged
start_sim simC --uuid $UC --identity-key idC.key
keygen_files "$port" 2 c
start_sim forgerC --uuid $UC --identity-key idB.key
keygen_files "$port" 2 forgedC
stop_sims
cmp -s a.1 forged.1 && { echo "the forger made the same output as the modem" >&2; exit 1; }

# %KEYGEN output whose attested sec_tag is 2^63 (binding intact: only the
# sec_tag bstr inside the COSE payload changes; the signature is not checked
# by the shipped profiles)
/usr/bin/python3 - "$SRC/tests/data/vectors/keygen-csr-sectag17.txt" >big-sectag <<'PY' || exit 1
import base64, sys
t = open(sys.argv[1]).read().strip()
p1, p2 = t.split('.')
c = base64.urlsafe_b64decode(p2 + '=' * (-len(p2) % 4))
i = c.find(b'\x58\x4b\xd9\xd9\xf7\x85\x09\x50')
assert i > 0, 'payload header not found'
j = i + 8 + 16
assert c[j:j + 2] == b'\x41\x11', 'sec_tag 17 not found'
c = c[:i] + b'\x58\x53' + c[i + 2:j] + b'\x49\x1b\x80' + b'\x00' * 7 + c[j + 2:]
print(p1 + '.' + base64.urlsafe_b64encode(c).decode().rstrip('='))
PY

# ---------------------------------------------------------------- policy
mkdir -p trust && cp "$SRC/policies/trust/"*.pem trust/
jq '
  .profiles as $p
  | .profiles["anywhere"] = ($p["nrf-cloud-mqtt"] + {supersede_from: "any",
        rate_limit: {per_station_per_minute: 120, per_profile_per_minute: 600}})
  | .profiles["budget"] = ($p["nrf-cloud-mqtt"] + {rate_limit: {per_station_per_minute: 120,
        supersedes_per_station_per_hour: 2}})
' "$SRC/policies/default.json" >test.json || exit 1
out=$("$ADMIN" policy check test.json 2>&1) || { echo "test policy refused: $out" >&2; exit 1; }
# policy check says what a station is trusted with, profile by profile
grep -qF "nrf-cloud-mqtt   warning: profile 'nrf-cloud-mqtt' does not check who signed the attestation" <<<"$out" &&
	grep -qF "every station is trusted to present genuine modem output" <<<"$out" &&
	grep -qF "issued through itself only (supersede_from same_station), at most 30 an hour" <<<"$out" &&
	grep -qF "issued through ANY station (supersede_from any)" <<<"$out" && ok ||
	fail "policy check does not say what a station is trusted with: $out"
jq --arg p "$dir/test.json" '.policy = $p' nrfca.json >nrfca.json.new && mv nrfca.json.new nrfca.json
server_start "$dir" || exit 1
# ... and so does the server's start-up log
grep '"event":"policy_trust"' server.log | grep '"profile":"nrf-cloud-mqtt"' >/dev/null &&
	grep '"event":"policy_trust"' server.log | grep 'supersede_from same_station' >/dev/null &&
	! grep '"event":"policy_trust"' server.log | grep '"profile":"host-key"' >/dev/null && ok ||
	fail "the start-up log does not warn per profile: $(grep policy_trust server.log | head -2)"

# ---------------------------------------------------------------- helpers
post() { enroll "$1" "$2" "$3"; }
status_of() { # SERIAL -> status as the operator sees it
	curl -s -H "Authorization: Bearer $(cat operator.token)" "$SERVER_URL/v1/certificates/$1" |
		jq -r '.status'
}
get_as() { # TOKENFILE SERIAL -> HTTP code
	curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $(cat "$1")" \
		"$SERVER_URL/v1/certificates/$2"
}
in_crl() { # SERIAL -> 0 when listed
	local s
	curl -s -o crl.der "$SERVER_URL/v1/crl"
	s=$(tr a-f A-F <<<"$1" | sed 's/^0*//')
	openssl crl -inform DER -in crl.der -noout -text 2>/dev/null | grep "Serial Number: 0*$s\$" >/dev/null
}
db() { sqlite3 "file:$dir/nrfca.db?mode=ro" "$1"; }

# ---------------------------------------------------------------- the takeover
post a.token a.1 ""
expect "station A provisions its device" 201 "" && sA=$(jq -r .serial resp.json)
post b.token forged.1 ""
expect "station B's forged attestation for device A" 409 supersede_scope &&
	{ [ "$(jq -r .error resp.json)" = device_has_certificate ] &&
	  jq -r .detail resp.json | grep "supersede_from same_station" >/dev/null &&
	  jq -r .detail resp.json | grep "revokes" >/dev/null && ok ||
	  fail "the supersede_scope answer: $(cat resp.json)"; }
[ "$(status_of "$sA")" = active ] && ok || fail "A's certificate $sA is $(status_of "$sA") after B's attempt"
in_crl "$sA" && fail "A's certificate $sA is in the CRL after B's attempt" || ok
[ "$(db "SELECT count(*) FROM certificates WHERE device_id = '$UA'")" = 1 ] && ok ||
	fail "device A has $(db "SELECT count(*) FROM certificates WHERE device_id = '$UA'") certificates"
# a dry run says the same
code=$(curl -s -o resp.json -w '%{http_code}' -X POST -H "Authorization: Bearer $(cat b.token)" \
	-H 'Content-Type: application/json' --data-binary @body.json "$SERVER_URL/v1/enroll?dry_run=1")
expect "B's dry run" 409 supersede_scope
# station A itself may re-provision its device (a new key supersedes)
post a.token a.2 ""
expect "station A re-provisions its device" 201 "" && sA2=$(jq -r .serial resp.json)
[ "$(status_of "$sA")" = revoked ] && in_crl "$sA" && [ "$(status_of "$sA2")" = active ] && ok ||
	fail "A's own supersede: $sA $(status_of "$sA"), $sA2 $(status_of "$sA2")"
# the supersede is audited with the certificate and the station it replaced, and
# says the attestation's signature was not checked
e=$(db "SELECT detail FROM audit_log WHERE event = 'issue' AND json_extract(detail, '$.serial') = '$sA2'")
[ "$(jq -r '[.supersedes, .supersedes_station, .attestation] | join(" ")' <<<"$e")" = "$sA test-station binding" ] &&
	ok || fail "the issue entry of a supersede: $e"
post b.token forged.2 ""
expect "B again, against the new certificate" 409 supersede_scope
[ "$(status_of "$sA2")" = active ] && ok || fail "A's new certificate $sA2 is $(status_of "$sA2")"

# ---------------------------------------------------------------- replay and GET agree
# B posts A's exact %KEYGEN output: refused, as B's GET of A's certificate is
post b.token a.2 ""
expect "B replays A's %KEYGEN output" 409 supersede_scope &&
	{ jq -e '.certificate' resp.json >/dev/null 2>&1 && fail "the refusal carries A's certificate" || ok; }
[ "$(get_as b.token "$sA2")" = 404 ] && ok || fail "B reads A's certificate: HTTP $(get_as b.token "$sA2")"
# A may do both
post a.token a.2 ""
expect "A replays its own %KEYGEN output" 200 "" &&
	{ [ "$(jq -r .serial resp.json)" = "$sA2" ] && ok || fail "A's replay gave $(jq -r .serial resp.json)"; }
[ "$(get_as a.token "$sA2")" = 200 ] && ok || fail "A cannot read its certificate: HTTP $(get_as a.token "$sA2")"
# under supersede_from "any" both rules allow B
post a.token c.1 anywhere
expect "A provisions device C under 'anywhere'" 201 "" && sC=$(jq -r .serial resp.json)
[ "$(get_as b.token "$sC")" = 200 ] && ok || fail "under 'any', B cannot read C's certificate: HTTP $(get_as b.token "$sC")"
post b.token c.1 anywhere
expect "under 'any', B replays C's %KEYGEN output" 200 "" &&
	{ [ "$(jq -r .serial resp.json)" = "$sC" ] && ok || fail "B's replay gave $(jq -r .serial resp.json)"; }
# ... and B may supersede it, which is what "any" means
post b.token forgedC.1 anywhere
expect "under 'any', B supersedes C's certificate" 201 "" && sC2=$(jq -r .serial resp.json)
[ "$(status_of "$sC")" = revoked ] && ok || fail "under 'any', C's first certificate is $(status_of "$sC")"
[ "$(get_as a.token "$sC2")" = 200 ] && ok || fail "under 'any', A cannot read B's certificate for C"

# ---------------------------------------------------------------- an operator moves the device
curl -s -o resp.json -X POST -H "Authorization: Bearer $(cat operator.token)" \
	-H 'Content-Type: application/json' -d '{"reason": "cessationOfOperation"}' \
	"$SERVER_URL/v1/certificates/$sA2/revoke" >/dev/null
post b.token forged.2 ""
expect "after the operator's revocation station B may provision device A" 201 ""

# ---------------------------------------------------------------- the supersede budget
post a.token a.3 budget
expect "budget: a certificate for a device B holds" 409 supersede_scope
curl -s -o /dev/null -X POST -H "Authorization: Bearer $(cat operator.token)" \
	-H 'Content-Type: application/json' -d '{"reason": "affiliationChanged"}' \
	"$SERVER_URL/v1/certificates/$(db "SELECT serial FROM certificates WHERE device_id = '$UA' AND status = 'active'")/revoke"
post a.token a.3 budget
expect "budget: a new certificate costs no supersede" 201 ""
post a.token a.4 budget
expect "budget: first supersede" 201 ""
post a.token a.5 budget
expect "budget: second supersede" 201 ""
post a.token a.6 budget
expect "budget: the third in an hour" 429 supersede_rate_limit &&
	{ ra=$(retry_after)
	  [ -n "$ra" ] && [ "$ra" -gt 1000 ] && [ "$ra" -le 1800 ] && ok ||
	  fail "supersede_rate_limit Retry-After '$ra'"; }
# every supersede is audited with the certificate it replaced
n=$(db "SELECT count(*) FROM audit_log WHERE event = 'revoke' AND detail LIKE '%\"reason_name\":\"superseded\"%'")
[ "$n" -ge 4 ] && ok || fail "$n supersede revocations in the audit log, expected at least 4"

# ---------------------------------------------------------------- sec_tag 2^63
c0=$(db "SELECT count(*) FROM certificates")
post a.token big-sectag ""
expect "attested sec_tag 2^63" 400 "" &&
	{ jq -r .detail resp.json | grep "9223372036854775808 is outside the modem's range 0..2147483647" >/dev/null &&
	  [ "$(jq -r .error resp.json)" = invalid_keygen ] && ok || fail "sec_tag refusal: $(cat resp.json)"; }
[ "$(db "SELECT count(*) FROM certificates")" = "$c0" ] && ok || fail "a certificate was stored for sec_tag 2^63"
[ "$(db "SELECT count(*) FROM certificates WHERE sec_tag < 0")" = 0 ] && ok ||
	fail "a negative sec_tag is in the ledger"

# ---------------------------------------------------------------- refusals audited, bounded
a0=$(db "SELECT count(*) FROM audit_log")
m0=$(metric 'nrfca_enroll_rejections_total{reason="supersede_scope",station="station-b"}')
jq -n --rawfile v forged.1 '{keygen: ($v | rtrimstr("\n")), profile: "budget"}' >loop.json
for i in $(seq 1 200); do
	printf 'url = "%s/v1/enroll"\nrequest = "POST"\nheader = "Authorization: Bearer %s"\nheader = "Content-Type: application/json"\ndata-binary = "@loop.json"\noutput = /dev/null\nwrite-out = "%%{http_code}\\n"\n' \
		"$SERVER_URL" "$(cat b.token)"
	[ "$i" -lt 200 ] && echo next
done >loop.cfg
codes=$(curl -s -K loop.cfg | sort | uniq -c | awk '{print $2 ":" $1}' | tr '\n' ' ')
[ "$codes" = "409:200 " ] && ok || fail "200 refused requests answered: $codes"
m1=$(metric 'nrfca_enroll_rejections_total{reason="supersede_scope",station="station-b"}')
[ "$((m1 - m0))" = 200 ] && ok || fail "the rejection metric went $m0 -> $m1 for 200 refusals"
mall=$(curl -s "$SERVER_URL/metrics" | awk 'index($1, "nrfca_enroll_rejections_total{reason=\"supersede_scope\",") == 1 { v += $2 } END { print v + 0 }')
a1=$(db "SELECT count(*) FROM audit_log")
[ "$((a1 - a0))" -le 5 ] && ok || fail "200 refusals wrote $((a1 - a0)) audit entries (bounded: a first entry and a few summaries)"
server_stop
[ "${SERVER_RC:-1}" = 0 ] || fail "server exit status ${SERVER_RC:-?} after SIGTERM"
# nothing is lost: first entries plus summary counts are every refusal the
# metric counted (A's and B's, this run)
firsts=$(db "SELECT count(*) FROM audit_log WHERE event = 'reject' AND detail LIKE '%\"rule\":\"supersede_scope\"%'")
summed=$(db "SELECT coalesce(sum(json_extract(detail, '$.count')), 0) FROM audit_log
	WHERE event = 'reject_summary' AND json_extract(detail, '$.rule') = 'supersede_scope'")
[ "$((firsts + summed))" = "${mall%.*}" ] && ok ||
	fail "audit: $firsts first entries + $summed in summaries, metric (all stations) $mall"
# B's summaries (one per minute that passed, the last at shutdown) count its loop
n=$(db "SELECT coalesce(sum(json_extract(detail, '$.count')), 0) FROM audit_log WHERE event = 'reject_summary'
	AND actor = 'station-b' AND json_extract(detail, '$.rule') = 'supersede_scope'
	AND json_extract(detail, '$.station') = 'station-b'")
p=$(db "SELECT count(*) FROM audit_log WHERE event = 'reject_summary' AND actor = 'station-b'
	AND json_extract(detail, '$.profiles') LIKE '%\"budget\"%'")
[ "$n" -ge 199 ] && [ "$p" -ge 1 ] && ok || fail "B's summaries count $n refusals, $p name profile 'budget'"
out=$("$ADMIN" audit verify 2>&1) && grep -q '^ok' <<<"$out" && ok || fail "audit verify: $out"
policy_test_end policy_authority
