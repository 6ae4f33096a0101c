#!/usr/bin/env bash
# IPv6 end to end (issue 8) against the Linux kernel as the real peer, both ends in namespaces
# made here (tests/net/lib6.sh: a ULA /64 from the PID; the peer's kernel holds ::1, the
# kernel of the stack's namespace ::2 and its link-local, sluice is given ::3). Sections,
# each reported on its own (a failing section does not hide the next):
#   dual-stack  one `sluice run --addr 10.N.0.3/24 --addr PFX::3/64 --http 80
#               --tcp-echo 7 --udp-echo 7 --discard 9`: DAD first (an NS for the tentative
#               address goes unanswered); ping -6 (also -s 4000: fragments both ways);
#               ndisc6 and `ip -6 neigh` see the interface's MAC; curl -6 /bytes/N (0, 1,
#               100000, 1 MiB) exact; nc -6 echo of 5000 bytes exact; 1 MiB into --discard;
#               a closed TCP port refuses; UDP echo over IPv6 exact (3000 and 8000 bytes
#               fragmented); a closed UDP port gives ECONNREFUSED; IPv4 still works in the
#               same run; the kernel's own ::2 and link-local keep answering ping and TCP
#               (on port 7, the port sluice serves on ::3); IPv6 counters in `sluice stats
#               --json`; a clean stop; and what a capture on the peer shows (DAD NS, NA
#               form, fragments, port unreachable, no link-local of sluice's own);
#   send        `sluice run --addr PFX::3/64 --send '[PFX::1]:5001:1000000'` to a kernel
#               sink in the peer: every byte of the pattern, counters during the run;
#   gateway     --gw with the peer's link-local: --send to an address off the prefix, and
#               the peer pings from that address;
#   dad-*       sluice refuses (exit 1, one line naming the address) an address the kernel
#               of its namespace holds (global and link-local), one the peer holds, and one
#               another node is doing DAD for at the same time;
#   link-local  a configured link-local nobody holds is taken and answers;
#   flow        `sluice flow add DEV addr PFX::2 proto tcp port 443` matches IPv6 TCP to
#               port 443 only.
# Takes about 40 s when everything passes.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/tcp_lib.sh"
source "$(dirname "$0")/lib6.sh"
V6_UTIL=$ROOT/tests/net/v6_util.py

# The counter names this test expects from `sluice stats --json` (being defined with the
# IPv6 code; align them here). Each must exist and grow as said where it is used.
C_RX=ipv6_rx                   # IPv6 packets received
C_TX=ipv6_tx                   # IPv6 packets sent
C_ECHO=icmp6_echo_replies      # ICMPv6 echo replies sent
C_REASM=ipv6_reasm_ok          # datagrams reassembled from fragments
C_FRAGS=ipv6_frags_sent        # fragments sent
C_NA=nd_na_sent                # Neighbor Advertisements sent
C_ERR=icmp6_errors_sent        # ICMPv6 errors sent (the port unreachable)

setup_net6
need ndisc6 curl socat tcpdump timeout ss sha256sum cmp

failed_sections=()
BG=()
# section NAME FUNC: run FUNC in a subshell with its own clean-up; a failure is recorded and
# the next section runs.
section() {
	echo "--- $1"
	if ! (
		BG=()
		trap section_cleanup EXIT
		"$2"
	); then
		failed_sections+=("$1")
	fi
}
# Ends what the section started, each by its own PID.
section_cleanup() {
	local p
	for p in "${BG[@]}"; do
		kill -TERM "$p" 2>/dev/null
	done
	if [[ -n $SLUICE_PID ]] && kill -0 "$SLUICE_PID" 2>/dev/null; then
		kill -KILL "$SLUICE_PID" 2>/dev/null
		wait "$SLUICE_PID" 2>/dev/null
	fi
	SLUICE_PID=
}

# no_loss WHAT OUT: ping's output shows every reply and no duplicate.
no_loss() {
	grep -q ' 0% packet loss' <<<"$2" || fail "$1: $(grep 'packet loss' <<<"$2" || echo "$2")"
	! grep -q 'DUP!' <<<"$2" || fail "$1: duplicate replies (two hosts answer one address?)"
}

# sluice_refuses WHAT ADDR: `sluice run --addr ADDR/64` must exit 1 within 5 s, never
# serving, with one error line on stderr that names ADDR and says it is a duplicate; no
# owned rule may be left for ADDR.
sluice_refuses() {
	local what=$1 a=$2 t0 rc=0 errs
	t0=$EPOCHREALTIME
	in_sl timeout 15 "$SLUICE" run "$IF_SL" --addr "$a/64" --udp-echo 7 --duration 8 \
		>"$TMP/dad.out" 2>"$TMP/dad.err" || rc=$?
	local dt
	dt=$(elapsed_since "$t0")
	[[ $rc -eq 2 ]] && fail "$what: sluice run --addr $a/64 is a usage error (exit 2: IPv6 --addr" \
		"not accepted?): $(head -1 "$TMP/dad.err")"
	[[ $rc -ne 0 ]] || fail "$what: sluice run --addr $a/64 exited 0 ($dt s): $(head -2 "$TMP/dad.err")"
	[[ $rc -ne 124 ]] || fail "$what: sluice run --addr $a/64 still running after 15 s"
	! grep -q serving "$TMP/dad.err" ||
		fail "$what: sluice started serving $a although it is a duplicate: $(grep serving "$TMP/dad.err")"
	[[ $rc -eq 1 ]] || fail "$what: exit status $rc, expected 1 (runtime error): $(head -2 "$TMP/dad.err")"
	fcmp "$dt" '<' 5 || fail "$what: refused only after $dt s"
	errs=$(grep -v '^sluice: stopped' "$TMP/dad.err")
	[[ $(grep -c . <<<"$errs") -eq 1 ]] ||
		fail "$what: expected one error line on stderr, got: $(cat "$TMP/dad.err")"
	grep -qF "$a" <<<"$errs" || fail "$what: the error does not name $a: $errs"
	grep -qiE 'duplicate|in use|already|held|conflict|dad' <<<"$errs" ||
		fail "$what: the error does not say the address is taken: $errs"
	! in_sl "$SLUICE" flow list "$IF_SL" | grep -wF "$a" >/dev/null ||
		fail "$what: an owned rule for $a is left behind: $(in_sl "$SLUICE" flow list "$IF_SL")"
	ok "$what: refused in $dt s, exit 1: $errs"
}

# --- the kernels alone, before sluice ----------------------------------------------------
out=$(in_peer ping -6 -c 3 -i 0.1 -W 2 "$KERNEL_LL%$IF_PEER") || { echo "$out"; fail "harness: ping -6 to the kernel's link-local"; }
ok "harness: kernels talk IPv6: $PEER6 <-> $KERNEL6 and link-local $KERNEL_LL (MAC $MAC_SL)"

# --- dual-stack run ------------------------------------------------------------------------
sec_dual() {
	ip netns exec "$NS_PEER" timeout 300 tcpdump -i "$IF_PEER" -U -n -s 256 -c 100000 \
		-w "$TMP/v6.pcap" 'ip6 and not tcp' 2>"$TMP/tcpdump.err" &
	local cap=$!
	BG+=("$cap")
	for _ in $(seq 50); do
		grep -q "listening on" "$TMP/tcpdump.err" 2>/dev/null && break
		sleep 0.1
	done
	grep -q 'listening on' "$TMP/tcpdump.err" || fail "tcpdump did not start: $(cat "$TMP/tcpdump.err")"
	ip netns exec "$NS_PEER" timeout 30 $PY "$V6_UTIL" dad-watch "$IF_PEER" "$STACK6" probe "$PEER6" \
		>"$TMP/dadw.out" 2>&1 &
	local dadw=$!
	BG+=("$dadw")
	for _ in $(seq 50); do
		grep -q ready "$TMP/dadw.out" 2>/dev/null && break
		sleep 0.1
	done
	grep -q ready "$TMP/dadw.out" || fail "dad-watch (scapy) did not start: $(cat "$TMP/dadw.out")"

	start_sluice_args --addr "$STACK_IP/24" --addr "$STACK6/64" --http 80 --tcp-echo 7 --udp-echo 7 \
		--discard 9
	ok "sluice serves $STACK_IP/24 and $STACK6/64: $(grep serving "$TMP/run.err")"
	wait "$dadw" || fail "DAD: $(grep -v '^ok' "$TMP/dadw.out")"
	grep '^ok' "$TMP/dadw.out"

	local out
	out=$(in_peer ping -6 -c 3 -i 0.2 -W 2 "$STACK6") || { echo "$out"; fail "ping -6 $STACK6 lost packets"; }
	no_loss "ping -6 $STACK6" "$out"
	ok "ping -6 $STACK6: 3/3, no duplicates"

	out=$(in_peer ndisc6 -r 3 -w 1000 "$STACK6" "$IF_PEER" 2>&1) || fail "ndisc6 $STACK6: no answer: $out"
	grep -qi "Target link-layer address: $MAC_SL" <<<"$out" || fail "ndisc6 $STACK6: not $MAC_SL: $out"
	grep -q "from $STACK6\$" <<<"$out" || fail "ndisc6 $STACK6: the NA did not come from $STACK6: $out"
	ok "ndisc6 resolves $STACK6 to $MAC_SL (NA from $STACK6)"
	out=$(in_peer ip -6 neigh show "$STACK6" dev "$IF_PEER")
	grep -q "lladdr $MAC_SL" <<<"$out" || fail "ip -6 neigh on the peer: '$out', expected lladdr $MAC_SL"
	ok "peer's neighbour table: $out"

	out=$(in_peer ping -6 -c 3 -i 0.2 -W 2 -s 4000 "$STACK6") || { echo "$out"; fail "ping -6 -s 4000 $STACK6 (fragments both ways) lost packets"; }
	no_loss "ping -6 -s 4000" "$out"
	ok "ping -6 -s 4000: 3/3 (request reassembled, reply fragmented; checked in the capture below)"

	local n want got size code
	out=$(in_peer timeout 10 curl -6 -g -sS --max-time 5 "http://[$STACK6]/") || fail "curl -6 http://[$STACK6]/ failed"
	grep -q 'Hello from sluice' <<<"$out" || fail "curl -6 http://[$STACK6]/ got: $(head -c 200 <<<"$out")"
	for n in 0 1 100000 1048576; do
		want=$(pattern_sha $n)
		code=$(in_peer timeout 30 curl -6 -g -sS --max-time 20 -o "$TMP/bytes" -w '%{http_code}' \
			"http://[$STACK6]/bytes/$n") || fail "curl -6 http://[$STACK6]/bytes/$n failed"
		[[ $code == 200 ]] || fail "curl -6 /bytes/$n: HTTP $code"
		size=$(stat -c %s "$TMP/bytes")
		got=$(sha256sum "$TMP/bytes" | cut -d' ' -f1)
		[[ $size -eq $n ]] || fail "curl -6 /bytes/$n: $size bytes"
		[[ $got == "$want" ]] || fail "curl -6 /bytes/$n: SHA-256 $got, expected $want"
	done
	rm -f "$TMP/bytes"
	ok "curl -6 'http://[$STACK6]/bytes/N' for N = 0, 1, 100000, 1048576: exact bytes"

	head -c 5000 /dev/urandom >"$TMP/echo.in"
	in_peer timeout 10 nc -6 -N -w 5 "$STACK6" 7 <"$TMP/echo.in" >"$TMP/echo.out" ||
		fail "nc -6 $STACK6 7 failed (rc $?)"
	cmp -s "$TMP/echo.in" "$TMP/echo.out" ||
		fail "nc -6 echo: sent 5000 bytes, got $(stat -c %s "$TMP/echo.out") $(cmp "$TMP/echo.in" "$TMP/echo.out" 2>&1 | head -1)"
	ok "nc -6 $STACK6 7: 5000 bytes echoed exactly"

	$PY "$TCP_UTIL" gen 1048576 | in_peer timeout 20 nc -6 -N -w 10 "$STACK6" 9 >"$TMP/discard.out" ||
		fail "nc -6 of 1 MiB into --discard 9 failed (rc $?)"
	[[ ! -s $TMP/discard.out ]] || fail "--discard 9 sent bytes back: $(head -c 100 "$TMP/discard.out")"
	ok "nc -6 $STACK6 9: 1 MiB into the discard service, nothing back, closed after our FIN"

	local t0 dt
	t0=$EPOCHREALTIME
	if in_peer timeout 10 nc -6 -z -v -w 5 "$STACK6" 8 >"$TMP/nc.err" 2>&1; then
		fail "nc -6 -z to closed port 8 succeeded"
	fi
	dt=$(elapsed_since "$t0")
	grep -q refused "$TMP/nc.err" || fail "closed TCP port 8 over IPv6: not refused: $(cat "$TMP/nc.err")"
	fcmp "$dt" '<' 2 || fail "closed TCP port 8 over IPv6: refused only after $dt s (no RST?)"
	ok "closed TCP port 8 over IPv6 refused at once ($dt s)"

	in_peer timeout 60 $PY "$V6_UTIL" udp-echo "$STACK6" 7 0 1 100 1452 1453 3000 8000 ||
		fail "UDP echo over IPv6"
	in_peer timeout 10 $PY "$V6_UTIL" udp-refused "$STACK6" 9 || fail "closed UDP port over IPv6"

	out=$(in_peer ping -c 3 -i 0.2 -W 2 "$STACK_IP") || { echo "$out"; fail "IPv4 ping to $STACK_IP in the dual-stack run"; }
	no_loss "ping $STACK_IP" "$out"
	in_peer timeout 20 curl -sS --max-time 10 -o "$TMP/bytes4" "http://$STACK_IP/bytes/100000" ||
		fail "curl http://$STACK_IP/bytes/100000 (IPv4, same run) failed"
	[[ $(sha256sum "$TMP/bytes4" | cut -d' ' -f1) == "$(pattern_sha 100000)" ]] ||
		fail "IPv4 curl in the dual-stack run: bytes differ ($(stat -c %s "$TMP/bytes4") bytes)"
	ok "IPv4 in the same run: ping $STACK_IP, curl /bytes/100000 exact"

	# The kernel's own IPv6 on the same interface, on the port sluice serves on ::3.
	out=$(in_peer ping -6 -c 5 -i 0.1 -W 2 "$KERNEL6") || { echo "$out"; fail "the kernel's $KERNEL6 stopped answering ping"; }
	no_loss "ping -6 $KERNEL6 (kernel)" "$out"
	out=$(in_peer ping -6 -c 5 -i 0.1 -W 2 "$KERNEL_LL%$IF_PEER") || { echo "$out"; fail "the kernel's link-local $KERNEL_LL stopped answering ping"; }
	no_loss "ping -6 $KERNEL_LL (kernel)" "$out"
	nsenter --net=/run/netns/"$NS_SL" timeout 30 socat TCP6-LISTEN:7,reuseaddr,fork SYSTEM:'cat; echo kernel' \
		2>"$TMP/socat.err" &
	local ks=$!
	BG+=("$ks")
	for _ in $(seq 50); do
		in_sl ss -Hltn 'sport = :7' | grep LISTEN >/dev/null && break
		sleep 0.1
	done
	kill -0 "$ks" 2>/dev/null || fail "the kernel's TCP listener on port 7 did not start: $(cat "$TMP/socat.err")"
	local a
	for a in "$KERNEL6" "$KERNEL_LL%$IF_PEER"; do
		out=$(in_peer timeout 10 $PY "$V6_UTIL" tcp-hello "$a" 7 $'hello\n') || fail "TCP to the kernel at [$a]:7 failed"
		[[ $out == $'hello\nkernel' ]] || fail "TCP to [$a]:7 reached '$out', not the kernel's listener"
	done
	out=$(in_peer timeout 10 $PY "$V6_UTIL" tcp-hello "$STACK6" 7 $'hello\n') || fail "TCP to sluice at [$STACK6]:7 failed"
	[[ $out == hello ]] || fail "TCP to [$STACK6]:7 got '$out', expected sluice's echo 'hello'"
	ok "the kernel's $KERNEL6 and $KERNEL_LL answer ping (no duplicates) and TCP port 7 beside sluice's echo on [$STACK6]:7"

	local s
	s=$(stats6_json)
	counter6 "$s" "$C_RX"
	[[ $C6 -gt 0 ]] || fail "$C_RX is $C6 after IPv6 traffic"
	[[ $(v6_keys "$s") == *icmp6_* ]] || fail "no icmp6_ counters in sluice stats --json (IPv6 counters: $(v6_keys "$s"))"
	local name min
	for name in "$C_TX:1" "$C_ECHO:6" "$C_REASM:5" "$C_FRAGS:10" "$C_NA:1" "$C_ERR:1"; do
		min=${name#*:}
		name=${name%:*}
		counter6 "$s" "$name"
		[[ $C6 -ge $min ]] || fail "counter $name is $C6, expected at least $min"
	done
	counter6 "$s" ipv4_rx
	[[ $C6 -gt 0 ]] || fail "ipv4_rx is 0 after IPv4 traffic in the dual-stack run"
	ok "sluice stats --json: $C_RX $(stats_get "$s" "$C_RX"), $C_ECHO $(stats_get "$s" "$C_ECHO"), $C_REASM $(stats_get "$s" "$C_REASM"), $C_FRAGS $(stats_get "$s" "$C_FRAGS"); ipv4_rx $(stats_get "$s" ipv4_rx); IPv6 counters: $(v6_keys "$s")"
	clean_stop

	kill -INT "$cap" 2>/dev/null
	wait "$cap" 2>/dev/null
	in_peer $PY "$V6_UTIL" pcap-check "$TMP/v6.pcap" "$STACK6" "$MAC_SL" "$KERNEL_LL" "$PEER6" ||
		fail "the capture on the peer (see above)"
}

# --- an active open over IPv6 ----------------------------------------------------------------
sec_send() {
	local n=1000000
	ip netns exec "$NS_PEER" timeout 40 $PY "$V6_UTIL" sink 5001 1.5 >"$TMP/sink.out" 2>"$TMP/sink.err" &
	local sink=$!
	BG+=("$sink")
	wait_peer_listen 5001
	start_sluice_args --addr "$STACK6/64" --send "[$PEER6]:5001:$n"
	# The sink reads nothing for 1.5 s: the run is still sending (or waiting for the close).
	local s='{}'
	for _ in $(seq 20); do
		grep -q 'connection from' "$TMP/sink.err" && break
		sleep 0.1
	done
	s=$(stats6_json)
	kill -0 "$SLUICE_PID" 2>/dev/null || fail "--send ended before the sink read a byte: $(cat "$TMP/run.err")"
	counter6 "$s" "$C_RX"
	[[ $C6 -gt 0 ]] || fail "--send: $C_RX is 0 during the run (the SYN-ACK and ACKs are IPv6)"
	[[ $(stats_get "$s" tcp_connected) -eq 1 ]] || fail "--send: tcp_connected is $(stats_get "$s" tcp_connected) during the run"
	ok "during --send: $C_RX $C6, tcp_connected 1 (IPv6 counters: $(v6_keys "$s"))"
	for _ in $(seq 300); do
		kill -0 "$SLUICE_PID" 2>/dev/null || break
		sleep 0.1
	done
	kill -0 "$SLUICE_PID" 2>/dev/null && fail "--send of $n bytes over IPv6 still running after 30 s"
	local rc=0
	wait "$SLUICE_PID" || rc=$?
	SLUICE_PID=
	[[ $rc -eq 0 ]] || { cat "$TMP/run.err" >&2; fail "--send '[$PEER6]:5001:$n' exited $rc"; }
	wait "$sink" || fail "the kernel sink failed: $(cat "$TMP/sink.err")"
	local size got
	read -r size got <"$TMP/sink.out"
	[[ $size -eq $n ]] || fail "--send over IPv6: the sink got $size bytes, expected $n"
	[[ $got == "$(pattern_sha $n)" ]] || fail "--send over IPv6: the bytes are not the pattern"
	grep -q "sent $n bytes" "$TMP/run.err" || fail "--send did not report the transfer: $(cat "$TMP/run.err")"
	grep -q 'frames 4096/4096 returned' "$TMP/run.err" || fail "--send: frames not all returned: $(tail -1 "$TMP/run.err")"
	ok "--send '[$PEER6]:5001:$n': the kernel sink got $n bytes of the pattern; $(grep -o 'in [0-9.]* s: .*' "$TMP/run.err")"
}

# --- a gateway given by its link-local address ----------------------------------------------
sec_gateway() {
	local off6 n=100000
	off6=$(v6_canon "fd5d:$(printf %x $((ID & 0xffff)))::1")
	in_peer ip -6 addr add "$off6/128" dev lo nodad || fail "cannot add $off6 to the peer's lo"
	ip netns exec "$NS_PEER" timeout 40 $PY "$V6_UTIL" sink 5002 2 >"$TMP/gsink.out" 2>"$TMP/gsink.err" &
	local sink=$!
	BG+=("$sink")
	wait_peer_listen 5002
	# The peer does not answer NS for $off6 on its veth (it is on lo): only the route through
	# the gateway reaches it.
	start_sluice_args --addr "$STACK6/64" --gw "$PEER_LL" --send "[$off6]:5002:$n"
	local out
	out=$(in_peer ping -6 -c 2 -i 0.2 -W 2 -I "$off6" "$STACK6") ||
		{ echo "$out"; fail "ping -6 from the off-link $off6 to $STACK6 (reply via --gw $PEER_LL)"; }
	for _ in $(seq 200); do
		kill -0 "$SLUICE_PID" 2>/dev/null || break
		sleep 0.1
	done
	kill -0 "$SLUICE_PID" 2>/dev/null && fail "--send via --gw $PEER_LL still running after 20 s"
	local rc=0
	wait "$SLUICE_PID" || rc=$?
	SLUICE_PID=
	[[ $rc -eq 0 ]] || { cat "$TMP/run.err" >&2; fail "--send to the off-link $off6 via --gw $PEER_LL exited $rc"; }
	wait "$sink" || fail "the kernel sink failed: $(cat "$TMP/gsink.err")"
	local size got
	read -r size got <"$TMP/gsink.out"
	[[ $size -eq $n && $got == "$(pattern_sha $n)" ]] || fail "--send via the gateway: the sink got $size bytes (or not the pattern)"
	ok "--gw $PEER_LL: --send of $n bytes to the off-link $off6 exact, and its pings answered"
	in_peer ip -6 addr del "$off6/128" dev lo
}

# --- DAD ---------------------------------------------------------------------------------------
sec_dad_kernel() {
	sluice_refuses "DAD: the kernel of the stack's namespace holds $KERNEL6" "$KERNEL6"
	sluice_refuses "DAD: the kernel holds the link-local $KERNEL_LL" "$KERNEL_LL"
	local out
	out=$(in_peer ping -6 -c 2 -i 0.1 -W 2 "$KERNEL6") || { echo "$out"; fail "the kernel's $KERNEL6 broken after the refused runs"; }
	out=$(in_peer ping -6 -c 2 -i 0.1 -W 2 "$KERNEL_LL%$IF_PEER") || { echo "$out"; fail "the kernel's $KERNEL_LL broken after the refused runs"; }
	ok "the kernel's $KERNEL6 and $KERNEL_LL still answer after the refused runs"
}
sec_dad_peer() {
	local dup
	dup=$(v6_canon "$PFX6::4")
	in_peer ip -6 addr add "$dup/64" dev "$IF_PEER" nodad || fail "cannot add $dup to the peer"
	wait_addr6 in_peer "$IF_PEER" "$dup"
	sluice_refuses "DAD: the peer holds $dup (its kernel defends it with an NA)" "$dup"
	in_peer ip -6 addr del "$dup/64" dev "$IF_PEER"
}
sec_dad_collide() {
	local dup
	dup=$(v6_canon "$PFX6::5")
	ip netns exec "$NS_PEER" timeout 30 $PY "$V6_UTIL" dad-watch "$IF_PEER" "$dup" collide \
		>"$TMP/coll.out" 2>&1 &
	local w=$!
	BG+=("$w")
	for _ in $(seq 50); do
		grep -q ready "$TMP/coll.out" 2>/dev/null && break
		sleep 0.1
	done
	grep -q ready "$TMP/coll.out" || fail "dad-watch (scapy) did not start: $(cat "$TMP/coll.out")"
	sluice_refuses "DAD: another node does DAD for $dup at the same time (RFC 4862 §5.4.3)" "$dup"
	wait "$w" || fail "dad-watch collide: $(cat "$TMP/coll.out")"
}
# A link-local address given with --addr is sluice's (nobody else holds it).
sec_linklocal() {
	local ll out
	ll=$(v6_canon "fe80::5c:$(printf %x $((ID & 0xffff)))")
	start_sluice_args --addr "$ll/64" --udp-echo 7
	out=$(in_peer ping -6 -c 3 -i 0.2 -W 2 "$ll%$IF_PEER") || { echo "$out"; fail "ping -6 to the configured link-local $ll"; }
	no_loss "ping -6 $ll" "$out"
	out=$(in_peer ndisc6 -r 3 -w 1000 "$ll" "$IF_PEER" 2>&1) || fail "ndisc6 $ll: no answer: $out"
	grep -qi "Target link-layer address: $MAC_SL" <<<"$out" || fail "ndisc6 $ll: not $MAC_SL: $out"
	in_peer timeout 10 $PY "$V6_UTIL" udp-echo "$ll%$IF_PEER" 7 1 1000 || fail "UDP echo on the configured link-local"
	clean_stop
	ok "a configured link-local ($ll) is sluice's: ping, ndisc6, UDP echo"
}

# --- steering rules for IPv6 ------------------------------------------------------------------
flow_packets() { # ID: packets the rule has matched
	in_sl "$SLUICE" flow list "$IF_SL" --json | $PY -c "
import json,sys
d=json.load(sys.stdin)
print([r for r in d['flows'] if r['id']==int(sys.argv[1])][0]['packets'])" "$1"
}
sec_flow() {
	in_sl "$SLUICE" attach "$IF_SL" >/dev/null || fail "sluice attach $IF_SL"
	local out id
	out=$(in_sl "$SLUICE" flow add "$IF_SL" addr "$KERNEL6" proto tcp port 443 2>&1) ||
		fail "sluice flow add $IF_SL addr $KERNEL6 proto tcp port 443: $out"
	id=$(sed -n 's/^added flow \([0-9]*\)$/\1/p' <<<"$out")
	[[ -n $id ]] || fail "flow add printed '$out', not 'added flow N'"
	out=$(in_sl "$SLUICE" flow list "$IF_SL")
	grep -E "^$id +port +tcp +$KERNEL6 +443 " <<<"$out" >/dev/null || fail "flow list does not show the rule: $out"
	local p0 p1 p2
	p0=$(flow_packets "$id")
	# No stack is bound: matched frames go to the kernel (no_socket), which refuses.
	in_peer timeout 5 nc -6 -z -w 2 "$KERNEL6" 443 2>/dev/null
	p1=$(flow_packets "$id")
	in_peer timeout 5 nc -6 -z -w 2 "$KERNEL6" 444 2>/dev/null
	in_peer ping -6 -c 1 -W 2 "$KERNEL6" >/dev/null
	p2=$(flow_packets "$id")
	[[ $p1 -gt $p0 ]] || fail "flow $id (tcp [$KERNEL6]:443) matched nothing of a TCP connect to port 443"
	[[ $p2 -eq $p1 ]] || fail "flow $id (tcp [$KERNEL6]:443) matched traffic to port 444 or ICMPv6"
	in_sl "$SLUICE" flow del "$IF_SL" "$id" >/dev/null || fail "flow del $id"
	ok "flow add $IF_SL addr $KERNEL6 proto tcp port 443: matches port 443 only ($((p1 - p0)) packets), deleted"
}

section dual-stack sec_dual
section send sec_send
section gateway sec_gateway
section dad-kernel sec_dad_kernel
section dad-peer sec_dad_peer
section dad-collide sec_dad_collide
section link-local sec_linklocal
section flow sec_flow
[[ ${#failed_sections[@]} -eq 0 ]] || fail "IPv6 sections failed: ${failed_sections[*]}"
ok "IPv6 end to end: every section passed"
