#!/usr/bin/env bash
# nrfca_parse.sh NRFCA VECTORS_DIR WORK_DIR
# Runs `nrfca parse` on the nRF91 vectors and checks output and exit codes.
# Everything it makes lives in WORK_DIR (created and removed here).
set -u
NRFCA=$1
VEC=$2
WORK=$3
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3

rm -rf -- "$WORK"
mkdir -p -- "$WORK"
trap 'rm -rf -- "$WORK"' EXIT

passed=0
failed=0
ok() { passed=$((passed + 1)); echo "ok   $*"; }
bad() { failed=$((failed + 1)); echo "FAIL $*"; }

# check_json FILE key=value ... : each key of the JSON object has that value
# (numbers compared as text; "key=" with nothing after checks absence).
check_json() {
	"$PY" - "$@" <<'PYEOF'
import json, sys
with open(sys.argv[1]) as f:
    text = f.read()
o = json.loads(text)
assert isinstance(o, dict), "not one JSON object"
for kv in sys.argv[2:]:
    k, v = kv.split("=", 1)
    if v == "":
        assert k not in o, "%s present" % k
        continue
    assert k in o, "%s missing" % k
    got = o[k]
    if isinstance(got, list):
        got = ",".join(got)
    assert str(got) == v, "%s: %r != %r" % (k, got, v)
PYEOF
}

# expect_fail NAME EXIT_CODE PATTERN -- ARGS... : exit code, empty stdout, one
# stderr line "nrfca parse: ..." matching PATTERN.
expect_fail() {
	local name=$1 code=$2 pattern=$3
	shift 4
	"$NRFCA" parse "$@" >"$WORK/out" 2>"$WORK/err" </dev/null
	local rc=$?
	if [ $rc -ne "$code" ]; then
		bad "$name: exit $rc, expected $code ($(cat "$WORK/err"))"
	elif [ -s "$WORK/out" ]; then
		bad "$name: printed on stdout"
	elif [ "$(wc -l <"$WORK/err")" -ne 1 ] || ! grep -q "^nrfca parse: " "$WORK/err"; then
		bad "$name: stderr is not one 'nrfca parse:' line: $(cat "$WORK/err")"
	elif ! grep -q -- "$pattern" "$WORK/err"; then
		bad "$name: message lacks '$pattern': $(cat "$WORK/err")"
	else
		ok "$name"
	fi
}

KU="digitalSignature,nonRepudiation,keyEncipherment,keyAgreement"
# file | expected fields
while IFS='|' read -r file fields; do
	[ -n "$file" ] || continue
	# shellcheck disable=SC2086
	if "$NRFCA" parse "$(cat "$VEC/$file")" >"$WORK/out" 2>"$WORK/err"; then
		if check_json "$WORK/out" $fields binding=ok signature=not_checked 2>"$WORK/pyerr"; then
			ok "$file: fields"
		else
			bad "$file: $(tail -n 1 "$WORK/pyerr")"
		fi
	else
		bad "$file: exit $? ($(cat "$WORK/err"))"
	fi
	# Standard input, with CRLF around it, gives the same JSON.
	printf '\r\n%s\r\n' "$(cat "$VEC/$file")" | "$NRFCA" parse - >"$WORK/out2" 2>/dev/null
	if cmp -s "$WORK/out" "$WORK/out2"; then ok "$file: stdin"; else bad "$file: stdin differs"; fi
done <<EOF2
keygen-csr-sectag17.txt|kind=csr payload_id=9 device_uuid=50363154-3931-44f0-8022-121b6401627d sec_tag=17 cn=50363154-3931-44f0-8022-121b6401627d key_usage=$KU sha256=702a3d56f05b2f72531d650825e20041e2e9d9318c34b6853ab9066e5c72e80c nonce=1b8722ee1deb581566e2cb1359b27cd2 public_key_pem=
keygen-line-sectag52.txt|kind=csr payload_id=9 device_uuid=50363953-3234-4723-80b9-1503d88271bf sec_tag=52 cn=50363953-3234-4723-80b9-1503d88271bf key_usage=$KU sha256=4da6bb67d2bef1b40fcf7606e68fe1df6aae36bd051c4b675f9569119fbc81f9
keygen-line-custom-cn.txt|kind=csr payload_id=9 device_uuid=50343956-3037-4738-800d-1f29e0a0f7bf sec_tag=52 cn=nrf-355025930000000 sha256=977ca093ffe5fa967d8ed96c7f4032b8526545a684a2e8736206aedb339c1f00
keygen-pubkey-sectag16.txt|kind=public_key payload_id=8 device_uuid=50363154-3931-44f0-8022-121b6401627d sec_tag=16 sha256=e5a2fc2a315a09d56fb1f774eaca9cb6bffd402efdfe18217547d818232d9656 csr_pem= cn=
attesttoken-line.txt|kind=attestation_token payload_id=1 device_uuid=50363154-3931-44f0-8022-121b6401627d device_type=3 sec_tag= csr_pem=
EOF2

# The key field holds a space, which the table above cannot carry: check it apart.
for f in keygen-csr-sectag17.txt keygen-pubkey-sectag16.txt; do
	"$NRFCA" parse "$(cat "$VEC/$f")" >"$WORK/out" 2>/dev/null
	if check_json "$WORK/out" "key=EC P-256" 2>/dev/null; then ok "$f: key"; else bad "$f: key"; fi
done

# --csr-out writes a PEM CSR that openssl verifies, with the exact DER.
for f in keygen-csr-sectag17.txt keygen-line-sectag52.txt keygen-line-custom-cn.txt; do
	rm -f "$WORK/csr.pem"
	if "$NRFCA" parse --csr-out "$WORK/csr.pem" "$(cat "$VEC/$f")" >"$WORK/out" 2>"$WORK/err" &&
	   openssl req -in "$WORK/csr.pem" -verify -noout >/dev/null 2>&1; then
		want=$(sed -n 's/.*"sha256": "\([0-9a-f]*\)".*/\1/p' "$WORK/out")
		got=$(openssl req -in "$WORK/csr.pem" -outform DER | openssl dgst -sha256 -r | cut -d' ' -f1)
		if [ -n "$want" ] && [ "$want" = "$got" ]; then ok "$f: --csr-out"; else bad "$f: --csr-out DER differs"; fi
	else
		bad "$f: --csr-out ($(cat "$WORK/err"))"
	fi
done
expect_fail "--csr-out with a public key" 1 "not a CSR" -- --csr-out "$WORK/x.pem" "$(cat "$VEC/keygen-pubkey-sectag16.txt")"
[ -e "$WORK/x.pem" ] && bad "--csr-out file written for a public key" || ok "--csr-out not written for a public key"

# Failures: one line, exit 1.
line=$(cat "$VEC/keygen-line-sectag52.txt")
payload=$(cat "$VEC/keygen-csr-sectag17.txt")
expect_fail "truncated line" 1 "no closing quote" -- "${line:0:300}"
expect_fail "truncated payload" 1 "truncated" -- "${payload:0:${#payload}-7}"
expect_fail "altered CSR" 1 "attestation digest does not match the CSR" -- "${payload:0:30}A${payload:31}"
expect_fail "padding" 1 "not valid base64url at character" -- "${payload}="
expect_fail "empty" 1 "empty" -- ""
head -c 9000 /dev/zero | tr '\0' 'A' | "$NRFCA" parse - >/dev/null 2>"$WORK/err"
rc=$?
if [ $rc -eq 1 ] && [ "$(wc -l <"$WORK/err")" -eq 1 ] && grep -q "larger than 8192" "$WORK/err"; then
	ok "too large stdin (9000 bytes)"
else
	bad "too large stdin: exit $rc $(cat "$WORK/err")"
fi

# Usage: exit 2.
expect_fail "no argument" 2 "give the modem output" --
expect_fail "two arguments" 2 "ONE argument" -- a b
expect_fail "unknown option" 2 "unknown" -- --frobnicate x
if "$NRFCA" parse --help | grep -q "usage: nrfca parse"; then ok "--help"; else bad "--help"; fi

# --identity-pub: a COSE_Sign1 signed here (openssl signs the Sig_structure
# built by Python) verifies with its key and not with another.
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$WORK/id.key" 2>/dev/null
openssl pkey -in "$WORK/id.key" -pubout -out "$WORK/id.pub" 2>/dev/null
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$WORK/other.key" 2>/dev/null
openssl pkey -in "$WORK/other.key" -pubout -out "$WORK/other.pub" 2>/dev/null
"$PY" - "$payload" "$WORK" <<'PYEOF'
import base64, hashlib, sys
payload, work = sys.argv[1], sys.argv[2]
def d(s): return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))
def e(b): return base64.urlsafe_b64encode(b).decode().rstrip("=")
def bstr(b):
    n = len(b)
    if n < 24: return bytes([0x40 | n]) + b
    if n < 256: return bytes([0x58, n]) + b
    return bytes([0x59, n >> 8, n & 255]) + b
p1 = d(payload.split(".")[0])
uuid = bytes.fromhex("50363154393144f08022121b6401627d")
body = b"\xd9\xd9\xf7\x85\x09" + bstr(uuid) + bstr(b"\x11") + bstr(hashlib.sha256(p1).digest()) + bstr(bytes(range(16)))
prot = b"\xa1\x01\x26"
tbs = b"\x84\x6aSignature1" + bstr(prot) + b"\x40" + bstr(body)
open(work + "/tbs.bin", "wb").write(tbs)
open(work + "/parts", "w").write(e(p1) + "\n" + e(body) + "\n")
PYEOF
openssl dgst -sha256 -sign "$WORK/id.key" -out "$WORK/sig.der" "$WORK/tbs.bin"
"$PY" - "$WORK" <<'PYEOF'
import base64, sys
work = sys.argv[1]
def d(s): return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))
def e(b): return base64.urlsafe_b64encode(b).decode().rstrip("=")
def bstr(b):
    n = len(b)
    if n < 24: return bytes([0x40 | n]) + b
    if n < 256: return bytes([0x58, n]) + b
    return bytes([0x59, n >> 8, n & 255]) + b
sig = open(work + "/sig.der", "rb").read()
# SEQUENCE { INTEGER r, INTEGER s } -> raw r || s, 32 bytes each
assert sig[0] == 0x30
i = 2
out = b""
for _ in range(2):
    assert sig[i] == 0x02
    n = sig[i + 1]
    v = sig[i + 2:i + 2 + n].lstrip(b"\x00")
    out += v.rjust(32, b"\x00")
    i += 2 + n
p1, body = open(work + "/parts").read().split()
cose = b"\xd2\x84" + bstr(b"\xa1\x01\x26") + b"\xa1\x04\x41\x21" + bstr(d(body)) + bstr(out)
open(work + "/signed.txt", "w").write('%KEYGEN: "' + p1 + "." + e(cose) + '"\r\n')
bad = bytearray(cose); bad[-1] ^= 1
open(work + "/badsig.txt", "w").write(p1 + "." + e(bytes(bad)))
PYEOF
if "$NRFCA" parse --identity-pub "$WORK/id.pub" - <"$WORK/signed.txt" >"$WORK/out" 2>"$WORK/err" &&
   check_json "$WORK/out" signature=ok sec_tag=17 nonce=000102030405060708090a0b0c0d0e0f 2>/dev/null; then
	ok "--identity-pub: right key verifies"
else
	bad "--identity-pub: right key ($(cat "$WORK/err"))"
fi
expect_fail "--identity-pub: other key" 1 "does not verify" -- --identity-pub "$WORK/other.pub" "$(cat "$WORK/signed.txt")"
expect_fail "--identity-pub: flipped signature bit" 1 "does not verify" -- --identity-pub "$WORK/id.pub" "$(cat "$WORK/badsig.txt")"
expect_fail "--identity-pub: real vector, unrelated key" 1 "does not verify" -- --identity-pub "$WORK/id.pub" "$payload"
expect_fail "--identity-pub: missing file" 1 "cannot open" -- --identity-pub "$WORK/nope.pub" "$payload"
expect_fail "--identity-pub: not a key" 1 "no PEM public key" -- --identity-pub "$VEC/EXPECTED.md" "$payload"

echo "formats_nrfca_parse: $passed passed, $failed failed"
[ $failed -eq 0 ]
