#!/usr/bin/env bash
# Threads under `sluice exec` (issue 12 item 3: memcached -t 1 and other programs whose threads
# each sleep in their own poll, select or epoll set). tests/net/xthread_wake.c serves one TCP
# connection from a second thread that sleeps in poll(2), select(2) or epoll_wait(2) until the
# connection is readable, while the main thread sleeps in poll(2) on a UDP socket of its own:
# each frame wakes both, and whichever polls the stack first takes it off the AF_XDP ring. A kernel client in the peer namespace sends 200 messages of 100 bytes, each
# after the echo of the last, checks every echo byte for byte, and closes. For each of the
# three calls: first on the kernel (bound to KERNEL_IP, no sluice: shows the test is right),
# then under sluice exec. It fails if the server is not woken within 10 s of its socket
# becoming readable, or if the 200 rounds are not done in 20 s (about 0.1 s when it works):
# before the fix a sleeper that lost the race slept on until the stack's next timer or a
# second, since the ring it slept on was empty again. Takes about 8 s.
source "$(dirname "$0")/lib.sh"
setup_net
need cc timeout
XW=$TMP/xthread_wake
cc -O2 -Wall -Wextra -Werror -pthread -o "$XW" "$ROOT/tests/net/xthread_wake.c" ||
	fail "cannot build tests/net/xthread_wake.c"
ROUNDS=200
cat >"$TMP/client.py" <<'PY'
import socket, sys
addr, port, rounds = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
s = socket.create_connection((addr, port), timeout=15)
for i in range(rounds):
    msg = (b"%06d" % i) * 16 + b"\n" * 4
    s.sendall(msg)
    got = b""
    while len(got) < len(msg):
        d = s.recv(len(msg) - len(got))
        if not d:
            sys.exit("round %d: connection closed" % i)
        got += d
    if got != msg:
        sys.exit("round %d: echo differs" % i)
s.close()
print("client: %d rounds" % rounds)
PY
SRV_PID=
xt_cleanup() {
	[[ -n $SRV_PID ]] && kill -KILL "$SRV_PID" 2>/dev/null && wait "$SRV_PID" 2>/dev/null
	cleanup
}
trap xt_cleanup EXIT

# round MODE WHERE ADDR: one server, one client; fails on any error.
round() {
	local mode=$1 where=$2 addr=$3 port=7100 t0 out rc=0
	if [[ $where == sluice ]]; then
		nsenter --net=/run/netns/"$NS_SL" "$SLUICE" exec "$IF_SL" --addr "$STACK_IP/24" -- \
			"$XW" "$mode" "$addr" $port $ROUNDS >"$TMP/xw.out" 2>"$TMP/xw.err" &
	else
		nsenter --net=/run/netns/"$NS_SL" "$XW" "$mode" "$addr" $port $ROUNDS \
			>"$TMP/xw.out" 2>"$TMP/xw.err" &
	fi
	SRV_PID=$!
	for _ in $(seq 100); do
		grep -q listening "$TMP/xw.out" 2>/dev/null && break
		kill -0 "$SRV_PID" 2>/dev/null || break
		sleep 0.1
	done
	grep -q listening "$TMP/xw.out" || fail "$mode on $where: server did not start: $(cat "$TMP/xw.err")"
	t0=$(date +%s.%N)
	out=$(in_peer timeout 20 $PY "$TMP/client.py" "$addr" $port $ROUNDS 2>&1) || rc=$?
	[[ $rc -eq 0 ]] || fail "$mode on $where: client failed (status $rc): $out; server: $(cat "$TMP/xw.err")"
	rc=0
	timeout 10 tail --pid="$SRV_PID" -f /dev/null || fail "$mode on $where: server did not end"
	wait "$SRV_PID" || rc=$?
	SRV_PID=
	[[ $rc -eq 0 ]] || fail "$mode on $where: server exit status $rc: $(cat "$TMP/xw.err")"
	grep -q "^rounds $ROUNDS$" "$TMP/xw.out" || fail "$mode on $where: $(cat "$TMP/xw.out")"
	echo "$mode on $where: $ROUNDS rounds, server ended, in $(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.2f", b - a }') s"
}

for mode in poll select epoll; do
	round "$mode" kernel "$KERNEL_IP"
	round "$mode" sluice "$STACK_IP"
done
ok "a thread sleeping in poll, select or epoll_wait wakes when another thread took its frames"
