#!/bin/bash
# Enrollment side by side with a peer CA, same machine, same run, same CSRs:
#   bash tests/bench/run-bench-peer.sh BUILD [REQUESTS_PER_RUN] [ROUNDS]
#
# nrfca-server: a private SoftHSM2 token (P-256 CA key), a durable SQLite
# ledger (WAL, synchronous=FULL), the shipped policy with its rate limits
# lifted and the bench's identity key configured (so every request has its
# attestation binding AND signature checked), fresh modem-style %KEYGEN
# requests of unique devices ({"keygen": ...}, profile nrf-cloud-mqtt).
# cfssl serve (Debian golang-cfssl): a P-256 CA key in memory, no database,
# POST /api/v1/cfssl/sign with {"certificate_request": PEM} of the same CSRs.
# Both are loaded by bench_enroll over keep-alive connections at 8 and 32
# clients; each (clients, round) uses a fresh slice of devices, nrfca and
# cfssl alternate run by run, and the table shows the medians of ROUNDS.
# Prints the token's raw C_Sign rate (bench_signer) for context first.
# NRFCA_BENCH_POLICY=shipped: the shipped policy without the identity key
# (the attestation's binding is checked, not its signature: one ECDSA
# verification less per request), the setup issue 11 measured its baseline in.
# NRFCA_BENCH_PERF=DIR: the first nrfca run at each client count is recorded
# with `perf record --call-graph dwarf` into DIR/nrfca-c<clients>.data (read
# with `perf report -i FILE --no-children`); the figures of that round are
# then lower by the profiler's own cost.
set -euo pipefail
build=$(cd "${1:-build}" && pwd)
per_run=${2:-4000}
rounds=${3:-3}
clients=(8 32)
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
BUILD=$build
[ -z "${NRFCA_BENCH_PERF:-}" ] || mkdir -p "$NRFCA_BENCH_PERF"
for t in cfssl jq curl openssl ${NRFCA_BENCH_PERF:+perf}; do
	command -v $t >/dev/null || { echo "run-bench-peer: $t is not installed (deploy/packages.txt)" >&2; exit 2; }
done
. "$root/tests/integration/lib/softhsm.sh"
. "$root/tests/integration/lib/server.sh"
dir=$build/tmp/bench-peer.$$
cfssl_pid=
cleanup() {
	set +e
	[ -n "$cfssl_pid" ] && kill "$cfssl_pid" 2>/dev/null && wait "$cfssl_pid" 2>/dev/null
	server_stop
	softhsm_teardown "$dir"
}
trap cleanup EXIT
mkdir -p "$dir"
# nrfca-server
bash "$root/tests/integration/server/mkpolicy.sh" "$root/policies/default.json" "$build/tmp/bench-peer-policy.$$.json"
server_setup "$dir" "$build/tmp/bench-peer-policy.$$.json" >/dev/null
# requests: line k of nrfca.jsonl and cfssl.jsonl carry the same CSR
total=$((per_run * rounds * ${#clients[@]} + 1))   # + line 0, for the check below
t0=$(date +%s.%N)
"$build/bin/bench_keygen" --count "$total" --identity-pub "$dir/identity.pem" \
	--nrfca "$dir/nrfca.jsonl" --cfssl "$dir/cfssl.jsonl"
echo "requests: $total fresh devices (P-256 key, CSR, COSE attestation) made in $(echo "$(date +%s.%N) - $t0" | bc | cut -c1-5) s"

if [ "${NRFCA_BENCH_POLICY:-identity}" = shipped ]; then
	# the issue's own setup: the shipped policy as it is (rate limits
	# lifted), which checks the attestation's binding to the CSR's key but
	# holds no identity key to check who signed it
	cp "$build/tmp/bench-peer-policy.$$.json" "$dir/policy.json"
else
	jq --arg id "$dir/identity.pem" '.profiles["nrf-cloud-mqtt"].attestation.identity_keys = [$id]' \
		"$build/tmp/bench-peer-policy.$$.json" >"$dir/policy.json"
fi
rm -f "$build/tmp/bench-peer-policy.$$.json"
jq --arg p "$dir/policy.json" '.policy = $p' "$dir/nrfca.json" >"$dir/nrfca.json.new"
mv "$dir/nrfca.json.new" "$dir/nrfca.json"
"$build/bin/nrfca-admin" --config "$dir/nrfca.json" policy check "$dir/policy.json" >/dev/null

raw_out=$("$build/bin/bench_signer" "$NRFCA_TEST_URI" 1)
echo "$raw_out"
raw2=$(awk '$1 == "2" { print $3 }' <<<"$raw_out")
server_start "$dir"

# cfssl serve: P-256 CA in memory, certificates like nrfca's profile
openssl ecparam -name prime256v1 -genkey -noout -out "$dir/cfssl-ca-key.pem" 2>/dev/null
openssl req -new -x509 -key "$dir/cfssl-ca-key.pem" -subj "/CN=cfssl bench CA" -days 3650 \
	-out "$dir/cfssl-ca.pem" 2>/dev/null
cat >"$dir/cfssl.json" <<'CONF'
{ "signing": { "default": { "expiry": "87600h",
  "usages": ["digital signature", "client auth"] } } }
CONF
cport=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cfssl serve -address 127.0.0.1 -port "$cport" -ca "$dir/cfssl-ca.pem" -ca-key "$dir/cfssl-ca-key.pem" \
	-config "$dir/cfssl.json" -loglevel 5 2>"$dir/cfssl.log" &
cfssl_pid=$!
CFSSL_URL=http://127.0.0.1:$cport
for i in $(seq 1 100); do
	curl -s -o /dev/null "$CFSSL_URL/api/v1/cfssl/info" -d '{}' && break
	sleep 0.1
done

# both answer with certificates that verify against their CA (one request each,
# from a slice the load never uses: line $total is past the end, so make one more)
"$build/bin/bench_keygen" --count 1 --identity-pub "$dir/id2.pem" --nrfca "$dir/one-n.jsonl" \
	--cfssl "$dir/one-c.jsonl"
check_body() { # server bodyfile path auth...
	local url=$1 body=$2 path=$3; shift 3
	curl -s -X POST -H 'Content-Type: application/json' "$@" --data-binary "@$body" "$url$path"
}
head -1 "$dir/nrfca.jsonl" >"$dir/first-n.json"
check_body "$SERVER_URL" "$dir/first-n.json" /v1/enroll -H "Authorization: Bearer $(cat "$dir/station.token")" |
	jq -r .certificate >"$dir/n-cert.pem"
openssl verify -CAfile "$dir/ca-chain.pem" "$dir/n-cert.pem" >/dev/null ||
	{ echo "run-bench-peer: nrfca's certificate does not verify" >&2; exit 1; }
check_body "$CFSSL_URL" "$dir/one-c.jsonl" /api/v1/cfssl/sign | jq -r .result.certificate >"$dir/c-cert.pem"
openssl verify -CAfile "$dir/cfssl-ca.pem" "$dir/c-cert.pem" >/dev/null ||
	{ echo "run-bench-peer: cfssl's certificate does not verify" >&2; exit 1; }

# CPU seconds (user + system) a process has used so far
cpu_of() { awk -v t="$(getconf CLK_TCK)" '{ printf "%.3f\n", ($14 + $15) / t }' "/proc/$1/stat"; }
# one bench_enroll run: prints "certs/s p99_ms errors cpu_ms_per_cert"
run() { # url path ok_status clients offset pid [token]
	local url=$1 path=$2 ok=$3 c=$4 off=$5 pid=$6 tok=${7:-} c0 out
	local args=(--url "$url" --path "$path" --ok-status "$ok" --clients "$c"
		--count $((per_run / c)) --bodies "$dir/$([ "$path" = /v1/enroll ] && echo nrfca || echo cfssl).jsonl"
		--offset "$off")
	[ -n "$tok" ] && args+=(--token "$tok")
	c0=$(cpu_of "$pid")
	local perf_pid=
	if [ -n "${NRFCA_BENCH_PERF:-}" ] && [ "$path" = /v1/enroll ] && [ ! -e "$NRFCA_BENCH_PERF/nrfca-c$c.data" ]; then
		perf record -q -F 499 --call-graph dwarf,16384 -p "$pid" -o "$NRFCA_BENCH_PERF/nrfca-c$c.data" 2>/dev/null &
		perf_pid=$!
		sleep 1
	fi
	out=$("$build/bin/bench_enroll" "${args[@]}" 2>/dev/null | awk 'NR == 2 { print $2, $3, $5, $6 }')
	if [ -n "$perf_pid" ]; then
		kill -INT "$perf_pid"
		wait "$perf_pid" || true
	fi
	# the server's CPU time per certificate: what the load cost it, whatever else the machine runs
	awk -v c0="$c0" -v c1="$(cpu_of "$pid")" '{ printf "%s %s %s %.3f\n", $2, $3, $4, ($1 > 0 ? (c1 - c0) * 1000 / $1 : 0) }' <<<"$out"
}
median() { sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

echo "machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'), load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "nrfca-server $SERVER_URL, cfssl serve $CFSSL_URL (cfssl $(cfssl version | awk '/Version/ { print $2 }'))"
off=1   # line 0 was used by the check above
declare -A nr np cr cp nu cu
for c in "${clients[@]}"; do
	for r in $(seq 1 "$rounds"); do
		n=$(run "$SERVER_URL" /v1/enroll 201 "$c" "$off" "$SERVER_PID" "$dir/station.token")
		k=$(run "$CFSSL_URL" /api/v1/cfssl/sign 200 "$c" "$off" "$cfssl_pid")
		off=$((off + (per_run / c) * c))
		echo "  clients $c round $r: nrfca $n | cfssl $k   (certs/s p99_ms errors cpu_ms/cert)" >&2
		nu[$c]+="$(cut -d' ' -f4 <<<"$n") "; cu[$c]+="$(cut -d' ' -f4 <<<"$k") "
		nr[$c]+="${n%% *} "; np[$c]+="$(cut -d' ' -f2 <<<"$n") "
		cr[$c]+="${k%% *} "; cp[$c]+="$(cut -d' ' -f2 <<<"$k") "
		[ "$(cut -d' ' -f3 <<<"$n")" = 0 ] || echo "  (nrfca errors in this run: $(cut -d' ' -f3 <<<"$n"))" >&2
	done
done
printf '\n%-8s %14s %12s %7s %14s %14s %16s\n' clients "nrfca certs/s" "cfssl /s" ratio "nrfca p99 ms" "cfssl p99 ms" "CPU ms/cert n/c"
for c in "${clients[@]}"; do
	a=$(tr ' ' '\n' <<<"${nr[$c]}" | grep . | median)
	b=$(tr ' ' '\n' <<<"${cr[$c]}" | grep . | median)
	ap=$(tr ' ' '\n' <<<"${np[$c]}" | grep . | median)
	bp=$(tr ' ' '\n' <<<"${cp[$c]}" | grep . | median)
	au=$(tr ' ' '\n' <<<"${nu[$c]}" | grep . | median)
	bu=$(tr ' ' '\n' <<<"${cu[$c]}" | grep . | median)
	printf '%-8s %14.0f %12.0f %7.2f %14.1f %14.1f %8.2f/%-7.2f\n' "$c" "$a" "$b" "$(echo "$a / $b" | bc -l)" "$ap" "$bp" "$au" "$bu"
done
echo "(medians of $rounds rounds of $per_run requests; policy: ${NRFCA_BENCH_POLICY:-identity}; token raw C_Sign, 2 sessions: ${raw2:-?}/s)"
