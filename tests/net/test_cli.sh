#!/usr/bin/env bash
# The CLI's contract: clear one-line errors with exit 1 (runtime) or 2 (usage), --help for
# every command, flows added/listed/deleted with --json, and duplicates refused.
source "$(dirname "$0")/lib.sh"
setup_net

expect() { # expect STATUS PATTERN -- command...
	local want=$1 pat=$2
	shift 3
	local out rc=0
	out=$("$@" 2>&1) || rc=$?
	[[ $rc -eq $want ]] || fail "'$*' exited $rc, want $want: $out"
	[[ -z $pat ]] || grep -qE -- "$pat" <<<"$out" || fail "'$*' said '$out', want /$pat/"
}
S() { in_sl "$SLUICE" "$@"; }

for c in attach detach flow stats run exec; do
	expect 0 "usage: sluice $c" -- S $c --help
	expect 0 "usage: sluice $c" -- S help $c
done
expect 0 "attach" -- S --help
# The man page documents every option --help lists.
for c in attach detach flow stats run exec; do
	for o in $(S $c --help | grep -oE -- '--[a-z][a-z-]+' | sort -u); do
		grep -qF -- "${o//-/\\-}" "$ROOT/docs/sluice.8" || fail "docs/sluice.8 lacks $o of '$c'"
	done
done
expect 2 "unknown command" -- S frobnicate
expect 1 "no such device: nosuchdev0" -- S attach nosuchdev0
expect 1 "gate not attached to $IF_SL" -- S flow list "$IF_SL"
expect 1 "gate not attached to $IF_SL" -- S stats "$IF_SL"
expect 2 "" -- S run "$IF_SL" --addr 10.1.2.300/24
expect 2 "" -- S run "$IF_SL" --addr 10.1.2.3
expect 2 "" -- S run "$IF_SL"
# The ninth address, of either family, is refused before it is stored (the array holds 8: a
# ninth IPv6 one after eight IPv4 ones was written past it and reported as a duplicate).
eight=()
for i in 1 2 3 4 5 6 7 8; do eight+=(--addr "10.1.$i.3/24"); done
expect 2 "at most 8 addresses in all" -- S run "$IF_SL" "${eight[@]}" --addr fd00::9/64
expect 2 "at most 8 addresses in all" -- S run "$IF_SL" "${eight[@]}" --addr 10.1.9.3/24
# A gateway is a unicast host (RFC 1122 §3.3.1.1): these ran before, routing through them.
for gw in 224.0.0.1 255.255.255.255 127.0.0.1 0.1.2.3 ff02::1 :: ::1; do
	expect 2 "not a unicast gateway address: $gw" -- S run "$IF_SL" --addr 10.1.2.3/24 --gw "$gw"
	expect 2 "not a unicast gateway address: $gw" -- S exec "$IF_SL" --addr 10.1.2.3/24 \
		--gw "$gw" -- true
done
for bad in "--max-conns 0" "--max-conns 16777217" "--backlog 0" "--msl 0" "--msl -1" "--msl 1s" \
	"--reasm-timeout 0" "--reasm-timeout 2592001" "--reasm-timeout x"; do
	# shellcheck disable=SC2086 # the option and its value are two words
	expect 2 "${bad%% *} wants" -- S run "$IF_SL" --addr 10.1.2.3/24 $bad
done
expect 2 "" -- S flow add "$IF_SL" proto udp port 70000
expect 2 "" -- S flow add "$IF_SL" proto tcp port 0
expect 2 "" -- S flow add "$IF_SL" addr 1.2.3
ok "usage and runtime errors"

expect 0 "" -- S attach "$IF_SL"
expect 0 "" -- S attach "$IF_SL"
expect 0 "added flow 1" -- S flow add "$IF_SL" addr "$STACK_IP"
expect 0 "added flow 2" -- S flow add "$IF_SL" proto udp port 7
expect 0 "added flow 3" -- S flow add "$IF_SL" proto tcp port 80 addr "$KERNEL_IP"
expect 1 "flow already exists" -- S flow add "$IF_SL" proto udp port 7
S flow list "$IF_SL" --json | $PY -c "
import json,sys
d=json.load(sys.stdin)
f={x['id']:x for x in d['flows']}
assert d['device']=='$IF_SL', d
assert set(f)=={1,2,3}, f
assert f[1]['kind']=='owned' and f[1]['addr']=='$STACK_IP', f[1]
assert f[2]['kind']=='port' and f[2]['proto']=='udp' and f[2]['port']==7, f[2]
assert f[3]['addr']=='$KERNEL_IP' and f[3]['port']==80, f[3]
" || fail "flow list --json"
expect 0 "" -- S flow del "$IF_SL" 2
expect 1 "" -- S flow del "$IF_SL" 2
S flow list "$IF_SL" --json | $PY -c "
import json,sys
assert sorted(x['id'] for x in json.load(sys.stdin)['flows'])==[1,3]" || fail "flow del"
S stats "$IF_SL" --json | $PY -c "
import json,sys
d=json.load(sys.stdin)
g=d['gate']
assert sum(g[k] for k in ('redirected','passed','no_socket','redirect_failed','parse_error','non_ip'))==g['rx'], g
" || fail "stats --json: rx is not the sum of the verdicts"
ok "flows: add, duplicate refused, list --json, del; stats --json consistent"

# A run adopts the rule a killed run left for its address wherever it is in the gate's list:
# with 260 other rules before it (ids 1..260, the leftover 261) the run used to look at the
# first 256 only and stop with "flow already exists".
expect 0 "" -- S flow del "$IF_SL" 1
expect 0 "" -- S flow del "$IF_SL" 3
for p in $(seq 2000 2259); do
	S flow add "$IF_SL" proto udp port "$p" >/dev/null || fail "flow add udp port $p"
done
expect 0 "added flow 261" -- S flow add "$IF_SL" addr "$STACK_IP"

# --pcap writes a capture a real tool reads: tcpdump sees our ARP announcement and the
# peer's ping with its reply.
start_sluice --pcap "$TMP/run.pcap" --json
in_peer ping -c 2 -i 0.1 -W 2 "$STACK_IP" >/dev/null || fail "ping while capturing"
stop_sluice || fail "run with --pcap did not stop cleanly"
$PY -c "import json,sys; d=json.load(open('$TMP/run.out')); assert d['frames_returned']==d['frames_total'], d" ||
	fail "--json summary: $(cat "$TMP/run.out")"
tcpdump -nr "$TMP/run.pcap" 2>/dev/null >"$TMP/pcap.txt" || fail "tcpdump cannot read the capture"
grep -q "ICMP echo reply" "$TMP/pcap.txt" || fail "no echo reply in the capture: $(cat "$TMP/pcap.txt")"
grep -q "ARP, Request who-has $STACK_IP" "$TMP/pcap.txt" || fail "no announcement in the capture"
ok "--pcap capture read by tcpdump; --json summary"

expect 0 "" -- S detach "$IF_SL"
expect 1 "" -- S detach "$IF_SL"
ok "detach, then detach again fails"

# A device whose MTU the stack cannot use is refused at start with one line naming the rule
# (RFC 8200 §5: IPv6 needs 1280), not run: bounded by timeout, since a stack that starts
# serves until stopped.
in_sl ip link set "$IF_SL" mtu 1200
expect 1 "cannot start the stack on $IF_SL: the device's mtu 1200 is below 1280" -- \
	timeout 20 nsenter --net=/run/netns/"$NS_SL" "$SLUICE" run "$IF_SL" --addr fd00::3/64 --duration 5
in_sl ip link set "$IF_SL" mtu 1500
ok "an MTU below the IPv6 minimum refused at start with a clear message"
