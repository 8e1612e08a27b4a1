#!/bin/bash
# Enrollment of the public modem vectors and of fresh CSRs: certificate
# contents (chain, CN, public key, extensions, serial randomness), replay,
# on_existing reject (409) and supersede (old certificate revoked, in the CRL).
# usage: enroll.sh BUILD
. "$(dirname "$0")/common.sh" "$1" enroll
setup_with_policy supersede || exit 1
cd "$DIR"
server_start "$DIR" || exit 1
curl -sf "$SERVER_URL/v1/ca.pem" -o ca.pem || fail "GET /v1/ca.pem"
ca_ski=$(openssl x509 -in ca.pem -noout -ext subjectKeyIdentifier | sed -n 2p | tr -d ' ')

# The two public vectors whose CN is the device UUID.
for v in keygen-csr-sectag17:50363154-3931-44f0-8022-121b6401627d:17 \
	keygen-line-sectag52:50363953-3234-4723-80b9-1503d88271bf:52; do
	IFS=: read -r name id tag <<<"$v"
	jq -n --arg k "$(cat "$VEC/$name.txt")" '{keygen: $k}' >"$name.json"
	c=$(req POST /v1/enroll station.token "$name.json")
	[ "$c" = 201 ] || { fail "$name: HTTP $c $(cat out.json)"; continue; }
	cp out.json "$name.out"
	jf certificate >"$name.pem"
	[ "$(jf device_id)" = "$id" ] || fail "$name: device_id $(jf device_id)"
	[ "$(jf sec_tag)" = "$tag" ] || fail "$name: sec_tag $(jf sec_tag)"
	grep -q $'\r' "$name.out" && fail "$name: CR in the answer"
	openssl verify -CAfile ca.pem "$name.pem" >/dev/null 2>&1 || fail "$name: openssl verify against /v1/ca.pem"
	subj=$(openssl x509 -in "$name.pem" -noout -subject -nameopt RFC2253)
	[ "$subj" = "subject=CN=$id" ] || fail "$name: subject '$subj'"
	"$BUILD/bin/nrfca" parse --csr-out "$name.csr" "$(cat "$VEC/$name.txt")" >/dev/null || fail "$name: nrfca parse"
	[ "$(openssl req -in "$name.csr" -noout -pubkey)" = "$(openssl x509 -in "$name.pem" -noout -pubkey)" ] ||
		fail "$name: the certificate's public key is not the CSR's"
	# extensions: exactly the profile's five, whatever the CSR requested
	t=$(openssl x509 -in "$name.pem" -noout -text)
	n=$(grep -c 'X509v3 [A-Z]' <<<"$t")
	[ "$n" = 5 ] || fail "$name: $n X509v3 extensions, want 5"
	grep -A1 'X509v3 Basic Constraints: critical' <<<"$t" | grep 'CA:FALSE' >/dev/null || fail "$name: basicConstraints"
	[ "$(grep -A1 'X509v3 Key Usage: critical' <<<"$t" | sed -n 2p | tr -d ' ')" = "DigitalSignature" ] ||
		fail "$name: keyUsage is not exactly digitalSignature, critical"
	grep -q 'X509v3 Extended Key Usage: *$' <<<"$t" &&
		[ "$(grep -A1 'X509v3 Extended Key Usage:' <<<"$t" | sed -n 2p | tr -d ' ')" = "TLSWebClientAuthentication" ] ||
		fail "$name: extendedKeyUsage is not clientAuth (non-critical)"
	grep -q 'X509v3 Subject Key Identifier' <<<"$t" || fail "$name: no SKI"
	# SKI: SHA-1 of the subjectPublicKey bits (RFC 5280 4.2.1.2 method 1; P-256: the last 65 bytes)
	ski=$(openssl x509 -in "$name.pem" -noout -ext subjectKeyIdentifier | sed -n 2p | tr -d ' :' | tr A-F a-f)
	want=$(openssl x509 -in "$name.pem" -noout -pubkey | openssl pkey -pubin -outform DER | tail -c 65 | sha1sum | cut -c1-40)
	[ "$ski" = "$want" ] || fail "$name: SKI '$ski' is not SHA-1 of the key bits '$want'"
	aki=$(openssl x509 -in "$name.pem" -noout -ext authorityKeyIdentifier | sed -n 2p | tr -d ' ' | sed 's/^keyid://')
	[ -n "$ca_ski" ] && [ "$aki" = "$ca_ski" ] || fail "$name: AKI '$aki' is not the CA SKI '$ca_ski'"
	# serial: the JSON serial is the certificate's, 16 bytes, top bit clear
	s=$(jf serial)
	cs=$(openssl x509 -in "$name.pem" -noout -serial | sed 's/serial=//' | tr A-F a-f)
	[[ $s =~ ^[0-7][0-9a-f]{31}$ ]] || fail "$name: serial '$s' is not 16 bytes with the top bit clear"
	[ "$(sed 's/^0*//' <<<"$s")" = "$(sed 's/^0*//' <<<"$cs")" ] || fail "$name: JSON serial $s, certificate $cs"
	# replay: 200 and the same body
	c=$(req POST /v1/enroll station.token "$name.json")
	[ "$c" = 200 ] || fail "$name replay: HTTP $c"
	cmp -s out.json "$name.out" || fail "$name replay: the body differs"
done

# The custom-CN vector (CN=nrf-355025930000000) is refused by the default profile.
jq -n --arg k "$(cat "$VEC/keygen-line-custom-cn.txt")" '{keygen: $k}' >custom.json
c=$(req POST /v1/enroll station.token custom.json)
[ "$c" = 403 ] && [ "$(jf error)" = policy_denied ] && [ "$(jf rule)" = cn_uuid ] ||
	fail "custom CN: HTTP $c $(cat out.json)"

# Serial randomness over 40 fresh certificates: every one of bits 0..126 takes
# both values, bit 127 never is set, all serials differ.
or=(0 0 0 0) and=(4294967295 4294967295 4294967295 4294967295)
: >serials
for i in $(seq 1 40); do
	new_csr ec:P-256 "$(uuid)" r.csr
	csr_body r.csr r.json
	c=$(req POST /v1/enroll station.token r.json)
	[ "$c" = 201 ] || { fail "fresh CSR $i: HTTP $c $(cat out.json)"; continue; }
	s=$(jf serial)
	echo "$s" >>serials
	for k in 0 1 2 3; do
		w=$((16#${s:$((k * 8)):8}))
		or[k]=$((or[k] | w)) and[k]=$((and[k] & w))
	done
done
[ "$(sort -u serials | wc -l)" = 40 ] || fail "serials repeat"
[ "${or[*]}" = "2147483647 4294967295 4294967295 4294967295" ] && [ "${and[*]}" = "0 0 0 0" ] ||
	fail "serial bits do not all vary (OR ${or[*]}, AND ${and[*]})"

# supersede: a second key for the same device revokes the first (superseded)
dev=$(uuid)
new_csr ec:P-256 "$dev" a.csr; csr_body a.csr a.json
new_csr ec:P-256 "$dev" b.csr; csr_body b.csr b.json
[ "$(req POST /v1/enroll station.token a.json)" = 201 ] || fail "supersede first: $(cat out.json)"
s1=$(jf serial)
[ "$(req POST /v1/enroll station.token b.json)" = 201 ] || fail "supersede second: $(cat out.json)"
s2=$(jf serial)
req GET "/v1/certificates/$s1" operator.token >/dev/null
[ "$(jf status)" = revoked ] || fail "superseded certificate $s1: $(cat out.json)"
req GET "/v1/certificates/$s2" operator.token >/dev/null
[ "$(jf status)" = active ] || fail "new certificate $s2: $(cat out.json)"
S1=$(tr a-f A-F <<<"$s1" | sed 's/^0*//')
for i in $(seq 1 50); do
	curl -s "$SERVER_URL/v1/crl" -o crl.der
	openssl crl -inform DER -in crl.der -noout -text 2>/dev/null | grep -A4 "Serial Number: 0*$S1\$" >crl.txt
	[ -s crl.txt ] && break
	sleep 0.2
done
grep -q 'Superseded' crl.txt || fail "the CRL does not list $s1 as superseded"
server_stop
[ "$SERVER_RC" = 0 ] || fail "server exit status $SERVER_RC"

# on_existing reject: 409 device_has_certificate, nothing recorded
cd /
setup_with_policy reject || exit 1
cd "$DIR"
server_start "$DIR" || exit 1
dev=$(uuid)
new_csr ec:P-256 "$dev" a.csr; csr_body a.csr a.json
new_csr ec:P-256 "$dev" b.csr; csr_body b.csr b.json
[ "$(req POST /v1/enroll station.token a.json)" = 201 ] || fail "reject first: $(cat out.json)"
n0=$(cert_count)
c=$(req POST /v1/enroll station.token b.json)
[ "$c" = 409 ] && [ "$(jf error)" = device_has_certificate ] && [ -n "$(jf rule)" ] ||
	fail "second key under reject: HTTP $c $(cat out.json)"
jq -n --arg k "$(cat "$VEC/keygen-csr-sectag17.txt")" '{keygen: $k}' >v.json
[ "$(req POST /v1/enroll station.token v.json)" = 201 ] || fail "vector under reject: $(cat out.json)"
new_csr ec:P-256 50363154-3931-44f0-8022-121b6401627d h.csr; csr_body h.csr h.json
c=$(req POST /v1/enroll station.token h.json)
[ "$c" = 409 ] && [ "$(jf error)" = device_has_certificate ] ||
	fail "host key for a device with a modem certificate: HTTP $c $(cat out.json)"
[ "$(cert_count)" = $((n0 + 1)) ] || fail "a refused request was recorded"
c=$(req POST /v1/enroll station.token v.json)
[ "$c" = 200 ] || fail "replay under reject: HTTP $c"
finish
