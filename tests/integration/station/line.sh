#!/bin/bash
# nrfca line: several nrf91-sim modems at once through a private nrfca-server.
# Usage: line.sh BUILD SRC PART, PART one of
#   many     8 simulators at once: 8 devices, certificates (with their slot),
#            CSV/devinfo/report rows; the plain lines checked one by one
#   json     --json events line by line, a failing slot, the exit status
#   watch    hot plug: links in a watched folder, 3 rounds x 4 slots; a board
#            killed in the middle of %CMNG writing fails alone and, plugged
#            back, resumes with one key and one certificate
#   screen   the table under tmux (capture-pane): every slot's final state
#   stop     Ctrl-C: boards in progress finish, no new one starts; a second
#            Ctrl-C stops at once and names the devices left and their state
set -uo pipefail
BUILD=$1
src=$2
part=$3
export BUILD
# shellcheck source=../lib/station.sh
. "$src/tests/integration/lib/station.sh"
station_test_begin "line-$part"
if [ "$part" = screen ] && ! command -v tmux >/dev/null; then
	echo "SKIP: tmux not installed"
	exit 77
fi
mkdir -p "$dir/ports"
linepid=
tmuxsock=$dir/tmux.sock
station_cleanup_extra() {
	[ -n "$linepid" ] && kill -9 "$linepid" 2>/dev/null
	[ -S "$tmuxsock" ] && tmux -S "$tmuxsock" kill-server 2>/dev/null
}

server_setup "$srv" || { echo "server setup failed" >&2; exit 1; }
server_start "$srv" || exit 1
common=(--server "$SERVER_URL" --token-file "$srv/station.token" --journal "$dir/journal")

# board LINK N [SIM ARGS]: simulated board bN (state, log) with IMEI/UUID from
# N, linked as $dir/ports/LINK (or LINK in the folder $links)
board() {
	local link=$1 n=$2
	shift 2
	start_sim "b$n" --imei "$(imei_of $((35265611000000 + n)))" --uuid "$(uuid_of $((5000 + n)))" "$@"
	ln -sfn "$port" "${links:-$dir/ports}/$link"
}
certs() {
	curl -s -H "Authorization: Bearer $(cat "$srv/operator.token")" "$SERVER_URL/v1/certificates?limit=1000"
}
# line_pid: the nrfca process under the `timeout` started as $linepid
# (timeout ignores a second interrupt: signals go to nrfca itself)
line_pid() {
	local i c
	for i in $(seq 1 50); do
		c=$(ps -o pid= --ppid "$linepid" | tr -d ' ' | head -1)
		[ -n "$c" ] && { echo "$c"; return 0; }
		sleep 0.1
	done
	echo "$linepid"
}
# has_event FILE JQ: some JSON event in FILE matches
has_event() { jq -s -e "any(.[]; $2)" "$1" >/dev/null; }
# wait_events FILE JQ COUNT [SECONDS]: until COUNT JSON events match
wait_events() {
	local i
	for i in $(seq 1 $((${4:-60} * 10))); do
		[ "$(jq -c "select($2)" "$1" 2>/dev/null | wc -l)" -ge "$3" ] && return 0
		sleep 0.1
	done
	return 1
}

case $part in
many)
	ports=()
	for i in 1 2 3 4 5 6 7 8; do
		board slot$i $i --urc
		ports+=(--port "$dir/ports/slot$i")
	done
	timeout 120 "$nrfca" line "${ports[@]}" --once "${common[@]}" --csv "$dir/onboard.csv" \
		--devinfo "$dir/devinfo.csv" --report "$dir/report.jsonl" >"$dir/out" 2>"$dir/err"
	rc=$?
	[ $rc = 0 ] && ok "8 at once: exit 0" || fail "8 at once: exit $rc: $(tail -3 "$dir/err")"
	[ "$(grep -c ' PASS ' "$dir/out")" = 8 ] && ok "8 PASS lines" || fail "PASS lines: $(grep -c ' PASS ' "$dir/out")"
	# every line but the last: "<UTC time> <slot>: <event>"
	bad=$(head -n -1 "$dir/out" | grep -Evc '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z slot[1-8]: (board plugged in \(|step ([1-9]|1[01])/11 [a-z]+( |$)|PASS )')
	[ "$bad" = 0 ] && ok "plain output: every line timestamped, one slot, one event" ||
		fail "plain output lines not of the form: $(head -n -1 "$dir/out" | grep -Ev '^[0-9-]+T[0-9:]+Z slot[1-8]: ' | head -3)"
	for i in 1 2 3 4 5 6 7 8; do
		[ "$(grep -c "Z slot$i: step" "$dir/out")" = 11 ] || fail "slot$i: not 11 step lines"
	done
	tail -1 "$dir/out" | grep "^line summary: 8 passed, 0 failed in .* devices/hour, CA $SERVER_URL; exit 0 (ok)$" >/dev/null &&
		ok "the last line is the session summary" || fail "summary: $(tail -1 "$dir/out")"
	certs >"$dir/certs.json"
	[ "$(jq '.certificates | length' "$dir/certs.json")" = 8 ] && ok "8 certificates at the CA" ||
		fail "certificates: $(jq '.certificates | length' "$dir/certs.json")"
	[ "$(jq -r '.certificates[].slot' "$dir/certs.json" | sort | tr '\n' ' ')" = "slot1 slot2 slot3 slot4 slot5 slot6 slot7 slot8 " ] &&
		ok "each certificate records its slot" || fail "slots: $(jq -c '[.certificates[].slot]' "$dir/certs.json")"
	n=0
	for i in 1 2 3 4 5 6 7 8; do check_modem b$i "slot$i" >/dev/null && n=$((n + 1)); done
	[ $n = 8 ] && ok "each certificate is in its modem" || fail "$n of 8 modems hold their certificate"
	rows=$(grep -c '^[0-9a-f-]\{36\},' "$dir/onboard.csv")
	[ "$rows" = 8 ] && [ "$(cut -d, -f1 "$dir/onboard.csv" | grep -c '^[0-9a-f-]\{36\}$')" = 8 ] &&
		[ "$(grep '^[0-9a-f-]\{36\},' "$dir/onboard.csv" | cut -d, -f1 | sort -u | wc -l)" = 8 ] &&
		ok "8 onboarding rows, one per device" || fail "CSV rows: $rows"
	[ "$(wc -l <"$dir/devinfo.csv")" = 8 ] && [ "$(cut -d, -f1 "$dir/devinfo.csv" | sort -u | wc -l)" = 8 ] &&
		ok "8 devinfo rows" || fail "devinfo: $(cat "$dir/devinfo.csv")"
	[ "$(jq -c 'select(.result == "ok")' "$dir/report.jsonl" | wc -l)" = 8 ] &&
		[ "$(jq -r .slot "$dir/report.jsonl" | sort -u | wc -l)" = 8 ] &&
		ok "8 report lines, one JSON object per device" || fail "report: $(head -c 300 "$dir/report.jsonl")"
	# the CA refuses a malformed slot name
	curl -s -o "$dir/bad.json" -w '%{http_code}' -X POST -H "Authorization: Bearer $(cat "$srv/station.token")" \
		-H 'Content-Type: application/json' --data '{"csr": "x", "slot": "a/b"}' "$SERVER_URL/v1/enroll" >"$dir/code"
	[ "$(cat "$dir/code")" = 400 ] && grep -q 'slot' "$dir/bad.json" && ok "a slot with '/' is refused (400)" ||
		fail "bad slot: $(cat "$dir/code") $(cat "$dir/bad.json")"
	;;
json)
	board good 1 --shell
	board old 2 --fw mfw_nrf9160_1.2.3
	timeout 60 "$nrfca" line --port "$dir/ports/good" --port "$dir/ports/old" --once --json \
		"${common[@]}" >"$dir/out" 2>"$dir/err"
	rc=$?
	[ $rc = 4 ] && ok "one slot too old: exit 4 (its status)" || fail "json: exit $rc: $(tail -3 "$dir/err")"
	jq -e . "$dir/out" >/dev/null && ok "every line is JSON" || fail "not JSON: $(head -3 "$dir/out")"
	[ "$(jq -c 'select(.time == null or .event == null)' "$dir/out" | grep -vc '"summary"')" = 0 ] ||
		fail "events without time or event: $(jq -c 'select(.time == null)' "$dir/out" | head -2)"
	has_event "$dir/out" '.event == "pass" and .slot == "good" and (.serial | length) > 0 and .result == "pass"' &&
		ok "pass event with serial" || fail "pass event: $(grep pass "$dir/out")"
	has_event "$dir/out" '.event == "fail" and .slot == "old" and .exit_code == 4 and .exit_name == "firmware-too-old"
	       and .step == 2 and .step_name == "firmware" and (.reason | test("1.3.0"))' &&
		ok "fail event: slot, step, exit status and reason" || fail "fail event: $(grep '"fail"' "$dir/out")"
	[ "$(jq -c 'select(.event == "step" and .slot == "good")' "$dir/out" | wc -l)" = 11 ] ||
		fail "good: not 11 step events"
	tail -1 "$dir/out" | jq -e '.event == "summary" and .passed == 1 and .failed == 1 and
		.failed_by_reason["firmware-too-old"] == 1 and .exit_code == 4' >/dev/null &&
		ok "the last line is the summary event" || fail "summary: $(tail -1 "$dir/out")"
	# a wrong credential stops the line before any board is touched
	printf 'wrong\n' >"$dir/bad.token"
	timeout 60 "$nrfca" line --port "$dir/ports/good" --once --server "$SERVER_URL" --token-file "$dir/bad.token" \
		--journal "$dir/journal" >"$dir/out2" 2>"$dir/err2"
	rc=$?
	[ $rc = 13 ] && grep -q credential "$dir/err2" && ok "wrong credential: exit 13 before any board" ||
		fail "bad token: exit $rc $(cat "$dir/err2")"
	;;
watch)
	links=$dir/watch
	mkdir -p "$links"
	timeout 300 "$nrfca" line --watch "$links/slot-*" --json "${common[@]}" --csv "$dir/onboard.csv" \
		>"$dir/out" 2>"$dir/err" &
	linepid=$!
	n=0
	for round in 1 2 3; do
		for s in 1 2 3 4; do
			n=$((n + 1))
			board "slot-$s" $n
		done
		wait_events "$dir/out" '.event == "pass"' $((round * 4)) || fail "round $round: not 4 more boards passed"
		for s in 1 2 3 4; do
			rm -f "$links/slot-$s"
			stop_sim "b$((n - 4 + s))"
		done
		wait_events "$dir/out" '.event == "unplug"' $((round * 4)) 10 || fail "round $round: unplug not seen"
	done
	[ "$(jq -c 'select(.event == "pass")' "$dir/out" | wc -l)" = 12 ] && ok "3 rounds x 4 slots: 12 boards passed" ||
		fail "watch: $(jq -c 'select(.event == "pass")' "$dir/out" | wc -l) passed"
	[ "$(jq -r 'select(.event == "pass") | .slot' "$dir/out" | sort | uniq -c | awk '{print $1}' | sort -u)" = 3 ] &&
		ok "each slot provisioned three boards" || fail "per slot: $(jq -r 'select(.event == "pass") | .slot' "$dir/out" | sort | uniq -c)"
	[ "$(grep -c '^[0-9a-f-]\{36\},' "$dir/onboard.csv")" = 12 ] && ok "12 CSV rows from all slots" ||
		fail "CSV rows: $(grep -c '^[0-9a-f-]\{36\},' "$dir/onboard.csv")"
	# a board killed while its certificate is written: its slot fails alone,
	# plugged back it resumes with the same key
	board slot-1 21
	board slot-2 22 --faults delay=400
	board slot-3 23
	for i in $(seq 1 300); do
		[ -n "$(sim_sent b22 '^AT%CMNG=0')" ] && break
		sleep 0.1
	done
	kill -9 "${simpid[b22]}"
	wait "${simpid[b22]}" 2>/dev/null
	unset "simpid[b22]"
	wait_events "$dir/out" '.event == "fail" and .slot == "slot-2"' 1 || fail "killed board: no fail event"
	wait_events "$dir/out" '.event == "pass"' 14 || fail "the other two boards did not pass"
	has_event "$dir/out" '.event == "fail" and .slot == "slot-2" and .step == 9 and (.modem_state | length) > 0' &&
		ok "killed in %CMNG writing: FAIL at step 9 with the modem state: $(jq -r 'select(.event == "fail" and .slot == "slot-2") | .modem_state' "$dir/out")" ||
		fail "kill: $(jq -c 'select(.event == "fail")' "$dir/out")"
	k1=$(state_cred b22 2 public_key_pem)
	# slot-2 passed boards in the rounds above: wait for one pass more
	n2=$(jq -c 'select(.event == "pass" and .slot == "slot-2")' "$dir/out" | wc -l)
	rm -f "$links/slot-2"
	sleep 0.5
	start_sim b22 --imei "$(imei_of 35265611000022)" --uuid "$(uuid_of 5022)"
	ln -sfn "$port" "$links/slot-2"
	wait_events "$dir/out" '.event == "pass" and .slot == "slot-2"' $((n2 + 1)) || fail "plugged back: no pass"
	has_event "$dir/out" '.event == "pass" and .slot == "slot-2" and .resumed == true' &&
		ok "plugged back: resumed from the journal" || fail "not resumed: $(jq -c 'select(.slot == "slot-2" and .event == "pass")' "$dir/out")"
	[ "$(state_cred b22 2 public_key_pem)" = "$k1" ] && [ "$(count_type b22 2)" = 1 ] &&
		[ "$(cert_count "$(uuid_of 5022)")" = 1 ] && check_modem b22 "plugged back" >/dev/null &&
		ok "killed mid-write, plugged back: one key, one certificate" ||
		fail "killed board: keys $(count_type b22 2), certificates $(cert_count "$(uuid_of 5022)")"
	kill -INT "$(line_pid)"
	wait $linepid
	rc=$?
	linepid=
	[ $rc = 3 ] && ok "the session ends with the status of its failure (3)" || fail "watch exit $rc"
	tail -1 "$dir/out" | jq -e '.event == "summary" and .passed == 15 and .failed == 1' >/dev/null ||
		fail "watch summary: $(tail -1 "$dir/out")"
	;;
screen)
	for i in 1 2 3; do board "slot$i" $((30 + i)); done
	board slot4 34 --fw mfw_nrf91x1_1.9.0
	tmux -S "$tmuxsock" new-session -d -x 150 -y 30 -s line \
		"$nrfca line --port $dir/ports/slot1 --port $dir/ports/slot2 --port $dir/ports/slot3 --port $dir/ports/slot4 --once --server $SERVER_URL --token-file $srv/station.token --journal $dir/journal; echo \$? >$dir/rc; sleep 60"
	for i in $(seq 1 600); do [ -s "$dir/rc" ] && break; sleep 0.1; done
	tmux -S "$tmuxsock" capture-pane -p -t line >"$dir/screen"
	[ -n "${LINE_SHOW_SCREEN:-}" ] && cat "$dir/screen"
	[ "$(cat "$dir/rc")" = 4 ] && ok "screen: exit 4 (one slot too old)" || fail "screen exit: $(cat "$dir/rc")"
	for i in 1 2 3; do
		grep -Eq "^ slot$i +[0-9a-f-]{36} +11/11 finish +[0-9.]+ s +PASS +serial [0-9a-f]+" "$dir/screen" ||
			fail "slot$i row: $(grep "slot$i" "$dir/screen")"
	done
	grep -Eq "^ slot4 +2/11 firmware +[0-9.]+ s +FAIL +modem firmware mfw_nrf91x1_1.9.0 .* is too" "$dir/screen" &&
		ok "the table shows every slot's final state" || fail "slot4 row: $(grep slot4 "$dir/screen")"
	grep -q "passed 3   failed 1 (firmware-too-old 1)" "$dir/screen" && grep -q "CA $SERVER_URL" "$dir/screen" &&
		ok "header: totals, failures by reason, the CA" || fail "header: $(head -3 "$dir/screen")"
	[ "$(grep -c 'SLOT .*DEVICE' "$dir/screen")" = 1 ] && ok "one table: redrawn in place" ||
		fail "the table was drawn $(grep -c 'SLOT .*DEVICE' "$dir/screen") times"
	grep -q "^line summary: 3 passed, 1 failed" "$dir/screen" && ok "summary below the table" ||
		fail "no summary: $(cat "$dir/screen")"
	;;
stop)
	links=$dir/watch
	mkdir -p "$links"
	board a 41 --faults "keygen-wait=$dir/gate"
	board b 42 --faults "keygen-wait=$dir/gate"
	timeout 120 "$nrfca" line --watch "$links/*" --json "${common[@]}" >"$dir/out" 2>"$dir/err" &
	linepid=$!
	for i in $(seq 1 300); do
		[ -n "$(sim_sent b41 '^AT%KEYGEN')" ] && [ -n "$(sim_sent b42 '^AT%KEYGEN')" ] && break
		sleep 0.1
	done
	kill -INT "$(line_pid)"
	wait_events "$dir/out" '.event == "interrupt"' 1 10 || fail "no interrupt event"
	board c 43
	sleep 1
	touch "$dir/gate"
	wait $linepid
	rc=$?
	linepid=
	[ $rc = 0 ] && [ "$(jq -c 'select(.event == "pass")' "$dir/out" | wc -l)" = 2 ] &&
		ok "first Ctrl-C: the two boards in progress finished (exit 0)" || fail "drain: exit $rc $(tail -3 "$dir/out")"
	[ -z "$(sim_sent b43 .)" ] && ok "first Ctrl-C: a board plugged afterwards was not started" ||
		fail "a new board was started after Ctrl-C"
	# a second Ctrl-C stops at once, naming the device and its state
	rm -f "$dir/gate"
	rm -f "$links"/*
	stop_all_sims
	board d 44 --faults "keygen-wait=$dir/gate"
	timeout 120 "$nrfca" line --watch "$links/*" --plain "${common[@]}" >"$dir/out2" 2>"$dir/err2" &
	linepid=$!
	for i in $(seq 1 300); do [ -n "$(sim_sent b44 '^AT%KEYGEN')" ] && break; sleep 0.1; done
	child=$(line_pid)
	kill -INT "$child"
	sleep 0.5
	kill -INT "$child"
	wait $linepid
	rc=$?
	linepid=
	[ $rc = 14 ] && ok "second Ctrl-C: stopped at once (exit 14)" || fail "stop now: exit $rc"
	grep -Eq "d: left unfinished: device [0-9]{15} at step 6/11 \(keygen\): the modem may hold a new key" "$dir/out2" &&
		ok "the device left and its state are named" || fail "left: $(cat "$dir/out2")"
	tail -1 "$dir/out2" | grep "exit 14 (interrupted)" >/dev/null || fail "summary: $(tail -1 "$dir/out2")"
	# stopped while %KEYGEN had not answered: the modem holds a key the
	# journal never saw, as the message says; a rerun names it and --replace
	# makes the one key the device keeps
	touch "$dir/gate"
	port=$(readlink "$links/d")
	prov 9 "rerun after the second Ctrl-C" && grep -q "already holds credentials" <<<"$err" &&
		ok "rerun: the key made while the line stopped is named (exit 9)"
	prov 0 "rerun with --replace" --replace && [ "$(count_type b44 2)" = 1 ] &&
		check_modem b44 "after the stop, --replace" >/dev/null && ok "after the stop: one key, one certificate"
	;;
*)
	echo "unknown part $part" >&2
	exit 2
	;;
esac

station_test_end "line ($part)"
