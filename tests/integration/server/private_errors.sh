#!/bin/bash
# 5xx answers carry no internal detail (module or database paths, PKCS#11
# return codes): anonymous /v1/ready and a station's enrollment while the
# token is gone answer a plain sentence; the detail goes to the server log.
# usage: private_errors.sh BUILD
. "$(dirname "$0")/common.sh" "$1" private
setup_with_policy || exit 1
cd "$DIR"
server_start "$DIR" || exit 1
mv tokens tokens.away
for i in $(seq 1 40); do
	c=$(req GET /v1/ready "" "")
	[ "$c" = 503 ] && break
	sleep 0.25
done
# private: a path, a PKCS#11 function or return code, SQLite's words
private() { grep -qE '/|CKR_|C_[A-Z][A-Za-z]+|sqlite|\.so' out.json; }
[ "$c" = 503 ] || fail "/v1/ready with the token gone: HTTP $c"
[ "$(jf error)" = not_ready ] || fail "/v1/ready 503 error '$(jf error)'"
[ -n "$(jf detail)" ] || fail "/v1/ready 503 without a detail sentence"
private && fail "anonymous /v1/ready 503 shows internal detail: $(cat out.json)"
new_csr ec:P-256 "$(uuid)" one.csr; csr_body one.csr one.json
c=$(req POST /v1/enroll station.token one.json)
[ "$c" = 503 ] && [ "$(jf error)" = token_unavailable ] || fail "enroll with the token gone: HTTP $c $(cat out.json)"
private && fail "the 503 of /v1/enroll shows internal detail: $(cat out.json)"
grep '"error_detail"' server.log | grep 'C_Initialize' >/dev/null || fail "the internal detail is not in the log"
mv tokens.away tokens
server_stop
[ "$SERVER_RC" = 0 ] || fail "server exit status $SERVER_RC"
finish
