#!/bin/bash
# nrfca creds list / write / delete against nrf91-sim, in plain and shell mode.
set -uo pipefail
build=$1
src=$2
nrfca=$build/bin/nrfca
sim=$build/bin/nrf91-sim
aws=$src/policies/trust/aws-root-ca1.pem
coap=$src/policies/trust/nrfcloud-coap-ca.pem
. "$src/tests/integration/lib/sim.sh"
aws_sha=2C43952EE9E000FF2ACC4E2ED0897C0A72AD5FA72C3D934E81741CBD54F05BD1
for b in "$nrfca" "$sim"; do
	[ -x "$b" ] || { echo "SKIP: $b not built"; exit 77; }
done
dir=$build/tmp/station-creds.$$
mkdir -p "$dir"
pids=()
cleanup() {
	local p
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done
	rm -rf "$dir"
}
trap cleanup EXIT
fails=0
fail() { echo "FAIL: $*" >&2; fails=$((fails + 1)); }
ok() { echo "ok: $*"; }

# start_sim NAME ARGS...: start a simulator, set $port
start_sim() {
	local name=$1
	shift
	sim_start "$sim" "$dir/$name.json" "$dir/$name" "$@" || exit 1
	pids+=("$SIM_PID")
}

# run EXPECTED_RC WHAT ARGS...: run nrfca with a hard time limit; $out, $err set
run() {
	local want=$1 what=$2 rc
	shift 2
	timeout 60 "$nrfca" "$@" >"$dir/stdout" 2>"$dir/stderr"
	rc=$?
	out=$(cat "$dir/stdout")
	err=$(cat "$dir/stderr")
	if [ "$rc" -ne "$want" ]; then
		fail "$what: exit $rc, expected $want; stderr: $err"
		return 1
	fi
	return 0
}

listed_hash() { # TAG TYPE -> hash from text list output in $out
	awk -v t="$1" -v y="$2" '$1 == t && $2 == y { print $4 }' <<<"$out"
}

for mode in plain shell; do
	if [ $mode = plain ]; then
		start_sim $mode --echo --urc
	else
		start_sim $mode --shell --urc
	fi
	p=$port

	# an empty store lists nothing (the modem's own sec_tags are hidden)
	run 0 "$mode: list empty" creds list --port "$p" && {
		[ -z "$out" ] && ok "$mode: empty list" || fail "$mode: list not empty: $out"
	}

	# write AWS Root CA 1 with LF: in plain AT the modem's hash equals SHA-256 of
	# the file; through the shell the firmware stores CR LF whatever was asked
	crlf_sha=$(sed 's/$/\r/' "$aws" | sha256sum | cut -c1-64 | tr a-f A-F)
	lf_sha=$aws_sha
	[ $mode = shell ] && lf_sha=$crlf_sha
	run 0 "$mode: write" creds write --port "$p" --sec-tag 16842753 --type 0 \
		--file "$aws" --line-ending lf && {
		grep -q "SHA-256 $lf_sha" <<<"$out" || fail "$mode: write printed: $out"
		grep -q "verified" <<<"$out" || fail "$mode: write not verified: $out"
		grep -q "switching it offline" <<<"$err" || fail "$mode: no notice of CFUN=4: $err"
	}
	run 0 "$mode: list" creds list --port "$p" && {
		h=$(listed_hash 16842753 0)
		[ "$h" = "$lf_sha" ] && ok "$mode: listed hash = SHA-256 of the bytes stored" ||
			fail "$mode: listed hash '$h' (output: $out)"
	}
	expect_sha=$(sha256sum "$aws" | cut -c1-64 | tr a-f A-F)
	[ "$expect_sha" = "$aws_sha" ] || fail "test data changed: $expect_sha"

	# CRLF: the hash changes to that of the CRLF bytes
	run 0 "$mode: write crlf" creds write --port "$p" --sec-tag 7 --type 0 --file "$aws" && {
		grep -q "SHA-256 $crlf_sha" <<<"$out" && ok "$mode: crlf hash" ||
			fail "$mode: crlf write printed $out, expected $crlf_sha"
	}
	run 0 "$mode: list json" creds list --port "$p" --json && {
		n=$(python3 -c 'import json,sys; d=json.load(sys.stdin); print(len(d["credentials"]))' <<<"$out")
		[ "$n" = 2 ] && ok "$mode: json list" || fail "$mode: json list: $out"
	}

	# delete: present -> 0, absent -> 5 with the 513 message
	run 0 "$mode: delete" creds delete --port "$p" --sec-tag 7 --type 0 &&
		ok "$mode: delete present"
	run 5 "$mode: delete absent" creds delete --port "$p" --sec-tag 7 --type 0 && {
		grep -q "513 not found" <<<"$err" && ok "$mode: delete absent -> 5: $err" ||
			fail "$mode: delete absent message: $err"
	}
done

# a PSK (secret): written, listed, never shown in the --verbose trace
psk=00112233445566778899aabbccddeeff
printf '%s\n' "$psk" >"$dir/psk.txt"
run 0 "psk write" creds write --port "$port" --sec-tag 11 --type psk --file "$dir/psk.txt" --verbose && {
	grep -qi "$psk" <<<"$err$out" && fail "PSK appears in the trace" || ok "PSK redacted in trace"
	grep -q "bytes redacted" <<<"$err" || fail "no redaction marker: $err"
}

# explicit prefixes: shell forced on the shell sim works; plain forced on it times out (3)
start_sim shell2 --shell
run 0 "forced shell" creds list --port "$port" --at-prefix shell && ok "--at-prefix shell"
start_sim plain2 --echo --faults chunk=3,delay=20
run 0 "forced none, chunked answers" creds list --port "$port" --at-prefix none --verbose && {
	grep -q -- "-> AT+CMEE=1" <<<"$err" && ok "--at-prefix none, --verbose trace" ||
		fail "no trace: $err"
}

# the modem closes the port after two answers: exit 3, no hang
start_sim close --faults close-after=2
t0=$(date +%s)
run 3 "close-after=2" creds list --port "$port" && {
	grep -qi "closed\|did not answer\|answered neither" <<<"$err" &&
		ok "close-after=2 -> 3 in $(( $(date +%s) - t0 )) s: $err" || fail "close message: $err"
}

# firmware 2.0.x that wants LF: CRLF refused with 527, the message suggests lf
start_sim lf --faults cme527-on=crlf
run 5 "527" creds write --port "$port" --sec-tag 8 --type 0 --file "$aws" --line-ending crlf && {
	grep -q -- "--line-ending lf" <<<"$err" && ok "527 suggests --line-ending lf" ||
		fail "527 message: $err"
}
run 0 "527 then lf" creds write --port "$port" --sec-tag 8 --type 0 --file "$aws" --line-ending lf

# a command longer than the modem's AT buffer: ERROR naming the byte count
cat "$aws" "$coap" >"$dir/bundle.pem"
start_sim small --faults max-cmd=1200
run 5 "long write" creds write --port "$port" --sec-tag 9 --type 0 --file "$dir/bundle.pem" && {
	grep -qE "[0-9]+-byte .*AT input buffer" <<<"$err" && ok "long write: $err" ||
		fail "long write message: $err"
}

# the port is held by another process: exit 3 with a clear message
start_sim busy
flock -n "$port" sleep 3 &
holder=$!
sleep 0.3
run 3 "busy port" creds list --port "$port" && {
	grep -q "is in use by another process" <<<"$err" && ok "busy port: $err" ||
		fail "busy message: $err"
}
wait $holder 2>/dev/null

# usage errors: exit 2, nothing sent
run 2 "type 2" creds write --port "$port" --sec-tag 1 --type 2 --file "$aws" && ok "type 2 refused"
run 2 "baud" creds list --port "$port" --baud 12345 && ok "unknown baud refused"
run 2 "no sec-tag" creds delete --port "$port" --type 0 && ok "delete needs --sec-tag"
run 0 "help" creds --help && {
	grep -q "modem refused" <<<"$out" && ok "help documents exit codes" || fail "help: $out"
}
run 3 "no such port" creds list --port "$dir/nope" && ok "missing port -> 3"

if [ $fails -ne 0 ]; then
	echo "$fails failure(s)"
	exit 1
fi
echo "all station creds tests passed"
