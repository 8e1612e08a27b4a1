#!/bin/bash
# The ledger after years of production:
#   bash tests/bench/run-bench-scale.sh BUILD [CERTIFICATES] [REVOKED] [LOAD_SECONDS]
# (defaults 1000000, 100000, 20).  Fills a private nrfca ledger (SoftHSM2
# token, the shipped policy with rate limits lifted) by direct bulk inserts
# (bench_scale fill: every certificate with its audit entry, a valid chain),
# then prints: lookups by serial and by device id (p50/p99, target p99 < 5 ms),
# list pages of 1,000 with filters (ledger and HTTP, < 10 ms), CRL signing
# with every revoked certificate (< 2 s), nrfca-server start-up on that
# ledger until it listens and until /v1/ready (< 2 s), and the server's
# resident memory under enrollment load at 32 clients (< 256 MB).
# Needs some 2 GB of disk under BUILD/tmp for the default size; removes it.
set -euo pipefail
build=$(cd "${1:-build}" && pwd)
n=${2:-1000000}
revoked=${3:-100000}
load_s=${4:-20}
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
BUILD=$build
. "$root/tests/integration/lib/softhsm.sh"
. "$root/tests/integration/lib/server.sh"
dir=$build/tmp/bench-scale.$$
trap 'set +e; server_stop; softhsm_teardown "$dir"' EXIT
mkdir -p "$build/tmp"
bash "$root/tests/integration/server/mkpolicy.sh" "$root/policies/default.json" "$build/tmp/bench-scale-policy.$$.json"
server_setup "$dir" "$build/tmp/bench-scale-policy.$$.json" >/dev/null
mv "$build/tmp/bench-scale-policy.$$.json" "$dir/policy.json"
jq --arg p "$dir/policy.json" '.policy = $p' "$dir/nrfca.json" >"$dir/nrfca.json.new"
mv "$dir/nrfca.json.new" "$dir/nrfca.json"
echo "machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'), load $(cut -d' ' -f1-3 /proc/loadavg)"

"$build/bin/bench_scale" fill "$dir/nrfca.db" "$n" "$revoked"
echo "ledger file: $(du -m "$dir/nrfca.db" | cut -f1) MB"
"$build/bin/bench_scale" query "$dir/nrfca.db"
"$build/bin/bench_scale" crl "$dir/nrfca.json"

# start-up: until the port file is written (listening) and until /v1/ready
t0=$(date +%s.%N)
server_start "$dir"
t1=$(date +%s.%N)
until curl -sf -o /dev/null "$SERVER_URL/v1/ready"; do sleep 0.01; done
t2=$(date +%s.%N)
printf '%-44s %8.0f ms   (ready after %.0f ms; target < 2000 ms)\n' "nrfca-server start-up (listening)" \
	"$(echo "($t1 - $t0) * 1000" | bc)" "$(echo "($t2 - $t0) * 1000" | bc)"

# a list page through the API, as an operator's tool sees it
for q in "status=active&limit=1000" "status=active&profile=imei&limit=1000" \
	"station=line-01&status=revoked&limit=1000"; do
	best=
	for i in 1 2 3 4 5; do
		t=$(curl -s -o "$dir/page.json" -w '%{time_total}' \
			-H "Authorization: Bearer $(cat "$dir/operator.token")" "$SERVER_URL/v1/certificates?$q")
		best=$(printf '%s\n%s\n' "$t" "${best:-$t}" | sort -g | head -1)
	done
	printf '%-44s %8.1f ms   (%s records, best of 5; target < 10 ms)\n' "GET /v1/certificates?$q" \
		"$(echo "$best * 1000" | bc)" "$(jq '.certificates | length' "$dir/page.json")" | cut -c1-200
done

# pages at random places of the list, as a tool paging through everything
# meets them (the pages above are the same page five times: after the first,
# SQLite's cache holds it)
ts=
for i in 1 2 3 4 5; do
	t=$(curl -s -o "$dir/page.json" -w '%{time_total}' -H "Authorization: Bearer $(cat "$dir/operator.token")" \
		"$SERVER_URL/v1/certificates?status=active&limit=1000&after=$(printf '%04x' $((RANDOM % 28672 + 4096)))")
	ts="$ts$t"$'\n'
done
printf '%-44s %8.1f ms   (median of 5 pages at random places; target < 10 ms)\n' \
	"GET /v1/certificates?status=active&limit=1000&after=..." \
	"$(echo "$(printf '%s' "$ts" | sort -g | sed -n 3p) * 1000" | bc)"

# resident memory under enrollment load (fresh modem-style requests, 32 clients)
total=$((load_s * 1500))
"$build/bin/bench_keygen" --count "$total" --identity-pub "$dir/identity.pem" \
	--nrfca "$dir/load.jsonl" --cfssl "$dir/load-cfssl.jsonl"
rss_max=0
"$build/bin/bench_enroll" --url "$SERVER_URL" --token "$dir/station.token" --bodies "$dir/load.jsonl" \
	--clients 32 --seconds "$load_s" --pool "$total" >"$dir/load.out" 2>&1 &
load_pid=$!
while kill -0 "$load_pid" 2>/dev/null; do
	rss=$(awk '/^VmRSS/ { print $2 }' "/proc/$SERVER_PID/status")
	[ "$rss" -gt "$rss_max" ] && rss_max=$rss
	sleep 0.2
done
wait "$load_pid" || true
printf '%-44s %8.0f MB   (peak %s MB; %s; target < 256 MB)\n' "nrfca-server resident memory under load" \
	"$((rss_max / 1024))" "$(($(awk '/^VmHWM/ { print $2 }' "/proc/$SERVER_PID/status") / 1024))" \
	"$(grep -o '[0-9]* certificates ([0-9]*/s)' "$dir/load.out")"
