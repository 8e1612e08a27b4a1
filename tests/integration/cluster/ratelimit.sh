#!/bin/bash
# Rate limits hold for the cluster, not per instance: with a profile limited
# to 10 per station and 15 in all per minute, one station sending 13
# enrollments spread over three instances gets 10 certificates and 3 x 429
# (Retry-After), and a second station then gets the 5 left of the profile's
# 15.  (Each instance counting on its own would let all 21 through.)  The
# ledger counts fixed one-minute windows: the test starts early in a minute.
# usage: ratelimit.sh BUILD
. "$(dirname "$0")/common.sh" "$1" cl-rate
mk_policy "$POLICY" || exit 1
jq '.profiles["limited"] = (.profiles["host-key"] | .rate_limit = { "per_station_per_minute": 10, "per_profile_per_minute": 15 })' \
	"$POLICY" >"$POLICY.new" && mv "$POLICY.new" "$POLICY"
cluster_setup "$DIR" "$POLICY" || exit $?
cd "$DIR"
cluster_start "$DIR" || exit 1
admin token add --name second-station --role station --quiet >second.token || fail "token add"
for i in $(seq 1 21); do
	new_csr ec:P-256 "$(uuid)" r.$i.csr && csr_body r.$i.csr r.$i.json limited
done
# 21 requests take a few seconds: do not straddle a minute boundary
s=$(date +%S)
[ "${s#0}" -lt 45 ] || sleep $((61 - ${s#0}))
send() { # FIRST LAST TOKEN -> statuses, one per line
	local i
	for i in $(seq "$1" "$2"); do
		on $(( i % 3 + 1 )) POST /v1/enroll "$3" r.$i.json
		echo
		[ "$(jf error)" != rate_limited ] || grep -qiE '^Retry-After: *[0-9]+' hdr.txt || fail "429 without Retry-After"
	done
}
send 1 13 station.token >first.codes
send 14 21 second.token >second.codes
[ "$(grep -c '^201$' first.codes)" = 10 ] && [ "$(grep -c '^429$' first.codes)" = 3 ] ||
	fail "station 1 (limit 10/min), 13 requests over 3 instances: $(sort first.codes | uniq -c | tr '\n' ' ')"
[ "$(grep -c '^201$' second.codes)" = 5 ] && [ "$(grep -c '^429$' second.codes)" = 3 ] ||
	fail "station 2 after station 1 (profile limit 15/min): $(sort second.codes | uniq -c | tr '\n' ' ')"
[ "$(jf rule)" = rate_limit ] || fail "the last answer's rule is '$(jf rule)', want rate_limit"
# another profile is not limited by this one's count
new_csr ec:P-256 "$(uuid)" other.csr && csr_body other.csr other.json
[ "$(on 2 POST /v1/enroll station.token other.json)" = 201 ] || fail "host-key profile refused: $(cat out.json)"
finish
