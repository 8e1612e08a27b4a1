#!/bin/bash
# The signer against a private token: concurrency and recovery, with the
# token object and with the session copy the server signs with; the key
# object deleted from the token stops the signer.
set -euo pipefail
build=$1
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/softhsm.sh"
dir=$build/tmp/pkcs11-signer.$$
trap 'softhsm_teardown "$dir"' EXIT
command -v pkcs11-tool >/dev/null || { echo "FAIL: pkcs11-tool (opensc) is needed" >&2; exit 1; }
softhsm_setup "$dir" signer-test
"$build/bin/nrfca-admin" --config "$dir/nrfca.json" init --subject "CN=Signer Test Root" >/dev/null
p11() { NRFCA_TEST_PIN=$(cat "$dir/pin") pkcs11-tool --module "$SOFTHSM_MODULE" --token-label signer-test --login --pin env:NRFCA_TEST_PIN "$@"; }
# what another process runs to delete the CA key from the token
cat >"$dir/delete-key.sh" <<DEL
NRFCA_TEST_PIN=\$(cat $(printf %q "$dir/pin")) pkcs11-tool --module $(printf %q "$SOFTHSM_MODULE") \\
	--token-label signer-test --login --pin env:NRFCA_TEST_PIN --delete-object --type privkey --label ca-key
DEL
"$build/tests/signer_test" "$NRFCA_TEST_URI" "$dir/tokens" token
# as the server signs; at the end the key object is deleted by another process
"$build/tests/signer_test" "$NRFCA_TEST_URI" "$dir/tokens" copy \
	"bash $(printf %q "$dir/delete-key.sh") >/dev/null"
# An RSA key made by another tool: PKCS#1 v1.5 and PSS through the signer
p11 --keypairgen --key-type rsa:2048 --label rsa-key --id 0a >/dev/null 2>&1
"$build/tests/rsa_test" "${NRFCA_TEST_URI/object=ca-key/object=rsa-key}"
