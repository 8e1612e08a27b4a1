#!/bin/bash
# Enrollment benchmark on a private SoftHSM2 token, SQLite ledger (durable:
# WAL, synchronous=FULL) and nrfca-server on loopback:
#   bash tests/bench/run-bench-enroll.sh BUILD [COUNT_PER_CLIENT] [CLIENTS]
# Measures the token's raw C_Sign rate first (bench_signer, server not yet
# running), then N clients (default 1,8,32) enrolling fresh P-256 CSRs through
# the host-key profile ({"csr": PEM}), enabled here with raised rate limits.
set -euo pipefail
build=$(cd "${1:-build}" && pwd)
count=${2:-250}
clients=${3:-1,8,32}
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
BUILD=$build
. "$root/tests/integration/lib/softhsm.sh"
. "$root/tests/integration/lib/server.sh"
dir=$build/tmp/bench-enroll.$$
trap 'set +e; server_stop; softhsm_teardown "$dir"' EXIT
mkdir -p "$dir"
bash "$root/tests/integration/server/mkpolicy.sh" "$root/policies/default.json" "$build/tmp/bench-enroll-policy.$$.json"
server_setup "$dir" "$build/tmp/bench-enroll-policy.$$.json"
mv "$build/tmp/bench-enroll-policy.$$.json" "$dir/policy.json"
sed -i "s|\"policy\": \".*\"|\"policy\": \"$dir/policy.json\"|" "$dir/nrfca.json"
raw_out=$("$build/bin/bench_signer" "$NRFCA_TEST_URI" 1)
echo "$raw_out"
raw=$(awk '$1 == "2" { print $3 }' <<<"$raw_out")
server_start "$dir"
echo "nrfca-server $SERVER_URL (pid $SERVER_PID), ledger sqlite (WAL, synchronous=FULL), $(nproc) CPUs"
"$build/bin/bench_enroll" --url "$SERVER_URL" --token "$dir/station.token" \
	--clients "$clients" --count "$count" --raw-sign-rate "${raw:-0}"
curl -s "$SERVER_URL/metrics" | grep -E '^nrfca_certificates_issued_total|^nrfca_ledger' || true
