#!/bin/bash
# Concurrent enrollments for one device (issue 9 item 2): 20 different keys
# for one new device at the same moment leave exactly one active certificate
# - under on_existing "supersede" every request gets 201 and the 19 others are
# revoked as superseded (and in the CRL); under "reject" one gets 201 and 19
# get 409 device_has_certificate.  Then the same CSR sent 10 times at once
# yields one certificate (201 once, 200 with the same serial otherwise).  The
# audit chain verifies.  Runs on SQLite, or PostgreSQL with NRFCA_TEST_DB.
# usage: race.sh BUILD
. "$(dirname "$0")/common.sh" "$1" race
N=20
setup_with_policy supersede || exit 1
cd "$DIR"
server_start "$DIR" || exit 1

# one device id, N keys; fire all requests at once
race() { # CN TAG -> codes in TAG.codes, serials of 201 in TAG.serials
	local cn=$1 tag=$2 i pids=()
	for i in $(seq 1 $N); do
		new_csr ec:P-256 "$cn" "$tag.$i.csr" || { fail "openssl req"; return 1; }
		csr_body "$tag.$i.csr" "$tag.$i.json"
	done
	for i in $(seq 1 $N); do
		curl -s --max-time 60 -o "$tag.$i.out" -w '%{http_code}\n' -X POST \
			-H "Authorization: Bearer $(cat station.token)" -H 'Content-Type: application/json' \
			--data-binary "@$tag.$i.json" "$SERVER_URL/v1/enroll" >"$tag.$i.code" &
		pids+=($!)
	done
	wait "${pids[@]}"   # not the server
	cat "$tag".*.code | sort | uniq -c >"$tag.codes"
	for i in $(seq 1 $N); do
		[ "$(cat "$tag.$i.code")" = 201 ] && jf serial "$tag.$i.out"
	done | sort >"$tag.serials"
}
active_of() { # CN -> number of active certificates of the device
	curl -s -H "Authorization: Bearer $(cat operator.token)" \
		"$SERVER_URL/v1/certificates?device_id=$1&status=active&limit=100" | jq '.certificates | length'
}

cn=nrf-$(printf '%015d' $((RANDOM * 32768 + RANDOM)))
race "$cn" sup
[ "$(awk '$2 == 201 { print $1 }' sup.codes)" = $N ] || fail "supersede: answers $(tr '\n' ' ' <sup.codes), want $N x 201"
[ "$(active_of "$cn")" = 1 ] || fail "supersede: $(active_of "$cn") active certificates for $cn, want 1"
curl -s -H "Authorization: Bearer $(cat operator.token)" \
	"$SERVER_URL/v1/certificates?device_id=$cn&status=revoked&limit=100" -o revoked.json
[ "$(jq '[.certificates[] | select(.revocation_reason == "superseded")] | length' revoked.json)" = $((N - 1)) ] ||
	fail "supersede: $(jq '.certificates | length' revoked.json) revoked, want $((N - 1)) superseded"
# the superseded ones are in the CRL
sleep 1
curl -s "$SERVER_URL/v1/crl" -o crl.der
n=$(openssl crl -inform DER -in crl.der -noout -text 2>/dev/null | grep -c 'Serial Number')
[ "$n" -ge $((N - 1)) ] || fail "supersede: the CRL lists $n serials, want at least $((N - 1))"

# reject: the policy says so now
mk_policy "$POLICY" reject || exit 1
kill -HUP "$SERVER_PID"
sleep 1
cn=nrf-$(printf '%015d' $((RANDOM * 32768 + RANDOM + 7)))
race "$cn" rej
[ "$(awk '$2 == 201 { print $1 }' rej.codes)" = 1 ] || fail "reject: answers $(tr '\n' ' ' <rej.codes), want one 201"
[ "$(awk '$2 == 409 { print $1 }' rej.codes)" = $((N - 1)) ] || fail "reject: answers $(tr '\n' ' ' <rej.codes), want $((N - 1)) x 409"
for i in $(seq 1 $N); do
	[ "$(cat "rej.$i.code")" = 409 ] || continue
	[ "$(jf error "rej.$i.out")" = device_has_certificate ] || fail "reject: 409 with error $(jf error "rej.$i.out")"
done
[ "$(active_of "$cn")" = 1 ] || fail "reject: $(active_of "$cn") active certificates for $cn, want 1"

# one CSR ten times at once: one certificate
cn=nrf-$(printf '%015d' $((RANDOM * 32768 + RANDOM + 11)))
new_csr ec:P-256 "$cn" same.csr && csr_body same.csr same.json
pids=()
for i in $(seq 1 10); do
	curl -s --max-time 60 -o "same.$i.out" -w '%{http_code}\n' -X POST \
		-H "Authorization: Bearer $(cat station.token)" -H 'Content-Type: application/json' \
		--data-binary @same.json "$SERVER_URL/v1/enroll" >"same.$i.code" &
	pids+=($!)
done
wait "${pids[@]}"
[ "$(cat same.*.code | grep -c 201)" = 1 ] || fail "same CSR: $(cat same.*.code | grep -c 201) answers 201, want 1"
[ "$(cat same.*.code | grep -c 200)" = 9 ] || fail "same CSR: $(cat same.*.code | grep -c 200) answers 200, want 9"
[ "$(for i in $(seq 1 10); do jf serial "same.$i.out"; done | sort -u | wc -l)" = 1 ] ||
	fail "same CSR: answers carry different serials"

"$BUILD/bin/nrfca-admin" audit verify >verify.txt 2>&1 || fail "audit verify: $(cat verify.txt)"
grep -l 409 sup.*.code 2>/dev/null | while read -r f; do echo "409: $(cat "${f%.code}.out")" >&2; done
grep -L "20[01]" same.*.code 2>/dev/null | while read -r f; do echo "same: $(cat "$f") $(cat "${f%.code}.out")" >&2; done
finish
