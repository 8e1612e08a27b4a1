#!/bin/bash
# The signer against a private token: concurrency and recovery.
set -euo pipefail
build=$1
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/softhsm.sh"
dir=$build/tmp/pkcs11-signer.$$
trap 'softhsm_teardown "$dir"' EXIT
softhsm_setup "$dir" signer-test
"$build/bin/nrfca-admin" --config "$dir/nrfca.json" init --subject "CN=Signer Test Root" >/dev/null
"$build/tests/signer_test" "$NRFCA_TEST_URI" "$dir/tokens"
