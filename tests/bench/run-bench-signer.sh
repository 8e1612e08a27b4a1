#!/bin/bash
# Runs bench_signer on a private SoftHSM2 token: bash tests/bench/run-bench-signer.sh BUILD [SECONDS]
set -euo pipefail
build=$(cd "${1:-build}" && pwd)
secs=${2:-1}
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../integration/lib/softhsm.sh"
dir=$build/tmp/bench-signer.$$
trap 'softhsm_teardown "$dir"' EXIT
softhsm_setup "$dir" bench
"$build/bin/nrfca-admin" --config "$dir/nrfca.json" init >/dev/null
"$build/bin/bench_signer" "$NRFCA_TEST_URI" "$secs"
