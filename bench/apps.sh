# shellcheck shell=bash
# The apps part of `make bench` (BENCH_PARTS=apps; issue 12 item 5), sourced by bench/run.sh:
# the same unmodified server binaries (Debian's redis-server and nginx, `make deps`) on sluice
# (`sluice exec`) and on the kernel, in one run, loaded from a kernel client in another
# namespace. Namespaces and a veth pair of its own; uses run.sh's helpers (say, $TMP, $OUT,
# $PY, $SLUICE, $ID, $NET, $NAPI, $GEN_CPU, $SRV_CPU) and cpu_snap, jstr of bench/tcp.sh.
#
#   ns $NS_AG  ag 10.$NET.5.1/24  redis-benchmark, wrk (CPU 0)
#     │ veth (tx checksum offload off on both ends, IPv6 off, static neighbours both ways)
#   ns $NS_AS  as 10.$NET.5.2     kernel: redis-server / nginx (CPU 1), no XDP program
#                 10.$NET.5.3     sluice exec as -- redis-server / nginx (CPU 1), via the gate
#
# Targets: kernel (the binary as it is, bound to .2, no XDP program on the link: the baseline)
# and sluice (the same command line under `sluice exec as --addr 10.$NET.5.3/24`, bound to .3;
# the gate attached beforehand so that, with BENCH_NAPI=server, the veth's NAPI thread is
# threaded, pinned to CPU 1 and SCHED_FIFO 1 as in the other parts). The servers:
#
#   redis-server --port 6379 --bind ADDR --save '' --appendonly no --daemonize no
#                --io-threads 1 --protected-mode no
#   nginx -c (generated): master_process off, daemon off, one worker, access_log off,
#                sendfile off, keep-alive, the small page bench/khttp.c serves at /
#
# Loads, from CPU 0 in the client namespace, each once per round (BENCH_APPS_REPEAT rounds, the
# targets alternating within a round so that a burst of other load hits both):
#   redis-benchmark -h ADDR -t set,get -n BENCH_APPS_REQUESTS -c BENCH_APPS_CONNS -P P --csv,
#       for each P of BENCH_APPS_PIPELINE (1: one request per round trip; 16: pipelined)
#   wrk -t1 -cBENCH_APPS_WRK_CONNS -dBENCH_APPS_WRK_SECONDS GET / (keep-alive)
# One server process per target and round (started, checked with redis-cli SET/GET or a curl
# of the page, loaded, stopped with SIGTERM: it must exit 0). Results: $OUT/apps/raw.jsonl, one
# line per run; bench/apps_report.py writes results.json "apps" and the section of
# docs/benchmarks.md between <!-- bench:apps:begin --> and <!-- bench:apps:end -->, with the
# medians and the ratios sluice / kernel. Failures are counted (run.sh exits 1 at the end) but
# do not stop the part.
#
# Knobs: BENCH_APPS_REPEAT=3 BENCH_APPS_REQUESTS=200000 BENCH_APPS_CONNS=50
# BENCH_APPS_PIPELINE="1 16" BENCH_APPS_WRK_SECONDS=10 BENCH_APPS_WRK_CONNS=50
# BENCH_APPS_TARGETS="kernel sluice" BENCH_APPS_SERVERS="redis nginx". About 2 minutes with
# the defaults (2 targets × 3 rounds × (2 redis runs of a few seconds + 10 s of wrk)).

A_REPEAT=${BENCH_APPS_REPEAT:-3}
A_REQUESTS=${BENCH_APPS_REQUESTS:-200000}
A_CONNS=${BENCH_APPS_CONNS:-50}
A_PIPELINE=${BENCH_APPS_PIPELINE:-1 16}
A_WRK_SECONDS=${BENCH_APPS_WRK_SECONDS:-10}
A_WRK_CONNS=${BENCH_APPS_WRK_CONNS:-50}
A_TARGETS=${BENCH_APPS_TARGETS:-kernel sluice}
A_SERVERS=${BENCH_APPS_SERVERS:-redis nginx}
AD=$OUT/apps
NS_AG=slb-$ID-ag
NS_AS=slb-$ID-as
A_IFG=ag$ID
A_IFS=as$ID
A_GEN_IP=10.$NET.5.1
A_KERNEL_IP=10.$NET.5.2
A_STACK_IP=10.$NET.5.3
A_REDIS_PORT=6379
A_HTTP_PORT=8080
A_PID=    # the server of the current run: sluice exec, or the kernel-run server itself
A_FAILED=0
A_ATTACHED=0

in_ag() { nsenter --net=/run/netns/"$NS_AG" "$@"; }
in_as() { nsenter --net=/run/netns/"$NS_AS" "$@"; }

a_children() { # a_children PID: PID's descendants, deepest first
	local c
	for c in $(cat /proc/"$1"/task/*/children 2>/dev/null); do
		a_children "$c"
		echo "$c"
	done
}
a_kill() { # the current server, by PID: its children first, so that sluice exec reaps them
	[[ -n $A_PID ]] || return 0
	local p
	for p in $(a_children "$A_PID"); do kill -KILL "$p" 2>/dev/null; done
	for _ in $(seq 20); do
		kill -0 "$A_PID" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL "$A_PID" 2>/dev/null
	wait "$A_PID" 2>/dev/null
	A_PID=
}
apps_cleanup() { # for run.sh's cleanup
	a_kill
	[[ -e /run/netns/$NS_AS ]] && in_as "$SLUICE" detach "$A_IFS" >/dev/null 2>&1
	ip netns del "$NS_AG" 2>/dev/null
	ip netns del "$NS_AS" 2>/dev/null
	A_ATTACHED=0
}
a_record() { # a_record KIND TARGET ROUND KEY=JSON...: one line of apps/raw.jsonl
	local line="{\"kind\":\"$1\",\"target\":\"$2\",\"round\":$3" kv
	shift 3
	for kv in "$@"; do line+=",\"${kv%%=*}\":${kv#*=}"; done
	echo "$line}" >>"$AD/raw.jsonl"
}
a_fail() { # a_fail TARGET ROUND MESSAGE
	say "apps: FAILED: $1 round $2: $3"
	A_FAILED=$((A_FAILED + 1))
	a_record failure "$1" "$2" error="$(jstr "$3")"
}

a_link() {
	ip netns add "$NS_AG" && ip netns add "$NS_AS" || return 1
	ip link add "$A_IFG" netns "$NS_AG" type veth peer name "$A_IFS" netns "$NS_AS" || return 1
	in_ag ip link set lo up && in_as ip link set lo up || return 1
	in_ag ip addr add "$A_GEN_IP/24" dev "$A_IFG" && in_as ip addr add "$A_KERNEL_IP/24" dev "$A_IFS" ||
		return 1
	in_ag sysctl -qw net.ipv6.conf."$A_IFG".disable_ipv6=1
	in_as sysctl -qw net.ipv6.conf."$A_IFS".disable_ipv6=1
	in_ag ip link set "$A_IFG" up && in_as ip link set "$A_IFS" up || return 1
	a_offloads sluice || return 1
	local gm sm
	gm=$(in_ag ip -o link show dev "$A_IFG" | sed -n 's/.*link\/ether \([0-9a-f:]*\).*/\1/p')
	sm=$(in_as ip -o link show dev "$A_IFS" | sed -n 's/.*link\/ether \([0-9a-f:]*\).*/\1/p')
	[[ -n $gm && -n $sm ]] || return 1
	in_ag ip neigh replace "$A_KERNEL_IP" lladdr "$sm" nud permanent dev "$A_IFG" &&
		in_ag ip neigh replace "$A_STACK_IP" lladdr "$sm" nud permanent dev "$A_IFG" &&
		in_as ip neigh replace "$A_GEN_IP" lladdr "$gm" nud permanent dev "$A_IFS" || return 1
	for _ in $(seq 50); do
		in_ag ip link show "$A_IFG" | grep -q 'state UP' && return 0
		sleep 0.1
	done
	return 1
}

# a_offloads sluice|kernel: transmit checksum offload as run.sh's link_offloads sets it: off
# at the client's end for sluice (complete checksums into AF_XDP), on otherwise (the server's
# end always; both for the kernel target: the link a user has without sluice).
a_offloads() {
	local g=off
	[[ $1 == kernel ]] && g=on
	in_ag ethtool -K "$A_IFG" tx $g >/dev/null 2>&1 && in_as ethtool -K "$A_IFS" tx on >/dev/null 2>&1
}

# a_attach / a_detach: the gate on as (sluice target), none at all (kernel target).
a_attach() {
	a_offloads sluice || return 1
	[[ $A_ATTACHED == 1 ]] && return 0
	in_as "$SLUICE" attach "$A_IFS" >"$TMP/a-attach.out" 2>&1 || { cat "$TMP/a-attach.out" >&2; return 1; }
	in_as ip -d link show "$A_IFS" | grep -o 'xdp[a-z]*' | head -1 >"$AD/mode-gate.txt"
	A_ATTACHED=1
	[[ $NAPI == server ]] || return 0
	ip netns exec "$NS_AS" sh -c "echo 1 > /sys/class/net/$A_IFS/threaded" || return 1
	local prefix="napi/$A_IFS-" f c n=0
	prefix=${prefix:0:15}
	for f in /proc/[0-9]*/comm; do
		{ read -r c <"$f"; } 2>/dev/null || continue
		[[ $c == "$prefix"* ]] || continue
		f=${f%/comm}
		taskset -pc "$SRV_CPU" "${f#/proc/}" >/dev/null && chrt -f -p 1 "${f#/proc/}" || return 1
		n=$((n + 1))
	done
	[[ $n -gt 0 ]] || { say "apps: no NAPI thread for $A_IFS"; return 1; }
}
a_detach() {
	in_as "$SLUICE" detach "$A_IFS" >/dev/null 2>&1
	A_ATTACHED=0
	a_offloads kernel
}

a_addr() { [[ $1 == sluice ]] && echo "$A_STACK_IP" || echo "$A_KERNEL_IP"; }

# a_nginx_conf ADDR: the generated configuration, in $TMP/apps-nginx.
a_nginx_conf() {
	local d=$TMP/apps-nginx
	mkdir -p "$d/www"
	cp "$TMP/apps-page.html" "$d/www/index.html"
	apps_nginx_conf "$d" "$1" "$A_HTTP_PORT" 1024
}

# a_start TARGET SERVER: the server on CPU 1 in the server namespace, under sluice exec for the
# sluice target; waits (at most 10 s) until a client gets the right answer.
a_start() {
	local t=$1 s=$2 addr cmd=() pre=()
	addr=$(a_addr "$t")
	if [[ $s == redis ]]; then
		cmd=(redis-server --port "$A_REDIS_PORT" --bind "$addr" --save '' --appendonly no
			--daemonize no --io-threads 1 --protected-mode no)
	else
		a_nginx_conf "$addr"
		cmd=(nginx -p "$TMP/apps-nginx" -e "$TMP/apps-nginx/err.log" -c "$TMP/apps-nginx/nginx.conf")
	fi
	[[ $t == sluice ]] && pre=("$SLUICE" exec "$A_IFS" --addr "$A_STACK_IP/24" --)
	taskset -c "$SRV_CPU" nsenter --net=/run/netns/"$NS_AS" "${pre[@]}" "${cmd[@]}" \
		>"$TMP/a-$s.out" 2>"$TMP/a-$s.err" &
	A_PID=$!
	local t0=$SECONDS
	while ((SECONDS - t0 < 10)); do
		kill -0 "$A_PID" 2>/dev/null || break
		if [[ $s == redis ]]; then
			[[ $(in_ag timeout 1 redis-cli -h "$addr" SET apps-check ok 2>/dev/null) == OK &&
				$(in_ag timeout 1 redis-cli -h "$addr" GET apps-check 2>/dev/null) == ok ]] && return 0
		else
			in_ag curl -s --max-time 1 -o "$TMP/a-page" "http://$addr:$A_HTTP_PORT/" 2>/dev/null &&
				cmp -s "$TMP/a-page" "$TMP/apps-page.html" && return 0
		fi
		sleep 0.1
	done
	tail -n 5 "$TMP/a-$s.out" "$TMP/a-$s.err" >&2
	a_kill
	return 1
}
# a_stop TARGET ROUND SERVER: SIGTERM, at most 10 s; the status must be 0.
a_stop() {
	local t=$1 r=$2 s=$3 rc=0
	kill -TERM "$A_PID"
	for _ in $(seq 100); do
		kill -0 "$A_PID" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$A_PID" 2>/dev/null; then
		a_fail "$t" "$r" "$s still running 10 s after SIGTERM"
		a_kill
		return
	fi
	wait "$A_PID" || rc=$?
	A_PID=
	[[ $rc -eq 0 ]] || a_fail "$t" "$r" "$s exited with status $rc after SIGTERM: $(tail -n 2 "$TMP/a-$s.err" | tr '\n' ' ')"
}

# a_redis TARGET ROUND PIPELINE: one redis-benchmark run (SET and GET) from CPU 0.
a_redis() {
	local t=$1 r=$2 p=$3 addr rc=0 c0 c1 res
	addr=$(a_addr "$t")
	c0=$(cpu_snap)
	timeout 300 taskset -c "$GEN_CPU" nsenter --net=/run/netns/"$NS_AG" redis-benchmark -h "$addr" \
		-p $A_REDIS_PORT -t set,get -n "$A_REQUESTS" -c "$A_CONNS" -P "$p" --csv \
		>"$TMP/a-rb.out" 2>"$TMP/a-rb.err" || rc=$?
	c1=$(cpu_snap)
	res=$($PY - "$TMP/a-rb.out" <<'EOF'
import csv, json, sys
rows = {}
for row in csv.DictReader(open(sys.argv[1])):
    try:
        rows[row["test"]] = {k: float(v) for k, v in row.items() if k != "test"}
    except (KeyError, ValueError):
        pass
print(json.dumps(rows) if "SET" in rows and "GET" in rows else "null")
EOF
)
	if [[ $rc -ne 0 || $res == null ]]; then
		a_fail "$t" "$r" "redis-benchmark -P $p: exit $rc: $(tr '\r\n' '  ' <"$TMP/a-rb.out" | tail -c 300) $(tail -c 300 "$TMP/a-rb.err")"
		a_record redis "$t" "$r" pipeline="$p" ok=false
		return
	fi
	a_record redis "$t" "$r" pipeline="$p" ok=true requests="$A_REQUESTS" conns="$A_CONNS" \
		result="$res" cpu="[$c0]" cpu_end="[$c1]"
	say "apps: redis $t -P $p round $r: $($PY -c "import json,sys; j=json.loads(sys.argv[1]); print('SET %.0f/s (p50 %.3f ms), GET %.0f/s (p50 %.3f ms)' % (j['SET']['rps'], j['SET'].get('p50_latency_ms', 0), j['GET']['rps'], j['GET'].get('p50_latency_ms', 0)))" "$res")"
}

# a_wrk TARGET ROUND: one wrk run from CPU 0, GET / (the small page).
a_wrk() {
	local t=$1 r=$2 addr rc=0 c0 c1 w
	addr=$(a_addr "$t")
	c0=$(cpu_snap)
	timeout $((A_WRK_SECONDS + 30)) taskset -c "$GEN_CPU" nsenter --net=/run/netns/"$NS_AG" \
		wrk -t1 -c"$A_WRK_CONNS" -d"${A_WRK_SECONDS}s" --latency -s "$ROOT/bench/wrk_json.lua" \
		"http://$addr:$A_HTTP_PORT/" >"$TMP/a-wrk.out" 2>&1 || rc=$?
	c1=$(cpu_snap)
	cat "$TMP/a-wrk.out" >>"$AD/wrk.txt"
	w=$(grep '^{"requests"' "$TMP/a-wrk.out" | tail -1)
	if [[ $rc -ne 0 || -z $w ]]; then
		a_fail "$t" "$r" "wrk: exit $rc: $(tr '\n' ' ' <"$TMP/a-wrk.out" | tail -c 300)"
		a_record http "$t" "$r" ok=false
		return
	fi
	local errs
	errs=$($PY -c "import json,sys; w=json.loads(sys.argv[1]); print(sum(w['errors'].values()))" "$w")
	[[ $errs -eq 0 ]] || a_fail "$t" "$r" "wrk counted $errs errors"
	a_record http "$t" "$r" ok="$([[ $errs -eq 0 ]] && echo true || echo false)" \
		conns="$A_WRK_CONNS" seconds="$A_WRK_SECONDS" wrk="$w" \
		page_bytes="$(stat -c %s "$TMP/apps-page.html")" cpu="[$c0]" cpu_end="[$c1]"
	say "apps: nginx $t round $r: $($PY -c "import json,sys; w=json.loads(sys.argv[1]); print('%.1f k req/s, p50 %d us, %d errors' % (w['requests'] / (w['duration_us'] / 1e6) / 1e3, w['latency_us']['p50'], sum(w['errors'].values())))" "$w")"
}

apps_part() {
	local t0 r t s p
	t0=$(date +%s.%N)
	rm -rf "$AD"
	mkdir -p "$AD"
	date -Iseconds >"$AD/date.txt"
	cat /proc/loadavg >"$AD/loadavg-start.txt"
	A_FAILED=0
	local tool
	for tool in redis-server redis-cli redis-benchmark nginx wrk curl; do
		command -v $tool >/dev/null || { a_fail all 0 "missing $tool (make deps installs it)"; return; }
	done
	[[ -e $ROOT/build/libsluice-preload.so ]] || { a_fail sluice 0 "build/libsluice-preload.so missing (make all)"; return; }
	# The page: the one bench/khttp.c and `sluice run --http` serve at / (the tcp part's page).
	apps_page "$TMP/apps-page.html" || { a_fail all 0 "cannot extract the page of bench/khttp.c"; return; }
	{
		echo "{\"repeat\":$A_REPEAT,\"requests\":$A_REQUESTS,\"conns\":$A_CONNS,"
		echo "\"pipeline\":[$(echo $A_PIPELINE | tr ' ' ,)],\"wrk_seconds\":$A_WRK_SECONDS,"
		echo "\"wrk_conns\":$A_WRK_CONNS,\"targets\":\"$A_TARGETS\",\"servers\":\"$A_SERVERS\","
		echo "\"gen_cpu\":$GEN_CPU,\"srv_cpu\":$SRV_CPU,\"napi\":\"$NAPI\","
		echo "\"redis\":$(jstr "$(redis-server --version)"),\"nginx\":$(jstr "$(nginx -v 2>&1)"),"
		echo "\"redis_benchmark\":$(jstr "$(redis-benchmark --version 2>&1 | head -1)"),"
		echo "\"wrk\":$(jstr "$(wrk --version 2>&1 | head -1)")}"
	} >"$AD/config.json"
	say "apps: veth pair $NS_AG ($A_GEN_IP) <-> $NS_AS (kernel $A_KERNEL_IP, sluice exec" \
		"$A_STACK_IP); servers $A_SERVERS, targets $A_TARGETS, $A_REPEAT rounds"
	a_link || { a_fail all 0 "cannot set up the veth pair"; apps_cleanup; return; }
	if [[ $NAPI == server ]]; then
		echo "veth NAPI threaded, SCHED_FIFO 1, on CPU $SRV_CPU while the gate is attached (sluice); without XDP (kernel) veth has no NAPI and receives on the sending CPU" >"$AD/napi.txt"
	else
		echo "kernel default: veth receive runs on the transmitting CPU" >"$AD/napi.txt"
	fi
	for r in $(seq "$A_REPEAT"); do
		for s in $A_SERVERS; do
			for t in $A_TARGETS; do
				case $t in
				kernel) a_detach ;;
				sluice) a_attach || { a_fail "$t" "$r" "cannot attach the gate to $A_IFS (or pin its NAPI thread)"; continue; } ;;
				*) a_fail "$t" "$r" "unknown target"; continue ;;
				esac
				if ! a_start "$t" "$s"; then
					a_fail "$t" "$r" "$s did not start or answer correctly within 10 s"
					continue
				fi
				if [[ $s == redis ]]; then
					for p in $A_PIPELINE; do a_redis "$t" "$r" "$p"; done
				else
					a_wrk "$t" "$r"
				fi
				local st
				st=$(in_as "$SLUICE" stats "$A_IFS" --json 2>/dev/null | tr -d '\n')
				[[ $st == \{* ]] || st=null
				a_stop "$t" "$r" "$s"
				a_record server "$t" "$r" server="\"$s\"" stats="$st"
			done
		done
	done
	a_detach
	[[ -s $TMP/a-redis.err ]] && cp "$TMP/a-redis.err" "$AD/redis-last.err"
	[[ -s $TMP/a-nginx.err ]] && cp "$TMP/a-nginx.err" "$AD/nginx-last.err"
	apps_cleanup
	cat /proc/loadavg >"$AD/loadavg-end.txt"
	$PY -c "import sys; print(round($(date +%s.%N) - $t0, 1))" >"$AD/elapsed.txt"
	say "apps: done in $(cat "$AD/elapsed.txt") s, $A_FAILED failures"
}
