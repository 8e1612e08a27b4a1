#!/bin/bash
# Three nrfca-server instances on one PostgreSQL ledger behind HAProxy
# (deploy/haproxy/nrfca.cfg), all signing with one token key (one SoftHSM2
# token directory shared by the instances), while 8 clients enroll through
# the proxy for 10 s:
#  - the same CSR sent to two instances at the same moment: one 201, one 200
#    with the same serial and body;
#  - two CSRs for one device to two instances at once: under supersede both
#    201, exactly one active, the other revoked as superseded and in the CRL
#    a third instance serves; under reject one 201 and one 409;
#  - a revocation through one instance is in the CRL of another within 10 s,
#    and CRL numbers strictly increase from instance to instance (one number
#    is never two different CRLs);
#  - a station credential disabled with nrfca-admin is refused by every
#    instance within 5 s;
#  - afterwards: every 201 the clients received is in the ledger, serials are
#    unique, no device got two certificates, `nrfca-admin audit verify` passes.
# usage: semantics.sh BUILD
. "$(dirname "$0")/common.sh" "$1" cl-sem
[ -x "$BUILD/bin/bench_enroll" ] || { echo "SKIP: bench_enroll not built" >&2; exit 77; }
mk_policy "$POLICY" supersede || exit 1
# a second plain-CSR profile that refuses a second certificate for a device
jq '.profiles["host-key-reject"] = (.profiles["host-key"] | .on_existing = "reject")' "$POLICY" >"$POLICY.new" &&
	mv "$POLICY.new" "$POLICY"
cluster_setup "$DIR" "$POLICY" || exit $?
cd "$DIR"
cluster_start "$DIR" || exit 1
admin token add --name late-station --role station --quiet >late.token || fail "token add"

load_start 8 10 1500 20
load=$LOAD_PID

post() { # I BODY OUT -> status on stdout
	curl -s --max-time 30 -o "$3" -w '%{http_code}' -X POST -H "Authorization: Bearer $(cat station.token)" \
		-H 'Content-Type: application/json' --data-binary "@$2" "${INST_URL[$1]}/v1/enroll"
}
# both answers of a pair, sorted: "200 201"
pair() { # A B BODY_A BODY_B TAG
	post "$1" "$3" "$5.a.out" >"$5.a.code" &
	local p=$!
	post "$2" "$4" "$5.b.out" >"$5.b.code"
	wait $p
	echo "$(cat "$5.a.code") $(cat "$5.b.code")" | tr ' ' '\n' | sort | tr '\n' ' ' | sed 's/ $//'
}
active_of() { # CN -> number of active certificates of the device
	curl -s -H "Authorization: Bearer $(cat operator.token)" \
		"$FRONT_URL/v1/certificates?device_id=$1&status=active&limit=100" | jq '.certificates | length'
}

echo "load running (${SECONDS} s)"
# the same CSR to two instances at the same moment
for r in 1 2 3; do
	a=$(( r % 3 + 1 )) b=$(( (r + 1) % 3 + 1 ))
	new_csr ec:P-256 "$(uuid)" same.$r.csr && csr_body same.$r.csr same.$r.json
	got=$(pair $a $b same.$r.json same.$r.json same.$r)
	[ "$got" = "200 201" ] || { fail "same CSR to instances $a and $b: answers $got, want 200 and 201"; continue; }
	cmp -s same.$r.a.out same.$r.b.out ||
		fail "same CSR: the 200 and the 201 bodies differ ($(jf serial same.$r.a.out) / $(jf serial same.$r.b.out))"
done

echo "same CSR races done (${SECONDS} s)"
# two CSRs for one device to two instances at once, supersede
for r in 1 2 3; do
	a=$(( r % 3 + 1 )) b=$(( (r + 1) % 3 + 1 )) c=$(( (r + 2) % 3 + 1 ))
	cn=$(uuid)
	new_csr ec:P-256 "$cn" sup.$r.1.csr && csr_body sup.$r.1.csr sup.$r.1.json
	new_csr ec:P-256 "$cn" sup.$r.2.csr && csr_body sup.$r.2.csr sup.$r.2.json
	got=$(pair $a $b sup.$r.1.json sup.$r.2.json sup.$r)
	[ "$got" = "201 201" ] || { fail "supersede, one device on instances $a and $b: answers $got, want 201 twice"; continue; }
	[ "$(active_of "$cn")" = 1 ] || fail "supersede: $(active_of "$cn") active certificates for $cn, want 1"
	curl -s -H "Authorization: Bearer $(cat operator.token)" \
		"$FRONT_URL/v1/certificates?device_id=$cn&status=revoked&limit=100" -o sup.$r.revoked.json
	old=$(jq -r '.certificates[] | select(.revocation_reason == "superseded") | .serial' sup.$r.revoked.json)
	[ "$(wc -w <<<"$old")" = 1 ] || { fail "supersede: superseded certificates of $cn: '$old', want one"; continue; }
	case $old in
	"$(jf serial sup.$r.a.out)" | "$(jf serial sup.$r.b.out)") ;;
	*) fail "supersede: the revoked certificate $old is neither answer's" ;;
	esac
	ok=
	for k in $(seq 1 20); do
		crl_has "${INST_URL[$c]}" "$old" && { ok=1; break; }
		sleep 0.5
	done
	[ -n "$ok" ] || fail "supersede: $old is not in the CRL instance $c serves after 10 s"
done

echo "supersede races done (${SECONDS} s)"
# the same under reject: one 201, one 409
for r in 1 2 3; do
	a=$(( r % 3 + 1 )) b=$(( (r + 1) % 3 + 1 ))
	cn=$(uuid)
	new_csr ec:P-256 "$cn" rej.$r.1.csr && csr_body rej.$r.1.csr rej.$r.1.json host-key-reject
	new_csr ec:P-256 "$cn" rej.$r.2.csr && csr_body rej.$r.2.csr rej.$r.2.json host-key-reject
	got=$(pair $a $b rej.$r.1.json rej.$r.2.json rej.$r)
	[ "$got" = "201 409" ] || { fail "reject, one device on instances $a and $b: answers $got, want 201 and 409"; continue; }
	for s in a b; do
		[ "$(cat rej.$r.$s.code)" != 409 ] || [ "$(jf error rej.$r.$s.out)" = device_has_certificate ] ||
			fail "reject: 409 with error $(jf error rej.$r.$s.out)"
	done
	[ "$(active_of "$cn")" = 1 ] || fail "reject: $(active_of "$cn") active certificates for $cn, want 1"
done

# a revocation through instance A in the CRL of instance B within 10 s; CRL
# numbers strictly increase from one instance to the next
echo "reject races done (${SECONDS} s)"
printf '{"reason": "keyCompromise"}' >reason.json
prev=0
for r in 1 2 3; do
	a=$(( r % 3 + 1 )) b=$(( (r + 1) % 3 + 1 ))
	serial=$(jf serial same.$r.a.out)
	[ -n "$serial" ] || continue
	c=$(on $a POST "/v1/certificates/$serial/revoke" operator.token reason.json)
	[ "$c" = 200 ] || { fail "revoke $serial through instance $a: HTTP $c $(cat out.json)"; continue; }
	t0=$(date +%s.%N) ok=
	for k in $(seq 1 40); do
		crl_has "${INST_URL[$b]}" "$serial" && { ok=1; break; }
		sleep 0.25
	done
	[ -n "$ok" ] || { fail "revoked $serial through instance $a: not in instance $b's CRL after 10 s"; continue; }
	echo "revoked through instance $a, in instance $b's CRL after $(echo "$(date +%s.%N) - $t0" | bc | cut -c1-4) s"
	n=$(crl_number "${INST_URL[$b]}")
	[ -n "$n" ] && [ "$(echo "ibase=16; ${n#0x}" | bc)" -gt "$(echo "ibase=16; $prev" | bc)" ] ||
		fail "CRL number of instance $b after revocation $r is $n, not above the previous $prev"
	prev=${n#0x}
done
# one number is one CRL, whichever instance serves it
for k in 1 2 3; do
	for i in 1 2 3; do
		curl -s "${INST_URL[$i]}/v1/crl" -o crlx.der
		echo "$(openssl crl -inform DER -in crlx.der -noout -crlnumber) $(sha256sum <crlx.der | cut -c1-16)"
	done
done | sort -u >crl.numbers
[ "$(cut -d' ' -f1 crl.numbers | uniq -d)" = "" ] || fail "one CRL number names different CRLs: $(cat crl.numbers)"

echo "CRL checks done (${SECONDS} s)"
# a credential disabled with nrfca-admin: refused by every instance within 5 s
for i in 1 2 3; do
	[ "$(on $i GET /v1/profiles late.token "")" = 200 ] || fail "late-station on instance $i before disable: $(cat out.json)"
done
admin token disable --name late-station >/dev/null || fail "token disable"
t0=$(date +%s.%N)
for i in 1 2 3; do
	ok=
	for k in $(seq 1 60); do
		[ "$(on $i GET /v1/profiles late.token "")" = 401 ] && { ok=1; break; }
		sleep 0.1
	done
	s=$(echo "$(date +%s.%N) - $t0" | bc)
	[ -n "$ok" ] && [ "$(echo "$s <= 5" | bc)" = 1 ] ||
		fail "instance $i still accepts the disabled credential $(printf %.1f "$s") s after the disable"
done

echo "credential checks done (${SECONDS} s)"
wait $load || fail "bench_enroll failed: $(tail -3 load.txt)"
cat load.txt
# the load went to every instance
for i in 1 2 3; do
	n=$(curl -s "${INST_URL[$i]}/metrics" | awk '/^nrfca_certificates_issued_total/ { s += $2 } END { print s + 0 }')
	[ "$n" -gt 0 ] || fail "instance $i issued nothing under load"
	echo "instance $i issued $n"
done
saved_serials got >received.serials
ledger_serials >ledger.serials
[ -s received.serials ] || fail "the load received no certificate"
[ -z "$(comm -23 received.serials ledger.serials)" ] || fail "received certificates missing from the ledger"
[ -z "$(uniq -d received.serials)" ] || fail "one serial answered twice as 201: $(uniq -d received.serials | head -3)"
devices_of active | sort | uniq -d >dup.devices
[ ! -s dup.devices ] || fail "devices with two active certificates: $(head -3 dup.devices)"
admin audit verify >audit.txt 2>&1 || fail "audit verify: $(cat audit.txt)"
cat audit.txt
finish
