#!/usr/bin/env bash
# Shared-address mode over IPv6 (issue 11, `sluice run DEV --shared`), on a link where the
# kernel holds a ULA $KERNEL6/64 (nodad), its link-local $KERNEL_LL and $KERNEL_IP:
#   - port rules on every kernel address (IPv4, the ULA, the link-local), no owned-address
#     rule; the peer's curl to [KERNEL6]:P1 and [KERNEL_LL%IF]:P1 gets sluice's page and
#     /bytes/N, 1 MiB comes back from sluice's echo on P2, datagrams from its udp echo on P7, the kernel's echo server on P3 of
#     the same addresses answers; ping -6 to both is answered by the kernel (Icmp6OutEchoReplies)
#     and never reaches sluice (icmp6_rx);
#   - one Neighbor Advertisement per Neighbor Solicitation for KERNEL6 and KERNEL_LL (scapy),
#     sluice sends no NS and no NA;
#   - a port a kernel program holds on [::] only (V6ONLY) makes `run --shared` exit 1 with one
#     line naming it;
#   - a kernel bind() to [::]:P1 (V6ONLY) fails with EADDRINUSE while sluice serves P1;
#   - a Packet Too Big (ICMPv6 type 2, MTU 1280) quoting a segment of sluice's HTTP transfer
#     reaches sluice and its connection (icmp6_ptb_rx, icmp6_errors_delivered), not the kernel;
#     one quoting the kernel's connection on P3 reaches the kernel, not sluice; the transfer
#     completes intact;
#   - an IPv6 address added while sluice runs is served within 3 s; once deleted, its rules go;
#     one added with DAD gets no rule while tentative, and one whose DAD fails none at all;
#   - kill -9: [KERNEL6]:P1 refused at once (kernel RST), gate no_socket grows; a clean stop of
#     a restart removes the rules and the reservations;
#   - --shared --send [PEER6B]:P:64 MiB: exactly 67108864 bytes arrive from KERNEL6, the local
#     port reserved meanwhile, a Packet Too Big quoting it reaches sluice, no rule left, no NS
#     from sluice (the kernel resolves PEER6B, which it never knew), the kernel's own IPv6
#     connections to the peer meanwhile all work;
#   - a kernel IPv6 connection from the peer to [KERNEL6]:P3 opened before the first run
#     survives attach, run, kill -9, restart, clean stop and detach.
# Takes about 25 s.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib6.sh"
source "$(dirname "$0")/tcp_lib.sh"
source "$(dirname "$0")/shared_lib.sh"
setup_net6
need curl nc sha256sum timeout awk

P1=8080 P2=8007 P3=9000 P4=8081 P5=5001 P6=5002 P7=8009
NEW6=$(v6_canon "$PFX6::4")
PEER6B=$(v6_canon "$PFX6::5") # a second peer address the kernel has never talked to
TENT6=$(v6_canon "$PFX6::7")  # added with DAD: tentative for a second or two
DUP6=$(v6_canon "$PFX6::8")   # the peer holds it: DAD fails
SERVICES=(--http "$P1" --tcp-echo "$P2" --udp-echo "$P7")
RULES="$P1 $P2 udp:$P7"
LLURL="[$KERNEL_LL%25$IF_PEER]" # curl's form of a scoped link-local (RFC 6874)
ALL="$KERNEL_IP $KERNEL6 $KERNEL_LL"

nsenter --net=/run/netns/"$NS_SL" $PY "$SHARED_UTIL" echo-server $P3 88 >"$TMP/kecho.out" 2>&1 &
nsenter --net=/run/netns/"$NS_PEER" $PY "$SHARED_UTIL" echo-server $P6 88 >"$TMP/pecho.out" 2>&1 &
for _ in $(seq 50); do
	grep -q listening "$TMP/kecho.out" && grep -q listening "$TMP/pecho.out" && break
	sleep 0.1
done
grep -q listening "$TMP/kecho.out" || fail "kernel echo server on $P3: $(cat "$TMP/kecho.out")"
grep -q listening "$TMP/pecho.out" || fail "peer echo server on $P6: $(cat "$TMP/pecho.out")"
keeper_start "$KERNEL6" $P3
ok "kernel connection [$PEER6] -> [$KERNEL6]:$P3 up before sluice starts"

# --- a port a kernel program holds on [::] only (V6ONLY) --------------------------------------
nsenter --net=/run/netns/"$NS_SL" $PY "$SHARED_UTIL" hold $P4 20 6 >"$TMP/hold.out" 2>&1 &
holdpid=$!
for _ in $(seq 50); do
	grep -q holding "$TMP/hold.out" 2>/dev/null && break
	sleep 0.1
done
grep -q holding "$TMP/hold.out" || fail "cannot hold port $P4 on [::] in the host namespace: $(cat "$TMP/hold.out")"
rc=0
in_sl timeout 10 "$SLUICE" run "$IF_SL" --shared --http $P4 >"$TMP/held.out" 2>"$TMP/held.err" || rc=$?
kill "$holdpid"
wait "$holdpid" 2>/dev/null
[[ $rc -eq 1 && $(grep -c . "$TMP/held.err") -eq 1 ]] && grep -q "$P4" "$TMP/held.err" ||
	fail "run --shared --http $P4 with [::]:$P4 held by a kernel program: exit $rc, expected 1 and one line naming the port: $(cat "$TMP/held.err")"
if in_sl "$SLUICE" flow list "$IF_SL" >/dev/null 2>&1; then
	[[ $(rules_mention $P4) -eq 0 ]] || fail "the refused run left a rule for port $P4: $(flows_json)"
fi
ok "port $P4 held by a kernel program on [::] only: run --shared --http $P4 exits 1: $(cat "$TMP/held.err")"

# --- services on the kernel's IPv6 addresses ------------------------------------------------
start_sluice_shared "${SERVICES[@]}"
keeper_check "sluice's attach and start"
check_port_rules "$ALL" "$RULES"
ok "flow list: port rules on $KERNEL_IP, $KERNEL6 and $KERNEL_LL for tcp/$P1, tcp/$P2, udp/$P7, no owned-address rule"

page=$(in_peer timeout 10 curl -sS -g --max-time 5 "http://[$KERNEL6]:$P1/") || fail "curl http://[$KERNEL6]:$P1/ failed"
grep -q 'Hello from sluice' <<<"$page" || fail "GET / on [$KERNEL6]:$P1: not sluice's page: $(head -c 300 <<<"$page")"
got=$(in_peer timeout 10 curl -sS -g --max-time 5 "http://$LLURL:$P1/bytes/1000" | wc -c)
[[ $got -eq 1000 ]] || fail "curl http://$LLURL:$P1/bytes/1000 (link-local): $got bytes"
ok "curl to [$KERNEL6]:$P1 gets sluice's page, to the link-local $KERNEL_LL:$P1 /bytes/1000"

N=$((16 << 20))
in_peer timeout 30 curl -sS -g --max-time 25 -o "$TMP/bytes" "http://[$KERNEL6]:$P1/bytes/$N" 2>"$TMP/curl.err" &
curlpid=$!
head -c $((1 << 20)) /dev/urandom >"$TMP/echo.in"
in_peer timeout 20 nc -N -w 5 "$KERNEL6" $P2 <"$TMP/echo.in" >"$TMP/echo.out" || fail "nc to sluice's echo on [$KERNEL6]:$P2 failed"
for a in "$KERNEL6" "$KERNEL_LL%$IF_PEER"; do
	out=$(printf 'to the kernel\n' | in_peer timeout 10 nc -N -w 5 "$a" $P3) || fail "nc to the kernel's echo on [$a]:$P3 failed"
	[[ $out == 'to the kernel' ]] || fail "the kernel's echo server on [$a]:$P3 returned '$out'"
done
wait $curlpid || fail "curl /bytes/$N from [$KERNEL6]:$P1 failed: $(cat "$TMP/curl.err")"
[[ $(stat -c %s "$TMP/bytes") -eq $N ]] || fail "/bytes/$N: got $(stat -c %s "$TMP/bytes") bytes"
[[ $(sha256sum <"$TMP/bytes" | cut -d' ' -f1) == "$(pattern_sha $N)" ]] || fail "/bytes/$N over IPv6: SHA-256 differs from the pattern's"
[[ $(sha256sum <"$TMP/echo.out") == "$(sha256sum <"$TMP/echo.in")" ]] ||
	fail "echo on [$KERNEL6]:$P2: $(stat -c %s "$TMP/echo.out") bytes back, not the 1048576 sent"
rm -f "$TMP/bytes"
for a in "$KERNEL6" "$KERNEL_LL%$IF_PEER"; do
	out=$(in_peer timeout 20 $PY "$SHARED_UTIL" udp-echo "$a" $P7 5 2>&1) || fail "UDP echo on [$a]:$P7: $out"
done
ok "concurrently: /bytes/$N from sluice over IPv6 (SHA-256 ok), 1 MiB echoed, the kernel's echo on :$P3 (ULA and link-local) answers; datagrams echoed by sluice on udp/$P7 (ULA and link-local)"

s0=$(stack_json)
need_counter "$s0" icmp6_rx
need_counter "$s0" icmp6_echo_replies
k0=$(snmp in_sl - Icmp6OutEchoReplies)
in_peer ping -6 -c 3 -i 0.1 -W 2 "$KERNEL6" >/dev/null || fail "ping -6 $KERNEL6 with sluice in shared mode"
in_peer ping -6 -c 3 -i 0.1 -W 2 "$KERNEL_LL%$IF_PEER" >/dev/null || fail "ping -6 $KERNEL_LL with sluice in shared mode"
in_sl ping -6 -c 3 -i 0.1 -W 2 "$PEER6" >/dev/null || fail "the kernel's own ping -6 to $PEER6 with sluice in shared mode"
sleep 0.2
s1=$(stack_json)
k1=$(snmp in_sl - Icmp6OutEchoReplies)
[[ $((k1 - k0)) -ge 6 ]] || fail "ping -6: the kernel's Icmp6OutEchoReplies grew by $((k1 - k0)), not 6"
for c in icmp6_rx icmp6_echo_replies; do
	[[ $(counter "$s1" $c) -eq $(counter "$s0" $c) ]] || fail "ping -6 reached sluice: $c $(counter "$s0" $c) -> $(counter "$s1" $c)"
done
ok "ping -6 to $KERNEL6 and $KERNEL_LL answered by the kernel (+$((k1 - k0))), the kernel's own ping -6 to $PEER6 answered; sluice's icmp6_rx unchanged"

# --- NDP: the kernel alone answers ---------------------------------------------------------------
for a in "$KERNEL6" "$KERNEL_LL"; do
	out=$(in_peer timeout 20 $PY "$SHARED_UTIL" ns-count "$IF_PEER" "$a" 3 2>&1) || fail "NS count for $a: $out"
	[[ $out == "replies 1 1 1" ]] || fail "Neighbor Solicitations for $a: $out, expected one advertisement per solicitation"
done
s1=$(stack_json)
for c in nd_na_sent nd_ns_sent; do
	need_counter "$s1" $c
	[[ $(counter "$s1" $c) -eq 0 ]] || fail "sluice sent Neighbor Discovery in shared mode: $c = $(counter "$s1" $c)"
done
ok "3 NS each for $KERNEL6 and $KERNEL_LL: exactly one NA each; sluice's nd_na_sent and nd_ns_sent 0"

expect_bind $P1 inuse "while sluice serves http on $P1"
expect_bind $P2 inuse "while sluice serves echo on $P2"
expect_bind $P7 inuse "while sluice serves udp echo on $P7" udp
ok "a kernel bind() to [::] (V6ONLY) and 0.0.0.0 of tcp/$P1, tcp/$P2, udp/$P7 fails with EADDRINUSE"

# --- Packet Too Big quoting sluice's flow and a kernel flow -------------------------------------
# The peer's receive buffer at 64 KiB and curl reading 400 kB/s: sluice's segments keep coming
# for the 2.6 s of the transfer. The error is sent on its first data segment.
rmem0=$(in_peer sysctl -n net.ipv4.tcp_rmem)
in_peer sysctl -qw net.ipv4.tcp_rmem="4096 65536 65536" || fail "cannot limit the peer's TCP receive buffer"
N=$((1 << 20))
s0=$(stack_json)
need_counter "$s0" icmp6_errors_rx
need_counter "$s0" icmp6_ptb_rx
need_counter "$s0" icmp6_errors_delivered
k0=$(snmp in_sl - Icmp6InPktTooBigs)
nsenter --net=/run/netns/"$NS_PEER" $PY "$SHARED_UTIL" icmp-err "$IF_PEER" "$PEER6" "$KERNEL6" $P1 ptb 15 \
	>"$TMP/icmp.out" 2>&1 &
icmppid=$!
for _ in $(seq 50); do
	grep -q sniffing "$TMP/icmp.out" && break
	sleep 0.1
done
sleep 0.5 # the capture socket opens after "sniffing"
in_peer timeout 30 curl -sS -g --max-time 25 --limit-rate 400K -o "$TMP/slow" "http://[$KERNEL6]:$P1/bytes/$N" \
	2>"$TMP/curl.err" &
curlpid=$!
wait "$icmppid" || fail "cannot send the Packet Too Big for sluice's flow: $(cat "$TMP/icmp.out")"
sleep 0.3
s1=$(stack_json)
k1=$(snmp in_sl - Icmp6InPktTooBigs)
[[ $(counter "$s1" icmp6_errors_rx) -gt $(counter "$s0" icmp6_errors_rx) ]] ||
	fail "Packet Too Big quoting [$KERNEL6]:$P1 (sluice's HTTP flow) did not reach sluice: icmp6_errors_rx $(counter "$s0" icmp6_errors_rx) -> $(counter "$s1" icmp6_errors_rx) (kernel Icmp6InPktTooBigs +$((k1 - k0)))"
[[ $k1 -eq $k0 ]] || fail "Packet Too Big quoting sluice's flow also reached the kernel (Icmp6InPktTooBigs +$((k1 - k0)))"
for c in icmp6_ptb_rx icmp6_errors_delivered; do
	[[ $(counter "$s1" $c) -gt $(counter "$s0" $c) ]] ||
		fail "Packet Too Big quoting sluice's HTTP flow reached sluice but did not lower the path MTU and reach its connection: $c $(counter "$s0" $c) -> $(counter "$s1" $c) ($(cat "$TMP/icmp.out" | tail -1); tcp_icmp_bad_seq $(counter "$s0" tcp_icmp_bad_seq) -> $(counter "$s1" tcp_icmp_bad_seq))"
done
msg="quoting sluice's flow: sluice icmp6_errors_rx +$(($(counter "$s1" icmp6_errors_rx) - $(counter "$s0" icmp6_errors_rx))) (icmp6_ptb_rx +$(($(counter "$s1" icmp6_ptb_rx) - $(counter "$s0" icmp6_ptb_rx))), delivered +$(($(counter "$s1" icmp6_errors_delivered) - $(counter "$s0" icmp6_errors_delivered)))), kernel +0"
out=$(in_peer timeout 10 $PY "$SHARED_UTIL" icmp-err "$IF_PEER" "$PEER6" "$KERNEL6" $P3 ptb 2>&1) ||
	fail "cannot send the Packet Too Big for the kernel's flow: $out"
sleep 0.3
s2=$(stack_json)
k2=$(snmp in_sl - Icmp6InPktTooBigs)
[[ $(counter "$s2" icmp6_rx) -eq $(counter "$s1" icmp6_rx) ]] ||
	fail "Packet Too Big quoting the kernel's flow [$KERNEL6]:$P3 reached sluice (icmp6_rx $(counter "$s1" icmp6_rx) -> $(counter "$s2" icmp6_rx))"
[[ $((k2 - k1)) -eq 1 ]] || fail "Packet Too Big quoting the kernel's flow [$KERNEL6]:$P3: kernel Icmp6InPktTooBigs +$((k2 - k1)), expected +1"
wait $curlpid || fail "the HTTP transfer that got the Packet Too Big failed: $(cat "$TMP/curl.err")"
[[ $(stat -c %s "$TMP/slow") -eq $N && $(sha256sum <"$TMP/slow" | cut -d' ' -f1) == "$(pattern_sha $N)" ]] ||
	fail "the HTTP transfer that got the Packet Too Big: $(stat -c %s "$TMP/slow") bytes, or not the pattern"
in_peer sysctl -qw net.ipv4.tcp_rmem="$rmem0"
ok "Packet Too Big (MTU 1280) $msg; quoting the kernel's flow: kernel +1, sluice +0; the transfer completed intact"
keeper_check "ICMPv6 errors"

# --- an IPv6 address added and removed while sluice runs -------------------------------------------
in_sl ip -6 addr add "$NEW6/64" dev "$IF_SL" nodad || fail "cannot add $NEW6 to $IF_SL"
served=
t_end=$((${EPOCHREALTIME/./} + 3000000))
for _ in $(seq 30); do
	got=$(in_peer timeout 2 curl -s -g --max-time 0.5 "http://[$NEW6]:$P1/bytes/100" | wc -c)
	[[ $got -eq 100 ]] && {
		served=1
		break
	}
	((${EPOCHREALTIME/./} < t_end)) || break
	sleep 0.1
done
[[ -n $served ]] || fail "ip -6 addr add $NEW6 while sluice runs: [$NEW6]:$P1 not served by sluice within about 3 s (rules: $(flows_json))"
check_port_rules "$ALL $NEW6" "$RULES"
ok "ip -6 addr add $NEW6: served by sluice on :$P1 within 3 s, port rules on it"
in_sl ip -6 addr del "$NEW6/64" dev "$IF_SL" || fail "cannot delete $NEW6 from $IF_SL"
for _ in $(seq 30); do
	[[ $(rules_mention "$NEW6") -eq 0 ]] && break
	sleep 0.1
done
[[ $(rules_mention "$NEW6") -eq 0 ]] || fail "ip -6 addr del $NEW6: its rules are still there after 3 s: $(flows_json)"
s0=$(stack_json)
in_peer timeout 5 nc -z -w 2 "$NEW6" $P1 2>/dev/null && fail "ip -6 addr del $NEW6: a connection to [$NEW6]:$P1 still succeeds"
s1=$(stack_json)
[[ $(counter "$s1" tcp_accepted) -eq $(counter "$s0" tcp_accepted) ]] ||
	fail "ip -6 addr del $NEW6: sluice still accepted a connection to it"
ok "ip -6 addr del $NEW6: its rules removed within 3 s, a connect to it no longer reaches sluice"

# A tentative address is not the kernel's yet (RFC 4862 section 5.4): no rule while DAD runs,
# served once it completes; one whose DAD fails (the peer holds it) is never served.
in_sl sysctl -qw net.ipv6.conf."$IF_SL".accept_dad=1 || fail "cannot enable DAD on $IF_SL"
in_peer ip -6 addr add "$DUP6/64" dev "$IF_PEER" nodad || fail "cannot add $DUP6 to the peer"
in_sl ip -6 addr add "$TENT6/64" dev "$IF_SL" || fail "cannot add $TENT6 to $IF_SL"
in_sl ip -6 addr add "$DUP6/64" dev "$IF_SL" || fail "cannot add $DUP6 to $IF_SL"
tent=0
for _ in $(seq 50); do
	state=$(in_sl ip -6 -o addr show dev "$IF_SL" to "$TENT6/128")
	[[ $state == *tentative* ]] || break
	tent=$((tent + 1))
	[[ $(rules_mention "$TENT6") -eq 0 ]] || fail "a rule for $TENT6 while the kernel still has it tentative: $(flows_json)"
	sleep 0.1
done
[[ $tent -gt 0 ]] || fail "harness: $TENT6 was never seen tentative (DAD off?)"
[[ $state == *tentative* || $state == *dadfailed* || -z $state ]] &&
	fail "harness: $TENT6 not usable after 5 s of DAD: '$state'"
served=
for _ in $(seq 30); do
	got=$(in_peer timeout 2 curl -s -g --max-time 0.5 "http://[$TENT6]:$P1/bytes/100" | wc -c)
	[[ $got -eq 100 ]] && {
		served=1
		break
	}
	sleep 0.1
done
[[ -n $served ]] || fail "$TENT6 finished DAD but [$TENT6]:$P1 is not served by sluice within about 3 s"
in_sl ip -6 -o addr show dev "$IF_SL" to "$DUP6/128" | grep dadfailed >/dev/null ||
	fail "harness: DAD of $DUP6 (held by the peer) did not fail: $(in_sl ip -6 -o addr show dev "$IF_SL" to "$DUP6/128")"
[[ $(rules_mention "$DUP6") -eq 0 ]] || fail "a rule for $DUP6, whose DAD failed: $(flows_json)"
in_sl ip -6 addr del "$TENT6/64" dev "$IF_SL"
in_sl ip -6 addr del "$DUP6/64" dev "$IF_SL"
in_sl sysctl -qw net.ipv6.conf."$IF_SL".accept_dad=0
ok "no rule for $TENT6 while tentative ($tent polls), served once DAD completed; none for $DUP6 whose DAD failed"

# --- kill -9, restart, clean stop ------------------------------------------------------------------
kill9_sluice
ns0=$(gate_counter no_socket)
out=$(in_peer $PY "$SHARED_UTIL" refused "$KERNEL6" $P1 2>&1) || fail "after kill -9: $out"
ns1=$(gate_counter no_socket)
[[ $ns1 -gt $ns0 ]] || fail "after kill -9: the refused connect's SYN was not counted as gate no_socket ($ns0 -> $ns1)"
expect_bind $P1 free "after kill -9 (the reservations go with the process)"
keeper_check "kill -9 of sluice"
ok "kill -9: connect to [$KERNEL6]:$P1 $out (kernel RST), gate no_socket +$((ns1 - ns0))"

start_sluice_shared "${SERVICES[@]}"
got=$(in_peer timeout 10 curl -sS -g --max-time 5 "http://[$KERNEL6]:$P1/bytes/1000" | wc -c)
[[ $got -eq 1000 ]] || fail "restart after kill -9: /bytes/1000 on [$KERNEL6]:$P1 gave $got bytes"
check_port_rules "$ALL" "$RULES"
keeper_check "the restart"
clean_stop
[[ $(rules_mention $P1 $P2 $P7) -eq 0 ]] || fail "clean stop left rules for :$P1/:$P2/:$P7: $(flows_json)"
expect_bind $P1 free "after a clean stop"
expect_bind $P2 free "after a clean stop"
expect_bind $P7 free "after a clean stop" udp
keeper_check "the clean stop"
ok "restart serves again; its clean stop removes every port rule and reservation"

# --- active open from the shared IPv6 address -------------------------------------------------------
SZ=67108864
rm -f "$TMP/go"
nsenter --net=/run/netns/"$NS_PEER" $PY "$SHARED_UTIL" sink $P5 60 "$TMP/go" >"$TMP/sink.out" 2>&1 &
sinkpid=$!
for _ in $(seq 50); do
	grep -q listening "$TMP/sink.out" && break
	sleep 0.1
done
grep -q listening "$TMP/sink.out" || fail "the peer's sink did not start: $(cat "$TMP/sink.out")"
in_peer ip -6 addr add "$PEER6B/64" dev "$IF_PEER" nodad || fail "cannot add $PEER6B to the peer"
in_sl ip -6 neigh flush dev "$IF_SL"
in_sl ip -6 neigh show "$PEER6B" dev "$IF_SL" | grep lladdr >/dev/null && fail "harness: the kernel already knows $PEER6B"
nsenter --net=/run/netns/"$NS_PEER" $PY "$SHARED_UTIL" icmp-err "$IF_PEER" "$PEER6B" "$KERNEL6" "to:$P5" ptb 20 \
	>"$TMP/icmp-open.out" 2>&1 &
icmppid=$!
for _ in $(seq 50); do
	grep -q sniffing "$TMP/icmp-open.out" && break
	sleep 0.1
done
sleep 0.5 # the capture socket opens after "sniffing"
k0=$(snmp in_sl - Icmp6InPktTooBigs)
start_sluice_shared --send "[$PEER6B]:$P5:$SZ" --msl 1 --json
for _ in $(seq 100); do
	grep -q '^from' "$TMP/sink.out" && break
	kill -0 "$sinkpid" 2>/dev/null || break
	sleep 0.1
done
read -r _ from lport < <(grep '^from' "$TMP/sink.out")
[[ -n ${lport:-} ]] || fail "--shared --send over IPv6: the peer's sink got no connection: $(cat "$TMP/sink.out") $(cat "$TMP/run.err")"
[[ $from == "$KERNEL6" ]] || fail "--shared --send: the connection came from $from, not the shared address $KERNEL6"
wait "$icmppid" || fail "the Packet Too Big for the active open: $(cat "$TMP/icmp-open.out")"
sleep 0.3
k1=$(snmp in_sl - Icmp6InPktTooBigs)
[[ $k1 -eq $k0 ]] || fail "Packet Too Big quoting sluice's active open reached the kernel (Icmp6InPktTooBigs +$((k1 - k0)))"
expect_bind "$lport" inuse "while sluice's active open from [$KERNEL6]:$lport lasts"
nsenter --net=/run/netns/"$NS_SL" $PY "$SHARED_UTIL" clients "$PEER6" $P6 40 >"$TMP/clients.out" 2>&1 &
clientspid=$!
touch "$TMP/go"
rc=running
for _ in $(seq 600); do
	kill -0 "$SLUICE_PID" 2>/dev/null || {
		rc=0
		wait "$SLUICE_PID" || rc=$?
		SLUICE_PID=
		break
	}
	sleep 0.1
done
[[ $rc == 0 ]] || fail "--shared --send [$PEER6]:$P5:$SZ: sluice exit status $rc: $(cat "$TMP/run.err")"
wait "$sinkpid" || fail "the peer's sink failed: $(cat "$TMP/sink.out")"
grep -q "^received $SZ\$" "$TMP/sink.out" || fail "--shared --send $SZ over IPv6: the peer $(grep received "$TMP/sink.out" || echo 'received nothing')"
grep -q "sent $SZ bytes" "$TMP/run.err" || fail "--shared --send: no 'sent $SZ bytes' line: $(cat "$TMP/run.err")"
wait "$clientspid" || fail "the kernel's own IPv6 connections to the peer during sluice's active open: $(cat "$TMP/clients.out")"
$PY -c '
import json, sys
d = json.load(open(sys.argv[1]))
c = d["counters"]
bad = {k: c[k] for k in ("nd_ns_sent", "nd_na_sent") if c.get(k, 0)}
if bad:
    sys.exit("sluice sent Neighbor Discovery itself: %s" % bad)
if c.get("icmp6_errors_rx", 0) < 1:
    sys.exit("the Packet Too Big quoting the active open did not reach sluice: icmp6_errors_rx %s" %
             c.get("icmp6_errors_rx"))
if c.get("icmp6_ptb_rx", 0) < 1 or c.get("icmp6_errors_delivered", 0) < 1:
    sys.exit("the Packet Too Big quoting the active open did not reach its connection: "
             "icmp6_ptb_rx %s, icmp6_errors_delivered %s" %
             (c.get("icmp6_ptb_rx"), c.get("icmp6_errors_delivered")))' "$TMP/run.out" ||
	fail "--shared --send summary (--json): $(head -c 400 "$TMP/run.out")"
[[ $(flows_json | $PY -c 'import json,sys; print(len(json.load(sys.stdin)["flows"]))') -eq 0 ]] ||
	fail "--shared --send left rules behind: $(flows_json)"
expect_bind "$lport" free "after the active open from :$lport ended"
in_sl ip -6 neigh show "$PEER6B" dev "$IF_SL" | grep lladdr >/dev/null || fail "--shared --send to $PEER6B: the kernel has no neighbour entry for it, so who resolved it?"
ok "--shared --send over IPv6: exactly $SZ bytes from [$KERNEL6]:$lport (reserved meanwhile; a Packet Too Big quoting it reached sluice, not the kernel), no rule left, $PEER6B resolved by the kernel, no NS from sluice, $(sed 's/ok/all/' "$TMP/clients.out") kernel connections meanwhile ok"

in_sl "$SLUICE" detach "$IF_SL" || fail "sluice detach failed"
keeper_check "sluice detach"
keeper_stop
ok "the kernel IPv6 connection opened before sluice survived attach, run, kill -9, restart, clean stop and detach ($KEEPER_SEEN lines echoed)"
