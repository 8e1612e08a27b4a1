#!/bin/bash
# deploy/quickstart.sh as a user meets it (issue 15, "token environment" and
# "a fresh machine"): its output, piped, has no escape codes; every command
# its banner prints ("  $ ...") works as printed from another directory in a
# new shell (no SOFTHSM2_CONF, no NRFCA_CONFIG); a second run reuses the CA.
# The programs come from BUILD (NRFCA_BIN), the state from a private folder.
# usage: quickstart.sh BUILD
set -uo pipefail
BUILD=$(cd "$1" && pwd)
SRC=$(cd "$(dirname "$0")/../../.." && pwd)
command -v softhsm2-util >/dev/null || { echo "SKIP: SoftHSM2 is not installed" >&2; exit 77; }
VAR=$BUILD/tmp/quickstart.$$
pid=
cleanup() {
	[ -n "$pid" ] && kill -TERM "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
	rm -rf "$VAR" "$VAR.out" "$VAR.out2"
}
trap cleanup EXIT
fails=0
fail() { echo "FAIL: $*" >&2; fails=$((fails + 1)); }
free_port() { /usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# start_quickstart OUT: runs it in the background until the CA answers
start_quickstart() {
	local out=$1 i
	port=$(free_port)
	NRFCA_VAR=$VAR NRFCA_BIN=$BUILD/bin NRFCA_PORT=$port bash "$SRC/deploy/quickstart.sh" >"$out" 2>&1 &
	pid=$!
	for i in $(seq 1 300); do
		curl -sf "http://127.0.0.1:$port/v1/ready" >/dev/null 2>&1 && return 0
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	echo "the quickstart did not bring the CA up:" >&2
	tail -20 "$out" >&2
	return 1
}
stop_quickstart() {
	kill -TERM "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	pid=
}

start_quickstart "$VAR.out" || { fail "first run"; exit 1; }
if grep -q $'\033' "$VAR.out"; then
	fail "piped output holds escape codes: $(grep $'\033' "$VAR.out" | head -2 | cat -v)"
fi
grep -q "key ceremony" "$VAR.out" || fail "the first run did not perform the ceremony"
mapfile -t cmds < <(sed -n 's/^  \$ //p' "$VAR.out")
[ ${#cmds[@]} -ge 3 ] || fail "the banner shows ${#cmds[@]} commands: $(cat "$VAR.out")"
serial=
for c in "${cmds[@]}"; do
	out=$(cd / && env -i PATH=/usr/bin:/bin HOME=/nonexistent bash -c "$c" 2>&1); rc=$?
	if [ $rc -ne 0 ]; then
		fail "banner command exits $rc from /: $c: $out"
		continue
	fi
	case $c in
	curl*) serial=$(/usr/bin/python3 -c 'import json,sys; print(json.loads(sys.stdin.read())["serial"])' <<<"$out" 2>/dev/null) ||
		fail "the enrollment answer has no serial: $out" ;;
	*" list") [ -z "$serial" ] || grep "^$serial " <<<"$out" >/dev/null || fail "list does not show $serial: $out" ;;
	*" check") grep -q "^ok    the CA chain" <<<"$out" || fail "check output: $out" ;;
	esac
	echo "ok: \$ ${c:0:110}..."
done
stop_quickstart

# a second run reuses the token, the key and the CA certificate
before=$(sha256sum <"$VAR/ca-chain.pem")
start_quickstart "$VAR.out2" || { fail "second run"; exit 1; }
grep -q "key ceremony" "$VAR.out2" && fail "the second run performed the ceremony again"
[ "$before" = "$(sha256sum <"$VAR/ca-chain.pem")" ] || fail "the second run changed the CA certificate"
stop_quickstart
[ $fails -eq 0 ] || { echo "$fails failure(s)"; exit 1; }
echo "quickstart: all checks passed"
