#!/usr/bin/env bash
# Jumbo frames: the veth pair at MTU 9000 on both ends, sluice on multi-buffer AF_XDP
# (XDP_USE_SG; the gate built as xdp.frags) against the kernel peer:
#   - ping -s 8972 -M do (a 9000-byte IP packet, not fragmented) is answered;
#   - UDP echo of datagrams around the one-buffer limit and up to 8972 bytes, exact bytes,
#     none fragmented either way; 8000-byte datagrams one after the other; larger ones still
#     fragment at 9000 (and come back reassembled);
#   - TCP: the MSS in the SYN sluice sends (--send) and in its SYN-ACK (echo service) is
#     8960 (MTU 9000 − 40); 64 MiB sluice → kernel (--send to nc -l) and 64 MiB kernel →
#     sluice → kernel (echo), SHA-256 compared;
#   - the counters show packets gathered from several buffers and frames sent in several
#     descriptors, and no drops (but segments the kernel sent again that sluice held
#     already, and, in the echo, segments into its closed window); every stop returns every
#     frame of both pools (4096 UMEM frames plus 512 large buffers);
#   - the gate in generic (SKB) mode does the same (ping, 16 MiB through the echo);
#   - at MTU 16370 (the largest a 16 KiB large buffer holds: 5 RX and 4 TX descriptors per
#     frame) ping -s 16342 -M do is answered; at 16371 sluice run refuses to start.
# Transfer times are printed for information only (timing claims belong in bench/).
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/tcp_lib.sh"
setup_net
need socat timeout cmp tcpdump sha256sum
MTU=9000
FRAMES=$((4096 + 512)) # UMEM frames + large buffers (an eighth of the frames) at this MTU
in_peer ip link set dev "$IF_PEER" mtu $MTU || fail "cannot set MTU $MTU on $IF_PEER"
in_sl ip link set dev "$IF_SL" mtu $MTU || fail "cannot set MTU $MTU on $IF_SL"

# jumbo_stop [COUNTER...]: SIGTERM the running stack, require exit 0, no drops but the
# COUNTERs named (the summary lists each drop counter that is not 0: "drops N (name n, ...)"),
# every frame of both pools back.
jumbo_stop() {
	stop_sluice || { cat "$TMP/run.err" >&2; fail "sluice run exited non-zero on SIGTERM"; }
	local last list c
	last=$(tail -1 "$TMP/run.err")
	grep -q "; frames $FRAMES/$FRAMES returned$" <<<"$last" ||
		{ cat "$TMP/run.err" >&2; fail "stop: frames missing: $last"; }
	if ! grep -q ' drops 0; ' <<<"$last"; then
		list=$(sed -n 's/.* drops [0-9]* (\([^)]*\)); frames.*/\1/p' <<<"$last")
		[[ -n $list ]] || fail "stop: cannot read the drops of: $last"
		for c in $(tr ',' '\n' <<<"$list" | awk '{print $1}'); do
			[[ " $* " == *" $c "* ]] || fail "stop: drops: $last"
		done
	fi
	ok "clean stop: $last"
}

# peer_retrans: TCP segments the kernel peer has retransmitted (RetransSegs in its namespace's
# /proc/net/snmp; the namespace is this test's, so the count starts at 0).
peer_retrans() {
	in_peer awk '$1 == "Tcp:" { if (!c) { for (i = 2; i <= NF; i++) if ($i == "RetransSegs") c = i } else print $c }' /proc/net/snmp
}

# dev_stat NAME: a device counter, fresh. The stack copies the device's counters into its own
# at most every 50 ms, in a poll: wait that long, then make it poll (one ping).
dev_stat() {
	sleep 0.06
	in_peer ping -c 1 -W 2 "$STACK_IP" >/dev/null || fail "stack not answering ping"
	stat_of "$1"
}

# no_drops WHAT [COUNTER...]: every drop counter of the running stack is 0 (device ones
# included), but the COUNTERs named.
no_drops() {
	local what=$1
	shift
	sleep 0.06
	in_peer ping -c 1 -W 2 "$STACK_IP" >/dev/null || fail "stack not answering ping"
	in_sl "$SLUICE" stats "$IF_SL" --json | $PY -c '
import json, sys
d = json.load(sys.stdin)
c = d["stacks"][0]["counters"]
allowed = sys.argv[1].split()
bad = {k: v for k, v in c.items() if v and k in sys.argv[2:] and k not in allowed}
sys.exit("drops: %s" % bad if bad else 0)' "$*" $($PY - "$ROOT/include/sluice/stats.h" <<'EOF'
import re, sys
print(" ".join(m.group(1) for m in re.finditer(r"X\((\w+), 1,", open(sys.argv[1]).read())))
EOF
) || fail "$what: drop counters are not all 0"
}

# --- ICMP and UDP ---------------------------------------------------------------------------
start_sluice --udp-echo 7
grep -q 'serving' "$TMP/run.err" || fail "sluice did not start at MTU $MTU"
in_peer ping -c 2 -W 2 "$STACK_IP" >/dev/null || fail "stack not answering a small ping"
in_peer ping -c 3 -W 2 -s 8972 -M do "$STACK_IP" >"$TMP/ping.out" ||
	{ cat "$TMP/ping.out" >&2; fail "ping -s 8972 -M do not answered"; }
grep -q '3 received' "$TMP/ping.out" || fail "ping -s 8972: $(tail -2 "$TMP/ping.out")"
[[ $(stat_of icmp_echo_replies) -eq 5 ]] || fail "icmp_echo_replies is $(stat_of icmp_echo_replies), want 5"
[[ $(dev_stat dev_rx_multibuf) -eq 3 ]] || fail "the 9000-byte echo requests did not arrive in several buffers"
ok "ping -s 8972 -M do: 3 of 3 answered (9000-byte IP packets, unfragmented)"
# The gate counts a rule's bytes over all buffers of a frame (bpf_xdp_get_buff_len), not the
# first buffer alone: the owned-address rule saw 3 frames of 9014 bytes beside a few small.
bytes=$(in_sl "$SLUICE" flow list "$IF_SL" --json | $PY -c '
import json, sys
print(sum(f["bytes"] for f in json.load(sys.stdin)["flows"] if f.get("kind") == "owned"))')
[[ $bytes -ge $((3 * 9014)) && $bytes -lt $((3 * 9014 + 2000)) ]] ||
	fail "the owned rule counted $bytes bytes, want 3 × 9014 and a few small frames"
ok "gate: the owned rule counted $bytes bytes (3 × 9014 and the small ones)"

frags0=$(stat_of ipv4_frags_sent)
reasm0=$(stat_of ipv4_reasm_ok)
mb0=$(dev_stat dev_rx_multibuf)
# 3798 bytes fill one 3840-byte receive buffer exactly (+ 28 + 14); 3799 takes two.
in_peer timeout 60 $PY - "$STACK_IP" <<'EOF' || fail "python UDP client"
import os, socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(3)
s.connect((sys.argv[1], 7))
def echo(data, what):
    s.send(data)
    try:
        got = s.recv(65536)
    except socket.timeout:
        sys.exit("no echo for %s" % what)
    if got != data:
        sys.exit("echo differs for %s: sent %d bytes, got %d" % (what, len(data), len(got)))
for n in (1, 1472, 1473, 3798, 3799, 4096, 7680, 8000, 8972):
    echo(os.urandom(n), "%d bytes" % n)
for i in range(200):
    echo(os.urandom(8000), "8000-byte datagram %d" % i)
print("ok: 9 sizes from 1 to 8972 bytes and 200 datagrams of 8000 bytes echoed intact")
EOF
[[ $(($(stat_of ipv4_frags_sent) - frags0)) -eq 0 ]] || fail "an echo up to 8972 bytes left in fragments"
[[ $(($(stat_of ipv4_reasm_ok) - reasm0)) -eq 0 ]] || fail "a datagram up to 8972 bytes arrived in fragments"
mb=$(($(dev_stat dev_rx_multibuf) - mb0))
[[ $mb -eq 205 ]] || fail "dev_rx_multibuf grew by $mb, want 205 (5 sizes from 3799 to 8972 bytes, and 200)"
mb=$(dev_stat dev_tx_multibuf)
# TX descriptors may fill a whole 4 KiB chunk (no headroom): the 3799-byte echo (3841 bytes
# of frame) leaves in one.
[[ $mb -eq 207 ]] || fail "dev_tx_multibuf is $mb, want 207 (3 ping replies, 204 echoes): not sent in several descriptors"
ok "UDP echo up to 8972 bytes unfragmented both ways; 205 datagrams gathered from several buffers, sent in several descriptors"

# Beyond the MTU the kernel peer fragments at 9000 and so does the stack's echo.
head -c 20000 /dev/urandom >"$TMP/big.in"
in_peer timeout 10 socat -b 65536 -t 2 - "UDP:$STACK_IP:7" <"$TMP/big.in" >"$TMP/big.out" ||
	fail "socat (20000 bytes) failed"
cmp "$TMP/big.in" "$TMP/big.out" || fail "20000-byte datagram came back different"
[[ $(($(stat_of ipv4_frags_sent) - frags0)) -eq 3 ]] || fail "the 20000-byte echo did not leave in 3 fragments of up to 9000"
ok "a 20000-byte datagram: reassembled from 3 jumbo fragments, echoed in 3"
no_drops "UDP"
jumbo_stop

# --- TCP: sluice -> kernel (--send), its SYN's MSS --------------------------------------------
# tcpdump -U --immediate-mode writes each packet as it comes, so stopping it (by its PID) loses
# none.
syn_capture() {
	nsenter --net=/run/netns/"$NS_PEER" tcpdump -U --immediate-mode -s 128 -i "$IF_PEER" -w "$TMP/$1.pcap" \
		'tcp[tcpflags] & tcp-syn != 0' >/dev/null 2>"$TMP/$1.tcpdump" &
	CAP_PID=$!
	for _ in $(seq 50); do
		grep -q 'listening' "$TMP/$1.tcpdump" && return 0
		sleep 0.1
	done
	fail "tcpdump did not start: $(cat "$TMP/$1.tcpdump")"
}
syn_stop() {
	kill -TERM "$CAP_PID" 2>/dev/null
	wait "$CAP_PID" 2>/dev/null
	CAP_PID=
	tcpdump -nn -v -r "$TMP/$1.pcap" 2>/dev/null >"$TMP/$1.txt"
}
CAP_PID=
N=$((64 << 20))
want=$(pattern_sha $N)
(in_peer timeout 60 nc -l -p 5001 </dev/null | $PY "$TCP_UTIL" sink >"$TMP/sink.out") &
sinkpid=$!
wait_peer_listen 5001
syn_capture send
t0=$EPOCHREALTIME
nsenter --net=/run/netns/"$NS_SL" timeout 60 "$SLUICE" run "$IF_SL" --addr "$STACK_IP/24" \
	--send "$PEER_IP:5001:$N" >"$TMP/send.out" 2>"$TMP/send.err" ||
	{ cat "$TMP/send.err" >&2; fail "sluice --send failed (rc $?)"; }
dt=$(elapsed_since $t0)
wait $sinkpid || fail "the kernel nc -l receiver failed"
syn_stop send
read -r size got <"$TMP/sink.out"
[[ $size -eq $N ]] || fail "--send: nc received $size bytes, expected $N"
[[ $got == "$want" ]] || fail "--send: SHA-256 $got, expected $want"
grep "$STACK_IP\.[0-9]* > $PEER_IP\.5001: Flags \[S\]," "$TMP/send.txt" | grep 'mss 8960' >/dev/null ||
	{ cat "$TMP/send.txt" >&2; cat "$TMP/send.tcpdump" >&2; fail "sluice's SYN does not carry MSS 8960"; }
last=$(tail -1 "$TMP/send.err")
grep -q "drops 0; frames $FRAMES/$FRAMES returned" <<<"$last" ||
	{ cat "$TMP/send.err" >&2; fail "--send: drops or frames missing: $last"; }
ok "--send $N bytes to nc -l at MTU $MTU: SHA-256 matches, SYN with MSS 8960 ($dt s; $(grep -o 'in [0-9.]* s: .*' "$TMP/send.err"))"
ok "--send stop: $last"

# --- TCP: kernel -> sluice (discard); kernel -> sluice -> kernel (echo), the SYN-ACK's MSS -----
start_sluice --tcp-echo 7 --discard 9
in_peer ping -c 1 -W 2 "$STACK_IP" >/dev/null || fail "stack not answering ping"
rtx0=$(peer_retrans)
t0=$EPOCHREALTIME
in_peer bash -c "timeout 60 $PY '$TCP_UTIL' gen $N | timeout 60 nc -N '$STACK_IP' 9" ||
	fail "64 MiB to the discard service failed"
ok "$N bytes kernel -> sluice discard at MTU $MTU ($(elapsed_since $t0) s)"
# The kernel may send a segment again that sluice holds already, and sluice then counts it as
# tcp_out_of_window (RFC 9293 §3.10.7.4: wholly below RCV.NXT, not acceptable; answered with an
# ACK and a D-SACK, RFC 2883). The kernel fills sluice's 256 KiB window in well under a
# millisecond; when sluice then runs a few ms later than that (its CPU shared with the
# generator, nc and, in CI, other jobs), the kernel's tail loss probe (RFC 8985 §7: 2·SRTT plus
# a tick or two, about 4 ms here) sends the last segment again. Seen in 3 of 39 runs on an idle
# machine and 9 of 26 with two CPU burners: tcp_out_of_window 1 to 3, each time equal to
# tcp_dsack_tx and to the kernel's TcpRetransSegs (its TcpExtTCPLossProbes at least 1). Allowed,
# so, but never more of them than the kernel retransmitted: anything beyond is a window error.
no_drops "TCP discard" tcp_out_of_window
oow=$(stat_of tcp_out_of_window)
rtx=$(($(peer_retrans) - rtx0))
[[ $oow -le $rtx ]] ||
	fail "TCP discard: $oow segments outside the window, the kernel retransmitted $rtx: not all were duplicates"
ok "TCP discard: tcp_out_of_window $oow, kernel retransmissions $rtx"
syn_capture echo
t0=$EPOCHREALTIME
in_peer bash -c "timeout 60 $PY '$TCP_UTIL' gen $N | timeout 60 nc -N '$STACK_IP' 7 | $PY '$TCP_UTIL' sink" \
	>"$TMP/echo.out" || fail "64 MiB through the echo service failed"
dt=$(elapsed_since $t0)
syn_stop echo
read -r size got <"$TMP/echo.out"
[[ $size -eq $N ]] || fail "echo: $size bytes back, expected $N"
[[ $got == "$want" ]] || fail "echo: SHA-256 $got, expected $want"
grep "$STACK_IP\.7 > $PEER_IP\.[0-9]*: Flags \[S\.\]," "$TMP/echo.txt" | grep 'mss 8960' >/dev/null ||
	{ cat "$TMP/echo.txt" >&2; fail "sluice's SYN-ACK does not carry MSS 8960"; }
grep "$PEER_IP\.[0-9]* > $STACK_IP\.7: Flags \[S\]," "$TMP/echo.txt" | grep 'mss 8960' >/dev/null ||
	{ cat "$TMP/echo.txt" >&2; fail "the kernel's SYN does not carry MSS 8960 (peer MTU not 9000?)"; }
ok "$N bytes kernel -> sluice echo -> kernel at MTU $MTU: SHA-256 matches, SYN-ACK with MSS 8960 ($dt s)"
sleep 0.06
in_peer ping -c 1 -W 2 "$STACK_IP" >/dev/null || fail "stack not answering ping"
s=$(stats_json)
for c in dev_rx_multibuf dev_tx_multibuf; do
	[[ $(stats_get "$s" $c) -gt 7000 ]] || fail "$c is $(stats_get "$s" $c): segments not jumbo"
done
ok "counters: $(counters_delta '{}' "$s" dev_rx_multibuf dev_tx_multibuf tcp_rx tcp_tx tcp_retransmits)"
# Echo both ways at once: the echo's receive window closes while its send buffer is full
# (win 0 seen in captures), and kernel segments then count as tcp_out_of_window (answered
# with an ACK) or, past the out-of-window ACK limit, tcp_oow_ack_limited; the SHA-256 above
# says nothing was lost. The same happens at MTU 1500 (native XDP: 0 to 7 per 64 MiB; generic:
# about 300), so those two are allowed here: their cause is not this test's subject.
OOW="tcp_out_of_window tcp_oow_ack_limited"
no_drops "TCP echo" $OOW
ok "TCP echo: $(counters_delta '{}' "$s" $OOW)"
jumbo_stop $OOW

# --- generic (SKB) mode -------------------------------------------------------------------
in_sl "$SLUICE" detach "$IF_SL" >/dev/null 2>&1
start_sluice --tcp-echo 7 --mode generic
grep -q 'generic XDP' "$TMP/run.err" || fail "not in generic mode: $(head -1 "$TMP/run.err")"
in_peer ping -c 2 -W 2 -s 8972 -M do "$STACK_IP" >"$TMP/ping.out" ||
	{ cat "$TMP/ping.out" >&2; fail "generic mode: ping -s 8972 -M do not answered"; }
N=$((16 << 20))
want=$(pattern_sha $N)
in_peer bash -c "timeout 60 $PY '$TCP_UTIL' gen $N | timeout 60 nc -N '$STACK_IP' 7 | $PY '$TCP_UTIL' sink" \
	>"$TMP/echo.out" || fail "generic mode: 16 MiB through the echo service failed"
read -r size got <"$TMP/echo.out"
[[ $size -eq $N && $got == "$want" ]] || fail "generic mode echo: $size bytes, SHA-256 $got"
[[ $(dev_stat dev_rx_multibuf) -gt 1000 ]] || fail "generic mode: segments did not arrive in several buffers"
ok "generic XDP: ping -s 8972 answered, $N bytes echoed intact"
no_drops "generic mode" $OOW
jumbo_stop $OOW
in_sl "$SLUICE" detach "$IF_SL" >/dev/null 2>&1

# --- the largest MTU a large buffer holds, and one beyond --------------------------------
MTU=16370
in_peer ip link set dev "$IF_PEER" mtu $MTU || fail "cannot set MTU $MTU on $IF_PEER"
in_sl ip link set dev "$IF_SL" mtu $MTU || fail "cannot set MTU $MTU on $IF_SL"
start_sluice --udp-echo 7
in_peer ping -c 3 -W 2 -s $((MTU - 28)) -M do "$STACK_IP" >"$TMP/ping.out" ||
	{ cat "$TMP/ping.out" >&2; fail "MTU $MTU: ping -s $((MTU - 28)) -M do not answered"; }
[[ $(dev_stat dev_tx_multibuf) -eq 3 ]] || fail "MTU $MTU: replies not sent in several descriptors"
ok "MTU $MTU: ping -s $((MTU - 28)) -M do answered (16384-byte frames)"
no_drops "MTU $MTU"
jumbo_stop
MTU=16371
in_peer ip link set dev "$IF_PEER" mtu $MTU || fail "cannot set MTU $MTU on $IF_PEER"
in_sl ip link set dev "$IF_SL" mtu $MTU || fail "cannot set MTU $MTU on $IF_SL"
rc=0
in_sl timeout 20 "$SLUICE" run "$IF_SL" --addr "$STACK_IP/24" --duration 1 >"$TMP/big.out" 2>"$TMP/big.err" || rc=$?
[[ $rc -eq 1 ]] || fail "MTU $MTU: sluice run exited $rc, want 1: $(cat "$TMP/big.err")"
grep -q 'cannot open an AF_XDP socket' "$TMP/big.err" || fail "MTU $MTU: $(cat "$TMP/big.err")"
ok "MTU $MTU: refused ($(head -1 "$TMP/big.err"))"
