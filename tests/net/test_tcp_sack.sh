#!/usr/bin/env bash
# SACK (RFC 2018, D-SACK RFC 2883) and timestamps (RFC 7323) negotiated and used in both
# directions against the Linux kernel (SACK and timestamps on: the kernel defaults). tcpdump
# captures headers on the peer's veth; tests/net/tcp_sack.py reads the captures with a struct reader of its own
# (and first proves on hand-made captures that each of its checks catches what it claims).
#   1. no loss, sluice as server (a Linux nc into --discard) and as client (--send to a
#      Linux receiver that reads late): both SYNs carry SACK-permitted, timestamps and
#      window scale, and `sluice stats --json` lists the open connection with
#      sack/timestamps/wscale true;
#   2. 2 % random loss both ways (tests/net/drop.bpf.c on the peer's veth), Linux sends
#      16 MiB into sluice's discard service (sluice only ACKs), then 16 MiB through its echo
#      service (sluice's ACKs ride on its data): sluice's SACK blocks are ranges of bytes
#      that reached it, above the cumulative ACK, disjoint, the newest segment in the first
#      block wherever the capture can tell which segment an ACK answered; every segment it
#      sends while it holds out-of-order data carries SACK blocks (RFC 2018 §4); its
#      D-SACKs name bytes that reached it twice, in the first segment after the duplicate
#      (RFC 2883 §4), and most duplicates Linux sent (if any in the run) draw one;
#   3. the same loss, sluice --send 16 MiB to a Linux nc -l: Linux's SACK blocks arrive
#      (tcp_sack_rx), sluice retransmits into the holes they show, and no segment sluice
#      sends carries bytes that Linux had acknowledged (cumulatively or by SACK) in a segment
#      sluice had provably processed: a segment's TSecr echoes a TSval, so the stack had
#      seen the first Linux segment carrying that TSval and everything before it (2 also
#      checks this for the echoed data);
#   in every connection sluice's TSval never decreases and its TSecr echoes a TSval Linux
#   sent earlier and never decreases. Why the capture can be trusted: the XDP drop program
#   runs before the capture tap on receive and the tc one before the tap on transmit, so
#   the capture holds exactly the frames that passed the drop programs (tcp_sack.py says
#   more); the test checks that tcpdump, the veth and the AF_XDP socket lost nothing else.
# Takes about 25 s.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/tcp_lib.sh"
setup_net
# The peer's TCP: SACK, D-SACK, timestamps and window scaling on (the kernel defaults, set
# here in case the host changed them; these sysctls are per namespace).
for k in tcp_sack=1 tcp_dsack=1 tcp_timestamps=1 tcp_window_scaling=1; do
	in_peer sysctl -qw net.ipv4.$k || fail "cannot set net.ipv4.$k in the peer namespace"
done
echo "Linux peer: congestion control $(in_peer sysctl -n net.ipv4.tcp_congestion_control)"
need tcpdump clang gcc tc bpftool timeout ss sha256sum
$PY -c 'import scapy' 2>/dev/null || fail "python3-scapy missing for $PY (make deps installs it)"
SACK_PY=$ROOT/tests/net/tcp_sack.py
failed=0
bad() { failed=$((failed + 1)); echo "FAIL: $*" >&2; }
$PY "$SACK_PY" selftest || fail "tcp_sack.py misses violations in hand-made captures: its verdicts mean nothing"

# --- capture -------------------------------------------------------------------------------
CAP_PID=
# cap_start NAME: tcpdump on the peer's veth, TCP headers only (96 bytes: Ethernet, IPv4,
# TCP with 40 bytes of options), a 64 MiB buffer so nothing is dropped.
cap_start() {
	CAP=$TMP/$1.pcap
	nsenter --net=/run/netns/"$NS_PEER" tcpdump -Z root -i "$IF_PEER" -n -s 96 -B 65536 -U \
		-w "$CAP" "tcp and host $STACK_IP" 2>"$CAP.err" &
	CAP_PID=$!
	for _ in $(seq 50); do
		grep -q 'listening on' "$CAP.err" 2>/dev/null && return 0
		kill -0 "$CAP_PID" 2>/dev/null || break
		sleep 0.1
	done
	cat "$CAP.err" >&2
	fail "tcpdump did not start on $IF_PEER"
}
# cap_stop: stop tcpdump by its id; the capture is unsound if it lost frames.
cap_stop() {
	sleep 0.3
	kill -TERM "$CAP_PID"
	wait "$CAP_PID"
	CAP_PID=
	local lost
	lost=$(sed -n 's/^\([0-9]*\) packets\{0,1\} dropped by kernel.*/\1/p' "$CAP.err")
	[[ -n $lost ]] || fail "tcpdump printed no statistics: $(cat "$CAP.err")"
	[[ $lost -eq 0 ]] || fail "tcpdump lost $lost frames: the capture is incomplete"
	echo "capture: $(grep 'captured' "$CAP.err")"
	# SACK_KEEP=DIR keeps the captures for a closer look.
	[[ -n ${SACK_KEEP:-} ]] && cp "$CAP" "$SACK_KEEP/"
	return 0
}
sack_cleanup() {
	[[ -n $CAP_PID ]] && kill -TERM "$CAP_PID" 2>/dev/null
	tcp_cleanup
}
trap sack_cleanup EXIT

# conn_flags JQ: the flags of the first connection of the stack that satisfies a Python
# condition on `c` (a connection from `sluice stats --json`), "" if none.
conn_flags() {
	in_sl "$SLUICE" stats "$IF_SL" --json 2>/dev/null | $PY -c "
import json,sys
d=json.load(sys.stdin)
for c in (d['stacks'][0].get('connections', []) if d['stacks'] else []):
    if $1:
        print('state=%s sack=%s timestamps=%s wscale=%s snd_wscale=%d rcv_wscale=%d cc=%s' % (
            c['state'], c['sack'], c['timestamps'], c['wscale'], c['snd_wscale'],
            c['rcv_wscale'], c['cc']))
        break"
}
# conn_check WHAT COND: the connection is listed with SACK, timestamps and window scale on.
conn_check() {
	local f=
	for _ in $(seq 20); do
		f=$(conn_flags "$2")
		[[ -n $f ]] && break
		sleep 0.1
	done
	[[ -n $f ]] || { bad "$1: sluice stats --json lists no such connection"; return; }
	if [[ $f == *sack=True*timestamps=True*wscale=True* ]]; then
		ok "$1: sluice stats --json: $f"
	else
		bad "$1: sluice stats --json shows $f (SACK, timestamps and window scale expected)"
	fi
}

# analyse WHAT: run tcp_sack.py over the last capture; failures are reported, not fatal.
analyse() {
	if ! timeout 120 $PY "$SACK_PY" check "$CAP" "$STACK_IP" --json "$TMP/$1.json"; then
		bad "$1: the capture analysis found violations (above)"
	fi
}
# field WHAT KEY: a number from the analysis summary, summed over connections.
field() {
	$PY -c "
import json,sys
try:
    print(sum(c.get(sys.argv[2], 0) for c in json.load(open(sys.argv[1]))))
except OSError:
    print(0)" "$TMP/$1.json" "$2"
}

# dropped_after_capture: frames lost between the capture point and the stack (veth queues,
# AF_XDP ring); a captured frame that the stack never saw would make the analysis unsound.
after_cap_drops() {
	local p s
	p=$(in_peer ip -j -s link show "$IF_PEER" | $PY -c 'import json,sys; s=json.load(sys.stdin)[0]["stats64"]; print(s["tx"]["dropped"])')
	s=$(in_sl ip -j -s link show "$IF_SL" | $PY -c 'import json,sys; s=json.load(sys.stdin)[0]["stats64"]; print(s["rx"]["dropped"])')
	echo $((p + s))
}

start_sluice --discard 9
in_peer ping -c 2 -W 2 "$STACK_IP" >/dev/null || fail "stack not answering ping"

# --- 1a. negotiation, sluice as server ----------------------------------------------------
cap_start nego-server
t0=$EPOCHREALTIME
( (
	$PY "$TCP_UTIL" gen 65536
	sleep 2
	$PY "$TCP_UTIL" gen 65536
) | in_peer timeout 20 nc -N "$STACK_IP" 9 >/dev/null) &
ncpid=$!
sleep 0.8
conn_check "sluice as server" "c['local'].endswith(':9') and c['state'] == 'ESTABLISHED'"
wait $ncpid || bad "nc into the discard service failed"
cap_stop
analyse nego-server
clean_stop

# --- 1b. negotiation, sluice as client ----------------------------------------------------
N=$((4 << 20))
in_peer timeout 30 $PY "$TCP_UTIL" slow-sink 5001 2 >"$TMP/slow.out" &
sinkpid=$!
wait_peer_listen 5001
cap_start nego-client
start_sluice --send "$PEER_IP:5001:$N"
sleep 0.8
conn_check "sluice as client" "c['remote'] == '$PEER_IP:5001'"
rc=0
for _ in $(seq 300); do kill -0 "$SLUICE_PID" 2>/dev/null || break; sleep 0.1; done
wait "$SLUICE_PID" || rc=$?
SLUICE_PID=
[[ $rc -eq 0 ]] || { cat "$TMP/run.err" >&2; fail "--send to a slow receiver exited $rc"; }
grep -q 'frames 4096/4096 returned' "$TMP/run.err" || bad "--send: frames not all returned: $(tail -1 "$TMP/run.err")"
wait $sinkpid || bad "the slow receiver failed"
read -r size got <"$TMP/slow.out"
[[ $size -eq $N && $got == "$(pattern_sha $N)" ]] || bad "--send to a slow receiver: got $size bytes ($got)"
cap_stop
analyse nego-client
ok "negotiation checked in the captures (both roles), $(elapsed_since $t0) s"

# --- 2 % random loss both ways on the peer's veth -----------------------------------------
N=$((16 << 20))
obj=$(drop_build 20) || exit 1
drop_attach "$obj"
drops() { drop_counts; }
# loss_since D0: "XDP_DROPPED/XDP_SEEN TC_DROPPED/TC_SEEN"; fails when a direction lost nothing.
loss_since() {
	local a b
	read -r -a a <<<"$1"
	read -r -a b <<<"$(drops)"
	local xs=$((b[0] - a[0])) xd=$((b[1] - a[1])) ts=$((b[2] - a[2])) td=$((b[3] - a[3]))
	[[ $xd -gt 0 && $td -gt 0 ]] || fail "the drop programs did not drop both ways (XDP $xd of $xs, tc $td of $ts)"
	echo "dropped $xd/$xs segments from sluice, $td/$ts to it"
}
RECOVERY=(tcp_sack_rx tcp_sack_tx tcp_dsack_rx tcp_dsack_tx tcp_retransmits tcp_rack_lost
	tcp_recoveries tcp_tlp_probes tcp_rto_expired tcp_spurious_rtx tcp_paws_rejected
	tcp_sack_bad dev_rx_dropped dev_rx_ring_full)

# --- 2. Linux sends 16 MiB to sluice under loss -------------------------------------------
# linux_sends NAME SERVICE: 16 MiB from a Linux nc into the discard service (sluice only
# ACKs) or through the echo service (sluice receives and sends at once, so its ACKs ride on
# data segments and Linux's SACK blocks on its ACKs) and checks sluice's SACK blocks.
linux_sends() {
	local name=$1 svc=$2 port out d0 v0 s0 s1 v1 t0 el loss size got
	N=$((16 << 20))
	if [[ $svc == echo ]]; then
		start_sluice --tcp-echo 7
		port=7
	else
		start_sluice --discard 9
		port=9
	fi
	cap_start "$name"
	d0=$(drops)
	v0=$(after_cap_drops)
	s0=$(stats_json)
	t0=$EPOCHREALTIME
	if [[ $svc == echo ]]; then
		$PY "$TCP_UTIL" gen $N | in_peer timeout 90 nc -N -w 30 "$STACK_IP" $port |
			$PY "$TCP_UTIL" sink >"$TMP/echo.out" ||
			bad "$name: nc through the echo service under loss failed after $(elapsed_since $t0) s"
		read -r size got <"$TMP/echo.out"
		[[ $size -eq $N && $got == "$(pattern_sha $N)" ]] || bad "$name: $size bytes came back ($got)"
	else
		$PY "$TCP_UTIL" gen $N | in_peer timeout 90 nc -N -w 30 "$STACK_IP" $port >/dev/null ||
			bad "$name: nc into the discard service under loss failed after $(elapsed_since $t0) s"
	fi
	el=$(elapsed_since $t0)
	s1=$(stats_json)
	v1=$(after_cap_drops)
	cap_stop
	loss=$(loss_since "$d0") || exit 1
	echo "$name: Linux -> sluice 16 MiB ($svc) in $el s: $loss; $(counters_delta "$s0" "$s1" "${RECOVERY[@]}")"
	[[ $v1 -eq $v0 ]] || bad "$name: the veth dropped $((v1 - v0)) frames after the capture point: the analysis is unsound"
	[[ $(($(stats_get "$s1" dev_rx_dropped) + $(stats_get "$s1" dev_rx_ring_full))) -eq 0 ]] ||
		bad "$name: the AF_XDP socket dropped frames after the capture point: the analysis is unsound"
	analyse "$name"
	local sacks blocks firsts kdups dsacks unrep stx dtx omitted late
	sacks=$(field "$name" stack_sack_acks)
	blocks=$(field "$name" stack_sack_blocks)
	firsts=$(field "$name" first_block_checked)
	kdups=$(field "$name" kernel_dup_deliveries)
	dsacks=$(field "$name" stack_dsacks)
	unrep=$(field "$name" kernel_dups_unreported)
	omitted=$(field "$name" stack_sack_omitted)
	late=$(field "$name" stack_dsack_late)
	[[ $sacks -gt 0 ]] || bad "$name: under loss sluice sent no ACK with SACK blocks"
	if [[ $omitted -gt 0 ]]; then
		bad "$name: $omitted segments from sluice (payload $(field "$name" omitted_min_len)-$(field "$name" omitted_max_len) bytes) carried no SACK option while sluice held out-of-order data it had SACKed (RFC 2018 §4); the largest data segment that did carry SACK blocks had $(field "$name" sack_data_max_len) bytes"
	fi
	[[ $late -eq 0 ]] || bad "$name: $late D-SACKs reported a duplicate that an earlier segment of sluice's should have reported (RFC 2883 §4 (1))"
	[[ $firsts -gt 0 ]] || bad "$name: the capture never showed which segment an ACK answered (first-block rule unchecked)"
	stx=$(($(stats_get "$s1" tcp_sack_tx) - $(stats_get "$s0" tcp_sack_tx)))
	[[ $stx -gt 0 ]] || bad "$name: tcp_sack_tx did not grow although the capture shows $sacks SACK ACKs"
	dtx=$(($(stats_get "$s1" tcp_dsack_tx) - $(stats_get "$s0" tcp_dsack_tx)))
	echo "$name: $sacks segments from sluice with $blocks SACK blocks, first block checked in $firsts;" \
		"$omitted segments without SACK while sluice held out-of-order data;" \
		"Linux delivered $kdups duplicate ranges, sluice sent $dsacks D-SACKs (tcp_dsack_tx +$dtx," \
		"$late late), $unrep duplicates processed but never D-SACKed"
	if [[ $kdups -gt 0 ]]; then
		[[ $dsacks -gt 0 ]] || bad "$name: Linux delivered $kdups duplicates but sluice sent no D-SACK"
		# Several duplicates in one batch draw one D-SACK (RFC 2883 §4): most, not all.
		[[ $((unrep * 2)) -le $kdups ]] ||
			bad "$name: $unrep of $kdups duplicate deliveries were processed and never drew a D-SACK"
		[[ $dtx -ge $dsacks ]] || bad "$name: tcp_dsack_tx +$dtx but the capture shows $dsacks D-SACKs"
	else
		echo "note: $name: Linux retransmitted nothing that sluice already had (no D-SACK expected)"
	fi
	clean_stop
}
f0=$failed
linux_sends recv-discard discard
[[ $failed -eq $f0 ]] && ok "Linux -> sluice (discard) under loss: sluice's SACK blocks and D-SACKs valid"
f0=$failed
linux_sends recv-echo echo
[[ $failed -eq $f0 ]] && ok "Linux <-> sluice (echo) under loss: SACK and D-SACK valid both ways"

# --- 3. sluice sends 16 MiB to Linux under loss -------------------------------------------
f0=$failed
(in_peer timeout 100 nc -l -p 5002 </dev/null | $PY "$TCP_UTIL" sink >"$TMP/sink.out") &
sinkpid=$!
wait_peer_listen 5002
cap_start send-loss
d0=$(drops)
v0=$(after_cap_drops)
t0=$EPOCHREALTIME
# --json: the summary on stdout carries the final counters (the published ones vanish with
# the run).
start_sluice --send "$PEER_IP:5002:$N" --json
for _ in $(seq 900); do kill -0 "$SLUICE_PID" 2>/dev/null || break; sleep 0.1; done
kill -0 "$SLUICE_PID" 2>/dev/null && fail "--send $N under loss still running after 90 s"
rc=0
wait "$SLUICE_PID" || rc=$?
SLUICE_PID=
el=$(elapsed_since $t0)
v1=$(after_cap_drops)
[[ $rc -eq 0 ]] || { cat "$TMP/run.err" >&2; fail "--send under loss exited $rc"; }
s_last=$($PY -c 'import json,sys; print(json.dumps(json.load(open(sys.argv[1]))["counters"]))' "$TMP/run.out") ||
	fail "--send --json printed no summary: $(cat "$TMP/run.out")"
$PY -c 'import json,sys; d=json.load(open(sys.argv[1])); sys.exit(d["frames_returned"] != d["frames_total"] or d["frames_total"] != 4096)' "$TMP/run.out" ||
	bad "--send: frames not all returned: $(cat "$TMP/run.out")"
wait $sinkpid || bad "the kernel nc -l receiver failed"
cap_stop
loss=$(loss_since "$d0") || exit 1
read -r size got <"$TMP/sink.out"
[[ $size -eq $N && $got == "$(pattern_sha $N)" ]] || bad "--send under loss: Linux received $size bytes ($got)"
echo "sluice -> Linux 16 MiB in $el s: $loss; $(counters_delta '{}' "$s_last" "${RECOVERY[@]}")"
[[ $v1 -eq $v0 ]] || bad "the veth dropped $((v1 - v0)) frames after the capture point: the analysis is unsound"
[[ $(($(stats_get "$s_last" dev_rx_dropped) + $(stats_get "$s_last" dev_rx_ring_full))) -eq 0 ]] ||
	bad "the AF_XDP socket dropped frames after the capture point: the analysis is unsound"
analyse send-loss
ksacks=$(field send-loss kernel_sack_acks)
rtx=$(field send-loss stack_retransmissions)
holes=$(field send-loss stack_hole_repairs)
echo "capture: Linux sent $ksacks ACKs with SACK blocks; sluice sent $rtx retransmissions," \
	"$holes of them into holes Linux's SACK blocks showed"
[[ $ksacks -gt 0 ]] || bad "under loss Linux sent no SACK blocks (the capture shows none)"
[[ $(stats_get "$s_last" tcp_sack_rx) -gt 0 ]] || bad "Linux sent SACK blocks but tcp_sack_rx stayed 0"
[[ $holes -gt 0 ]] || bad "sluice never retransmitted into a hole that Linux's SACK blocks showed"
vs=$(field send-loss stack_segs_checked_vs_sack)
[[ $vs -gt 0 ]] || bad "no segment of sluice's could be checked against SACK blocks it knew (the check proved nothing)"
echo "capture: $vs segments of sluice's checked against SACK blocks it provably knew"
[[ $failed -eq $f0 ]] && ok "sluice -> Linux under loss: exact, SACK holes repaired, nothing SACKed resent"

[[ $failed -eq 0 ]] || fail "$failed SACK/timestamp checks failed (see above)"
ok "SACK and timestamps in both directions"
