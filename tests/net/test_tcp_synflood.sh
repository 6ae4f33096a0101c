#!/usr/bin/env bash
# A SYN flood against sluice's HTTP listener while legitimate Linux clients still connect
# (SYN cookies, RFC 4987 §3.6). tests/net/synflood.c writes 100 000 SYNs from random sources
# in 198.18.0.0/15 (RFC 2544's benchmarking range), random ports and ISNs, as raw Ethernet
# frames on the kernel peer's veth. Those sources are off-link for sluice, so it runs with
# --gw PEER_IP: its SYN-ACKs go to the peer's MAC, where the kernel drops them (forwarding
# off, and no route out of the peer namespace anyway); nothing can leave the two namespaces.
#   1. cookies on when the backlog is full (the default, --syncookies 1): during the flood,
#      one connection is held open and checked (captured handshake: SACK-permitted,
#      timestamps and window scale both ways, both ends agree on the scales, 4 MiB arrive
#      intact on it), and 30 curl requests (each bounded by --max-time) must all succeed
#      with the right bytes;
#      afterwards tcp_syncookies_sent covers most of the flood that reached the stack (all
#      of it beyond the 256 half-open connections the backlog holds), every legitimate
#      connection made while the backlog was full was established from a cookie
#      (tcp_syncookies_ok), no segment was refused for a full connection table, and
#      sluice's RSS grew less than 16 MiB: a cookie keeps no state, the backlog holds at
#      most 256 half-open connections, which own no buffers, and the legitimate clients
#      ran one at a time (one connection's 2 x 256 KiB rings);
#   2. --syncookies 0, the same flood: no cookies; the full backlog recycles its oldest
#      half-open connection for each new SYN (tcp_backlog_full), memory stays flat, and the
#      legitimate clients' fate is printed (their SYN may be recycled before their ACK).
# sluice must stop with every frame back each time. Takes about 20 s.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/tcp_lib.sh"
setup_net
need cc curl timeout sha256sum tcpdump ss
$PY -c 'import scapy' 2>/dev/null || fail "python3-scapy missing for $PY (make deps installs it)"
FLOOD=100000
RATE=15000 # SYNs per second: 6.7 s of flood
LEGIT=30
PORT=80
GEN=$TMP/synflood
cc -O2 -Wall -Wextra -Werror -o "$GEN" "$ROOT/tests/net/synflood.c" || fail "cannot build tests/net/synflood.c"
# The SYN-ACKs to the spoofed sources end at the peer: it must not forward them.
in_peer sysctl -qw net.ipv4.ip_forward=0 || fail "cannot turn forwarding off in the peer namespace"
MAC=$(in_sl ip -o link show "$IF_SL" | sed -n 's/.*link\/ether \([0-9a-f:]*\).*/\1/p')
[[ -n $MAC ]] || fail "no MAC address on $IF_SL"
failed=0
bad() { failed=$((failed + 1)); echo "FAIL: $*" >&2; }
FLOOD_PID=
flood_cleanup() {
	[[ -n $FLOOD_PID ]] && kill "$FLOOD_PID" 2>/dev/null
	tcp_cleanup
}
trap flood_cleanup EXIT

rss_kib() { sed -n 's/^VmRSS:[[:space:]]*\([0-9]*\) kB/\1/p' /proc/"$SLUICE_PID"/status; }
# veth_drops: frames the veth pair dropped (the peer's transmit side, the stack side's
# receive side: a full XDP queue, a full AF_XDP ring).
veth_drops() {
	local p s
	p=$(in_peer ip -j -s link show "$IF_PEER" | $PY -c 'import json,sys; print(json.load(sys.stdin)[0]["stats64"]["tx"]["dropped"])')
	s=$(in_sl ip -j -s link show "$IF_SL" | $PY -c 'import json,sys; print(json.load(sys.stdin)[0]["stats64"]["rx"]["dropped"])')
	echo $((p + s))
}
N=20000
WANT=$(pattern_sha $N)
# legit I: one curl request; 0 when it returned the right bytes.
legit() {
	local out=$TMP/legit.$1 size got
	in_peer timeout 15 curl -sS --max-time 12 -o "$out" "http://$STACK_IP:$PORT/bytes/$N" 2>"$out.err" ||
		{ echo "request $1: curl failed: $(cat "$out.err")"; return 1; }
	size=$(stat -c %s "$out")
	got=$(sha256sum "$out" | cut -d' ' -f1)
	rm -f "$out"
	[[ $size -eq $N && $got == "$WANT" ]] || { echo "request $1: $size bytes, SHA-256 $got"; return 1; }
}
C=(tcp_syncookies_sent tcp_syncookies_ok tcp_syncookies_bad tcp_backlog_full tcp_conn_limit
	tcp_accepted tcp_bad_csum tcp_no_conn dev_rx_dropped dev_rx_ring_full tx_ring_full
	tx_no_frame arp_cache_full)

# cookie_conn_check: a connection opened while the backlog is full is established from a
# cookie (RFC 4987 §3.6). Its handshake is captured and checked by tcp_sack.py (SACK-
# permitted, timestamps and window scale in both SYNs, valid timestamps after), both ends
# must agree on the window scales (sluice's stats --json against Linux's ss), and 4 MiB
# must arrive intact on it. Sets HOLD_DURING=1 when the flood was still running after it.
cookie_conn_check() {
	local hold=$TMP/hold.out cap=$TMP/hold.pcap pid tdpid lp sl ws
	HOLD_DURING=0
	nsenter --net=/run/netns/"$NS_PEER" tcpdump -Z root -i "$IF_PEER" -n -s 128 -U -w "$cap" \
		"tcp and host $PEER_IP and host $STACK_IP and port $PORT" 2>"$cap.err" &
	tdpid=$!
	for _ in $(seq 50); do grep -q 'listening on' "$cap.err" && break; sleep 0.05; done
	in_peer timeout 30 $PY "$TCP_UTIL" http-hold "$STACK_IP" $PORT $((4 << 20)) 1 >"$hold" 2>&1 &
	pid=$!
	for _ in $(seq 50); do grep -q connected "$hold" && break; sleep 0.05; done
	lp=$(in_peer ss -Htn state established "( dst $STACK_IP and dport = :$PORT )" | awk '{print $3}' | sed 's/.*://' | head -1)
	ws=$(in_peer ss -Htni state established "( dst $STACK_IP and dport = :$PORT )" | grep -o 'wscale:[0-9]*,[0-9]*' | head -1)
	# The stack rewrites its connection table every 50 ms: a new connection may need a moment.
	sl=
	for _ in $(seq 40); do
		sl=$(in_sl "$SLUICE" stats "$IF_SL" --json | $PY -c "
import json,sys
for c in json.load(sys.stdin)['stacks'][0].get('connections', []):
    if c['remote'] == '$PEER_IP:$lp':
        print('sack=%s timestamps=%s wscale=%s:%d,%d' % (c['sack'], c['timestamps'], c['wscale'], c['rcv_wscale'], c['snd_wscale']))")
		[[ -n $sl ]] && break
		sleep 0.05
	done
	wait $pid || bad "a connection established during the flood failed: $(cat "$hold")"
	kill -0 "$FLOOD_PID" 2>/dev/null && HOLD_DURING=1
	sleep 0.2
	kill -TERM $tdpid
	wait $tdpid
	echo "cookie connection: Linux ($ws as its window scales, sluice's first), sluice: $sl; $(cat "$hold")"
	# sluice prints rcv,snd (its own first): the same order as Linux's wscale:snd,rcv
	[[ $sl == "sack=True timestamps=True wscale=True:${ws#wscale:}" ]] ||
		bad "the connection made from a cookie: sluice has '$sl', Linux $ws"
	if timeout 60 $PY "$ROOT/tests/net/tcp_sack.py" check "$cap" "$STACK_IP" >"$TMP/hold.check"; then
		ok "a connection made from a cookie: SACK, timestamps and window scale negotiated and agreed, 4 MiB intact"
	else
		cat "$TMP/hold.check"
		bad "the connection made from a cookie: the capture check failed"
	fi
}

# flood_run MODE: one run of sluice with --syncookies MODE under the flood; sets the
# variables used by the checks below (OKS: legitimate requests served during the flood).
flood_run() {
	start_sluice --http $PORT --gw "$PEER_IP" --syncookies "$1"
	in_peer ping -c 2 -W 2 "$STACK_IP" >/dev/null || fail "stack not answering ping"
	# One request first: its buffers belong to the baseline.
	legit warmup || fail "the HTTP service does not serve before the flood"
	RSS0=$(rss_kib)
	S0=$(stats_json)
	V0=$(veth_drops)
	T0=$EPOCHREALTIME
	nsenter --net=/run/netns/"$NS_PEER" "$GEN" "$IF_PEER" "$MAC" "$STACK_IP" $PORT $FLOOD $RATE 30 \
		>"$TMP/flood.out" 2>&1 &
	FLOOD_PID=$!
	# Legitimate clients only once the flood has filled the backlog (cookies are being sent,
	# or with cookies off, the backlog has started to recycle).
	local k=tcp_syncookies_sent
	[[ $1 -eq 0 ]] && k=tcp_backlog_full
	local full=0
	for _ in $(seq 100); do
		[[ $(($(stat_of $k) - $(stats_get "$S0" $k))) -gt 0 ]] && { full=1; break; }
		kill -0 $FLOOD_PID 2>/dev/null || break
		sleep 0.05
	done
	[[ $full -eq 1 ]] || bad "--syncookies $1: $k never grew during the flood"
	HOLD_DURING=0
	[[ $1 -ne 0 ]] && cookie_conn_check
	OKS=0 DURING=0 FAILS=0
	local i
	for i in $(seq $LEGIT); do
		kill -0 $FLOOD_PID 2>/dev/null || break
		if legit "$i"; then
			OKS=$((OKS + 1))
		else
			FAILS=$((FAILS + 1))
		fi
		# Counted as "during the flood" only if the flood was still running afterwards.
		kill -0 $FLOOD_PID 2>/dev/null && DURING=$((DURING + 1))
		sleep 0.05
	done
	ATTEMPTS=$((OKS + FAILS))
	local rc=0
	wait $FLOOD_PID || rc=$?
	FLOOD_PID=
	FLOOD_S=$(elapsed_since "$T0")
	cat "$TMP/flood.out"
	[[ $rc -eq 0 ]] || fail "the SYN flood generator failed: $(cat "$TMP/flood.out")"
	sleep 0.5 # the stack's last SYN-ACKs and the published counters settle
	S1=$(stats_json)
	V1=$(veth_drops)
	RSS1=$(rss_kib)
	d() { echo $(($(stats_get "$S1" "$1") - $(stats_get "$S0" "$1"))); }
	LOST=$((V1 - V0 + $(d dev_rx_dropped) + $(d dev_rx_ring_full)))
	ARRIVED=$((FLOOD - LOST)) # an upper bound on the flood's SYNs that reached the stack
	echo "--syncookies $1: flood of $FLOOD SYNs over $FLOOD_S s, $LOST lost before the stack;" \
		"legitimate requests: $OKS of $ATTEMPTS served ($DURING while the flood ran);" \
		"RSS $RSS0 -> $RSS1 KiB; $(counters_delta "$S0" "$S1" "${C[@]}")"
}

# --- 1. cookies when the backlog is full (default) --------------------------------------------
flood_run 1
[[ $ATTEMPTS -ge 10 ]] || bad "only $ATTEMPTS legitimate requests ran during the flood (it ended too soon to tell)"
[[ $OKS -eq $ATTEMPTS ]] || bad "$FAILS of $ATTEMPTS legitimate requests failed during the SYN flood"
[[ $ARRIVED -ge $((FLOOD / 2)) ]] || bad "only $ARRIVED of $FLOOD SYNs reached the stack: the flood proves little"
sent=$(d tcp_syncookies_sent)
# Every SYN beyond the backlog's 256 half-open connections draws a cookie; legitimate SYNs
# count too. Allow 5 % for SYNs lost inside the stack (counted separately above).
[[ $((sent * 100)) -ge $(((ARRIVED - 256) * 95)) ]] ||
	bad "tcp_syncookies_sent +$sent for $ARRIVED SYNs that reached the stack (expected all but the backlog's 256)"
[[ $sent -le $((FLOOD + LEGIT + 2)) ]] || bad "tcp_syncookies_sent +$sent exceeds the SYNs sent"
cok=$(d tcp_syncookies_ok)
[[ $cok -ge $((DURING + HOLD_DURING)) ]] ||
	bad "tcp_syncookies_ok +$cok, but $((DURING + HOLD_DURING)) legitimate connections were made while the backlog was full"
[[ $cok -le $((ATTEMPTS + 1)) ]] || bad "tcp_syncookies_ok +$cok exceeds the $((ATTEMPTS + 1)) legitimate connections (the flood sent no ACKs)"
[[ $(d tcp_conn_limit) -eq 0 ]] || bad "tcp_conn_limit +$(d tcp_conn_limit): the flood filled the connection table"
[[ $(d tcp_bad_csum) -eq 0 ]] || bad "tcp_bad_csum +$(d tcp_bad_csum): the generator's checksums are wrong"
[[ $((RSS1 - RSS0)) -lt 16384 ]] || bad "RSS grew from $RSS0 to $RSS1 KiB during the SYN flood (cookies keep no state)"
[[ $failed -eq 0 ]] && ok "SYN flood with cookies: $OKS/$ATTEMPTS legitimate requests served, $sent cookies sent, $cok accepted, RSS +$((RSS1 - RSS0)) KiB"
clean_stop

# --- 2. no cookies: the backlog recycles --------------------------------------------------
f0=$failed
flood_run 0
sent=$(d tcp_syncookies_sent)
full=$(d tcp_backlog_full)
[[ $sent -eq 0 ]] || bad "--syncookies 0 sent $sent cookies"
[[ $(d tcp_syncookies_ok) -eq 0 ]] || bad "--syncookies 0 accepted $(d tcp_syncookies_ok) cookies"
[[ $((full * 100)) -ge $(((ARRIVED - 256) * 95)) ]] ||
	bad "tcp_backlog_full +$full for $ARRIVED SYNs that reached the stack (each SYN beyond 256 recycles one)"
[[ $((RSS1 - RSS0)) -lt 16384 ]] || bad "--syncookies 0: RSS grew from $RSS0 to $RSS1 KiB during the SYN flood"
[[ $failed -eq $f0 ]] && ok "SYN flood without cookies: the backlog recycled $full half-open connections; $OKS/$ATTEMPTS legitimate requests served anyway; RSS +$((RSS1 - RSS0)) KiB"
clean_stop

[[ $failed -eq 0 ]] || fail "$failed SYN flood checks failed (see above)"
ok "SYN flood: cookies used, counted, memory flat"
