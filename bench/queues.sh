# shellcheck shell=bash
# The queues part of `make bench` (BENCH_PARTS=queues; issue 10 item 5), sourced by bench/run.sh:
# `sluice run --queues 2` against `--queues 1` on a veth pair with 2 TX and 2 RX queues on both
# ends, UDP echo (bench/udpgen.c) and HTTP (wrk), and the plain kernel (no XDP program) on the
# same pair as the baseline. Namespaces and a veth pair of its own; uses run.sh's helpers (say,
# $TMP, $OUT, $PY, $SLUICE, $ID, $NET, $NAPI, $GEN_CPU, $SRV_CPU) and cpu_snap of bench/tcp.sh.
#
#   ns $NS_QG  qg 10.$NET.4.1/24  udpgen, wrk (CPU 0)
#     │ veth, numtxqueues 2 numrxqueues 2 on both ends (tx checksum offload off, IPv6 off)
#   ns $NS_QS  qs 10.$NET.4.2     kernel: kecho, khttp (CPU 1), no XDP program
#                 10.$NET.4.3     `sluice run --queues N --udp-echo 7777 --http 80`, via the gate
#
# veth delivers a frame on the RX queue whose number is the sender's TX queue, and the kernel
# picks a socket's TX queue from a random per-socket hash: each of the generator's flows (one
# socket each) and each wrk connection lands on queue 0 or 1 by chance. The targets:
#
#   kernel   kecho / khttp on .2, no XDP program on the link (the baseline; without XDP veth
#            has no NAPI and the kernel receives in the sender's context, on CPU 0)
#   q1       --queues 1 on CPU 1. A stack on queue 0 only sees queue 0's frames (the gate
#            passes the others to the kernel, which drops them: .3 is not its address), so the
#            generator's veth is set to one TX queue (`ethtool -L qg tx 1`, the analogue of
#            `ethtool -L eth0 combined 1` on a NIC) and everything arrives on queue 0
#   q2       --queues 2, both stacks' threads and both NAPI threads on CPU 1: the same single
#            core as q1, two stacks time-sharing it
#   q2split  --queues 2, queue 0's stack and NAPI thread on CPU 1, queue 1's on CPU 0 — beside
#            the generator (udpgen spins, wrk is busy): each stack has a core, but one core is
#            shared with the load generator. Two cores cannot give two stacks and a generator a
#            core each; neither placement measures what two idle cores would give.
#   *_spin0  the same with `--spin-us 0` (q1_spin0, q2_spin0, q2split_spin0): sluice's default
#            keeps polling 50 µs after a batch with frames before it sleeps, which on a shared
#            core takes the CPU from the other stack (short trials: HTTP on q2 at 0.4-0.7 × q1
#            with the default, about 1.0 × with --spin-us 0). q2_spin0 is in the default list.
#
# With BENCH_NAPI=server (the default) the veth NAPI threads (one per RX queue, while an XDP
# program is attached) are threaded, pinned as above and SCHED_FIFO 1, as run.sh's pin_napi
# does; the device names are short so the threads' names (napi/qs-<id>, at most 15 characters)
# keep the NAPI id, which orders them by queue. Rounds: every target once per round
# (BENCH_QUEUES_REPEAT rounds), so a burst of other load tends to hit all of them; per target
# and round one `sluice run` process, one pipelined udpgen run (BENCH_QUEUES_FLOWS flows,
# window 256, BENCH_QUEUES_SECONDS) and one wrk run (GET /bytes/64) per BENCH_QUEUES_HTTP_CONNS
# entry. Around each run: `sluice stats qs --json` (per-stack counters: how the flows spread
# over the queues), every sluice worker's and NAPI thread's time on a CPU and waiting for one
# (/proc/.../schedstat) and /proc/stat. In round 1 a spread check: `--queues 1` with the flows
# spread over both queues (what a user gets without the ethtool -L above): how many datagrams
# come back, and the gate's no_socket count. Measurement failures are counted (run.sh exits 1
# at the end) but do not stop the part or the bench. Results: $OUT/queues/raw.jsonl (one line
# per run), summarized by bench/queues_report.py into results.json "queues" and a section of
# docs/benchmarks.md.
#
# About 2½ minutes with the defaults (5 targets × 3 rounds × (3.3 s UDP + 2 × 3 s HTTP) plus
# starts and checks): in the default BENCH_PARTS. Knobs: BENCH_QUEUES_REPEAT=3
# BENCH_QUEUES_SECONDS=3 BENCH_QUEUES_FLOWS=32 BENCH_QUEUES_HTTP_CONNS="16 64" (empty: no HTTP)
# BENCH_QUEUES_HTTP_SECONDS=3 BENCH_QUEUES_TARGETS="kernel q1 q2 q2_spin0 q2split"
# BENCH_QUEUES_SPREAD_CHECK=1 BENCH_QUEUES_SLUICE_ARGS="" (more `sluice run` options for every
# sluice target). IPv4 only.

Q_REPEAT=${BENCH_QUEUES_REPEAT:-3}
Q_SECONDS=${BENCH_QUEUES_SECONDS:-3}
Q_FLOWS=${BENCH_QUEUES_FLOWS:-32}
Q_HTTP_CONNS=${BENCH_QUEUES_HTTP_CONNS-16 64}
Q_HTTP_SECONDS=${BENCH_QUEUES_HTTP_SECONDS:-3}
Q_TARGETS=${BENCH_QUEUES_TARGETS:-kernel q1 q2 q2_spin0 q2split}
Q_SPREAD_CHECK=${BENCH_QUEUES_SPREAD_CHECK:-1}
Q_SLUICE_ARGS=${BENCH_QUEUES_SLUICE_ARGS:-}
Q_WINDOW=256
Q_PORT=7777
Q_HTTP_PORT=80
QD=$OUT/queues
NS_QG=slb-$ID-qg
NS_QS=slb-$ID-qs
Q_IFG=qg # short on purpose: see the NAPI thread names above (the namespaces make them unique)
Q_IFS=qs
Q_GEN_IP=10.$NET.4.1
Q_KERNEL_IP=10.$NET.4.2
Q_STACK_IP=10.$NET.4.3
Q_SL= # the running `sluice run`, kecho, khttp
Q_KE=
Q_KH=
Q_NAPI=() # NAPI thread PIDs by RX queue, while the gate is attached
Q_WORKERS=() # the running sluice's worker thread IDs by queue
Q_FAILED=0
Q_RUN=0

queues_cleanup() { # for run.sh's cleanup
	local p
	for p in $Q_SL $Q_KE $Q_KH; do
		kill -KILL "$p" 2>/dev/null && wait "$p" 2>/dev/null
	done
	Q_SL= Q_KE= Q_KH=
	[[ -e /run/netns/$NS_QS ]] && in_qs "$SLUICE" detach "$Q_IFS" >/dev/null 2>&1
	ip netns del "$NS_QG" 2>/dev/null
	ip netns del "$NS_QS" 2>/dev/null
}
in_qg() { nsenter --net=/run/netns/"$NS_QG" "$@"; }
in_qs() { nsenter --net=/run/netns/"$NS_QS" "$@"; }
q_fail() { # q_fail MESSAGE: say it, count it, note it for the report; the part goes on where it can
	say "queues: FAILED: $*"
	Q_FAILED=$((Q_FAILED + 1))
	[[ -d $QD ]] && echo "{\"kind\":\"failure\",\"target\":null,\"round\":null,\"error\":$(q_jstr "$*")}" >>"$QD/raw.jsonl"
}

q_link() { # the two namespaces and the 2-queue veth pair
	ip netns add "$NS_QG" && ip netns add "$NS_QS" || return 1
	ip link add "$Q_IFG" netns "$NS_QG" numtxqueues 2 numrxqueues 2 type veth \
		peer name "$Q_IFS" netns "$NS_QS" numtxqueues 2 numrxqueues 2 || return 1
	in_qg ip link set lo up && in_qs ip link set lo up || return 1
	in_qg ip addr add "$Q_GEN_IP/24" dev "$Q_IFG" && in_qs ip addr add "$Q_KERNEL_IP/24" dev "$Q_IFS" ||
		return 1
	in_qg sysctl -qw net.ipv6.conf."$Q_IFG".disable_ipv6=1
	in_qs sysctl -qw net.ipv6.conf."$Q_IFS".disable_ipv6=1
	in_qg ip link set "$Q_IFG" up && in_qs ip link set "$Q_IFS" up || return 1
	in_qg ethtool -K "$Q_IFG" tx off >/dev/null 2>&1 && in_qs ethtool -K "$Q_IFS" tx off \
		>/dev/null 2>&1 || return 1
	local gm sm
	gm=$(in_qg ip -o link show dev "$Q_IFG" | sed -n 's/.*link\/ether \([0-9a-f:]*\).*/\1/p')
	sm=$(in_qs ip -o link show dev "$Q_IFS" | sed -n 's/.*link\/ether \([0-9a-f:]*\).*/\1/p')
	[[ -n $gm && -n $sm ]] || return 1
	in_qg ip neigh replace "$Q_KERNEL_IP" lladdr "$sm" nud permanent dev "$Q_IFG" &&
		in_qg ip neigh replace "$Q_STACK_IP" lladdr "$sm" nud permanent dev "$Q_IFG" &&
		in_qs ip neigh replace "$Q_GEN_IP" lladdr "$gm" nud permanent dev "$Q_IFS" || return 1
	for _ in $(seq 50); do
		in_qg ip link show "$Q_IFG" | grep -q 'state UP' && return 0
		sleep 0.1
	done
	return 1
}

q_gen_txq() { # q_gen_txq N: the generator's veth sends on N TX queues
	in_qg ethtool -L "$Q_IFG" tx "$1" >/dev/null 2>&1 ||
		[[ $(in_qg ethtool -l "$Q_IFG" 2>/dev/null | awk '/^TX:/ { n = $2 } END { print n }') == "$1" ]]
}

# q_attach: the gate on qs (an XDP program: veth's NAPI appears, one per RX queue); with
# BENCH_NAPI=server the NAPI threads are threaded, SCHED_FIFO 1, all on the server CPU for now.
# Q_NAPI gets their PIDs ordered by NAPI id (veth adds and enables its queues' NAPIs in queue
# order, so the ids follow the queues).
q_attach() {
	Q_NAPI=()
	in_qs "$SLUICE" attach "$Q_IFS" >"$TMP/q-attach.out" 2>&1 ||
		{ cat "$TMP/q-attach.out" >&2; return 1; }
	in_qs ip -d link show "$Q_IFS" | grep -o 'xdp[a-z]*' | head -1 >"$QD/mode-gate.txt"
	[[ $NAPI == server ]] || return 0
	ip netns exec "$NS_QS" sh -c "echo 1 > /sys/class/net/$Q_IFS/threaded" || return 1
	# Our namespace's device: the threads whose names are napi/qs-<id> and whose NAPI ids
	# belong to it. Another run's "qs" (a concurrent bench) would show up as extra threads.
	local f c list=()
	for f in /proc/[0-9]*/comm; do
		{ read -r c <"$f"; } 2>/dev/null || continue
		[[ $c == "napi/$Q_IFS-"* ]] || continue
		f=${f%/comm}
		list+=("${c##*-} ${f#/proc/}")
	done
	[[ ${#list[@]} -eq 2 ]] || { say "queues: want 2 NAPI threads for $Q_IFS, found ${#list[@]}"; return 1; }
	mapfile -t Q_NAPI < <(printf '%s\n' "${list[@]}" | sort -n | awk '{ print $2 }')
	local p
	for p in "${Q_NAPI[@]}"; do
		taskset -pc "$SRV_CPU" "$p" >/dev/null && chrt -f -p 1 "$p" || return 1
	done
}
q_detach() {
	in_qs "$SLUICE" detach "$Q_IFS" >/dev/null 2>&1
	Q_NAPI=()
}

# q_ticks: JSON of the time on CPU and waiting for it (ns, /proc/.../schedstat: the scheduler's
# own accounting, softirqs the thread ran included; utime/stime are sampled at the 250 Hz tick
# and disagreed with perf by a factor of six here) and the last CPU of every thread that
# matters: the running sluice's workers (by queue) and the NAPI threads (by queue).
q_ticks() {
	local out="{\"t\":$(date +%s.%N),\"workers\":[" sep= t s r ss
	for t in "${Q_WORKERS[@]}"; do
		s=$(cat "/proc/$Q_SL/task/$t/stat" 2>/dev/null) || continue
		read -ra ss <"/proc/$Q_SL/task/$t/schedstat" || continue
		r=${s##*) }
		read -ra f <<<"$r"
		out+="${sep}[$t,${ss[0]},${ss[1]},${f[36]}]"
		sep=,
	done
	out+='],"napi":['
	sep=
	for t in "${Q_NAPI[@]}"; do
		s=$(cat "/proc/$t/stat" 2>/dev/null) || continue
		read -ra ss <"/proc/$t/schedstat" || continue
		r=${s##*) }
		read -ra f <<<"$r"
		out+="${sep}[$t,${ss[0]},${ss[1]},${f[36]}]"
		sep=,
	done
	echo "$out]}"
}
q_stats() { # q_stats: `sluice stats qs --json` (gate and per-stack counters), or null
	local s
	s=$(in_qs "$SLUICE" stats "$Q_IFS" --json 2>/dev/null | tr -d '\n') && [[ $s == \{* ]] &&
		echo "$s" || echo null
}
q_jstr() { $PY -c 'import json,sys; print(json.dumps(sys.argv[1]))' "$1"; }
q_record() { # q_record KIND TARGET ROUND KEY=JSON...: one line of queues/raw.jsonl
	local kind=$1 target=$2 round=$3 line kv
	shift 3
	line="{\"kind\":\"$kind\",\"target\":\"$target\",\"round\":$round"
	for kv in "$@"; do line+=",\"${kv%%=*}\":${kv#*=}"; done
	echo "$line}" >>"$QD/raw.jsonl"
}

# q_start TARGET: the servers of TARGET, placed on their CPUs; returns 1 (said why) if they do
# not come up.
q_start() {
	local t=$1 nq=1
	Q_WORKERS=()
	if [[ $t == kernel ]]; then
		bg_start q-kecho serving "$NS_QS" "$SRV_CPU" "$OUT/kecho" --addr "$Q_KERNEL_IP" \
			--port $Q_PORT || return 1
		Q_KE=$BG
		bg_start q-khttp serving "$NS_QS" "$SRV_CPU" "$OUT/khttp" --addr "$Q_KERNEL_IP" \
			--port $Q_HTTP_PORT || return 1
		Q_KH=$BG
		return 0
	fi
	[[ $t == q1* ]] || nq=2
	local spin=()
	[[ $t == *_spin0 ]] && spin=(--spin-us 0)
	bg_start q-sluice serving "$NS_QS" "$SRV_CPU" "$SLUICE" run "$Q_IFS" --addr "$Q_STACK_IP/24" \
		--queues $nq --udp-echo $Q_PORT --http $Q_HTTP_PORT --json "${spin[@]}" $Q_SLUICE_ARGS ||
		return 1
	Q_SL=$BG
	grep -o '([a-z]* XDP, [a-z-]* mode[a-zA-Z ,]*)' "$TMP/q-sluice.err" | head -1 >"$QD/mode-sluice.txt"
	# The workers: the threads after the main one, in creation order (queue 0, 1, ...).
	for _ in $(seq 100); do
		mapfile -t Q_WORKERS < <(ls "/proc/$Q_SL/task" 2>/dev/null | sort -n | grep -vx "$Q_SL")
		[[ ${#Q_WORKERS[@]} -ge $nq ]] && break
		sleep 0.02
	done
	[[ ${#Q_WORKERS[@]} -eq $nq ]] || { say "queues: sluice has ${#Q_WORKERS[@]} workers, want $nq"; return 1; }
	if [[ $t == q2split* ]]; then # queue 1 — its stack and its NAPI thread — beside the generator
		taskset -pc "$GEN_CPU" "${Q_WORKERS[1]}" >/dev/null || return 1
		[[ ${#Q_NAPI[@]} -eq 2 ]] && { taskset -pc "$GEN_CPU" "${Q_NAPI[1]}" >/dev/null || return 1; }
	fi
	return 0
}
q_stop() { # q_stop TARGET ROUND: stop the servers, keep sluice's --json summary
	local t=$1 r=$2 p rc=0
	if [[ -n $Q_SL ]]; then
		kill -TERM "$Q_SL"
		wait "$Q_SL" || rc=$?
		Q_SL=
		[[ $rc -eq 0 ]] || q_fail "$t round $r: sluice run exited with status $rc: $(tail -2 "$TMP/q-sluice.err" | tr '\n' ' ')"
		q_record server "$t" "$r" summary="$(grep -m1 '^{' "$TMP/q-sluice.out" 2>/dev/null || echo null)" \
			status=$rc
	fi
	for p in $Q_KE $Q_KH; do
		kill -TERM "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
	Q_KE= Q_KH=
	# NAPI threads back on the server CPU for the next target.
	for p in "${Q_NAPI[@]}"; do taskset -pc "$SRV_CPU" "$p" >/dev/null; done
	Q_WORKERS=()
}

q_dst() { [[ $1 == kernel ]] && echo "$Q_KERNEL_IP" || echo "$Q_STACK_IP"; }

# q_udp TARGET ROUND [KIND SECONDS]: readiness probe, then one pipelined udpgen run on CPU 0.
q_udp() {
	local t=$1 r=$2 kind=${3:-udp} secs=${4:-$Q_SECONDS} dst ok=0 rc=0 s0 s1 k0 k1 g
	dst=$(q_dst "$t")
	Q_RUN=$((Q_RUN + 1))
	local sport=$((20000 + (Q_RUN % 100) * 300))
	if [[ $kind == udp ]]; then
		for _ in 1 2 3 4 5; do
			taskset -c "$GEN_CPU" nsenter --net=/run/netns/"$NS_QG" "$OUT/udpgen" --dst "$dst" \
				--port $Q_PORT --sport-base $((sport + 200)) --closed --warmup 0 --duration 1 \
				--packets 20 --timeout-ms 200 --label "probe-$t" >"$TMP/q-probe.json" 2>&1
			[[ $($PY -c "import json,sys; print(json.load(sys.stdin)['received'])" \
				<"$TMP/q-probe.json" 2>/dev/null) -ge 10 ]] && { ok=1; break; }
			sleep 0.2
		done
		if [[ $ok -eq 0 ]]; then
			q_fail "$t round $r: no echo from $dst"
			q_record udp "$t" "$r" ok=false error="$(q_jstr "no echo from $dst")"
			return 1
		fi
	fi
	s0=$(q_stats)
	k0=$(q_ticks)
	taskset -c "$GEN_CPU" nsenter --net=/run/netns/"$NS_QG" "$OUT/udpgen" --dst "$dst" \
		--port $Q_PORT --payload 64 --sport-base "$sport" --flows "$Q_FLOWS" --window $Q_WINDOW \
		--batch 32 --spin --timeout-ms 50 --duration "$secs" --warmup 0.3 --label "$t" \
		>"$TMP/q-gen.json" 2>"$TMP/q-gen.err" || rc=$?
	k1=$(q_ticks)
	s1=$(q_stats)
	g=$(grep -m1 '^{' "$TMP/q-gen.json" 2>/dev/null || echo null)
	if [[ $rc -ne 0 || $g == null ]]; then
		q_fail "$t round $r: udpgen exit $rc: $(tr '\n' ' ' <"$TMP/q-gen.err")"
		q_record "$kind" "$t" "$r" ok=false error="$(q_jstr "udpgen exit $rc")"
		return 1
	fi
	q_record "$kind" "$t" "$r" ok=true gen="$g" stats_before="$s0" stats_after="$s1" \
		threads_before="$k0" threads_after="$k1"
	say "queues: $kind $t round $r: $($PY -c "import json,sys; j=json.load(sys.stdin); print('%d pps, %d lost' % (j['pps'], j['lost']))" <"$TMP/q-gen.json")"
}

# q_http_check TARGET: GET /bytes/64 by curl must return the pattern; the response's size (for
# wrk's byte count) in $TMP/q-resp-TARGET.
q_http_check() {
	local t=$1 dst code hdr out
	dst=$(q_dst "$t")
	for _ in 1 2 3 4 5; do
		if out=$(in_qg curl -sS --max-time 5 -o "$TMP/q-body" -w '%{http_code} %{size_header}' \
			"http://$dst:$Q_HTTP_PORT/bytes/64" 2>&1); then
			read -r code hdr <<<"$out"
			if [[ $code == 200 ]] && $PY -c "import sys; sys.exit(open('$TMP/q-body','rb').read() != bytes(i % 251 for i in range(64)))"; then
				echo "{\"/bytes/64\":{\"response_bytes\":$((hdr + 64))}}" >"$TMP/q-resp-$t"
				return 0
			fi
		fi
		sleep 0.2
	done
	return 1
}

# q_http TARGET ROUND CONNS: one wrk run from CPU 0, GET /bytes/64.
q_http() {
	local t=$1 r=$2 conns=$3 dst c0 c1 s0 s1 k0 k1 rc=0 w err=
	dst=$(q_dst "$t")
	s0=$(q_stats)
	k0=$(q_ticks)
	c0=$(cpu_snap)
	timeout $((Q_HTTP_SECONDS + 30)) taskset -c "$GEN_CPU" nsenter --net=/run/netns/"$NS_QG" \
		wrk -t1 -c"$conns" -d"${Q_HTTP_SECONDS}s" --latency -s "$ROOT/bench/wrk_json.lua" \
		"http://$dst:$Q_HTTP_PORT/bytes/64" >"$TMP/q-wrk.out" 2>&1 || rc=$?
	c1=$(cpu_snap)
	k1=$(q_ticks)
	s1=$(q_stats)
	w=$(grep '^{"requests"' "$TMP/q-wrk.out" | tail -1)
	[[ $rc -eq 0 ]] || err="wrk: exit $rc: $(tr '\n' ' ' <"$TMP/q-wrk.out")"
	[[ -n $w ]] || { w=null; err=${err:-"wrk printed no summary"}; }
	[[ -z $err ]] || q_fail "$t round $r http c$conns: $err"
	q_record http "$t" "$r" path='"/bytes/64"' conns="$conns" \
		ok="$([[ -z $err ]] && echo true || echo false)" error="$(q_jstr "$err")" wrk="$w" \
		resp="$(cat "$TMP/q-resp-$t" 2>/dev/null || echo null)" cpu="[$c0]" cpu_end="[$c1]" \
		stats_before="$s0" stats_after="$s1" threads_before="$k0" threads_after="$k1"
	[[ -n $err ]] || say "queues: http $t c$conns round $r: $($PY -c "import json,sys; w=json.load(sys.stdin); print('%.1f k req/s, %d errors' % (w['requests'] / (w['duration_us'] / 1e6) / 1e3, sum(w['errors'].values())))" <<<"$w")"
}

queues_part() {
	local t0 r t c attached=0
	t0=$(date +%s.%N)
	rm -rf "$QD"
	mkdir -p "$QD"
	date -Iseconds >"$QD/date.txt"
	Q_FAILED=0
	command -v wrk >/dev/null && command -v curl >/dev/null || { q_fail "missing wrk or curl (make deps)"; return; }
	say "queues: 2-queue veth pair $NS_QG ($Q_GEN_IP) <-> $NS_QS (kernel $Q_KERNEL_IP," \
		"sluice $Q_STACK_IP); targets $Q_TARGETS, $Q_REPEAT rounds"
	q_link || { q_fail "cannot set up the 2-queue veth pair"; queues_cleanup; return; }
	in_qs ip -d link show "$Q_IFS" | grep -o 'numtxqueues [0-9]* numrxqueues [0-9]*' >"$QD/link.txt"
	if [[ $NAPI == server ]]; then
		echo "veth NAPI threaded (one per RX queue), SCHED_FIFO 1, on CPU $SRV_CPU; q2split: queue 1's on CPU $GEN_CPU" >"$QD/napi.txt"
	else
		echo "kernel default: veth receive runs on the transmitting CPU" >"$QD/napi.txt"
	fi
	{
		echo "{\"repeat\":$Q_REPEAT,\"seconds\":$Q_SECONDS,\"flows\":$Q_FLOWS,\"window\":$Q_WINDOW,"
		echo "\"http_conns\":[$(echo $Q_HTTP_CONNS | tr ' ' ,)],\"http_seconds\":$Q_HTTP_SECONDS,"
		echo "\"targets\":\"$Q_TARGETS\",\"gen_cpu\":$GEN_CPU,\"srv_cpu\":$SRV_CPU,\"napi\":\"$NAPI\","
		echo "\"sluice_args\":$(q_jstr "$Q_SLUICE_ARGS"),\"clk_tck\":$(getconf CLK_TCK)}"
	} >"$QD/config.json"
	for r in $(seq "$Q_REPEAT"); do
		for t in $Q_TARGETS; do
			case $t in kernel | q1 | q2 | q2split | q1_spin0 | q2_spin0 | q2split_spin0) ;;
			*) q_fail "unknown target $t"; continue ;;
			esac
			if [[ $t == kernel ]]; then
				[[ $attached == 1 ]] && q_detach
				attached=0
			elif [[ $attached == 0 ]]; then
				q_attach || { q_fail "cannot attach the gate to $Q_IFS (or pin its NAPI threads)"; continue; }
				attached=1
			fi
			if [[ $t == q1* ]]; then
				q_gen_txq 1 || { q_fail "ethtool -L $Q_IFG tx 1 failed"; continue; }
			else
				q_gen_txq 2 || { q_fail "ethtool -L $Q_IFG tx 2 failed"; continue; }
			fi
			if ! q_start "$t"; then
				q_fail "$t round $r: servers did not start"
				q_stop "$t" "$r"
				continue
			fi
			q_record placement "$t" "$r" workers="[$(IFS=,; echo "${Q_WORKERS[*]}")]" \
				napi="[$(IFS=,; echo "${Q_NAPI[*]}")]" affinity="$(q_affinity)"
			q_udp "$t" "$r"
			if [[ -n $Q_HTTP_CONNS ]]; then
				if q_http_check "$t"; then
					for c in $Q_HTTP_CONNS; do q_http "$t" "$r" "$c"; done
				else
					q_fail "$t round $r: GET /bytes/64 does not answer correctly"
				fi
			fi
			# Round 1: --queues 1 while the flows spread over both queues.
			if [[ $t == q1 && $r == 1 && $Q_SPREAD_CHECK == 1 ]] && q_gen_txq 2; then
				q_udp q1 "$r" spread_check 1
				q_gen_txq 1
			fi
			q_stop "$t" "$r"
		done
	done
	q_gen_txq 2
	q_detach
	queues_cleanup
	$PY -c "import sys; print(round($(date +%s.%N) - $t0, 1))" >"$QD/elapsed.txt"
	say "queues: done in $(cat "$QD/elapsed.txt") s, $Q_FAILED failures"
}

# q_affinity: JSON {tid: "cpu list"} of the workers and NAPI threads just placed.
q_affinity() {
	local out='{' sep= t a
	for t in "${Q_WORKERS[@]}" "${Q_NAPI[@]}"; do
		a=$(taskset -pc "$t" 2>/dev/null | sed -n 's/.*: *//p')
		out+="${sep}\"$t\":\"$a\""
		sep=,
	done
	echo "$out}"
}
