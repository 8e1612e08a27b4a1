#!/bin/bash
# nrfca provision through nrf91-sim --shell, the Zephyr shell as real firmware
# has it: certificates go out as one line with \n escapes, the modem stores
# CR LF text, hashes match, with and without echo, with URCs; 20 modems in a
# row; the shell buffer; wrong --at-prefix; an IMEI of the wrong form.
# Usage: shell.sh BUILD SRC
set -uo pipefail
BUILD=$1
src=$2
export BUILD
# shellcheck source=../lib/station.sh
. "$src/tests/integration/lib/station.sh"
station_test_begin provision-shell

server_setup "$srv" || { echo "server setup failed" >&2; exit 1; }
server_start "$srv" || exit 1

# check_shell NAME WHAT: what the modem stores is the CR LF text, the modem's
# hashes are over it and equal what nrfca computed (report), and every
# write reached the modem as one command (no shell refusal in the log)
check_shell() {
	local name=$1 what=$2 t sel
	for t in 0 1; do
		sel=".credentials[] | select(.sec_tag == 16842753 and .type == $t)"
		jq -e "$sel | .content | contains(\"\\r\\n\") and (test(\"(^|[^\\r])\\n\") | not)" \
			"$dir/$name.json" >/dev/null ||
			{ fail "$what: type $t is not stored with CR LF line ends"; return 1; }
		[ "$(jq -j "$sel | .content" "$dir/$name.json" | sha256sum | cut -c1-64 | tr a-f A-F)" = \
			"$(state_cred "$name" $t sha256)" ] ||
			{ fail "$what: type $t hash is not over the stored text"; return 1; }
	done
	[ "$(jq -r .hashes.client_cert "$dir/$name.report")" = "$(state_cred "$name" 1 sha256)" ] &&
		[ "$(jq -r .hashes.ca_cert "$dir/$name.report")" = "$(state_cred "$name" 0 sha256)" ] ||
		{ fail "$what: nrfca's expected hashes differ from the modem's"; return 1; }
	if jq -s -e 'any(.[]; .kind == "shell")' "$dir/$name.log" >/dev/null; then
		fail "$what: the shell refused lines: $(jq -c 'select(.kind == "shell")' "$dir/$name.log" | head -3)"
		return 1
	fi
	[ "$(sim_sent "$name" '^AT%CMNG=0,16842753,[01],' | wc -l)" = 2 ] ||
		{ fail "$what: not two %CMNG writes"; return 1; }
	ok "$what: CR LF text stored, hashes agree, each write one shell command"
}

# ---- 1. echo and URCs, a station config asking for lf (ignored through the shell) ----
start_sim echo --shell --urc --imei "$(imei_of 35265610970001)"
printf 'line_ending = lf\n' >"$dir/station.conf"
if prov 0 "shell, echo, URCs" --station-config "$dir/station.conf" --report "$dir/echo.report"; then
	check_modem echo "shell with echo and URCs"
	check_shell echo "shell with echo and URCs"
	grep -q "talking Zephyr shell AT" <<<"$err" && ok "shell mode detected" || fail "mode not said: $err"
fi
stop_sim echo

# ---- 2. no echo, URCs, the coap bundle (two roots, about 1.8 kB) ----
start_sim noecho --shell --no-echo --urc --imei "$(imei_of 35265610970002)"
if prov 0 "shell, no echo" --coap --report "$dir/noecho.report"; then
	check_modem noecho "shell without echo"
	check_shell noecho "shell without echo, coap bundle"
	[ "$(state_cred noecho 0 content | grep -c 'BEGIN CERTIFICATE')" = 2 ] &&
		ok "coap bundle: two roots in one entry" || fail "coap bundle not two certificates"
fi
stop_sim noecho

# ---- 3. the shell buffer: too small for the bundle, refused before CFUN=4 ----
start_sim small --shell --shell-buffer 1024 --imei "$(imei_of 35265610970003)"
prov 5 "shell buffer 1024" --shell-buffer 1024 && {
	grep -q "shell's command buffer" <<<"$err" && ok "a write longer than --shell-buffer refused: $(grep -o 'command AT%CMNG is [^;]*' <<<"$err")" ||
		fail "shell buffer message: $err"
	[ -z "$(sim_sent small '^AT\+CFUN=4|^AT%KEYGEN|^AT%CMNG=[03]')" ] &&
		ok "shell buffer: refused before the modem was changed" ||
		fail "shell buffer: commands sent: $(sim_sent small .)"
}
# nrfca told a larger buffer than the firmware has: the shell cuts the line,
# refuses it, and nrfca names the shell's answer
prov 5 "shell buffer mismatch" && {
	grep -q "the Zephyr shell did not pass AT%CMNG" <<<"$err" && grep -q "not terminated" <<<"$err" &&
		ok "cut line: the shell's refusal named" || fail "mismatch message: $err"
	[ "$(count_type small 0)" = 0 ] || fail "mismatch: something stored as type 0"
}
stop_sim small

# ---- 4. the wrong --at-prefix: a hint, and nothing done ----
start_sim wrongmode --shell --imei "$(imei_of 35265610970004)"
prov 2 "--at-prefix none on a shell" --at-prefix none && {
	grep -q -- "--at-prefix shell" <<<"$err" && ok "plain AT on a shell: hint to --at-prefix shell" ||
		fail "hint missing: $err"
	[ -z "$(sim_sent wrongmode .)" ] && ok "plain AT on a shell: the modem ran nothing" ||
		fail "commands reached the modem: $(sim_sent wrongmode .)"
}
stop_sim wrongmode
start_sim plainmode --imei "$(imei_of 35265610970005)"
prov 2 "--at-prefix shell on plain AT" --at-prefix shell && {
	grep -q -- "--at-prefix none" <<<"$err" && ok "shell on plain AT: hint to --at-prefix none" ||
		fail "hint missing: $err"
	[ -z "$(sim_sent plainmode '^AT\+CFUN=4|^AT%KEYGEN|^AT%CMNG')" ] || fail "plain: the modem was changed"
}
stop_sim plainmode

# ---- 5. an IMEI of the wrong form is named as such ----
start_sim badimei --shell --faults cgsn=35265610948078
prov 8 "IMEI of 14 digits" && {
	grep -q 'IMEI "35265610948078" (14 digits)' <<<"$err" && ok "IMEI of the wrong form named: exit 8" ||
		fail "IMEI message: $err"
	[ -z "$(sim_sent badimei '^AT%KEYGEN')" ] || fail "bad IMEI: a key was made"
}
stop_sim badimei

# ---- 6. twenty modems in a row through the shell ----
n_ok=0
for i in $(seq 1 20); do
	start_sim seq$i --shell --imei "$(imei_of $((35265610980000 + i)))" --uuid "$(uuid_of $((300 + i)))"
	if prov 0 "shell sequence $i" --report "$dir/seq$i.report" && check_shell seq$i "shell $i" >/dev/null; then
		n_ok=$((n_ok + 1))
	fi
	stop_sim seq$i
done
[ $n_ok = 20 ] && ok "twenty modems in a row through the shell" || fail "shell sequence: $n_ok of 20"

station_test_end "shell provisioning"
