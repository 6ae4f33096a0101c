#!/usr/bin/env bash
# A stack killed with SIGKILL never black-holes the kernel's traffic (its socket leaves the
# XSKMAP with the process; matching frames then pass), a new run takes over its leftover rule,
# and `sluice detach` leaves no XDP program and no pins behind.
source "$(dirname "$0")/lib.sh"
setup_net
start_sluice
in_peer ping -c 3 -i 0.1 -W 2 "$STACK_IP" >/dev/null || fail "stack not answering"
kill -KILL "$SLUICE_PID"
wait "$SLUICE_PID" 2>/dev/null
SLUICE_PID=
ok "sluice run killed with SIGKILL"

out=$(in_peer ping -c 10 -i 0.05 -W 2 "$KERNEL_IP") || { echo "$out"; fail "kernel ping broken after SIGKILL"; }
in_sl timeout 10 nc -l -p 5556 >"$TMP/nc.out" &
ncpid=$!
sleep 0.3
echo "still here" | in_peer timeout 5 nc -q 1 "$KERNEL_IP" 5556 || fail "kernel TCP broken after SIGKILL"
wait $ncpid
grep -q "still here" "$TMP/nc.out" || fail "kernel TCP data lost after SIGKILL"
ok "kernel ping and TCP still flow with the gate attached and no stack"

# The killed run's owned rule is still there; frames for it find no socket and pass.
in_sl "$SLUICE" flow list "$IF_SL" | grep "$STACK_IP" >/dev/null || fail "expected the killed run's rule to remain"
before=$(in_sl "$SLUICE" stats "$IF_SL" --json | $PY -c 'import json,sys; print(json.load(sys.stdin)["gate"]["no_socket"])')
in_peer ping -c 2 -i 0.1 -W 1 "$STACK_IP" >/dev/null 2>&1
after=$(in_sl "$SLUICE" stats "$IF_SL" --json | $PY -c 'import json,sys; print(json.load(sys.stdin)["gate"]["no_socket"])')
[[ $after -gt $before ]] || fail "frames for the orphaned rule were not counted as no_socket"
ok "orphaned rule: frames pass to the kernel, counted as no_socket"

start_sluice
in_peer ping -c 3 -i 0.1 -W 2 "$STACK_IP" >/dev/null || fail "a new run did not take over"
stop_sluice || fail "second run did not stop cleanly"
in_sl "$SLUICE" flow list "$IF_SL" | grep "$STACK_IP" >/dev/null && fail "adopted rule not removed on stop"
ok "a new run adopts the leftover rule and removes it on stop"

in_sl "$SLUICE" detach "$IF_SL" || fail "detach failed"
in_sl ip -d link show "$IF_SL" | grep 'prog/xdp' >/dev/null && fail "XDP program left on $IF_SL"
netns_ino=$(in_sl stat -L -c %i /proc/self/ns/net)
pins=${SLUICE_BPFFS:-/sys/fs/bpf}/sluice/$netns_ino/$IF_SL
[[ -e $pins ]] && fail "pins left in $pins"
in_sl "$SLUICE" stats "$IF_SL" >/dev/null 2>&1 && fail "stats still works after detach"
in_peer ping -c 3 -i 0.1 -W 2 "$KERNEL_IP" >/dev/null || fail "kernel ping after detach"
ok "detach leaves no program and no pins; kernel traffic unaffected"
