#!/bin/bash
# Enrollment benchmark on a private SoftHSM2 token, a durable ledger and
# nrfca-server on loopback:
#   bash tests/bench/run-bench-enroll.sh BUILD [COUNT_PER_CLIENT] [CLIENTS] [ENGINES]
# Measures the token's raw C_Sign rate first (bench_signer, server not yet
# running), then N clients (default 1,8,32) enrolling fresh P-256 CSRs through
# the host-key profile ({"csr": PEM}), enabled here with raised rate limits.
# ENGINES (default sqlite; e.g. sqlite,postgresql,sqlite,postgresql) are the
# ledgers to run against one after the other in this one run, so their figures
# compare: sqlite (WAL, synchronous=FULL) or postgresql (a private cluster under
# BUILD, Unix socket, fsync on, synchronous commit; tests/integration/lib/pg.sh).
set -euo pipefail
build=$(cd "${1:-build}" && pwd)
count=${2:-250}
clients=${3:-1,8,32}
engines=${4:-${NRFCA_TEST_DB:-sqlite}}
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
BUILD=$build
. "$root/tests/integration/lib/softhsm.sh"
. "$root/tests/integration/lib/server.sh"
dir=$build/tmp/bench-enroll.$$
trap 'set +e; server_stop; server_db_teardown; softhsm_teardown "$dir"' EXIT
raw=
for NRFCA_TEST_DB in ${engines//,/ }; do
	export NRFCA_TEST_DB
	mkdir -p "$dir"
	bash "$root/tests/integration/server/mkpolicy.sh" "$root/policies/default.json" "$build/tmp/bench-enroll-policy.$$.json"
	server_setup "$dir" "$build/tmp/bench-enroll-policy.$$.json"
	mv "$build/tmp/bench-enroll-policy.$$.json" "$dir/policy.json"
	sed -i "s|\"policy\": \".*\"|\"policy\": \"$dir/policy.json\"|" "$dir/nrfca.json"
	if [ -z "$raw" ]; then
		raw_out=$("$build/bin/bench_signer" "$NRFCA_TEST_URI" 1)
		echo "$raw_out"
		raw=$(awk '$1 == "2" { print $3 }' <<<"$raw_out")
	fi
	server_start "$dir"
	case $NRFCA_TEST_DB in
	postgresql) what="postgresql $("$PG_BIN/postgres" --version | awk '{ print $3 }') (Unix socket, fsync on, synchronous commit)" ;;
	*) what="sqlite (WAL, synchronous=FULL)" ;;
	esac
	echo "== nrfca-server $SERVER_URL (pid $SERVER_PID), ledger $what, $(nproc) CPUs"
	"$build/bin/bench_enroll" --url "$SERVER_URL" --token "$dir/station.token" \
		--clients "$clients" --count "$count" --raw-sign-rate "${raw:-0}"
	curl -s "$SERVER_URL/metrics" | grep -E '^nrfca_certificates_issued_total|^nrfca_ledger' || true
	server_stop
	server_db_teardown
	softhsm_teardown "$dir"
done
