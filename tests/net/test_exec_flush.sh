#!/usr/bin/env bash
# Nothing a program sends is left behind when it goes to sleep under `sluice exec` (issue 12
# item 5). The shim makes the non-blocking calls of an event-loop thread lazy: their output
# leaves with the loop's next wait, one poll and one TX kick per round instead of one per call
# (docs/architecture.md, "One poll per round"), so every other place where the program can
# sleep must send it first. tests/net/exec_flush.c goes through those places one by one: for
# each, it connects to the kernel peer (a non-blocking socket, poll(2) for the connection: an
# event loop), sends a line naming the call and 1 KiB without blocking, sleeps in the call
# (300 ms, or the time the call's own rules give) and, awake again, creates a marker file.
# The peer (Python, kernel sockets) reads each connection and says "late" when the marker
# existed before the last byte came: the data waited for the program to wake up.
#   calls: nanosleep clock_nanosleep usleep sleep; poll ppoll select pselect epoll epoll_pwait2
#   on kernel descriptors only; blocking read, write, recv, accept on kernel descriptors (a
#   pipe, a full pipe, a Unix socket pair and listener, ended by SIGALRM); pause sigsuspend
#   sigwait sigtimedwait; wait waitpid waitid system pclose (a child sleep); flock, fcntl
#   F_SETLKW and lockf on a lock a helper process holds; a blocking recv on another sluice
#   socket; epoll on the sluice socket itself; then, in runs of their own, _exit and exit
#   right after the send (the bytes must still arrive); and under `sluice exec --eager` (every
#   send leaves at once) also spin (computing, no call) and condwait (a condition variable's
#   timed wait), which the shim cannot see: without --eager their data waits, as documented.
# The same program on the kernel's sockets first (100 ms sleeps) proves the checker right.
# Every wait is bounded (the peer's lifetime, timeout on every run); background processes are
# stopped by their own PID. Takes about 15 s.
source "$(dirname "$0")/lib.sh"
setup_net
need cc timeout nsenter
PORT=7700
BIN=$TMP/exec_flush
cc -O2 -Wall -Wextra -Werror -pthread -o "$BIN" "$ROOT/tests/net/exec_flush.c" || fail "cannot build tests/net/exec_flush.c"
MODES=(nanosleep clock_nanosleep usleep sleep poll ppoll select pselect epoll epoll_pwait2 read
	write recv accept pause sigsuspend sigwait sigtimedwait wait waitpid waitid system pclose flock
	fcntl lockf sluice_recv sluice_epoll)

cat >"$TMP/peer.py" <<'EOF'
# peer.py IP PORT DIR COUNT: COUNT connections, one after the other; for each, "MODE ok" when
# the line and 1024 bytes came before DIR/MODE.awake existed, else "MODE late" or "MODE short".
import os, socket, sys, time
ip, port, d, count = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
end = time.monotonic() + 90
srv = socket.socket()
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind((ip, port))
srv.listen(64)
print("ready", flush=True)
for _ in range(count):
    srv.settimeout(max(0.1, end - time.monotonic()))
    c, _ = srv.accept()
    c.settimeout(5)
    buf = b""
    try:
        while b"\n" not in buf or len(buf) - buf.index(b"\n") - 1 < 1024:
            got = c.recv(65536)
            if not got:
                break
            buf += got
    except socket.timeout:
        pass
    mode = buf.split(b"\n")[0].decode(errors="replace") if b"\n" in buf else "?"
    whole = b"\n" in buf and len(buf) - buf.index(b"\n") - 1 >= 1024
    awake = os.path.exists(os.path.join(d, mode + ".awake"))
    print(mode, "ok" if whole and not awake else ("late" if whole else "short"), flush=True)
    c.close()
EOF

PEER_PID=
stop_peer() {
	if [[ -n $PEER_PID ]] && kill -0 "$PEER_PID" 2>/dev/null; then
		kill -TERM "$PEER_PID" 2>/dev/null
		wait "$PEER_PID" 2>/dev/null
	fi
	PEER_PID=
}
trap 'stop_peer; cleanup' EXIT

# run LABEL BLOCK_MS PREFIX... :: MODE...: the peer for that many connections, then the program
# (under PREFIX: nothing, or sluice exec); every mode must be "ok" and the program exit 0.
run() {
	local label=$1 block=$2 pre=() modes=() n
	shift 2
	while [[ $1 != :: ]]; do
		pre+=("$1")
		shift
	done
	shift
	modes=("$@")
	n=${#modes[@]}
	local d=$TMP/marks-$label
	mkdir -p "$d"
	nsenter --net=/run/netns/"$NS_PEER" "$PY" "$TMP/peer.py" "$PEER_IP" $PORT "$d" "$n" \
		>"$TMP/peer-$label.out" 2>"$TMP/peer-$label.err" &
	PEER_PID=$!
	for _ in $(seq 50); do
		grep -q '^ready' "$TMP/peer-$label.out" 2>/dev/null && break
		kill -0 "$PEER_PID" 2>/dev/null || break
		sleep 0.1
	done
	grep -q '^ready' "$TMP/peer-$label.out" || fail "$label: the peer did not start: $(cat "$TMP/peer-$label.err")"
	local rc=0
	in_sl timeout 60 "${pre[@]}" "$BIN" "$PEER_IP" $PORT "$d" "$block" "${modes[@]}" \
		>"$TMP/prog-$label.out" 2>&1 || rc=$?
	for _ in $(seq 50); do
		[[ $(grep -c . "$TMP/peer-$label.out") -gt $n ]] && break
		sleep 0.1
	done
	stop_peer
	[[ $rc -eq 0 ]] || fail "$label: exec_flush exited $rc: $(cat "$TMP/prog-$label.out")"
	local m v bad=()
	for m in "${modes[@]}"; do
		v=$(awk -v m="$m" '$1 == m { print $2 }' "$TMP/peer-$label.out")
		[[ $v == ok ]] || bad+=("$m:${v:-nothing}")
	done
	[[ ${#bad[@]} -eq 0 ]] || { cat "$TMP/peer-$label.out" >&2; fail "$label: data left behind: ${bad[*]}"; }
	ok "$label: ${modes[*]}: every byte arrived while the program slept"
}

run kernel 100 :: "${MODES[@]}"
run kernel-_exit 100 :: _exit
run kernel-exit 100 :: exit
EXEC=("$SLUICE" exec "$IF_SL" --addr "$STACK_IP/24" --)
run sluice 300 "${EXEC[@]}" :: "${MODES[@]}"
run sluice-_exit 300 "${EXEC[@]}" :: _exit
run sluice-exit 300 "${EXEC[@]}" :: exit
run kernel-unseen 100 :: spin condwait
EAGER=("$SLUICE" exec "$IF_SL" --addr "$STACK_IP/24" --eager --)
run sluice-eager 300 "${EAGER[@]}" :: spin condwait
echo "PASS: nothing left behind when a program under sluice exec sleeps or ends"
