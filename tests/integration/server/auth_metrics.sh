#!/bin/bash
# Credentials (none 401, wrong role 403, unknown and disabled 401), /v1/ready
# and the Prometheus text of /metrics from loopback.
# usage: auth_metrics.sh BUILD
. "$(dirname "$0")/common.sh" "$1" auth
setup_with_policy || exit 1
cd "$DIR"
server_start "$DIR" || exit 1
jq -n --arg k "$(cat "$VEC/keygen-csr-sectag17.txt")" '{keygen: $k}' >good.json
jq -n --arg k "$(cat "$VEC/keygen-line-custom-cn.txt")" '{keygen: $k}' >custom.json
printf 'not-a-real-secret-0123456789\n' >bogus.token

expect() { # NAME WANT_STATUS WANT_ERROR STATUS
	[ "$4" = "$2" ] && { [ -z "$3" ] || [ "$(jf error)" = "$3" ]; } || fail "$1: HTTP $4 $(head -c 200 out.json), want $2 $3"
}
expect "enroll without credential" 401 unauthorized "$(req POST /v1/enroll "" good.json)"
grep -qi '^WWW-Authenticate: *Bearer' hdr.txt || fail "401 without WWW-Authenticate: Bearer"
expect "list without credential" 401 unauthorized "$(req GET /v1/certificates "" "")"
expect "unknown secret" 401 unauthorized "$(req POST /v1/enroll bogus.token good.json)"
expect "station lists certificates" 403 forbidden "$(req GET /v1/certificates station.token "")"
expect "operator enrolls" 403 forbidden "$(req POST /v1/enroll operator.token good.json)"
expect "station enrolls" 201 "" "$(req POST /v1/enroll station.token good.json)"
serial=$(jf serial)
printf '{"reason": "keyCompromise"}' >reason.json
expect "station revokes" 403 forbidden "$(req POST "/v1/certificates/$serial/revoke" station.token reason.json)"
expect "auditor revokes" 403 forbidden "$(req POST "/v1/certificates/$serial/revoke" auditor.token reason.json)"
expect "auditor lists" 200 "" "$(req GET /v1/certificates auditor.token "")"
expect "station reads its own certificate" 200 "" "$(req GET "/v1/certificates/$serial" station.token "")"
req GET "/v1/certificates/$serial" operator.token "" >/dev/null
[ "$(jf status)" = active ] || fail "the refused revocations changed the status: $(cat out.json)"

# a disabled credential is refused within the cache lifetime (5 s)
"$BUILD/bin/nrfca-admin" token add --name tmp-station --role station --quiet >tmp.token || fail "token add"
expect "new credential" 200 "" "$(req GET /v1/profiles tmp.token "")"
"$BUILD/bin/nrfca-admin" token disable --name tmp-station >/dev/null || fail "token disable"
ok=0
for i in $(seq 1 40); do
	[ "$(req GET /v1/profiles tmp.token "")" = 401 ] && { ok=1; break; }
	sleep 0.25
done
[ $ok = 1 ] && [ "$(jf error)" = unauthorized ] || fail "disabled credential still accepted after 10 s"
"$BUILD/bin/nrfca-admin" token list | grep -E '^tmp-station +station +disabled' >/dev/null || fail "token list does not show tmp-station disabled"
expect "the other station still works" 200 "" "$(req GET /v1/profiles station.token "")"

# readiness and metrics
expect "ready" 200 "" "$(req GET /v1/ready "" "")"
[ "$(jf status)" = ready ] && [ "$(jf token)" = ok ] && [ "$(jf database)" = ok ] || fail "ready body: $(cat out.json)"
expect "custom CN refused" 403 policy_denied "$(req POST /v1/enroll station.token custom.json)"
curl -s "$SERVER_URL/metrics" -o metrics.txt -w '%{http_code} %{content_type}\n' >metrics.code
grep -q '^200 text/plain' metrics.code || fail "/metrics: $(cat metrics.code)"
has() { grep -qE "$1" metrics.txt || fail "/metrics lacks $1"; }
has '^# TYPE nrfca_http_requests_total counter$'
has '^nrfca_http_requests_total\{route="enroll",status="201"\} 1$'
has '^nrfca_http_requests_total\{route="enroll",status="401"\} [0-9]+$'
has '^nrfca_certificates_issued_total\{profile="nrf-cloud-mqtt",station="test-station"\} 1$'
has '^nrfca_enroll_rejections_total\{reason="cn_uuid",station="test-station"\} 1$'
has '^# TYPE nrfca_request_duration_seconds histogram$'
has '^nrfca_request_duration_seconds_bucket\{route="enroll",le="\+Inf"\} [0-9]+$'
has '^nrfca_request_duration_seconds_sum\{route="enroll"\} [0-9.e-]+$'
has '^nrfca_request_duration_seconds_count\{route="enroll"\} [0-9]+$'
has '^nrfca_sign_duration_seconds_bucket\{.*le="\+Inf"\} [1-9][0-9]*$'
has '^nrfca_token_ready 1$'
has '^nrfca_ledger_certificates 1$'
# every histogram's buckets are cumulative (non-decreasing) and end at _count
awk '/_bucket\{/ { k = $1; sub(/,?le="[^"]*"/, "", k); if (k == pk && $2 + 0 < pv + 0) bad = bad " " $1; pk = k; pv = $2 }
     END { if (bad != "") { print "non-cumulative:" bad; exit 1 } }' metrics.txt || fail "histogram buckets"
server_stop
[ "$SERVER_RC" = 0 ] || fail "server exit status $SERVER_RC"
finish
