#!/bin/bash
# API input: an unknown or repeated query parameter is refused with 400
# naming it (?device=X used to list everything); issued_after takes RFC 3339
# dates and date-times; serials are accepted in either case and with colons
# (as openssl prints them) and answered in lower-case hex.
# usage: api_input.sh BUILD
. "$(dirname "$0")/common.sh" "$1" apiinput
setup_with_policy || exit 1
cd "$DIR"
server_start "$DIR" || exit 1
for i in 1 2; do
	new_csr ec:P-256 "$(uuid)" c$i.csr; csr_body c$i.csr c$i.json
	[ "$(req POST /v1/enroll station.token c$i.json)" = 201 ] || fail "enroll $i: $(cat out.json)"
	eval "serial$i=\$(jf serial) dev$i=\$(jf device_id)"
	openssl x509 -in <(jf certificate) -outform PEM -out cert$i.pem 2>/dev/null
done
OP=operator.token
expect400() { # WHAT NAME PATH [TOKEN] [BODY]
	local c
	c=$(req "${6:-GET}" "$3" "${4:-$OP}" "${5:-}")
	[ "$c" = 400 ] && [ "$(jf error)" = invalid_request ] && jf detail | grep -F -- "$2" >/dev/null ||
		fail "$1: HTTP $c $(cat out.json), want 400 naming '$2'"
}

# 1. unknown and repeated query parameters
expect400 "?device=X" "'device'" "/v1/certificates?device=$dev1"
jf detail | grep device_id >/dev/null || fail "the 400 does not list the accepted parameters: $(cat out.json)"
expect400 "two unknown" "'colour'" "/v1/certificates?status=active&colour=red&size=9"
expect400 "repeated status" "'status'" "/v1/certificates?status=active&status=revoked"
expect400 "enroll ?dryrun" "'dryrun'" "/v1/enroll?dryrun=1" station.token c1.json POST
expect400 "health ?x" "'x'" "/v1/health?x=1" ""
[ "$(req GET "/v1/certificates?device_id=$dev1" $OP "")" = 200 ] && [ "$(jq '.certificates | length' out.json)" = 1 ] ||
	fail "?device_id=: $(cat out.json)"
[ "$(req GET "/v1/health" "" "")" = 200 ] || fail "health without a query"

# 2. issued_after: RFC 3339 date and date-times, unix seconds
count() { jq '.certificates | length' out.json; }
for q in 2020-01-01 2020-01-01T00:00:00Z "2020-01-01T02:00:00%2B02:00" 1577836800; do
	c=$(req GET "/v1/certificates?issued_after=$q" $OP "")
	[ "$c" = 200 ] && [ "$(count)" = 2 ] || fail "issued_after=$q: HTTP $c $(head -c 200 out.json)"
done
c=$(req GET "/v1/certificates?issued_after=2099-12-31" $OP "")
[ "$c" = 200 ] && [ "$(count)" = 0 ] || fail "issued_after=2099-12-31: HTTP $c $(head -c 200 out.json)"
for q in 2026-02-30 2026 2026-01-01T10:00 yesterday; do
	expect400 "issued_after=$q" "RFC 3339" "/v1/certificates?issued_after=$q"
done

# 3. serials as openssl prints them
up=$(openssl x509 -in cert1.pem -noout -serial | cut -d= -f2)
colons=$(openssl x509 -in cert1.pem -noout -text | awk '/Serial Number:/ { getline; gsub(/ /, ""); print; exit }')
[ "$up" != "$serial1" ] && [ -n "$colons" ] || fail "test set-up: openssl serial forms '$up' '$colons'"
for s in "$up" "$colons"; do
	c=$(req GET "/v1/certificates/$s" $OP "")
	[ "$c" = 200 ] && [ "$(jf serial)" = "$serial1" ] || fail "GET /v1/certificates/$s: HTTP $c $(head -c 200 out.json)"
done
c=$(req GET "/v1/certificates?after=${up}&limit=1000" $OP "")
[ "$c" = 200 ] || fail "after=$up: HTTP $c $(cat out.json)"
jq -r '.certificates[].serial' out.json | grep -x "$serial1" >/dev/null && fail "after=$up lists the serial itself"
expect400 "serial with a space" "hex" "/v1/certificates/$(echo "$serial1" | cut -c1-8)%20ab"
printf '{"reason": "superseded"}' >reason.json
up2=$(openssl x509 -in cert2.pem -noout -serial | cut -d= -f2)
c=$(req POST "/v1/certificates/$up2/revoke" $OP reason.json)
[ "$c" = 200 ] && [ "$(jf serial)" = "$serial2" ] || fail "revoke by upper-case serial: HTTP $c $(cat out.json)"

server_stop
[ "$SERVER_RC" = 0 ] || fail "server exit status $SERVER_RC"
finish
