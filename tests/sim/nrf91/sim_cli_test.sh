#!/bin/bash
# sim_cli_test.sh - nrf91-sim against independent command-line peers:
# `openssl req -verify` on its CSRs and `nrfca parse` (with the identity
# public key) on its %KEYGEN and %ATTESTTOKEN answers; a truncated answer
# (fault truncate-keygen) must be refused by nrfca parse.
#
# usage: sim_cli_test.sh <nrf91-sim> <nrfca> <workdir>
set -u
SIM=$1
NRFCA=$2
WORK=$3
UUID=50363154-3931-44f0-8022-121b6401627d
SIMPID=
FAILED=0

cleanup() {
	if [ -n "$SIMPID" ]; then
		kill "$SIMPID" 2>/dev/null
		wait "$SIMPID" 2>/dev/null
	fi
	exec 3>&- 2>/dev/null
}
trap cleanup EXIT

fail() {
	echo "FAIL: $*" >&2
	FAILED=1
}

die() {
	echo "FAIL: $*" >&2
	exit 1
}

rm -rf "$WORK"
mkdir -p "$WORK" || die "cannot create $WORK"
cd "$WORK" || die "cannot enter $WORK"

# start_sim ARGS...: sets PTY and SIMPID, opens fd 3 on the port
start_sim() {
	cleanup
	"$SIM" "$@" >sim.out 2>sim.err &
	SIMPID=$!
	for _ in $(seq 50); do
		[ -s sim.out ] && break
		sleep 0.1
	done
	PTY=$(head -n 1 sim.out)
	[ -c "$PTY" ] || die "simulator printed no pty path ($(cat sim.err))"
	stty -F "$PTY" raw -echo || die "stty on $PTY"
	exec 3<>"$PTY"
}

stop_sim() {
	exec 3>&-
	kill -TERM "$SIMPID"
	wait "$SIMPID"
	local rc=$?
	SIMPID=
	[ "$rc" -eq 0 ] || fail "simulator exit status $rc after SIGTERM"
}

# at CMD: send CMD, collect the lines up to the final one in ANSWER (array)
at() {
	printf '%s\r\n' "$1" >&3
	ANSWER=()
	local line
	while IFS= read -r -t 5 line <&3; do
		line=${line%$'\r'}
		ANSWER+=("$line")
		case "$line" in
		OK | ERROR | "+CME ERROR: "*) return 0 ;;
		esac
	done
	die "no final line for $1 (got: ${ANSWER[*]:-nothing})"
}

b64url_decode() {
	local s
	s=$(printf '%s' "$1" | tr -- '-_' '+/')
	while [ $((${#s} % 4)) -ne 0 ]; do s="$s="; done
	printf '%s' "$s" | base64 -d
}

start_sim --uuid "$UUID" --cfun 4 --identity-pub-out idpub.pem
at 'AT%KEYGEN=17,2,0'
[ "${ANSWER[-1]}" = OK ] || die "KEYGEN answered ${ANSWER[-1]}"
LINE=${ANSWER[0]}
P=${LINE#%KEYGEN: \"}
P=${P%\"}
b64url_decode "${P%%.*}" >csr.der || die "part 1 is not base64url"
openssl req -inform DER -in csr.der -verify -noout 2>verify.txt >/dev/null ||
	fail "openssl req -verify refused the CSR: $(cat verify.txt)"
grep -q "verify OK" verify.txt || fail "openssl req -verify did not say verify OK"
SUBJ=$(openssl req -inform DER -in csr.der -noout -subject -nameopt RFC2253)
[ "$SUBJ" = "subject=CN=$UUID" ] || fail "CSR subject is '$SUBJ'"
# the last AlgorithmIdentifier (the CSR's signatureAlgorithm) carries NULL
openssl asn1parse -inform DER -in csr.der >asn1.txt || fail "asn1parse"
grep -A1 'ecdsa-with-SHA256' asn1.txt | tail -n 1 | grep -q 'prim: NULL' ||
	fail "signatureAlgorithm has no explicit NULL: $(cat asn1.txt)"

"$NRFCA" parse --identity-pub idpub.pem --csr-out parsed.pem "$LINE" >parse.json 2>parse.err ||
	fail "nrfca parse refused the simulator's %KEYGEN: $(cat parse.err)"
jq -e --arg u "$UUID" '.kind == "csr" and .payload_id == 9 and .device_uuid == $u
	and .sec_tag == 17 and .cn == $u and .binding == "ok" and .signature == "ok"
	and .key_usage == ["digitalSignature","nonRepudiation","keyEncipherment","keyAgreement"]' \
	parse.json >/dev/null || fail "nrfca parse output: $(cat parse.json)"
openssl req -in parsed.pem -verify -noout 2>/dev/null || fail "nrfca --csr-out CSR does not verify"

at 'AT%KEYGEN=16842753,2,1'
"$NRFCA" parse --identity-pub idpub.pem "${ANSWER[0]}" >pk.json 2>pk.err ||
	fail "nrfca parse refused a public-key %KEYGEN: $(cat pk.err)"
jq -e '.payload_id == 8 and .sec_tag == 16842753 and .signature == "ok"' pk.json >/dev/null ||
	fail "nrfca parse of the public key answer: $(cat pk.json)"

at 'AT%ATTESTTOKEN'
"$NRFCA" parse --identity-pub idpub.pem "${ANSWER[0]}" >tok.json 2>tok.err ||
	fail "nrfca parse refused the %ATTESTTOKEN: $(cat tok.err)"
jq -e --arg u "$UUID" '.device_uuid == $u and .signature == "ok"' tok.json >/dev/null ||
	fail "nrfca parse of the attestation token: $(cat tok.json)"

# a different identity key must not verify
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out other.pem 2>/dev/null
openssl pkey -in other.pem -pubout -out otherpub.pem 2>/dev/null
if "$NRFCA" parse --identity-pub otherpub.pem "$LINE" >/dev/null 2>&1; then
	fail "nrfca parse accepted the COSE signature with a foreign identity key"
fi
stop_sim

start_sim --cfun 4 --faults truncate-keygen
at 'AT%KEYGEN=17,2,0'
[ "${ANSWER[-1]}" = OK ] || fail "truncated KEYGEN not followed by OK"
if "$NRFCA" parse "${ANSWER[0]}" >/dev/null 2>trunc.err; then
	fail "nrfca parse accepted a truncated %KEYGEN"
fi
[ -s trunc.err ] || fail "nrfca parse gave no reason for refusing a truncated answer"
stop_sim

[ "$FAILED" -eq 0 ] || exit 1
cd / && rm -rf "$WORK"
echo "PASS sim_cli"
