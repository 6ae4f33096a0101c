#!/usr/bin/env bash
# The kernel peer pings the stack (up to 1472-byte payloads) with no loss, arping gets the
# interface's MAC, and the kernel's own address on the same interface keeps answering ping
# and TCP at the same time. A clean stop returns every UMEM frame.
source "$(dirname "$0")/lib.sh"
setup_net
start_sluice

MAC=$(in_sl cat /sys/class/net/"$IF_SL"/address 2>/dev/null || in_sl ip -o link show "$IF_SL" | sed -n 's/.*link\/ether \([0-9a-f:]*\).*/\1/p')

out=$(in_peer ping -c 20 -i 0.05 -W 2 "$STACK_IP") || { echo "$out"; fail "ping to the stack lost packets"; }
grep -q ' 0% packet loss' <<<"$out" || fail "ping to the stack: $out"
ok "20/20 pings to the stack ($STACK_IP)"

for size in 0 1 56 1000 1472; do
	out=$(in_peer ping -c 5 -i 0.05 -W 2 -s $size "$STACK_IP") || { echo "$out"; fail "ping -s $size lost packets"; }
	grep -q ' 0% packet loss' <<<"$out" || fail "ping -s $size: $out"
done
ok "payloads 0..1472 bytes, no loss"

# Larger payloads travel as fragments both ways: the stack reassembles the request and
# fragments its reply.
for size in 1473 4000 8000; do
	out=$(in_peer ping -c 3 -i 0.1 -W 2 -s $size "$STACK_IP") || { echo "$out"; fail "ping -s $size lost packets"; }
done
[[ $(stat_of ipv4_reasm_ok) -ge 9 ]] || fail "reassembled datagrams not counted"
[[ $(stat_of ipv4_frags_sent) -ge 9 ]] || fail "fragmented replies not counted"
ok "ping -s 1473/4000/8000: reassembled and answered in fragments"

out=$(in_peer arping -c 3 -w 5 -I "$IF_PEER" "$STACK_IP") || { echo "$out"; fail "arping got no answer"; }
grep -qi "$MAC" <<<"$out" || fail "arping answered with the wrong MAC (want $MAC): $out"
ok "arping sees $MAC"

# Coexistence: the kernel's address on the same interface, at the same time.
out=$(in_peer ping -c 10 -i 0.05 -W 2 "$KERNEL_IP") || { echo "$out"; fail "kernel address stopped answering ping"; }
in_sl timeout 10 nc -l -p 5555 >"$TMP/nc.out" &
ncpid=$!
sleep 0.3
echo "hello kernel" | in_peer timeout 5 nc -q 1 "$KERNEL_IP" 5555 || fail "TCP to the kernel address failed"
wait $ncpid
grep -q "hello kernel" "$TMP/nc.out" || fail "kernel TCP server got: $(cat "$TMP/nc.out")"
ok "kernel address $KERNEL_IP answers ping and TCP beside the stack"

[[ $(stat_of icmp_echo_replies) -ge 54 ]] || fail "echo replies not counted"
in_sl "$SLUICE" stats "$IF_SL" | grep redirected >/dev/null || fail "sluice stats shows no gate counters"

stop_sluice || { cat "$TMP/run.err"; fail "sluice run exited non-zero on SIGTERM"; }
grep -q 'frames 4096/4096 returned' "$TMP/run.err" || { cat "$TMP/run.err"; fail "frames not all returned"; }
ok "clean stop: $(tail -1 "$TMP/run.err")"

# The rule is gone: the stack's address no longer answers, the kernel's still does.
in_sl "$SLUICE" flow list "$IF_SL" | grep "$STACK_IP" >/dev/null && fail "owned rule left behind"
in_peer ping -c 2 -i 0.1 -W 1 "$KERNEL_IP" >/dev/null || fail "kernel traffic broken after stop"
ok "rule removed on stop; kernel traffic unaffected"
