#!/usr/bin/env bash
# The cost per request of the apps benchmark's servers (bench/apps.sh), in figures that other
# load on the machine does not move much: system calls per request (perf's count of the
# raw_syscalls:sys_enter tracepoint in the server's threads, the whole load) and the server's
# CPU time per request (/proc/PID/task/*/schedstat: user + system). Beside them: how busy each
# CPU was (/proc/stat) and CPU 1's busy time per request, which adds what the kernel does there
# for the server (veth's NAPI thread, pinned to CPU 1 as in bench/apps.sh; softirqs), and the
# rate the client saw. Those three move with whatever else runs on the machine.
#
#   bash bench/apps_cost.sh [TARGETS] [LOADS]
#     TARGETS: "sluice kernel" (default)
#     LOADS:   any of nginx redis1 redis16 (default: all three)
# Knobs: COST_SLUICE=build/sluice COST_WRK_SECONDS=5 COST_WRK_CONNS=50 COST_REQUESTS=100000 COST_CONNS=50
#        COST_PERF=1 (also a perf record -g of the server, report in $COST_OUT/<target>-<load>.perf.txt,
#        the data in .perf.data;
#        COST_PERF=cpu: of everything on CPU 1, the server's CPU)
#        COST_STRACE=1 (strace -c -f of the server too: slows it; $COST_OUT/<target>-<load>.strace.txt)
#        COST_IDLE=N (N idle connections held open to the server during each load: nginx gets one
#        request on each first, then keep-alive; redis a PING)
#        COST_OUT=/tmp/apps-cost (where the raw outputs go)
#        COST_EXEC_ARGS="" (extra sluice exec options, e.g. --eager)
# Root. Namespaces and a veth pair of its own (removed by the EXIT trap); the server on CPU 1,
# the client on CPU 0; every process started here is stopped by its own PID.
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
. "$ROOT/bench/apps_lib.sh"
SLUICE=${COST_SLUICE:-$ROOT/build/sluice} # another build: its libsluice-preload.so beside it
TARGETS=${1:-sluice kernel}
LOADS=${2:-nginx redis1 redis16}
WRK_SECONDS=${COST_WRK_SECONDS:-5}
WRK_CONNS=${COST_WRK_CONNS:-50}
REQUESTS=${COST_REQUESTS:-100000}
CONNS=${COST_CONNS:-50}
PERF=${COST_PERF:-0}
IDLE=${COST_IDLE:-0}
OUT=${COST_OUT:-/tmp/apps-cost}
ID=$$
NET=$((100 + ID % 100))
NS_C=slc-$ID-c
NS_S=slc-$ID-s
IF_C=cc$ID
IF_S=cs$ID
C_IP=10.$NET.7.1
K_IP=10.$NET.7.2
S_IP=10.$NET.7.3
PID_SRV= # sluice exec, or the kernel-run server
mkdir -p "$OUT"
TMP=$(mktemp -d /tmp/apps-cost.XXXXXX)

in_c() { nsenter --net=/run/netns/"$NS_C" "$@"; }
in_s() { nsenter --net=/run/netns/"$NS_S" "$@"; }
die() { echo "apps_cost: $*" >&2; exit 1; }

children() {
	local c
	for c in $(cat /proc/"$1"/task/*/children 2>/dev/null); do
		children "$c"
		echo "$c"
	done
}
stop_srv() {
	[[ -n $PID_SRV ]] || return 0
	kill -TERM "$PID_SRV" 2>/dev/null
	for _ in $(seq 100); do
		kill -0 "$PID_SRV" 2>/dev/null || break
		sleep 0.1
	done
	local p
	for p in $(children "$PID_SRV"); do kill -KILL "$p" 2>/dev/null; done
	kill -KILL "$PID_SRV" 2>/dev/null
	wait "$PID_SRV" 2>/dev/null
	PID_SRV=
}
cleanup() {
	stop_srv
	in_s "$SLUICE" detach "$IF_S" >/dev/null 2>&1
	ip netns del "$NS_C" 2>/dev/null
	ip netns del "$NS_S" 2>/dev/null
	rm -rf "$TMP"
}
trap cleanup EXIT

ip netns add "$NS_C" && ip netns add "$NS_S" || die "netns"
ip link add "$IF_C" netns "$NS_C" type veth peer name "$IF_S" netns "$NS_S" || die "veth"
in_c ip link set lo up
in_s ip link set lo up
in_c ip addr add "$C_IP/24" dev "$IF_C"
in_s ip addr add "$K_IP/24" dev "$IF_S"
in_c sysctl -qw net.ipv6.conf."$IF_C".disable_ipv6=1
in_s sysctl -qw net.ipv6.conf."$IF_S".disable_ipv6=1
in_c ip link set "$IF_C" up
in_s ip link set "$IF_S" up
in_c ethtool -K "$IF_C" tx off >/dev/null 2>&1
in_s ethtool -K "$IF_S" tx off >/dev/null 2>&1
cm=$(ip netns exec "$NS_C" cat /sys/class/net/"$IF_C"/address)
sm=$(ip netns exec "$NS_S" cat /sys/class/net/"$IF_S"/address)
in_c ip neigh replace "$K_IP" lladdr "$sm" nud permanent dev "$IF_C"
in_c ip neigh replace "$S_IP" lladdr "$sm" nud permanent dev "$IF_C"
in_s ip neigh replace "$C_IP" lladdr "$cm" nud permanent dev "$IF_S"
for _ in $(seq 50); do
	in_c ip link show "$IF_C" | grep -q 'state UP' && break
	sleep 0.1
done

attached=0
attach() {
	[[ $attached == 1 ]] && return 0
	in_s "$SLUICE" attach "$IF_S" >/dev/null || die "attach"
	ip netns exec "$NS_S" sh -c "echo 1 > /sys/class/net/$IF_S/threaded" || die "threaded"
	local f c prefix="napi/$IF_S-"
	prefix=${prefix:0:15}
	for f in /proc/[0-9]*/comm; do
		{ read -r c <"$f"; } 2>/dev/null || continue
		[[ $c == "$prefix"* ]] || continue
		f=${f%/comm}
		taskset -pc 1 "${f#/proc/}" >/dev/null && chrt -f -p 1 "${f#/proc/}"
	done
	attached=1
}
detach() {
	in_s "$SLUICE" detach "$IF_S" >/dev/null 2>&1
	attached=0
}

nginx_conf() {
	local d=$TMP/nginx
	mkdir -p "$d/www"
	apps_page "$d/www/index.html" || die "cannot extract the page"
	apps_nginx_conf "$d" "$1" 8080 8192
}

# start TARGET SERVER: prints the server's own PID (the program, not sluice exec).
start() {
	local t=$1 s=$2 addr=$K_IP pre=() cmd=()
	[[ $t == sluice ]] && { addr=$S_IP; pre=("$SLUICE" exec "$IF_S" --addr "$S_IP/24" ${COST_EXEC_ARGS:-} --); }
	if [[ $s == redis ]]; then
		cmd=(redis-server --port 6379 --bind "$addr" --save '' --appendonly no --daemonize no
			--io-threads 1 --protected-mode no)
	else
		nginx_conf "$addr"
		cmd=(nginx -p "$TMP/nginx" -e "$TMP/nginx/err.log" -c "$TMP/nginx/nginx.conf")
	fi
	taskset -c 1 nsenter --net=/run/netns/"$NS_S" "${pre[@]}" "${cmd[@]}" >"$TMP/srv.out" 2>&1 &
	PID_SRV=$!
	local t0=$SECONDS
	while ((SECONDS - t0 < 10)); do
		if [[ $s == redis ]]; then
			[[ $(in_c timeout 1 redis-cli -h "$addr" PING 2>/dev/null) == PONG ]] && return 0
		else
			in_c curl -s --max-time 1 -o /dev/null "http://$addr:8080/" && return 0
		fi
		sleep 0.1
	done
	cat "$TMP/srv.out" >&2
	die "$s on $t did not start"
}
server_pid() { # the program itself
	if [[ $1 == sluice ]]; then children "$PID_SRV" | tail -1; else echo "$PID_SRV"; fi
}
cpu_ns() { # user+system ns of every thread of PID
	awk '{ s += $1 } END { printf "%d\n", s }' /proc/"$1"/task/*/schedstat
}
busy() { # busy ticks (USER_HZ) of CPU 0 and CPU 1: "c0 c1"
	awk '$1 == "cpu0" { a = $2 + $3 + $4 + $7 + $8 } $1 == "cpu1" { b = $2 + $3 + $4 + $7 + $8 }
		END { print a, b }' /proc/stat
}

for load in $LOADS; do
	for t in $TARGETS; do
		if [[ $t == sluice ]]; then attach; else detach; fi
		s=nginx
		[[ $load == redis* ]] && s=redis
		addr=$K_IP
		[[ $t == sluice ]] && addr=$S_IP
		start "$t" "$s"
		pid=$(server_pid "$t")
		[[ -n $pid ]] || die "no server pid"
		perf stat -e raw_syscalls:sys_enter -x, -p "$pid" -o "$TMP/perfstat" &
		pstat=$!
		pstrace=
		if [[ ${COST_STRACE:-0} == 1 ]]; then
			strace -c -f -p "$pid" -o "$OUT/$t-$load.strace.txt" &
			pstrace=$!
		fi
		prec=
		if [[ $PERF == 1 || $PERF == cpu ]]; then
			who=(-p "$pid")
			[[ $PERF == cpu ]] && who=(-C 1)
			perf record -g -o "$TMP/perf.data" "${who[@]}" >/dev/null 2>&1 &
			prec=$!
		fi
		pidle=
		if [[ $IDLE -gt 0 ]]; then
			in_c /usr/bin/python3 - "$addr" "$([[ $s == redis ]] && echo 6379 || echo 8080)" "$IDLE" \
				>"$TMP/idle.out" 2>&1 <<'PY' &
import socket, sys, time
addr, port, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
req = b"PING\r\n" if port == 6379 else b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"
conns = []
for _ in range(n):
    c = socket.create_connection((addr, port), timeout=5)
    c.sendall(req)
    conns.append(c)
for c in conns:
    c.recv(65536)
print("idle", len(conns), flush=True)
time.sleep(120)
PY
			pidle=$!
			for _ in $(seq 200); do
				grep -q '^idle' "$TMP/idle.out" 2>/dev/null && break
				sleep 0.1
			done
			grep -q '^idle' "$TMP/idle.out" || die "idle connections: $(cat "$TMP/idle.out")"
		fi
		sleep 0.2
		c0=$(cpu_ns "$pid")
		b0=$(busy)
		w0=$(date +%s%N)
		if [[ $load == nginx ]]; then
			in_c taskset -c 0 wrk -t1 -c"$WRK_CONNS" -d"${WRK_SECONDS}s" "http://$addr:8080/" \
				>"$TMP/load.out" 2>&1
			reqs=$(awk '/requests in/ { print $1 }' "$TMP/load.out")
			rate=$(awk '/Requests\/sec/ { print $2 }' "$TMP/load.out")
		else
			p=${load#redis}
			in_c taskset -c 0 redis-benchmark -h "$addr" -p 6379 -t set,get -n "$REQUESTS" \
				-c "$CONNS" -P "$p" --csv >"$TMP/load.out" 2>&1
			reqs=$((2 * REQUESTS))
			rate=$(awk -F'"' '/"SET"/ { s = $4 } /"GET"/ { g = $4 } END { printf "SET %s GET %s", s, g }' "$TMP/load.out")
		fi
		c1=$(cpu_ns "$pid")
		b1=$(busy)
		w1=$(date +%s%N)
		kill -INT "$pstat"
		wait "$pstat" 2>/dev/null
		if [[ -n $pidle ]]; then
			kill -TERM "$pidle" 2>/dev/null
			wait "$pidle" 2>/dev/null
		fi
		if [[ -n $pstrace ]]; then
			kill -INT "$pstrace"
			wait "$pstrace" 2>/dev/null
		fi
		if [[ -n $prec ]]; then
			kill -INT "$prec"
			wait "$prec" 2>/dev/null
			cp "$TMP/perf.data" "$OUT/$t-$load.perf.data"
			perf report -i "$TMP/perf.data" --no-children --percent-limit 0.5 --stdio \
				>"$OUT/$t-$load.perf.txt" 2>/dev/null
			perf report -i "$TMP/perf.data" --children --percent-limit 2 --stdio -g none \
				>"$OUT/$t-$load.perf-children.txt" 2>/dev/null
		fi
		sc=$(awk -F, '/raw_syscalls/ { print $1 }' "$TMP/perfstat")
		cp "$TMP/load.out" "$OUT/$t-$load.load.txt"
		awk -v t="$t" -v l="$load" -v r="$reqs" -v sc="$sc" -v c="$((c1 - c0))" -v rate="$rate" \
			-v b0="$b0" -v b1="$b1" -v w="$((w1 - w0))" \
			'BEGIN { split(b0, x, " "); split(b1, y, " "); hz = 100; sec = w / 1e9
			printf "%-7s %-8s %9d req  %6.2f syscalls/req  %6.2f us server CPU/req  cpu0 %3.0f%% cpu1 %3.0f%% %6.2f us cpu1/req  (%s)\n",
			t, l, r, sc / r, c / r / 1000, (y[1] - x[1]) / hz / sec * 100, (y[2] - x[2]) / hz / sec * 100,
			(y[2] - x[2]) / hz * 1e6 / r, rate }'
		stop_srv
	done
done
