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
# An RSA key made by another tool: PKCS#1 v1.5 and PSS through the signer
if command -v pkcs11-tool >/dev/null; then
	NRFCA_TEST_PIN=$(cat "$dir/pin") pkcs11-tool --module "$SOFTHSM_MODULE" --token-label signer-test --login --pin env:NRFCA_TEST_PIN \
		--keypairgen --key-type rsa:2048 --label rsa-key --id 0a >/dev/null 2>&1
	"$build/tests/rsa_test" "${NRFCA_TEST_URI/object=ca-key/object=rsa-key}"
else
	echo "FAIL: pkcs11-tool (opensc) is needed for the RSA check" >&2
	exit 1
fi
