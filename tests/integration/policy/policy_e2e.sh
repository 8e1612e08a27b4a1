#!/bin/bash
# End-to-end policy tests through a real nrfca-server (SoftHSM2 token, SQLite
# ledger) with a test policy derived from policies/default.json, fed the public
# %KEYGEN vectors, nrf91-sim output (chosen UUID, IMEI, sec_tag, CN, identity
# key) and plain CSRs made with openssl.  Every rule is exercised in both
# directions; a table row is
#   name | profile | station | input | extra JSON | mode | HTTP status | rule
# mode "dry" posts to /v1/enroll?dry_run=1, "real" to /v1/enroll.
#
#   policy_e2e.sh BUILD SRC
set -uo pipefail
BUILD=$1
SRC=$2
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/softhsm.sh"
. "$here/../lib/server.sh"
. "$here/../lib/sim.sh"
for b in nrfca-server nrfca-admin nrf91-sim; do
	[ -x "$BUILD/bin/$b" ] || { echo "SKIP: $b not built"; exit 77; }
done
helper=$BUILD/tests/policy_keygen_helper
[ -x "$helper" ] || { echo "SKIP: $helper not built"; exit 77; }
for t in jq openssl curl sqlite3 xxd; do
	command -v $t >/dev/null || { echo "SKIP: $t is not installed"; exit 77; }
done
vec=$SRC/tests/data/vectors
dir=$BUILD/tmp/policy-e2e.$$
sims=()
cleanup() {
	local p
	server_stop
	for p in "${sims[@]}"; do kill "$p" 2>/dev/null; done
	for p in "${sims[@]}"; do wait "$p" 2>/dev/null; done
	softhsm_teardown "$dir"
}
trap cleanup EXIT
fails=0
checks=0
fail() { echo "FAIL: $*" >&2; fails=$((fails + 1)); }
ok() { checks=$((checks + 1)); }

server_setup "$dir" "$SRC/policies/default.json" >/dev/null || { echo "server setup failed"; exit 1; }
cd "$dir" || exit 1
NRFCA_ADMIN=$BUILD/bin/nrfca-admin
"$NRFCA_ADMIN" token add --name test-station2 --role station --quiet >station2.token || exit 1

# ---------------------------------------------------------------- simulators
UA=5a5a0001-aaaa-4bbb-8ccc-000000000001
UB=5a5a0002-aaaa-4bbb-8ccc-000000000002
IA=352656109480783                 # valid Luhn
IB=490154203237518                 # valid Luhn, another device
start_sim() { # NAME ARGS... -> $port
	local name=$1
	shift
	sim_start "$BUILD/bin/nrf91-sim" "$dir/$name.state" "$dir/$name" "$@" || exit 1
	sims+=("$SIM_PID")
}
keygen() { # PORT TAG ATTRS COUNT OUTFILE
	"$helper" "$1" "$2" "$3" "$4" >"$5" || { echo "keygen on $1 failed" >&2; exit 1; }
}
start_sim simA --uuid $UA --imei $IA --identity-key idA.key --identity-pub-out idA.pem
pA=$port
start_sim simB --uuid $UB --imei $IB --identity-key idB.key --identity-pub-out idB.pem
pB=$port
keygen "$pA" 42 "" 4 a_uuid.lines           # CN = UUID A, sec_tag 42
keygen "$pA" 46 "" 1 a_uuid46.lines         # sec_tag outside 40-45
keygen "$pA" 42 "CN=nrf-$IA" 2 a_imei.lines # valid nrf-<IMEI>
keygen "$pA" 42 "CN=$IA" 1 a_bare.lines     # bare IMEI
keygen "$pB" 42 "" 2 b_uuid.lines
for f in a_uuid a_uuid46 a_imei a_bare b_uuid; do
	i=0
	while read -r l; do
		i=$((i + 1))
		printf '%s\n' "$l" >"$f.$i"
	done <"$f.lines"
done
for p in "${sims[@]}"; do kill "$p"; wait "$p" 2>/dev/null; done
sims=()
grep -q 'BEGIN PUBLIC KEY' idA.pem && grep -q 'BEGIN PUBLIC KEY' idB.pem ||
	{ echo "the simulators wrote no identity public keys" >&2; exit 1; }
mkdir -p ids && cp idA.pem idB.pem ids/

# A.1 with its COSE signature's last byte flipped (binding and CSR unchanged)
tamper() { # IN OUT
	local line part1 cose hex
	line=$(cat "$1")
	part1=${line%%.*}
	cose=${line#*.}
	cose=$(printf '%s' "$cose" | tr '_-' '/+')
	while [ $(( ${#cose} % 4 )) -ne 0 ]; do cose="$cose="; done
	hex=$(printf '%s' "$cose" | base64 -d | xxd -p | tr -d '\n')
	last=${hex: -2}
	hex=${hex:0:${#hex}-2}$(printf '%02x' $(( 0x$last ^ 0x01 )))
	cose=$(printf '%s' "$hex" | xxd -r -p | base64 -w0 | tr '/+' '_-' | tr -d '=')
	printf '%s.%s\n' "$part1" "$cose" >"$2"
}
tamper a_uuid.1 a_tampered

# CSR 17 with the COSE of another request: the digest no longer binds the CSR
v17=$(cat "$vec/keygen-csr-sectag17.txt")
v52=$(sed -e 's/^%KEYGEN: "//' -e 's/"$//' "$vec/keygen-line-sectag52.txt")
printf '%s.%s\n' "${v17%%.*}" "${v52#*.}" >unbound

# ---------------------------------------------------------------- plain CSRs
csr() { # NAME SUBJECT KEYSPEC... (openssl genpkey args)
	local name=$1 subj=$2
	shift 2
	openssl genpkey "$@" -out "$name.key" 2>/dev/null &&
	openssl req -new -key "$name.key" -subj "$subj" -out "$name.csr" 2>/dev/null ||
		{ echo "openssl could not make $name.csr" >&2; exit 1; }
}
P256=(-algorithm EC -pkeyopt ec_paramgen_curve:P-256)
csr hk1 "/CN=nrf-$IB" "${P256[@]}"
csr hk2 "/CN=nrf-$IB" "${P256[@]}"                       # same device, another key
csr hk_bad "/CN=device 7" "${P256[@]}"
csr hk_o "/O=Acme/CN=nrf-$IB" "${P256[@]}"
csr p384 "/CN=k-p384" -algorithm EC -pkeyopt ec_paramgen_curve:P-384
csr p521 "/CN=k-p521" -algorithm EC -pkeyopt ec_paramgen_curve:P-521
csr rsa2k "/CN=k-rsa2048" -algorithm RSA -pkeyopt rsa_keygen_bits:2048
csr rsa3k "/CN=k-rsa3072" -algorithm RSA -pkeyopt rsa_keygen_bits:3072
csr ed "/CN=k-ed25519" -algorithm ED25519
csr k_ou "/OU=Line 3/CN=k-ou" "${P256[@]}"
csr k_o "/O=Acme/CN=k-o" "${P256[@]}"
csr k_2cn "/CN=k-one/CN=k-two" "${P256[@]}"
csr k_nocn "/O=Acme" "${P256[@]}"
csr k_long "/CN=k-123456789012345678" "${P256[@]}"        # 20 characters
csr k_19 "/CN=k-12345678901234567" "${P256[@]}"           # 19 characters
csr rp1 "/CN=replay-1" "${P256[@]}"
openssl req -new -key rp1.key -subj "/CN=replay-1" -out rp1b.csr 2>/dev/null  # same key, other bytes
csr rp2 "/CN=replay-1" "${P256[@]}"
for i in 1 2 3; do csr rl$i "/CN=nrf-10000000000000$i" "${P256[@]}"; done
cmp -s rp1.csr rp1b.csr && { echo "two CSRs of one key came out identical" >&2; exit 1; }

# ---------------------------------------------------------------- test policy
printf '# test allow-list\n%s\n%s\n' "$UA" "${UB^^}" >allow.txt
printf '# test deny-list\n%s\n' "$UB" >deny.txt
mkdir -p trust && cp "$SRC/policies/trust/"*.pem trust/
jq '
  .profiles as $p
  | .profiles["tags"] = ($p["nrf-cloud-mqtt"] + {sec_tags: [17, "40-45"]})
  | .profiles["idkeys"] = ($p["nrf-cloud-mqtt"] + {attestation: ($p["nrf-cloud-mqtt"].attestation + {identity_keys: ["idA.pem"]})})
  | .profiles["idkeys-dir"] = ($p["nrf-cloud-mqtt"] + {attestation: ($p["nrf-cloud-mqtt"].attestation + {identity_keys: ["ids"]})})
  | .profiles["lists"] = ($p["nrf-cloud-mqtt"] + {devices: {allow_list: "allow.txt", deny_list: "deny.txt"}})
  | .profiles["restricted"] = ($p["nrf-cloud-mqtt"] + {stations: ["test-station"]})
  | .profiles["any-payload"] = ($p["nrf-cloud-mqtt"] + {attestation: ($p["nrf-cloud-mqtt"].attestation + {payload: "any"})})
  | .profiles["any-input"] = ($p["nrf-cloud-mqtt"] + {input: "any"})
  | .profiles["imei-bare"] = ($p["imei"] + {cn: {source: "imei", imei_forms: ["nrf-imei", "imei"]}})
  | .profiles["host-key-on"] = ($p["host-key"] + {enabled: true})
  | .profiles["keys"] = ($p["host-key"] + {enabled: true,
        key: {types: ["ec", "rsa"], curves: ["P-256", "P-384"], rsa_min_bits: 3072},
        cn: {source: "pattern", pattern: "^k-[a-z0-9-]+$", max_length: 19},
        subject: {unlisted: "refuse", ignore: ["O"], refuse: ["OU"]}})
  | .profiles["replay"] = ($p["host-key"] + {enabled: true, on_existing: "replay",
        cn: {source: "pattern", pattern: "^replay-[0-9]+$"}})
  | .profiles["rl"] = ($p["host-key"] + {enabled: true,
        rate_limit: {per_station_per_minute: 2, per_profile_per_minute: 0}})
' "$SRC/policies/default.json" >test.json || exit 1
out=$("$NRFCA_ADMIN" policy check test.json 2>&1) || { echo "test policy refused: $out" >&2; exit 1; }
jq --arg p "$dir/test.json" '.policy = $p' nrfca.json >nrfca.json.new && mv nrfca.json.new nrfca.json
server_start "$dir" || exit 1

# ---------------------------------------------------------------- helpers
# post STATION_TOKEN QUERY BODYFILE -> $code, $resp (body), headers in hdr.txt
post() {
	code=$(curl -s -o resp.json -D hdr.txt -w '%{http_code}' -X POST \
		-H "Authorization: Bearer $(cat "$1")" -H 'Content-Type: application/json' \
		--data-binary "@$3" "$SERVER_URL/v1/enroll$2")
	resp=$(cat resp.json)
}
# body INPUTFILE PROFILE EXTRA -> body.json (keygen or csr chosen by the file)
body() {
	local kind=keygen
	case $1 in *.csr) kind=csr ;; esac
	jq -n --rawfile v "$1" --arg k "$kind" --arg p "$2" --argjson x "$3" \
		'{($k): ($v | rtrimstr("\n"))} + (if $p == "" then {} else {profile: $p} end) + $x' \
		>body.json
}
# row NAME PROFILE STATION INPUT EXTRA MODE STATUS RULE
row() {
	local name=$1 prof=$2 st=$3 in=$4 extra=$5 mode=$6 want=$7 rule=$8 q= got
	[ "$mode" = dry ] && q='?dry_run=1'
	body "$in" "$prof" "$extra"
	post "$st.token" "$q" body.json
	got=$(jq -r '.rule // ""' resp.json 2>/dev/null)
	if [ "$code" != "$want" ] || [ "$got" != "$rule" ]; then
		fail "$name: profile '$prof' station $st $mode: HTTP $code rule '$got', expected $want '$rule': $resp"
		return 1
	fi
	if [ "$mode" = dry ] && [ "$want" = 200 ] &&
	   [ "$(jq -r '.dry_run, .decision' resp.json | tr '\n' ' ')" != "true allow " ]; then
		fail "$name: a dry run that allows says: $resp"
		return 1
	fi
	ok
	return 0
}
count_certs() {
	curl -s -H "Authorization: Bearer $(cat operator.token)" "$SERVER_URL/v1/certificates?limit=1000" |
		jq '.certificates | length'
}
metric() { # NAME{LABELS} -> value or 0
	curl -s "$SERVER_URL/metrics" | awk -v k="$1" '$1 == k { v = $2 } END { print v + 0 }'
}
metric_sum() { # NAME LABEL="VALUE" -> sum of the family's samples with that label
	curl -s "$SERVER_URL/metrics" | awk -v n="$1{" -v l="$2" '
		index($1, n) == 1 && (index($1, "{" l ",") || index($1, "," l ",") ||
			index($1, "{" l "}") || index($1, "," l "}")) { v += $2 } END { print v + 0 }'
}
audit_entries() {
	"$NRFCA_ADMIN" audit verify | sed -n 's/^ok .* chain of \([0-9]*\) entries.*/\1/p'
}
wait_generation() { # N: wait until the policy generation reaches N
	local i
	for i in $(seq 1 100); do
		[ "$(metric nrfca_policy_generation)" -ge "$1" ] && return 0
		sleep 0.05
	done
	return 1
}

# ---------------------------------------------------------------- the table
certs0=$(count_certs)
audit0=$(audit_entries)
rej_cn_uuid0=$(metric_sum nrfca_enroll_rejections_total 'reason="cn_uuid"')
V=$vec
cn_vec=$V/keygen-line-custom-cn.txt
while IFS='|' read -r name prof st in extra mode want rule; do
	[ -z "$name" ] || [ "${name:0:1}" = '#' ] && continue
	row "$name" "$prof" "$st" "$in" "$extra" "$mode" "$want" "$rule"
done <<TABLE
# profiles
unknown profile|nope|station|$V/keygen-csr-sectag17.txt|{}|dry|403|profile_unknown
default profile (no name) allows vector 17||station|$V/keygen-csr-sectag17.txt|{}|dry|200|
host-key disabled by default|host-key|station|hk1.csr|{}|real|403|profile_disabled
host-key enabled by the operator|host-key-on|station|hk1.csr|{}|real|201|
# stations
station not in "stations"|restricted|station2|$V/keygen-csr-sectag17.txt|{}|real|403|station
station in "stations"|restricted|station|$V/keygen-csr-sectag17.txt|{}|dry|200|
station2 where no stations are listed|nrf-cloud-mqtt|station2|$V/keygen-csr-sectag17.txt|{}|dry|200|
# input kind
plain CSR to a keygen profile|nrf-cloud-mqtt|station|k_o.csr|{}|real|403|input
%KEYGEN to a csr profile|host-key-on|station|$V/keygen-csr-sectag17.txt|{}|real|403|input
plain CSR to input any with attestation required|any-input|station|k_o.csr|{}|real|403|attestation_required
%KEYGEN to input any with attestation required|any-input|station|$V/keygen-csr-sectag17.txt|{}|dry|200|
# attestation (binding is refused by the parser before the policy: 400)
digest of another request|nrf-cloud-mqtt|station|unbound|{}|real|400|
public-key %KEYGEN (payload 8)|nrf-cloud-mqtt|station|$V/keygen-pubkey-sectag16.txt|{}|real|403|payload_id
public-key %KEYGEN, payload any: passes payload_id and the key checks, has no CN|any-payload|station|$V/keygen-pubkey-sectag16.txt|{}|real|403|cn_missing
identity key A verifies sim A|idkeys|station|a_uuid.1|{}|dry|200|
sim B signs with another identity key|idkeys|station|b_uuid.1|{}|real|403|attestation_signature
tampered COSE signature|idkeys|station|a_tampered|{}|real|403|attestation_signature
public vector against sim identity key|idkeys|station|$V/keygen-csr-sectag17.txt|{}|real|403|attestation_signature
identity key directory verifies sim B|idkeys-dir|station|b_uuid.1|{}|dry|200|
identity key directory refuses tampered|idkeys-dir|station|a_tampered|{}|dry|403|attestation_signature
no identity keys: signature not checked (README)|nrf-cloud-mqtt|station|a_tampered|{}|dry|200|
# key type, curve, size
P-384 refused by host-key|host-key-on|station|p384.csr|{}|real|403|key_curve
P-384 allowed by keys|keys|station|p384.csr|{}|dry|200|
P-521 refused by keys|keys|station|p521.csr|{}|real|403|key_curve
Ed25519 refused|keys|station|ed.csr|{}|real|403|key_type
RSA 2048 under rsa_min_bits 3072|keys|station|rsa2k.csr|{}|real|403|key_size
RSA 3072 allowed|keys|station|rsa3k.csr|{}|real|201|
RSA refused by an EC-only profile|host-key-on|station|rsa3k.csr|{}|real|403|key_type
# subject
refused attribute OU|keys|station|k_ou.csr|{}|real|403|subject_attribute
ignored attribute O|keys|station|k_o.csr|{}|dry|200|
unlisted attribute O refused by host-key|host-key-on|station|hk_o.csr|{}|real|403|subject_attribute
two CNs (refused by the CSR parser)|keys|station|k_2cn.csr|{}|real|400|
no CN|keys|station|k_nocn.csr|{}|real|403|cn_missing
CN of 20 characters over max_length 19|keys|station|k_long.csr|{}|real|403|cn_length
CN of 19 characters|keys|station|k_19.csr|{}|dry|200|
# CN rules
custom-CN vector: not the attested UUID|nrf-cloud-mqtt|station|$cn_vec|{}|real|403|cn_uuid
custom-CN vector: IMEI fails Luhn|imei|station|$cn_vec|{}|real|403|luhn
UUID CN to the imei profile|imei|station|a_uuid.1|{}|real|403|cn_imei_form
bare IMEI CN where only nrf-<IMEI> is allowed|imei|station|a_bare.1|{}|real|403|cn_imei_form
bare IMEI CN where both forms are allowed|imei-bare|station|a_bare.1|{}|dry|200|
sim nrf-<IMEI> with valid Luhn|imei|station|a_imei.1|{}|dry|200|
sim nrf-<IMEI>, station read the same IMEI|imei|station|a_imei.1|{"imei":"$IA"}|dry|200|
sim nrf-<IMEI>, station read another IMEI|imei|station|a_imei.1|{"imei":"$IB"}|real|403|imei_mismatch
sim UUID CN|nrf-cloud-mqtt|station|a_uuid.1|{}|dry|200|
CN with a space against the pattern|host-key-on|station|hk_bad.csr|{}|real|403|cn_pattern
CN outside the pattern|keys|station|rl1.csr|{}|real|403|cn_pattern
# sec_tags
vector sec_tag 17 in [17, 40-45]|tags|station|$V/keygen-csr-sectag17.txt|{}|dry|200|
vector sec_tag 52 not in [17, 40-45]|tags|station|$V/keygen-line-sectag52.txt|{}|real|403|sec_tag
sim sec_tag 42 in 40-45|tags|station|a_uuid.1|{}|dry|200|
sim sec_tag 46 not in 40-45|tags|station|a_uuid46.1|{}|real|403|sec_tag
# device lists
on the allow-list|lists|station|a_uuid.1|{}|dry|200|
on the deny-list (and the allow-list)|lists|station|b_uuid.1|{}|real|403|deny_list
not on the allow-list|lists|station|$V/keygen-csr-sectag17.txt|{}|real|403|allow_list
# validity
30 days|nrf-cloud-mqtt|station|$V/keygen-csr-sectag17.txt|{"validity_days":30}|dry|200|
4000 days over max 3650|nrf-cloud-mqtt|station|$V/keygen-csr-sectag17.txt|{"validity_days":4000}|real|403|validity
TABLE

# the refusal sentence names the values compared
row "custom-CN message" nrf-cloud-mqtt station "$cn_vec" '{}' real 403 cn_uuid &&
	{ jq -r .detail resp.json | grep -F "CN 'nrf-355025930000000' is not the attested device UUID '50343956-3037-4738-800d-1f29e0a0f7bf'" >/dev/null &&
	  [ "$(jq -r .error resp.json)" = policy_denied ] && ok ||
	  fail "custom-CN refusal: $resp"; }
row "luhn message" imei station "$cn_vec" '{}' dry 403 luhn &&
	{ jq -r .detail resp.json | grep "355025930000000.*Luhn" >/dev/null && ok || fail "luhn refusal: $resp"; }
row "dry 30 days" nrf-cloud-mqtt station "$V/keygen-csr-sectag17.txt" '{"validity_days":30}' dry 200 "" &&
	{ [ "$(jq -r '.validity_days, .profile, .device_id' resp.json | tr '\n' ' ')" = "30 nrf-cloud-mqtt 50363154-3931-44f0-8022-121b6401627d " ] &&
	  ok || fail "dry run answer: $resp"; }

# ---------------------------------------------------------------- dry run records nothing
# (the table's allowed dry runs and the one real issuance of each kind so far)
# (summaries of earlier refusals may be written by the server's tick at any time)
non_summary() {
	sqlite3 "file:$dir/nrfca.db?mode=ro" "SELECT count(*) FROM audit_log WHERE event != 'reject_summary'"
}
a0=$(non_summary)
c0=$(count_certs)
row "dry allow" nrf-cloud-mqtt station a_uuid.2 '{}' dry 200 ""
row "dry deny" nrf-cloud-mqtt station "$cn_vec" '{}' dry 403 cn_uuid
[ "$(count_certs)" = "$c0" ] && ok || fail "a dry run recorded a certificate ($c0 -> $(count_certs))"
[ "$(non_summary)" = "$a0" ] && ok || fail "a dry run wrote the audit log ($a0 -> $(non_summary))"
# the real issuances in the table: host-key-on hk1 and keys rsa3k
[ "$(count_certs)" = $((certs0 + 2)) ] && ok ||
	fail "expected $((certs0 + 2)) certificates after the table, found $(count_certs)"

# ---------------------------------------------------------------- refusals: audit and metric
rej=$(metric_sum nrfca_enroll_rejections_total 'reason="cn_uuid"')
[ "${rej%.*}" -ge $((rej_cn_uuid0 + 2)) ] && ok ||
	fail "nrfca_enroll_rejections_total{reason=\"cn_uuid\"} went $rej_cn_uuid0 -> $rej after 2 refusals"
before=$rej
row "metric refusal" nrf-cloud-mqtt station "$cn_vec" '{}' real 403 cn_uuid
rej=$(metric_sum nrfca_enroll_rejections_total 'reason="cn_uuid"')
[ "$rej" = $((before + 1)) ] && ok || fail "cn_uuid rejection metric $before -> $rej"
n=$(sqlite3 "file:$dir/nrfca.db?mode=ro" "SELECT count(*) FROM audit_log WHERE event = 'reject'
	AND detail LIKE '%\"rule\":\"cn_uuid\"%' AND detail LIKE '%nrf-355025930000000%'
	AND actor = 'test-station'" 2>&1)
# refusals are audited once per (station, rule) and interval, the rest counted in a
# summary written when the interval ends or at shutdown (checked at the end)
[ "$n" -ge 1 ] && [ "$n" -lt 3 ] && ok ||
	fail "audit log holds $n first cn_uuid refusals of the custom-CN vector, expected 1 (2 if a minute passed)"
n=$(sqlite3 "file:$dir/nrfca.db?mode=ro" "SELECT count(*) FROM audit_log WHERE event = 'reject'
	AND detail LIKE '%\"rule\":\"station\"%' AND actor = 'test-station2'" 2>&1)
[ "$n" = 1 ] && ok || fail "audit log holds $n station refusals of test-station2, expected 1"
out=$("$NRFCA_ADMIN" audit verify 2>&1) && grep -q '^ok' <<<"$out" && ok || fail "audit verify: $out"

# ---------------------------------------------------------------- on_existing
# reject: hk1 (nrf-$IB) was issued by host-key-on above; another key for the device
row "reject: second key" host-key-on station hk2.csr '{}' real 409 on_existing &&
	{ [ "$(jq -r .error resp.json)" = device_has_certificate ] && ok || fail "409 answer: $resp"; }
# replay: the same key in another CSR gets the existing certificate back
row "replay: first" replay station rp1.csr '{}' real 201 "" && s1=$(jq -r .serial resp.json)
row "replay: same key, other CSR bytes" replay station rp1b.csr '{}' real 200 "" &&
	{ [ "$(jq -r .serial resp.json)" = "$s1" ] && ok || fail "replay gave serial $(jq -r .serial resp.json), not $s1"; }
row "replay: other key" replay station rp2.csr '{}' real 409 on_existing
# the same %KEYGEN output again is an idempotent replay under any profile
row "supersede: first" nrf-cloud-mqtt station a_uuid.2 '{}' real 201 "" && old=$(jq -r .serial resp.json)
row "resend identical %KEYGEN" nrf-cloud-mqtt station a_uuid.2 '{}' real 200 "" &&
	{ [ "$(jq -r .serial resp.json)" = "$old" ] && ok || fail "identical resend: $resp"; }
# supersede: a new key for the device revokes the old certificate (superseded)
row "supersede: dry run says so" nrf-cloud-mqtt station a_uuid.3 '{}' dry 200 "" &&
	{ [ "$(jq -r .action resp.json)" = supersede ] && ok || fail "dry supersede: $resp"; }
row "supersede: new key" nrf-cloud-mqtt station a_uuid.3 '{}' real 201 "" && new=$(jq -r .serial resp.json)
# the certificate is built from the profile: subject, extensions, validity, trust bundle
jq -r .certificate resp.json >new.pem
txt=$(openssl x509 -in new.pem -noout -text -nameopt RFC2253 2>&1)
grep -q "Subject: CN=$UA\$" <<<"$txt" && grep -A1 'X509v3 Key Usage: critical' <<<"$txt" | grep -x ' *Digital Signature' >/dev/null &&
	grep -A1 'X509v3 Extended Key Usage' <<<"$txt" | grep -x ' *TLS Web Client Authentication' >/dev/null &&
	grep -A1 'X509v3 Basic Constraints: critical' <<<"$txt" | grep -x ' *CA:FALSE' >/dev/null && ok ||
	fail "the nrf-cloud-mqtt certificate does not follow the profile: $txt"
nb=$(date -d "$(openssl x509 -in new.pem -noout -startdate | cut -d= -f2)" +%s)
na=$(date -d "$(openssl x509 -in new.pem -noout -enddate | cut -d= -f2)" +%s)
[ $(( (na - nb + 43200) / 86400 )) = 3650 ] && ok || fail "validity $(( (na - nb) / 86400 )) days, expected 3650"
jq -j .trust_bundle resp.json | cmp -s - "$SRC/policies/trust/aws-root-ca1.pem" && ok ||
	fail "the trust bundle is not Amazon Root CA 1 byte for byte"
[ "$(jq -r '[.device_id, .sec_tag, .profile] | join(" ")' resp.json)" = "$UA 42 nrf-cloud-mqtt" ] && ok ||
	fail "device_id / sec_tag / profile of the answer: $resp"
openssl verify -CAfile ca-chain.pem new.pem >/dev/null 2>&1 && ok || fail "the certificate does not verify with the CA chain"
# imei: the accepted nrf-<IMEI> is issued with that CN
row "imei: real issuance" imei station a_imei.2 "{\"imei\":\"$IA\"}" real 201 "" &&
	{ [ "$(jq -r .device_id resp.json)" = "nrf-$IA" ] &&
	  jq -r .certificate resp.json | openssl x509 -noout -subject -nameopt RFC2253 | grep -x "subject=CN=nrf-$IA" >/dev/null &&
	  ok || fail "imei issuance: $resp"; }
rec=$(curl -s -H "Authorization: Bearer $(cat operator.token)" "$SERVER_URL/v1/certificates/$old")
[ "$(jq -r .status <<<"$rec")" = revoked ] && jq -r '.. | strings' <<<"$rec" | grep -x superseded >/dev/null && ok ||
	fail "the superseded certificate $old: $rec"
rec=$(curl -s -H "Authorization: Bearer $(cat operator.token)" "$SERVER_URL/v1/certificates/$new")
[ "$(jq -r .status <<<"$rec")" = active ] && ok || fail "the new certificate $new: $rec"
curl -s -o crl.der "$SERVER_URL/v1/crl"
crl=$(openssl crl -inform DER -noout -text -in crl.der 2>&1)
# serial -> reason for every revoked entry, serials upper case without leading zeros
crl_reasons() {
	awk '/Serial Number:/ { s = toupper($3); sub(/^0+/, "", s); next }
	     s != "" && /CRL Reason Code/ { getline; gsub(/^ +| +$/, ""); print s, $0; s = "" }' <<<"$crl"
}
norm() { tr a-f A-F <<<"$1" | sed 's/^0*//'; }
crl_reasons | grep -x "$(norm "$old") Superseded" >/dev/null && ok ||
	fail "the CRL does not list $old as superseded: $crl"
grep -q "Serial Number: 0*$(norm "$new")\$" <<<"$crl" && fail "the CRL lists the new certificate $new" || ok
openssl crl -inform DER -in crl.der -noout -CAfile ca-chain.pem 2>&1 | grep 'verify OK' >/dev/null && ok ||
	fail "the CRL does not verify with the CA chain"

# ---------------------------------------------------------------- rate limit
# dry runs sign nothing, so they take no token
for i in 1 2 3; do row "rate: dry run $i is not charged" rl station rl$i.csr '{}' dry 200 ""; done
row "rate 1" rl station rl1.csr '{}' real 201 ""
row "rate 2" rl station rl2.csr '{}' real 201 ""
row "rate: replay of an issued CSR is not charged" rl station rl1.csr '{}' real 200 ""
row "rate 3" rl station rl3.csr '{}' real 429 rate_limit &&
	{ ra=$(awk -F': *' 'tolower($1) == "retry-after" { print $2 + 0 }' hdr.txt)
	  [ -n "$ra" ] && [ "$ra" -ge 1 ] && [ "$ra" -le 60 ] && ok || fail "429 without a Retry-After of 1..60 s: $(cat hdr.txt)"; }
row "rate: another station has its own bucket" rl station2 rl3.csr '{}' real 201 ""

# ---------------------------------------------------------------- list files reloaded on SIGHUP
gen=$(metric nrfca_policy_generation)
printf '# test deny-list, edited\n%s  # sim A now\n' "${UA^^}" >deny.txt
kill -HUP "$SERVER_PID"
wait_generation $((gen + 1)) || fail "SIGHUP did not reload the policy (generation $gen)"
row "after reload: A on the deny-list" lists station a_uuid.4 '{}' dry 403 deny_list
row "after reload: B no longer denied" lists station b_uuid.2 '{}' dry 200 ""
# a broken list keeps the running policy (and its lists) in force
gen=$(metric nrfca_policy_generation)
printf 'not-a-device\n' >>deny.txt
kill -HUP "$SERVER_PID"
for i in $(seq 1 60); do grep -q policy_reload_failed server.log && break; sleep 0.05; done
grep -q policy_reload_failed server.log && ok || fail "a broken deny-list was not reported in the log"
[ "$(metric nrfca_policy_generation)" = "$gen" ] && ok || fail "a broken deny-list was loaded"
row "broken list kept the old policy" lists station a_uuid.4 '{}' dry 403 deny_list
sed -i '/^not-a-device$/d' deny.txt

# ---------------------------------------------------------------- policy check on broken files
jq '.profiles["imei"].cn.pattern = "^(nrf-$"' test.json >bad1.json
out=$("$NRFCA_ADMIN" policy check bad1.json 2>&1); rc=$?
[ $rc = 1 ] && grep -qF 'bad1.json: $.profiles["imei"].cn.pattern' <<<"$out" && grep -qi 'regular expression' <<<"$out" &&
	ok || fail "policy check of a bad pattern: rc=$rc $out"
jq '.profiles["lists"].devices.deny_list = "missing.txt"' test.json >bad2.json
out=$("$NRFCA_ADMIN" policy check bad2.json 2>&1); rc=$?
[ $rc = 1 ] && grep -qF 'bad2.json: $.profiles["lists"].devices.deny_list' <<<"$out" && grep -q 'missing.txt' <<<"$out" &&
	ok || fail "policy check of a missing list file: rc=$rc $out"
jq '.profiles["tags"].on_existing = "replay" | .profiles["tags"].cn = {source: "any"}' test.json >bad3.json
out=$("$NRFCA_ADMIN" policy check bad3.json 2>&1); rc=$?
[ $rc = 1 ] && grep -qF 'bad3.json: $.profiles["tags"]' <<<"$out" && grep -qi 'replay' <<<"$out" &&
	ok || fail "policy check of replay without a CN rule: rc=$rc $out"
jq '.profiles["keys"].validity.max_dayz = 3' test.json >bad4.json
out=$("$NRFCA_ADMIN" policy check bad4.json 2>&1); rc=$?
[ $rc = 1 ] && grep -qF 'bad4.json: $.profiles["keys"].validity' <<<"$out" && grep -q 'max_dayz' <<<"$out" &&
	ok || fail "policy check of an unknown key: rc=$rc $out"
out=$("$NRFCA_ADMIN" policy check test.json 2>&1) && ok || fail "policy check of the test policy: $out"

rej_final=$(metric_sum nrfca_enroll_rejections_total 'reason="cn_uuid"')
server_stop
[ "${SERVER_RC:-1}" = 0 ] || fail "server exit status ${SERVER_RC:-?} after SIGTERM"
# every cn_uuid refusal is in the audit log: first entries, then the summaries' counts
n=$(sqlite3 "file:$dir/nrfca.db?mode=ro" "SELECT coalesce(sum(json_extract(detail, '$.count')), 0)
	FROM audit_log WHERE event = 'reject_summary' AND actor = 'test-station'
	AND json_extract(detail, '$.rule') = 'cn_uuid'" 2>&1)
f=$(sqlite3 "file:$dir/nrfca.db?mode=ro" "SELECT count(*) FROM audit_log WHERE event = 'reject'
	AND actor = 'test-station' AND json_extract(detail, '$.rule') = 'cn_uuid'" 2>&1)
[ "$((n + f))" = "${rej_final%.*}" ] && ok ||
	fail "cn_uuid refusals: $f entries + $n in summaries, the metric says $rej_final"
if grep -q 'AddressSanitizer\|runtime error' server.log; then fail "sanitizer report in server.log"; fi
[ $fails -eq 0 ] || { echo "$fails failure(s), $checks checks passed; server log tail:"; tail -5 server.log; exit 1; }
echo "policy_e2e: all $checks checks passed"
