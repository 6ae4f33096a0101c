#!/usr/bin/env bash
# Shared-address mode over IPv4 (issue 11, `sluice run DEV --shared`): sluice serves ports of
# the kernel's own address $KERNEL_IP and owns nothing else; the kernel keeps ARP, ping and
# every other port, on the same address at the same time.
#   0. --shared refuses --addr and --gw (usage error, exit 2).
#   1. --shared --http P1 --tcp-echo P2 --udp-echo P7: the peer's curl to KERNEL_IP:P1 gets sluice's page and
#      /bytes/N (SHA-256 of the pattern); 1 MiB echoed on P2, datagrams on udp P7; meanwhile the kernel's own echo
#      server on P3 of the same address answers, and 20 pings to KERNEL_IP during the 16 MiB
#      lose none; ping is answered by the kernel (its
#      OutEchoReps grow, sluice's ICMP counters do not); `sluice flow list` shows a tcp port
#      rule per service on KERNEL_IP and no owned-address rule.
#   2. One ARP reply per ARP request for KERNEL_IP (scapy from the peer), sluice sends none.
#   3. Reservations: while P1, P2 (TCP) and P7 (UDP) are served a kernel bind() to them fails
#      with EADDRINUSE (0.0.0.0 and [::]); a port a kernel program holds makes `run --shared` exit 1 with one
#      line naming it.
#   8. ICMP errors: a fragmentation-needed error (type 3 code 4, MTU 1280) quoting a segment of
#      sluice's HTTP transfer reaches sluice and its connection (icmp_errors_rx,
#      icmp_errors_delivered), not the kernel; one quoting a
#      kernel connection (P3) reaches the kernel, not sluice; the transfer completes intact.
#   7. An address added to DEV while sluice runs is served within 3 s; once deleted, its rule
#      goes and sluice no longer accepts on it.
#   5. kill -9: a connect to KERNEL_IP:P1 is refused at once (RST from the kernel), the gate
#      counts no_socket, the reservations are gone; a restart serves again.
#   6. A clean stop removes the port rules and the reservations; its summary names the shared
#      ports ("stopped shared udp/P7, tcp/P2, tcp/P1 on DEV"), not an address.
#   4. --shared --send PEER_IP2:P:64 MiB: exactly 67108864 bytes arrive from KERNEL_IP, the
#      active open's local port is reserved against kernel bind()s while it lasts (and a kernel
#      connect() with ip_local_port_range reduced to it fails with EADDRNOTAVAIL), its one
#      tuple rule (KERNEL_IP, lport, PEER_IP2, P) goes with it, a frag-needed quoting it reaches
#      its connection; the kernel's own 40 outgoing connections to the peer and 20 pings to
#      KERNEL_IP meanwhile all work; PEER_IP2, unknown to the kernel before,
#      is resolved by the kernel: sluice sends no ARP request.
#   kill -9 during an active open: the peer's writes draw a RST; the next run sweeps the rule.
#   Neighbours and routes come from the kernel: after the peer's MAC changes (and the kernel's
#   entry with it) sluice answers at the new MAC; a route to an off-link prefix added while
#   sluice runs lets a client there be answered, and once deleted no longer (ipv4_no_route
#   grows); a --send to an off-link address goes through the kernel's default route.
#   The MTU follows the kernel's: after `ip link set DEV mtu 1400` no packet of a
#   /bytes/200000 from sluice is larger than 1400 (tcpdump on the peer, which keeps 1500 and
#   offers MSS 1460) and sluice's SYN-ACK offers MSS 1360; back to 1500 is followed too; 4000,
#   more than a 4 KiB AF_XDP frame carries, is clamped to 3826 with a line.
#   A kernel connection from the peer to KERNEL_IP:P3 opened before the first run, a line
#   every 0.2 s, survives all of it: attach, run, kill -9, restart, clean stop, detach.
# Takes about 20 s.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/tcp_lib.sh"
source "$(dirname "$0")/shared_lib.sh"
setup_net
need curl nc sha256sum timeout awk tcpdump
$PY -c 'import scapy' 2>/dev/null || fail "python3-scapy missing for $PY (make deps installs it)"

P1=8080 P2=8007 P3=9000 P4=8081 P5=5001 P6=5002 P7=8009 P8=5003 P9=5004
NEW_IP=10.$NET.0.4
PEER_IP2=10.$NET.0.5 # a second peer address the kernel has never talked to
SERVICES=(--http "$P1" --tcp-echo "$P2" --udp-echo "$P7")
RULES="$P1 $P2 udp:$P7"

# --- usage: --shared owns no address, so --addr and --gw are refused -------------------------
for extra in "--addr $STACK_IP/24" "--gw $PEER_IP"; do
	rc=0
	# shellcheck disable=SC2086 # the option and its value, split on purpose
	in_sl timeout 10 "$SLUICE" run "$IF_SL" --shared $extra --http $P1 >/dev/null 2>"$TMP/usage.err" || rc=$?
	[[ $rc -eq 2 && $(grep -c . "$TMP/usage.err") -eq 1 ]] ||
		fail "run --shared $extra: exit $rc, expected a one-line usage error with status 2: $(cat "$TMP/usage.err")"
done
ok "run --shared with --addr or --gw: a one-line usage error, exit 2"

# Kernel services and the long-lived kernel connection, all before sluice ever runs.
nsenter --net=/run/netns/"$NS_SL" $PY "$SHARED_UTIL" echo-server $P3 88 >"$TMP/kecho.out" 2>&1 &
nsenter --net=/run/netns/"$NS_PEER" $PY "$SHARED_UTIL" echo-server $P6 88 >"$TMP/pecho.out" 2>&1 &
for _ in $(seq 50); do
	grep -q listening "$TMP/kecho.out" && grep -q listening "$TMP/pecho.out" && break
	sleep 0.1
done
grep -q listening "$TMP/kecho.out" || fail "kernel echo server on $P3: $(cat "$TMP/kecho.out")"
grep -q listening "$TMP/pecho.out" || fail "peer echo server on $P6: $(cat "$TMP/pecho.out")"
keeper_start "$KERNEL_IP" $P3
ok "kernel connection $PEER_IP -> $KERNEL_IP:$P3 up before sluice starts (a line every 0.2 s)"

# --- 3b. a port a kernel program holds ------------------------------------------------------
nsenter --net=/run/netns/"$NS_SL" $PY "$SHARED_UTIL" hold $P4 20 >"$TMP/hold.out" 2>&1 &
holdpid=$!
for _ in $(seq 50); do
	grep -q holding "$TMP/hold.out" && break
	sleep 0.1
done
grep -q holding "$TMP/hold.out" || fail "cannot hold port $P4 in the host namespace: $(cat "$TMP/hold.out")"
rc=0
in_sl timeout 10 "$SLUICE" run "$IF_SL" --shared --http $P4 >"$TMP/held.out" 2>"$TMP/held.err" || rc=$?
[[ $rc -eq 1 ]] || fail "run --shared --http $P4 with $P4 held by a kernel program: exit $rc, expected 1 ($(head -3 "$TMP/held.err"))"
[[ $(grep -c . "$TMP/held.err") -eq 1 ]] ||
	fail "run --shared on a held port: expected a one-line message, got: $(cat "$TMP/held.err")"
grep -q "$P4" "$TMP/held.err" || fail "run --shared on a held port: the message does not name port $P4: $(cat "$TMP/held.err")"
kill "$holdpid"
wait "$holdpid" 2>/dev/null
if in_sl "$SLUICE" flow list "$IF_SL" >/dev/null 2>&1; then
	[[ $(rules_mention $P4) -eq 0 ]] || fail "the refused run left a rule for port $P4: $(flows_json)"
fi
ok "port $P4 held by a kernel program: run --shared --http $P4 exits 1: $(cat "$TMP/held.err")"

# --- 1. sluice's ports and the kernel's on one address --------------------------------------
start_sluice_shared "${SERVICES[@]}"
keeper_check "sluice's attach and start"
check_port_rules "$KERNEL_IP" "$RULES"
ok "flow list: port rules $KERNEL_IP tcp/$P1, tcp/$P2, udp/$P7, no owned-address rule"

page=$(in_peer timeout 10 curl -sS --max-time 5 "http://$KERNEL_IP:$P1/") || fail "curl http://$KERNEL_IP:$P1/ failed"
grep -q 'Hello from sluice' <<<"$page" || fail "GET / on $KERNEL_IP:$P1: not sluice's page: $(head -c 300 <<<"$page")"
ok "curl http://$KERNEL_IP:$P1/ gets sluice's page"

# At the same time: sluice's /bytes/N on P1 and echo on P2, the kernel's echo server on P3.
N=$((16 << 20))
bg_in "$NS_PEER" ping -c 20 -i 0.05 -w 5 "$KERNEL_IP" >"$TMP/ping.out" 2>&1
pingpid=$!
in_peer timeout 30 curl -sS --max-time 25 -o "$TMP/bytes" "http://$KERNEL_IP:$P1/bytes/$N" 2>"$TMP/curl.err" &
curlpid=$!
head -c $((1 << 20)) /dev/urandom >"$TMP/echo.in"
in_peer timeout 20 nc -N -w 5 "$KERNEL_IP" $P2 <"$TMP/echo.in" >"$TMP/echo.out" ||
	fail "nc to sluice's echo on $KERNEL_IP:$P2 failed"
out=$(printf 'to the kernel\n' | in_peer timeout 10 nc -N -w 5 "$KERNEL_IP" $P3) || fail "nc to the kernel's echo on $KERNEL_IP:$P3 failed"
[[ $out == 'to the kernel' ]] || fail "the kernel's echo server on $KERNEL_IP:$P3 returned '$out'"
wait $curlpid || fail "curl /bytes/$N from $KERNEL_IP:$P1 failed: $(cat "$TMP/curl.err")"
[[ $(stat -c %s "$TMP/bytes") -eq $N ]] || fail "/bytes/$N: got $(stat -c %s "$TMP/bytes") bytes"
[[ $(sha256sum <"$TMP/bytes" | cut -d' ' -f1) == "$(pattern_sha $N)" ]] || fail "/bytes/$N: SHA-256 differs from the pattern's"
[[ $(sha256sum <"$TMP/echo.out") == "$(sha256sum <"$TMP/echo.in")" ]] ||
	fail "echo on $KERNEL_IP:$P2: $(stat -c %s "$TMP/echo.out") bytes back, not the 1048576 sent"
rm -f "$TMP/bytes"
wait "$pingpid" || fail "ping $KERNEL_IP during sluice's /bytes/$N: $(tail -2 "$TMP/ping.out")"
grep -q ' 0% packet loss' "$TMP/ping.out" || fail "ping $KERNEL_IP during sluice's /bytes/$N: $(grep 'packet loss' "$TMP/ping.out")"
out=$(in_peer timeout 20 $PY "$SHARED_UTIL" udp-echo "$KERNEL_IP" $P7 10 2>&1) || fail "UDP echo on $KERNEL_IP:$P7: $out"
ok "concurrently: /bytes/$N from sluice (SHA-256 ok), 1 MiB echoed by sluice, the kernel's echo server on :$P3 answers, 20 pings to $KERNEL_IP answered by the kernel (0% loss); 10 datagrams echoed by sluice on udp/$P7"

s0=$(stack_json)
need_counter "$s0" icmp_rx
need_counter "$s0" icmp_echo_replies
k0=$(snmp in_sl Icmp OutEchoReps)
out=$(in_peer ping -c 5 -i 0.1 -W 2 "$KERNEL_IP") || fail "ping $KERNEL_IP with sluice in shared mode: $(tail -2 <<<"$out")"
# The kernel's own ping out: the echo replies to it are the kernel's too.
out=$(in_sl ping -c 3 -i 0.1 -W 2 "$PEER_IP") || fail "the kernel's ping to $PEER_IP with sluice in shared mode: $(tail -2 <<<"$out")"
sleep 0.2 # the published counters lag by up to 50 ms
s1=$(stack_json)
k1=$(snmp in_sl Icmp OutEchoReps)
[[ $((k1 - k0)) -ge 5 ]] || fail "ping $KERNEL_IP: the kernel's OutEchoReps grew by $((k1 - k0)), not 5"
for c in icmp_rx icmp_echo_replies; do
	[[ $(counter "$s1" $c) -eq $(counter "$s0" $c) ]] || fail "ping $KERNEL_IP reached sluice: $c $(counter "$s0" $c) -> $(counter "$s1" $c)"
done
ok "ping $KERNEL_IP answered by the kernel (OutEchoReps +$((k1 - k0))), the kernel's own ping to $PEER_IP answered; sluice's icmp_rx, icmp_echo_replies unchanged"

# --- 2. ARP: the kernel alone answers --------------------------------------------------------
s0=$(stack_json)
out=$(in_peer timeout 20 $PY "$SHARED_UTIL" arp-count "$IF_PEER" "$KERNEL_IP" 3 2>&1) || fail "ARP count: $out"
[[ $out == "replies 1 1 1" ]] || fail "ARP requests for $KERNEL_IP: $out, expected one reply per request (replies 1 1 1)"
s1=$(stack_json)
for c in arp_replies_sent arp_requests_sent; do
	need_counter "$s1" $c
	[[ $(counter "$s1" $c) -eq 0 ]] || fail "sluice sent ARP in shared mode: $c = $(counter "$s1" $c)"
done
ok "3 ARP requests for $KERNEL_IP: exactly one reply each; sluice's arp_replies_sent and arp_requests_sent 0"

# --- 3a. reservations against kernel programs ------------------------------------------------
expect_bind $P1 inuse "while sluice serves http on $P1"
expect_bind $P2 inuse "while sluice serves echo on $P2"
expect_bind $P7 inuse "while sluice serves udp echo on $P7" udp
expect_bind $P4 free "control: port $P4, served by nobody"
ok "while sluice serves them, a kernel bind() to tcp :$P1, :$P2 and udp :$P7 (0.0.0.0 and [::]) fails with EADDRINUSE"

# --- 8. ICMP errors quoting sluice's flow and a kernel flow -----------------------------------
# The peer's receive buffer at 64 KiB and curl reading 400 kB/s: sluice's segments keep coming
# for the 2.6 s of the transfer. The error is sent on its first data segment.
rmem0=$(in_peer sysctl -n net.ipv4.tcp_rmem)
in_peer sysctl -qw net.ipv4.tcp_rmem="4096 65536 65536" || fail "cannot limit the peer's TCP receive buffer"
N=$((1 << 20))
s0=$(stack_json)
need_counter "$s0" icmp_errors_rx
need_counter "$s0" icmp_errors_delivered
kd0=$(snmp in_sl Icmp InDestUnreachs)
nsenter --net=/run/netns/"$NS_PEER" $PY "$SHARED_UTIL" icmp-err "$IF_PEER" "$PEER_IP" "$KERNEL_IP" $P1 frag 15 \
	>"$TMP/icmp.out" 2>&1 &
icmppid=$!
for _ in $(seq 50); do
	grep -q sniffing "$TMP/icmp.out" && break
	sleep 0.1
done
sleep 0.5 # the capture socket opens after "sniffing"
in_peer timeout 30 curl -sS --max-time 25 --limit-rate 400K -o "$TMP/slow" "http://$KERNEL_IP:$P1/bytes/$N" \
	2>"$TMP/curl.err" &
curlpid=$!
wait "$icmppid" || fail "cannot send the ICMP error for sluice's flow: $(cat "$TMP/icmp.out")"
sleep 0.3
s1=$(stack_json)
kd1=$(snmp in_sl Icmp InDestUnreachs)
[[ $(counter "$s1" icmp_errors_rx) -gt $(counter "$s0" icmp_errors_rx) ]] ||
	fail "frag-needed quoting $KERNEL_IP:$P1 (sluice's HTTP flow) did not reach sluice: icmp_errors_rx $(counter "$s0" icmp_errors_rx) -> $(counter "$s1" icmp_errors_rx) (kernel InDestUnreachs +$((kd1 - kd0)))"
[[ $kd1 -eq $kd0 ]] || fail "frag-needed quoting sluice's flow also reached the kernel (InDestUnreachs +$((kd1 - kd0)))"
[[ $(counter "$s1" icmp_errors_delivered) -gt $(counter "$s0" icmp_errors_delivered) ]] ||
	fail "frag-needed quoting sluice's HTTP flow reached sluice but not its connection: icmp_errors_delivered $(counter "$s0" icmp_errors_delivered) -> $(counter "$s1" icmp_errors_delivered)"
msg="quoting sluice's flow: sluice icmp_errors_rx +$(($(counter "$s1" icmp_errors_rx) - $(counter "$s0" icmp_errors_rx))) (delivered +$(($(counter "$s1" icmp_errors_delivered) - $(counter "$s0" icmp_errors_delivered)))), kernel +0"
out=$(in_peer timeout 10 $PY "$SHARED_UTIL" icmp-err "$IF_PEER" "$PEER_IP" "$KERNEL_IP" $P3 frag 2>&1) ||
	fail "cannot send the ICMP error for the kernel's flow: $out"
sleep 0.3
s2=$(stack_json)
kd2=$(snmp in_sl Icmp InDestUnreachs)
[[ $(counter "$s2" icmp_errors_rx) -eq $(counter "$s1" icmp_errors_rx) && $(counter "$s2" icmp_rx) -eq $(counter "$s1" icmp_rx) ]] ||
	fail "frag-needed quoting the kernel's flow $KERNEL_IP:$P3 reached sluice (icmp_rx $(counter "$s1" icmp_rx) -> $(counter "$s2" icmp_rx))"
[[ $((kd2 - kd1)) -eq 1 ]] || fail "frag-needed quoting the kernel's flow $KERNEL_IP:$P3: kernel InDestUnreachs +$((kd2 - kd1)), expected +1"
wait $curlpid || fail "the HTTP transfer that got the frag-needed failed: $(cat "$TMP/curl.err")"
[[ $(stat -c %s "$TMP/slow") -eq $N && $(sha256sum <"$TMP/slow" | cut -d' ' -f1) == "$(pattern_sha $N)" ]] ||
	fail "the HTTP transfer that got the frag-needed: $(stat -c %s "$TMP/slow") bytes, or not the pattern"
in_peer sysctl -qw net.ipv4.tcp_rmem="$rmem0"
ok "ICMP frag-needed (MTU 1280) $msg; quoting the kernel's flow: kernel +1, sluice +0; the transfer completed intact"
keeper_check "ICMP errors"

# --- 7. an address added and removed while sluice runs ---------------------------------------
in_sl ip addr add "$NEW_IP/24" dev "$IF_SL" || fail "cannot add $NEW_IP to $IF_SL"
served=
t_end=$((${EPOCHREALTIME/./} + 3000000))
for _ in $(seq 30); do
	got=$(in_peer timeout 2 curl -s --max-time 0.5 "http://$NEW_IP:$P1/bytes/100" | wc -c)
	[[ $got -eq 100 ]] && {
		served=1
		break
	}
	((${EPOCHREALTIME/./} < t_end)) || break
	sleep 0.1
done
[[ -n $served ]] || fail "ip addr add $NEW_IP while sluice runs: $NEW_IP:$P1 not served by sluice within about 3 s (rules: $(flows_json))"
check_port_rules "$KERNEL_IP $NEW_IP" "$RULES"
ok "ip addr add $NEW_IP: served by sluice on :$P1 within 3 s, port rules on both addresses"

in_sl ip addr del "$NEW_IP/24" dev "$IF_SL" || fail "cannot delete $NEW_IP from $IF_SL"
for _ in $(seq 30); do
	[[ $(rules_mention "$NEW_IP") -eq 0 ]] && break
	sleep 0.1
done
[[ $(rules_mention "$NEW_IP") -eq 0 ]] || fail "ip addr del $NEW_IP: its rules are still there after 3 s: $(flows_json)"
check_port_rules "$KERNEL_IP" "$RULES"
s0=$(stack_json)
# The kernel no longer holds the address either: it drops the SYN (no RST: forwarding is off),
# so the connect fails by timing out. What matters: sluice does not accept it.
in_peer timeout 5 nc -z -w 2 "$NEW_IP" $P1 2>/dev/null && fail "ip addr del $NEW_IP: a connection to $NEW_IP:$P1 still succeeds"
s1=$(stack_json)
[[ $(counter "$s1" tcp_accepted) -eq $(counter "$s0" tcp_accepted) && $(counter "$s1" tcp_rx) -eq $(counter "$s0" tcp_rx) ]] ||
	fail "ip addr del $NEW_IP: sluice still took a SYN to it (tcp_rx $(counter "$s0" tcp_rx) -> $(counter "$s1" tcp_rx))"
ok "ip addr del $NEW_IP: its rules removed within 3 s, a connect to $NEW_IP:$P1 no longer reaches sluice"

# --- neighbours followed: the peer's MAC changes while sluice runs ---------------------------
# The peer takes a new MAC and the kernel's neighbour entry is replaced with it (as an ARP
# exchange would): sluice must follow the kernel's entry, or its replies go to the old MAC,
# which the peer's veth drops.
new_mac=$(printf '02:5c:%02x:%02x:%02x:%02x' $((ID >> 24 & 255)) $((ID >> 16 & 255)) $((ID >> 8 & 255)) $((ID & 255)))
in_peer ip link set dev "$IF_PEER" address "$new_mac" || fail "cannot change the peer's MAC"
in_sl ip neigh replace "$PEER_IP" lladdr "$new_mac" dev "$IF_SL" nud reachable || fail "cannot replace the kernel's neighbour entry"
served=
t_end=$((${EPOCHREALTIME/./} + 3000000))
for _ in $(seq 30); do
	got=$(in_peer timeout 2 curl -s --max-time 0.5 "http://$KERNEL_IP:$P1/bytes/100" | wc -c)
	[[ $got -eq 100 ]] && {
		served=1
		break
	}
	((${EPOCHREALTIME/./} < t_end)) || break
	sleep 0.1
done
[[ -n $served ]] || fail "the peer's MAC changed to $new_mac (kernel neighbour entry replaced): sluice's HTTP on $KERNEL_IP:$P1 not answered within 3 s"
keeper_check "the peer's MAC change"
ok "the peer's MAC changed to $new_mac and the kernel's neighbour entry with it: sluice answers there within 3 s"

# --- the MTU of DEV followed: 1400 while sluice runs ------------------------------------------
# The kernel's MTU of IF_SL goes down to 1400. The peer keeps 1500 and offers MSS 1460, so
# only sluice's own MTU can keep its packets within 1400 (with the peer at 1400 too, the peer's
# MSS of 1360 would do it whatever sluice's MTU): no packet of a /bytes/200000 from sluice may
# be larger, and its SYN-ACK offers MSS 1360.
in_sl ip link set "$IF_SL" mtu 1400 || fail "cannot set the MTU of $IF_SL to 1400"
for _ in $(seq 30); do
	grep -q "MTU of $IF_SL is now 1400" "$TMP/run.err" && break
	sleep 0.1
done
nsenter --net=/run/netns/"$NS_PEER" timeout 10 tcpdump -i "$IF_PEER" -nn -s 128 -B 8192 -U --immediate-mode -w "$TMP/mtu.pcap" \
	"src host $KERNEL_IP and tcp src port $P1" 2>"$TMP/tcpdump.err" &
tdpid=$!
for _ in $(seq 50); do
	grep -q 'listening on' "$TMP/tcpdump.err" && break
	sleep 0.1
done
grep -q 'listening on' "$TMP/tcpdump.err" || fail "tcpdump on $IF_PEER did not start: $(cat "$TMP/tcpdump.err")"
got=$(in_peer timeout 10 curl -sS --max-time 5 "http://$KERNEL_IP:$P1/bytes/200000" | wc -c)
sleep 0.1
kill -INT "$tdpid"
wait "$tdpid" 2>/dev/null
[[ $got -eq 200000 ]] || fail "MTU 1400 on $IF_SL: /bytes/200000 from sluice gave $got bytes"
pkts=$(tcpdump -r "$TMP/mtu.pcap" -nn 2>/dev/null | wc -l)
big=$(tcpdump -r "$TMP/mtu.pcap" -nn 'ip[2:2] > 1400' 2>/dev/null | wc -l)
mss=$(tcpdump -r "$TMP/mtu.pcap" -nn 'tcp[tcpflags] & tcp-syn != 0' 2>/dev/null | grep -o 'mss [0-9]*' | head -1)
[[ $pkts -ge 140 ]] || fail "MTU 1400: tcpdump saw $pkts packets of sluice's /bytes/200000, expected at least 140"
[[ $big -eq 0 ]] || fail "MTU 1400 on $IF_SL: $big of sluice's $pkts packets are larger than 1400 bytes (sluice did not follow the kernel's MTU; $(grep MTU "$TMP/run.err"))"
[[ $mss == 'mss 1360' ]] || fail "MTU 1400 on $IF_SL: sluice's SYN-ACK offers '${mss:-no MSS}', expected mss 1360"
in_sl ip link set "$IF_SL" mtu 1500 || fail "cannot set the MTU of $IF_SL back to 1500"
for _ in $(seq 30); do
	grep -q "MTU of $IF_SL is now 1500" "$TMP/run.err" && break
	sleep 0.1
done
grep -q "MTU of $IF_SL is now 1500" "$TMP/run.err" || fail "the MTU of $IF_SL back at 1500: sluice did not say it follows ($(grep MTU "$TMP/run.err"))"
# Above what the run's AF_XDP frames carry (3826 in a 4 KiB frame): clamped, with a line.
in_sl ip link set "$IF_SL" mtu 4000 || fail "cannot set the MTU of $IF_SL to 4000"
clamp="the MTU of $IF_SL is 4000, more than sluice's AF_XDP frames carry: sluice uses 3826"
for _ in $(seq 30); do
	grep -q "$clamp" "$TMP/run.err" && break
	sleep 0.1
done
grep -q "$clamp" "$TMP/run.err" || fail "MTU 4000 on $IF_SL: no line '$clamp' ($(grep MTU "$TMP/run.err"))"
got=$(in_peer timeout 10 curl -sS --max-time 5 "http://$KERNEL_IP:$P1/bytes/100000" | wc -c)
[[ $got -eq 100000 ]] || fail "MTU 4000 on $IF_SL (sluice at 3826): /bytes/100000 gave $got bytes"
in_sl ip link set "$IF_SL" mtu 1500 || fail "cannot set the MTU of $IF_SL back to 1500"
for _ in $(seq 30); do
	grep -q "MTU of $IF_SL is now 1500 (was 4000)" "$TMP/run.err" && break
	sleep 0.1
done
grep -q "MTU of $IF_SL is now 1500 (was 4000)" "$TMP/run.err" || fail "the MTU of $IF_SL back at 1500 from 4000: not followed ($(grep MTU "$TMP/run.err"))"
keeper_check "the MTU changes"
ok "ip link set $IF_SL mtu 1400 while sluice runs: /bytes/200000 in $pkts packets, none above 1400 bytes, SYN-ACK $mss; back to 1500 followed too; 4000 clamped to 3826 with a line, still serving"


# --- routes followed: an off-link prefix via the peer, added and deleted while sluice runs --------
# A client on ROUTE_NET (an address of the peer's) reaches sluice's HTTP; sluice's answer needs
# the kernel's route to ROUTE_NET via PEER_IP (the namespace has no default route yet).
ROUTE_NET=198.18.$NET.0/24
ROUTE_IP=198.18.$NET.9
in_peer ip addr add "$ROUTE_IP/32" dev "$IF_PEER" || fail "cannot add $ROUTE_IP to the peer"
in_sl ip route add "$ROUTE_NET" via "$PEER_IP" dev "$IF_SL" || fail "cannot add the route to $ROUTE_NET"
served=
for _ in $(seq 6); do
	got=$(in_peer timeout 2 curl -s --max-time 0.5 --interface "$ROUTE_IP" "http://$KERNEL_IP:$P1/bytes/100" | wc -c)
	[[ $got -eq 100 ]] && {
		served=1
		break
	}
done
[[ -n $served ]] || fail "ip route add $ROUTE_NET via $PEER_IP while sluice runs: a client at $ROUTE_IP got no answer from sluice on $KERNEL_IP:$P1"
in_sl ip route del "$ROUTE_NET" via "$PEER_IP" dev "$IF_SL" || fail "cannot delete the route to $ROUTE_NET"
sleep 0.1
s0=$(stack_json)
need_counter "$s0" ipv4_no_route
got=$(in_peer timeout 2 curl -s --max-time 0.5 --interface "$ROUTE_IP" "http://$KERNEL_IP:$P1/bytes/100" | wc -c)
sleep 0.1
s1=$(stack_json)
[[ $got -eq 0 ]] || fail "ip route del $ROUTE_NET: a client at $ROUTE_IP still got $got bytes from sluice"
[[ $(counter "$s1" ipv4_no_route) -gt $(counter "$s0" ipv4_no_route) ]] ||
	fail "ip route del $ROUTE_NET: sluice's ipv4_no_route did not grow ($(counter "$s0" ipv4_no_route) -> $(counter "$s1" ipv4_no_route)): was the SYN not answered for another reason?"
in_peer ip addr del "$ROUTE_IP/32" dev "$IF_PEER"
ok "ip route add $ROUTE_NET via $PEER_IP while sluice runs: a client at $ROUTE_IP is answered; after ip route del it is not (ipv4_no_route +$(($(counter "$s1" ipv4_no_route) - $(counter "$s0" ipv4_no_route))))"

# --- 5. kill -9 -------------------------------------------------------------------------------
kill9_sluice
ns0=$(gate_counter no_socket)
out=$(in_peer $PY "$SHARED_UTIL" refused "$KERNEL_IP" $P1 2>&1) || fail "after kill -9: $out"
ns1=$(gate_counter no_socket)
[[ $ns1 -gt $ns0 ]] || fail "after kill -9: the refused connect's SYN was not counted as gate no_socket ($ns0 -> $ns1)"
expect_bind $P1 free "after kill -9 (the reservations go with the process)"
keeper_check "kill -9 of sluice"
ok "kill -9: connect to $KERNEL_IP:$P1 $out (kernel RST), gate no_socket +$((ns1 - ns0)), port $P1 free again"

start_sluice_shared "${SERVICES[@]}"
got=$(in_peer timeout 10 curl -sS --max-time 5 "http://$KERNEL_IP:$P1/bytes/1000" | wc -c)
[[ $got -eq 1000 ]] || fail "restart after kill -9: /bytes/1000 on $KERNEL_IP:$P1 gave $got bytes"
check_port_rules "$KERNEL_IP" "$RULES"
expect_bind $P1 inuse "after the restart"
keeper_check "the restart"
ok "restart after kill -9: serving $KERNEL_IP:$P1 again, reservations back"

# --- 6. clean stop ----------------------------------------------------------------------------
clean_stop
# The summary names what the run served: ports of the kernel's addresses, not an address.
stopped=$(grep '^sluice: stopped' "$TMP/run.err")
[[ $stopped == "sluice: stopped shared "*" on $IF_SL (1 queue): "* && $stopped != *"$KERNEL_IP"* ]] ||
	fail "the clean stop's summary should name the shared ports, not an address: $stopped"
for p in tcp/$P1 tcp/$P2 udp/$P7; do
	[[ $stopped == *"$p"* ]] || fail "the clean stop's summary does not name $p: $stopped"
done
[[ $(rules_mention $P1 $P2 $P7) -eq 0 ]] || fail "clean stop left rules for :$P1/:$P2/:$P7: $(flows_json)"
expect_bind $P1 free "after a clean stop"
expect_bind $P2 free "after a clean stop"
expect_bind $P7 free "after a clean stop" udp
keeper_check "the clean stop"
ok "clean stop: no port rule left, kernel bind() to tcp :$P1, :$P2 and udp :$P7 succeeds"

# --- 4. active open from the shared address, with the kernel's own connections ----------------
SZ=67108864
rm -f "$TMP/go"
nsenter --net=/run/netns/"$NS_PEER" $PY "$SHARED_UTIL" sink $P5 60 "$TMP/go" >"$TMP/sink.out" 2>&1 &
sinkpid=$!
for _ in $(seq 50); do
	grep -q listening "$TMP/sink.out" && break
	sleep 0.1
done
grep -q listening "$TMP/sink.out" || fail "the peer's sink did not start: $(cat "$TMP/sink.out")"
# The peer's second address has no neighbour entry in the host namespace: sluice must have the
# kernel resolve it (it sends no ARP of its own).
in_peer ip addr add "$PEER_IP2/24" dev "$IF_PEER" || fail "cannot add $PEER_IP2 to the peer"
in_sl ip neigh flush dev "$IF_SL"
in_sl ip neigh show "$PEER_IP2" dev "$IF_SL" | grep lladdr >/dev/null && fail "harness: the kernel already knows $PEER_IP2"
# An ICMP error quoting the active open's first data segment, sent while the sink holds the
# transfer: it must reach sluice (its 5-tuple is sluice's), not the kernel.
nsenter --net=/run/netns/"$NS_PEER" $PY "$SHARED_UTIL" icmp-err "$IF_PEER" "$PEER_IP2" "$KERNEL_IP" "to:$P5" frag 20 \
	>"$TMP/icmp-open.out" 2>&1 &
icmppid=$!
for _ in $(seq 50); do
	grep -q sniffing "$TMP/icmp-open.out" && break
	sleep 0.1
done
sleep 0.5 # the capture socket opens after "sniffing"
kd0=$(snmp in_sl Icmp InDestUnreachs)
start_sluice_shared --send "$PEER_IP2:$P5:$SZ" --msl 1 --json
for _ in $(seq 100); do
	grep -q '^from' "$TMP/sink.out" && break
	kill -0 "$sinkpid" 2>/dev/null || break
	sleep 0.1
done
read -r _ from lport < <(grep '^from' "$TMP/sink.out")
[[ -n ${lport:-} ]] || fail "--shared --send: the peer's sink got no connection: $(cat "$TMP/sink.out") $(cat "$TMP/run.err")"
[[ $from == "$KERNEL_IP" ]] || fail "--shared --send: the connection came from $from, not the shared address $KERNEL_IP"
wait "$icmppid" || fail "the ICMP error for the active open: $(cat "$TMP/icmp-open.out")"
sleep 0.3
kd1=$(snmp in_sl Icmp InDestUnreachs)
[[ $kd1 -eq $kd0 ]] || fail "frag-needed quoting sluice's active open reached the kernel (InDestUnreachs +$((kd1 - kd0)))"
# While the connection exists: its local port is reserved against the kernel, and a rule of it
# (not an owned address) steers its replies.
expect_bind "$lport" inuse "while sluice's active open from $KERNEL_IP:$lport lasts"
$PY -c '
import ipaddress, json, sys
ip = ipaddress.ip_address
f = json.loads(sys.argv[1])["flows"]
want = ("tcp", ip(sys.argv[2]), int(sys.argv[3]), ip(sys.argv[4]), int(sys.argv[5]))
tuples = [(x["proto"], ip(x["addr"]), x["port"], ip(x["raddr"]), x["rport"])
          for x in f if x["kind"] == "tuple"]
if tuples != [want] or any(x["kind"] == "owned" for x in f):
    sys.exit("expected one tuple rule tcp %s:%s <- %s:%s and no owned-address rule; rules: %s" %
             (sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5], f))' \
	"$(flows_json)" "$KERNEL_IP" "$lport" "$PEER_IP2" $P5 || fail "--shared --send: not the active open's tuple rule"
# The kernel's connect() cannot take the held port: with the namespace's ephemeral range that
# one port, it fails with EADDRNOTAVAIL (control: with a free port it connects from it).
range0=$(in_sl sysctl -n net.ipv4.ip_local_port_range)
in_sl sysctl -qw net.ipv4.ip_local_port_range="$P4 $P4" || fail "cannot set ip_local_port_range"
ctl=$(in_sl $PY "$SHARED_UTIL" kconnect "$PEER_IP" $P6 2>&1)
in_sl sysctl -qw net.ipv4.ip_local_port_range="$lport $lport" || fail "cannot set ip_local_port_range to $lport"
out=$(in_sl $PY "$SHARED_UTIL" kconnect "$PEER_IP" $P6 2>&1)
in_sl sysctl -qw net.ipv4.ip_local_port_range="$range0"
[[ $ctl == "connected $P4" ]] || fail "harness: a kernel connect with ip_local_port_range $P4 $P4: $ctl"
[[ $out == addrnotavail ]] || fail "a kernel connect with ip_local_port_range $lport $lport (sluice's held port): $out, expected EADDRNOTAVAIL"
# The kernel's own outgoing connections to the peer from the same address, while sluice's
# 64 MiB go out.
nsenter --net=/run/netns/"$NS_SL" $PY "$SHARED_UTIL" clients "$PEER_IP" $P6 40 >"$TMP/clients.out" 2>&1 &
clientspid=$!
bg_in "$NS_PEER" ping -c 20 -i 0.05 -w 5 "$KERNEL_IP" >"$TMP/ping.out" 2>&1
pingpid=$!
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
[[ $rc == 0 ]] || fail "--shared --send $SZ: sluice exit status $rc: $(cat "$TMP/run.err")"
wait "$pingpid" || fail "ping $KERNEL_IP during sluice's active open: $(tail -2 "$TMP/ping.out")"
grep -q ' 0% packet loss' "$TMP/ping.out" || fail "ping $KERNEL_IP during sluice's active open: $(grep 'packet loss' "$TMP/ping.out")"
wait "$sinkpid" || fail "the peer's sink failed: $(cat "$TMP/sink.out")"
grep -q "^received $SZ\$" "$TMP/sink.out" || fail "--shared --send $SZ: the peer $(grep received "$TMP/sink.out" || echo 'received nothing')"
grep -q "sent $SZ bytes" "$TMP/run.err" || fail "--shared --send: no 'sent $SZ bytes' line: $(cat "$TMP/run.err")"
wait "$clientspid" || fail "the kernel's own connections to the peer during sluice's active open: $(cat "$TMP/clients.out")"
$PY -c '
import json, sys
d = json.load(open(sys.argv[1]))
c = d["counters"]
bad = {k: c[k] for k in ("arp_requests_sent", "arp_replies_sent") if c.get(k, 0)}
if bad:
    sys.exit("sluice sent ARP itself: %s" % bad)
if c.get("icmp_errors_rx", 0) < 1:
    sys.exit("the frag-needed quoting the active open did not reach sluice: icmp_errors_rx %s" %
             c.get("icmp_errors_rx"))
if c.get("icmp_errors_delivered", 0) < 1:
    sys.exit("the frag-needed quoting the active open did not reach its connection: "
             "icmp_errors_delivered %s" % c.get("icmp_errors_delivered"))
if d["frames_returned"] != d["frames_total"]:
    sys.exit("frames %d/%d returned" % (d["frames_returned"], d["frames_total"]))' "$TMP/run.out" ||
	fail "--shared --send summary (--json): $(head -c 400 "$TMP/run.out")"
[[ $(flows_json | $PY -c 'import json,sys; print(len(json.load(sys.stdin)["flows"]))') -eq 0 ]] ||
	fail "--shared --send left rules behind: $(flows_json)"
expect_bind "$lport" free "after the active open from :$lport ended"
in_sl ip neigh show "$PEER_IP2" dev "$IF_SL" | grep lladdr >/dev/null || fail "--shared --send to $PEER_IP2: the kernel has no neighbour entry for it, so who resolved it?"
ok "--shared --send: the peer received exactly $SZ bytes from $KERNEL_IP:$lport (port reserved meanwhile: kernel bind() EADDRINUSE, kernel connect() with only that port EADDRNOTAVAIL; its tuple rule removed after; a frag-needed quoting it reached its connection, not the kernel), $(sed 's/ok/all/' "$TMP/clients.out") kernel connections to the peer and 20 pings to $KERNEL_IP (0% loss) meanwhile ok; $PEER_IP2 resolved by the kernel, no ARP from sluice"

# --- kill -9 during an active open ------------------------------------------------------------
# The peer's end of a killed active open writes: the orphaned tuple rule finds no socket, the
# kernel holds nothing on that port any more, so the peer gets a RST rather than silence. The
# next shared run removes the leftover tuple rule (docs/real-nic.md, "Leftover rules").
rm -f "$TMP/go"
nsenter --net=/run/netns/"$NS_PEER" $PY "$SHARED_UTIL" reset-after $P9 20 "$TMP/go" >"$TMP/ra.out" 2>&1 &
rapid=$!
for _ in $(seq 50); do
	grep -q listening "$TMP/ra.out" && break
	sleep 0.1
done
start_sluice_shared --send "$PEER_IP:$P9:$SZ"
for _ in $(seq 100); do
	grep -q '^from' "$TMP/ra.out" && break
	sleep 0.1
done
read -r _ from lport < <(grep '^from' "$TMP/ra.out")
[[ -n ${lport:-} ]] || fail "--shared --send for the kill test: no connection: $(cat "$TMP/ra.out")"
sleep 0.3 # the window fills; the connection is established on both sides
kill9_sluice
[[ $(rules_mention "$lport") -ge 1 ]] || fail "after kill -9 of an active open: expected its tuple rule to remain, flows: $(flows_json)"
ns0=$(gate_counter no_socket)
touch "$TMP/go"
wait "$rapid" || fail "after kill -9 during an active open, the peer writing on it: $(cat "$TMP/ra.out")"
ns1=$(gate_counter no_socket)
[[ $ns1 -gt $ns0 ]] || fail "after kill -9 of an active open: the peer's segments were not counted as no_socket"
expect_bind "$lport" free "after kill -9 of the active open from :$lport"
ok "kill -9 during an active open from $KERNEL_IP:$lport: the peer's writes draw a RST (gate no_socket +$((ns1 - ns0))), the port is free"

# --- an off-link destination through the kernel's default route --------------------------------
# The kernel's default route via PEER_IP3 (an address of the peer the kernel has never
# resolved); the destination OFF_IP sits on the peer's loopback. sluice must take the route
# and the gateway's MAC from the kernel.
OFF_IP=192.168.$NET.1
PEER_IP3=10.$NET.0.6
in_peer ip addr add "$PEER_IP3/24" dev "$IF_PEER" || fail "cannot add $PEER_IP3 to the peer"
in_peer ip addr add "$OFF_IP/32" dev lo || fail "cannot add $OFF_IP to the peer's loopback"
in_sl ip route add default via "$PEER_IP3" dev "$IF_SL" || fail "cannot add the default route via $PEER_IP3"
in_sl ip neigh flush dev "$IF_SL"
rm -f "$TMP/go"
nsenter --net=/run/netns/"$NS_PEER" $PY "$SHARED_UTIL" sink $P8 30 >"$TMP/sink.out" 2>&1 &
sinkpid=$!
for _ in $(seq 50); do
	grep -q listening "$TMP/sink.out" && break
	sleep 0.1
done
rc=0
in_sl timeout 30 "$SLUICE" run "$IF_SL" --shared --send "$OFF_IP:$P8:1000000" --msl 1 >"$TMP/off.out" 2>"$TMP/off.err" || rc=$?
[[ $rc -eq 0 ]] || fail "--shared --send to off-link $OFF_IP via the kernel's default route (via $PEER_IP3): exit $rc: $(cat "$TMP/off.err")"
wait "$sinkpid" || fail "the sink at $OFF_IP: $(cat "$TMP/sink.out")"
grep -q '^received 1000000$' "$TMP/sink.out" || fail "--shared --send to $OFF_IP: $(cat "$TMP/sink.out")"
grep -q "^from $KERNEL_IP " "$TMP/sink.out" || fail "--shared --send to $OFF_IP: not from $KERNEL_IP: $(cat "$TMP/sink.out")"
in_sl ip neigh show "$PEER_IP3" dev "$IF_SL" | grep lladdr >/dev/null || fail "the gateway $PEER_IP3 has no kernel neighbour entry after the run"
in_sl ip route del default via "$PEER_IP3" dev "$IF_SL"
[[ $(rules_mention "$lport") -eq 0 ]] || fail "the tuple rule of the killed active open from :$lport survived the next shared run: $(flows_json)"
ok "--shared --send 1000000 to off-link $OFF_IP through the kernel's default route via $PEER_IP3 (resolved by the kernel): all bytes arrived from $KERNEL_IP; the killed run's tuple rule is gone"

# --- the old kernel connection, after detach ----------------------------------------------------
in_sl "$SLUICE" detach "$IF_SL" || fail "sluice detach failed"
keeper_check "sluice detach"
keeper_stop
ok "the kernel connection opened before sluice survived attach, run, kill -9, restart, clean stop and detach ($KEEPER_SEEN lines echoed)"
