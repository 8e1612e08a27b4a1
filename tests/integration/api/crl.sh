#!/bin/bash
# The CRL: a CA with nothing revoked does not re-sign it on every tick (it
# used to, every 10 s); see the rest of the file for publishing.
# usage: crl.sh BUILD
. "$(dirname "$0")/../server/common.sh" "$1" crl
setup_with_policy || exit 1
cd "$DIR"
server_start "$DIR" || exit 1
crl_number() { openssl crl -inform DER -in "$1" -noout -crlnumber | sed 's/crlNumber=//; s/^0x//'; }

# 1. nothing revoked: the CRL stays the same across the server's 10 s tick
curl -sf "$SERVER_URL/v1/crl" -o empty0.der || fail "GET /v1/crl"
n0=$(crl_number empty0.der)
signed0=$(grep -c '"event":"crl_signed"' server.log)
sleep 11
curl -sf "$SERVER_URL/v1/crl" -o empty1.der || fail "GET /v1/crl"
n1=$(crl_number empty1.der)
signed1=$(grep -c '"event":"crl_signed"' server.log)
[ "$n0" = "$n1" ] && cmp -s empty0.der empty1.der ||
	fail "the CRL of a CA with nothing revoked was re-signed within 11 s (number $n0 -> $n1)"
[ "$signed0" = "$signed1" ] || fail "crl_signed logged $((signed1 - signed0)) more time(s) with nothing revoked"

server_stop
[ "$SERVER_RC" = 0 ] || fail "server exit status $SERVER_RC"
finish
