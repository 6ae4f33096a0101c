# shellcheck shell=bash
# The loss part of `make bench` (BENCH_PARTS=loss), sourced by bench/run.sh: 100 MiB transfer
# times, sluice against the Linux kernel on the same link with the same random loss, both
# directions, CUBIC and NewReno (the kernel's "reno") and the kernel's default BBR as a
# reference; then the same through the impairment relay at 10 ms RTT. Uses run.sh's helpers
# (say, die, $TMP, $OUT, $PY, $SLUICE, $ID, $NET, bg_start and cpu_snap of bench/tcp.sh).
#
# Direct link (loss on the client's veth, none on the servers'):
#
#   ns $NS_LC (client, CPU 0)                        ns $NS_LK (kernel server, CPU 1)
#     $LC_K 10.$NET.1.1 ── veth ────────────────────── $LK 10.$NET.1.2   khttp, tcpbulk sink
#     $LC_S 10.$NET.2.1 ── veth ──┐                  ns $NS_LS (sluice server, CPU 1)
#       both: drop.bpf.c as XDP   └────────────────── $LS (gate) 10.$NET.2.3  sluice run
#       (frames arriving) and tc
#       egress (frames leaving)
#
# The kernel server's veth carries no XDP program at all (the kernel as a user runs it); the
# sluice gate sits on its own veth. Both client veths carry the same drop program, whose rate
# is set at run time in its `config` map, and have TSO/GSO off, so loss hits single segments.
#
# Relay (tests/net/relay_lib.sh, docs/relay.md): A (client) ── M (sluice-relay) ── B (kernel
# server, .2) or S (sluice server, .3, a second port of M added here); one relay per run
# between A's port and the port of the server being measured, 5 ms each way, the loss rate in
# each direction, a rate limit with a bounded queue (BENCH_LOSS_RELAY_RATE/LIMIT).
#
# Directions: down = the server sends (sluice --http / khttp -> `tcpbulk get`, every byte
# checked); up = the Linux client sends (`tcpbulk send --cc X` -> sluice --discard / `tcpbulk
# sink`, which checks every byte); send = the server opens and sends (sluice --send / tcpbulk
# send -> `tcpbulk sink` in the client). Every run: one fresh sluice process (its --json
# summary is the run's counters), nstat of the client's and the kernel server's namespace
# before and after, the drop programs' counters. Results: $OUT/loss/raw.jsonl, one line per run;
# bench/loss_report.py turns them into docs/benchmarks.md's loss section and docs/bench-loss.png.
#
# Knobs: BENCH_LOSS_BYTES=104857600 BENCH_LOSS_REPEAT=3 BENCH_LOSS_RATES="0 0.1 1 2 5"
# BENCH_LOSS_TIMEOUT=60 (s per run; a run that hits it counts as ">= TIMEOUT") BENCH_LOSS_BUDGET=30
# (s: a target's repeats at one point stop once its runs there took this long in all, so a
# timeout is not repeated) BENCH_LOSS_DIRS="down up" BENCH_LOSS_SEND_RATES="2" (rates of the
# server-opens-and-sends case; empty: none) BENCH_LOSS_BUF= (sluice --tcp-buf on the direct
# link; empty: sluice's default) BENCH_LOSS_WHERE=both|to-client|from-client (the direct link's
# loss in both directions, or only on frames to / from the client: a diagnostic) BENCH_LOSS_RELAY=1 BENCH_LOSS_RELAY_RATES="0 1"
# BENCH_LOSS_RELAY_DELAY=5 (ms one way) BENCH_LOSS_RELAY_RATE=1g BENCH_LOSS_RELAY_LIMIT=1000
# (frames) BENCH_LOSS_RELAY_BUF=8m (sluice --tcp-buf through the relay)
# BENCH_LOSS_RELAY_DEFBUF_RATES="0" (relay loss rates with one more sluice CUBIC target at
# sluice's default buffer) BENCH_NAPI as for the other parts.

LOSS_BYTES=${BENCH_LOSS_BYTES:-104857600}
LOSS_REPEAT=${BENCH_LOSS_REPEAT:-3}
LOSS_RATES=${BENCH_LOSS_RATES-0 0.1 1 2 5}
LOSS_TIMEOUT=${BENCH_LOSS_TIMEOUT:-60}
LOSS_BUDGET=${BENCH_LOSS_BUDGET:-30}
LOSS_DIRS=${BENCH_LOSS_DIRS:-down up}
LOSS_SEND_RATES=${BENCH_LOSS_SEND_RATES-2}
LOSS_BUF=${BENCH_LOSS_BUF:-}
LOSS_WHERE=${BENCH_LOSS_WHERE:-both}
LOSS_RELAY=${BENCH_LOSS_RELAY:-1}
LOSS_RELAY_RATES=${BENCH_LOSS_RELAY_RATES-0 1}
LOSS_RELAY_DELAY=${BENCH_LOSS_RELAY_DELAY:-5}
LOSS_RELAY_RATE=${BENCH_LOSS_RELAY_RATE:-1g}
LOSS_RELAY_LIMIT=${BENCH_LOSS_RELAY_LIMIT:-1000}
LOSS_RELAY_BUF=${BENCH_LOSS_RELAY_BUF:-8m}
LOSS_RELAY_DEFBUF_RATES=${BENCH_LOSS_RELAY_DEFBUF_RATES-0}
LD=$OUT/loss
LU=$ROOT/bench/loss_util.py
NS_LC=slb-$ID-lc
NS_LK=slb-$ID-lk
NS_LS=slb-$ID-ls
LC_K=lck$ID
LC_S=lcs$ID
LK=lk$ID
LS=ls$ID
L_CK_IP=10.$NET.1.1
L_K_IP=10.$NET.1.2
L_CS_IP=10.$NET.2.1
L_S_IP=10.$NET.2.3
HTTP_K_PORT=8000 # khttp --cc cubic on 8001, reno 8002, bbr 8003
L_SINK_PORT=5001
L_DISCARD_PORT=9
L_HTTP_PORT=80
LOSS_PIDS=()    # long-running helpers (khttp), stopped by PID at the end
LOSS_BG=        # the background process of the current run (sluice, a sink, a sampler)
LOSS_BG2=
LOSS_NETNS=()   # namespaces this part created
LOSS_RELAY_UP=0
LOSS_CUR_LOSS=0

loss_cleanup() { # for run.sh's cleanup
	local p
	for p in $LOSS_BG $LOSS_BG2 "${LOSS_PIDS[@]}"; do
		[[ -n $p ]] && kill -KILL "$p" 2>/dev/null && wait "$p" 2>/dev/null
	done
	LOSS_BG= LOSS_BG2=
	LOSS_PIDS=()
	[[ $LOSS_RELAY_UP == 1 ]] && relay_cleanup
	LOSS_RELAY_UP=0
	for p in "${LOSS_NETNS[@]}"; do
		ip netns del "$p" 2>/dev/null
	done
	LOSS_NETNS=()
}

lns() { # lns NS CMD...: CMD in namespace NS (nsenter keeps /sys/fs/bpf visible)
	local ns=$1
	shift
	nsenter --net=/run/netns/"$ns" "$@"
}
lns_add() {
	ip netns add "$1" || die "cannot create namespace $1"
	LOSS_NETNS+=("$1")
	ip -n "$1" link set lo up
	# Independent runs: no cached ssthresh/RTT from the previous connection to the same peer.
	lns "$1" sysctl -qw net.ipv4.tcp_no_metrics_save=1
}
lmac() { lns "$1" ip -o link show dev "$2" | sed -n 's/.*link\/ether \([0-9a-f:]*\).*/\1/p'; }

# napi_pin NS DEV CPU: make DEV's NAPI (it exists while an XDP program is attached) a thread on
# CPU, SCHED_FIFO 1, as run.sh's pin_napi does for the server veth (BENCH_NAPI=sender: leave it).
napi_pin() {
	local ns=$1 dev=$2 cpu=$3 f c n=0 prefix
	[[ $NAPI == server ]] || return 0
	ip netns exec "$ns" sh -c "echo 1 > /sys/class/net/$dev/threaded" ||
		die "cannot make $dev's NAPI threaded"
	prefix="napi/$dev-"
	prefix=${prefix:0:15}
	for f in /proc/[0-9]*/comm; do
		read -r c <"$f" 2>/dev/null || continue
		[[ $c == "$prefix"* ]] || continue
		f=${f%/comm}
		taskset -pc "$cpu" "${f#/proc/}" >/dev/null || die "cannot pin $c"
		chrt -f -p 1 "${f#/proc/}" || die "cannot make $c SCHED_FIFO"
		n=$((n + 1))
	done
	[[ $n -gt 0 ]] || die "no NAPI thread for $dev"
}

# drop_attach NS DEV: the drop program as XDP (frames arriving at DEV) and tc egress (frames
# leaving it); appends the config maps to DROP_CFG_X / DROP_CFG_T and sets DROP_CNT_<DEV> to the two counts
# maps (XDP first).
DROP_CFG_X=()
DROP_CFG_T=()
drop_attach() {
	local ns=$1 dev=$2 xid tid xm tm
	lns "$ns" ip link set dev "$dev" xdp obj "$LD/drop.bpf.o" sec xdp ||
		die "cannot attach the XDP drop program to $dev"
	lns "$ns" tc qdisc add dev "$dev" clsact || die "cannot add clsact to $dev"
	lns "$ns" tc filter add dev "$dev" egress bpf da obj "$LD/drop.bpf.o" sec tc ||
		die "cannot attach the tc drop program to $dev egress"
	xid=$(lns "$ns" ip -j -d link show "$dev" |
		$PY -c 'import json,sys; print(json.load(sys.stdin)[0]["xdp"]["prog"]["id"])') ||
		die "no XDP program id on $dev"
	tid=$(lns "$ns" tc -j filter show dev "$dev" egress | $PY -c '
import json,sys
print([f["options"]["prog"]["id"] for f in json.load(sys.stdin) if "options" in f][0])') ||
		die "no tc program id on $dev"
	read -r -a xm <<<"$($PY "$LU" maps "$xid")" || die "no maps for XDP program $xid"
	read -r -a tm <<<"$($PY "$LU" maps "$tid")" || die "no maps for tc program $tid"
	DROP_CFG_X+=("${xm[0]}")
	DROP_CFG_T+=("${tm[0]}")
	printf -v "DROP_CNT_$dev" '%s %s' "${xm[1]}" "${tm[1]}"
}

set_loss() { # set_loss PCT: the drop programs on the direct link drop PCT % (LOSS_WHERE)
	local x=$1 t=$1
	[[ $LOSS_WHERE == from-client ]] && x=0
	[[ $LOSS_WHERE == to-client ]] && t=0
	$PY "$LU" set-rate "$x" "${DROP_CFG_X[@]}" && $PY "$LU" set-rate "$t" "${DROP_CFG_T[@]}" ||
		die "cannot set the loss rate to $1 %"
	LOSS_CUR_LOSS=$1
}

loss_direct_setup() {
	say "loss: namespaces $NS_LC (client) <-> $NS_LK (kernel $L_K_IP) / $NS_LS (sluice $L_S_IP)"
	lns_add "$NS_LC"
	lns_add "$NS_LK"
	lns_add "$NS_LS"
	ip link add "$LC_K" netns "$NS_LC" type veth peer name "$LK" netns "$NS_LK" ||
		die "cannot create veth $LC_K/$LK"
	ip link add "$LC_S" netns "$NS_LC" type veth peer name "$LS" netns "$NS_LS" ||
		die "cannot create veth $LC_S/$LS"
	local p ns dev
	for p in "$NS_LC:$LC_K" "$NS_LC:$LC_S" "$NS_LK:$LK" "$NS_LS:$LS"; do
		ns=${p%%:*} dev=${p#*:}
		lns "$ns" sysctl -qw net.ipv6.conf."$dev".disable_ipv6=1
		# Kernel senders must finish their checksums on veth (tx off).
		lns "$ns" ethtool -K "$dev" tx off >/dev/null 2>&1 || die "ethtool -K $dev tx off failed"
	done
	# The client's own segments must be lost one by one, not as 64 KiB GSO super-frames: tc
	# egress sees an skb before it is segmented. TSO/GSO off is not enough on Linux >= 6.x,
	# whose TCP builds GSO skbs whatever the device offers (sk_setup_caps always sets
	# NETIF_F_GSO; segmentation happens later, in validate_xmit_skb): measured here, with
	# only `gso off` the tc program saw ~3 000 skbs for the ~72 500 segments of 100 MiB.
	# gso_max_segs 1 makes TCP build one segment per skb.
	for dev in "$LC_K" "$LC_S"; do
		lns "$NS_LC" ethtool -K "$dev" tso off gso off >/dev/null 2>&1 ||
			die "ethtool -K $dev tso off gso off failed"
		lns "$NS_LC" ip link set dev "$dev" gso_max_segs 1 || die "$dev: cannot set gso_max_segs 1"
	done
	lns "$NS_LC" ip addr add "$L_CK_IP/24" dev "$LC_K"
	lns "$NS_LC" ip addr add "$L_CS_IP/24" dev "$LC_S"
	lns "$NS_LK" ip addr add "$L_K_IP/24" dev "$LK"
	for p in "$NS_LC:$LC_K" "$NS_LC:$LC_S" "$NS_LK:$LK" "$NS_LS:$LS"; do
		lns "${p%%:*}" ip link set "${p#*:}" up
	done
	lns "$NS_LC" ip neigh replace "$L_K_IP" lladdr "$(lmac "$NS_LK" "$LK")" nud permanent dev "$LC_K"
	lns "$NS_LC" ip neigh replace "$L_S_IP" lladdr "$(lmac "$NS_LS" "$LS")" nud permanent dev "$LC_S"
	lns "$NS_LK" ip neigh replace "$L_CK_IP" lladdr "$(lmac "$NS_LC" "$LC_K")" nud permanent dev "$LK"
	for _ in $(seq 50); do
		lns "$NS_LC" ip link show "$LC_S" | grep -q 'state UP' &&
			lns "$NS_LC" ip link show "$LC_K" | grep -q 'state UP' && break
		sleep 0.1
	done
	DROP_CFG_X=()
	DROP_CFG_T=()
	drop_attach "$NS_LC" "$LC_K"
	drop_attach "$NS_LC" "$LC_S"
	napi_pin "$NS_LC" "$LC_K" $GEN_CPU
	napi_pin "$NS_LC" "$LC_S" $GEN_CPU
	lns "$NS_LS" "$SLUICE" attach "$LS" >"$TMP/lattach.out" 2>&1 ||
		{ cat "$TMP/lattach.out" >&2; die "cannot attach the gate to $LS"; }
	napi_pin "$NS_LS" "$LS" $SRV_CPU
	set_loss 0
	khttp_start "$NS_LK" "$L_K_IP"
}

# khttp_start NS ADDR: one khttp per algorithm (cubic, reno, bbr: ports 8001-8003) on CPU 1.
khttp_start() {
	local ns=$1 addr=$2 i=0 cc
	for cc in cubic reno bbr; do
		i=$((i + 1))
		bg_start "khttp-$cc-$ns" serving "$ns" $SRV_CPU "$OUT/khttp" --addr "$addr" \
			--port $((HTTP_K_PORT + i)) --cc "$cc" || die "khttp --cc $cc did not start"
		LOSS_PIDS+=("$BG")
	done
}
khttp_port() { case $1 in cubic) echo $((HTTP_K_PORT + 1)) ;; reno) echo $((HTTP_K_PORT + 2)) ;;
	bbr) echo $((HTTP_K_PORT + 3)) ;; esac; }

# --- relay topology --------------------------------------------------------------------------
loss_relay_setup() {
	RELAY_NO_TRAP=1
	# relay_lib reports through fail(); here that is die().
	fail() { die "$@"; }
	# shellcheck source=../tests/net/relay_lib.sh
	. "$ROOT/tests/net/relay_lib.sh"
	LOSS_RELAY_UP=1
	relay_setup
	# A second server namespace on a second port of M: sluice's, so the kernel's B keeps a
	# veth without any XDP program.
	NS_RS=slr-$RID-s
	IF_RS=rs$RID
	IF_MS=rms$RID
	R_S_IP=10.$NET.0.3
	ip netns add "$NS_RS" || die "cannot create namespace $NS_RS"
	LOSS_NETNS+=("$NS_RS")
	ip -n "$NS_RS" link set lo up
	ip link add "$IF_RS" netns "$NS_RS" type veth peer name "$IF_MS" netns "$NS_M" ||
		die "cannot create veth $IF_RS/$IF_MS"
	local p
	for p in "$NS_RS:$IF_RS" "$NS_M:$IF_MS"; do
		ip netns exec "${p%%:*}" sysctl -qw net.ipv6.conf."${p#*:}".disable_ipv6=1
		ip netns exec "${p%%:*}" ethtool -K "${p#*:}" tx off tso off gso off gro off >/dev/null 2>&1 ||
			die "${p#*:}: ethtool -K failed"
		ip -n "${p%%:*}" link set "${p#*:}" up
	done
	for p in "$NS_A" "$NS_B"; do
		lns "$p" sysctl -qw net.ipv4.tcp_no_metrics_save=1
	done
	lns "$NS_A" ip neigh replace "$B_IP" lladdr "$(lmac "$NS_B" "$IF_B")" nud permanent dev "$IF_A"
	lns "$NS_A" ip neigh replace "$R_S_IP" lladdr "$(lmac "$NS_RS" "$IF_RS")" nud permanent dev "$IF_A"
	lns "$NS_B" ip neigh replace "$A_IP" lladdr "$(lmac "$NS_A" "$IF_A")" nud permanent dev "$IF_B"
	lns "$NS_RS" "$SLUICE" attach "$IF_RS" >"$TMP/rattach.out" 2>&1 ||
		{ cat "$TMP/rattach.out" >&2; die "cannot attach the gate to $IF_RS"; }
	napi_pin "$NS_RS" "$IF_RS" $SRV_CPU
	khttp_start "$NS_B" "$B_IP"
}

# --- one run ---------------------------------------------------------------------------------
# Topology of the runs that follow: use_direct / use_relay set the T_* variables.
use_direct() {
	T_PART=direct T_CLI=$NS_LC T_KNS=$NS_LK T_SNS=$NS_LS T_SDEV=$LS T_KIP=$L_K_IP T_SIP=$L_S_IP
	T_CKIP=$L_CK_IP T_CSIP=$L_CS_IP T_BUF=$LOSS_BUF T_CDEV_K=$LC_K T_CDEV_S=$LC_S T_KDEV=$LK
}
use_relay() {
	T_PART=relay T_CLI=$NS_A T_KNS=$NS_B T_SNS=$NS_RS T_SDEV=$IF_RS T_KIP=$B_IP T_SIP=$R_S_IP
	T_CKIP=$A_IP T_CSIP=$A_IP T_BUF=$LOSS_RELAY_BUF T_CDEV_K=$IF_A T_CDEV_S=$IF_A T_KDEV=$IF_B
}

nstat_to() { lns "$1" nstat -asz -j >"$2" 2>/dev/null || echo '{}' >"$2"; }
drop_counts() { # drop_counts STACK: the client veth's two counts maps as JSON
	local v=DROP_CNT_$LC_K
	[[ $1 == sluice ]] && v=DROP_CNT_$LC_S
	# shellcheck disable=SC2086
	$PY "$LU" counts ${!v} 2>/dev/null || echo null
}

# loss_run DIR STACK CC RUN [BUF]: one transfer; appends to $LD/raw.jsonl. CC is the sender's
# algorithm: cubic | newreno (sluice) | reno (kernel) | bbr; in "up" the sender is the Linux
# client, so CC is the client's and the sluice receiver runs its matching algorithm. BUF:
# sluice --tcp-buf ("" or "default": sluice's default). Sets LAST_SECONDS.
loss_run() {
	local dir=$1 stack=$2 cc=$3 r=$4 buf=${5-$T_BUF} err= rc=0
	local kcc=$cc scc=$cc dst port f=$TMP/lr
	[[ $cc == newreno ]] && kcc=reno
	[[ $cc == reno ]] && scc=newreno
	[[ $cc == bbr ]] && scc=cubic
	[[ $buf == default || $stack == kernel ]] && buf= # the kernel autotunes its buffers
	local bufopt=()
	[[ -n $buf ]] && bufopt=(--tcp-buf "$buf")
	rm -f "$f".*
	local T=$LOSS_TIMEOUT
	# The relay of this run, between A's port and the measured server's.
	if [[ $T_PART == relay ]]; then
		local port_b=$IF_MB
		[[ $stack == sluice ]] && IF_MB=$IF_MS
		RELAY_CPU=$GEN_CPU relay_start --delay "$LOSS_RELAY_DELAY" --loss "$LOSS_CUR_LOSS" \
			${LOSS_RELAY_RATE:+--rate "$LOSS_RELAY_RATE" --limit "$LOSS_RELAY_LIMIT"} \
			--seed "$r"
		IF_MB=$port_b
	fi
	# The server side.
	LOSS_BG=
	if [[ $stack == sluice && $dir != send ]]; then
		bg_start lsluice serving "$T_SNS" $SRV_CPU "$SLUICE" run "$T_SDEV" --addr "$T_SIP/24" \
			--http $L_HTTP_PORT --discard $L_DISCARD_PORT --cc "$scc" "${bufopt[@]}" --json ||
			err="sluice run did not start"
		LOSS_BG=$BG
		grep -o '([a-z]* XDP, [a-z-]* mode[a-zA-Z ,]*)' "$TMP/lsluice.err" | head -1 >"$LD/mode-sluice.txt"
	elif [[ $stack == kernel && $dir == up ]]; then
		bg_start lsink listening "$T_KNS" $SRV_CPU timeout -s KILL $((T + 30)) "$OUT/tcpbulk" sink \
			--addr "$T_KIP" --port $L_SINK_PORT --cc "$kcc" --deadline $((T + 5)) --timeout 30 ||
			err="tcpbulk sink did not start"
		LOSS_BG=$BG
	elif [[ $dir == send ]]; then
		local cip=$T_CKIP
		[[ $stack == sluice ]] && cip=$T_CSIP
		bg_start lsink listening "$T_CLI" $GEN_CPU timeout -s KILL $((T + 30)) "$OUT/tcpbulk" sink \
			--addr "$cip" --port $L_SINK_PORT --deadline $((T + 5)) --timeout 30 ||
			err="tcpbulk sink did not start"
		LOSS_BG=$BG
	fi
	local vc=$T_CDEV_K vs=$T_KDEV vsn=$T_KNS
	[[ $stack == sluice ]] && vc=$T_CDEV_S vs=$T_SDEV vsn=$T_SNS
	$PY "$LU" veth "$T_CLI" "$vc" "$vsn" "$vs" >"$f.vb"
	nstat_to "$T_CLI" "$f.ncb"
	nstat_to "$T_KNS" "$f.nsb"
	local d0=null d1=null c0 c1 t0 t1
	[[ $T_PART == direct ]] && d0=$(drop_counts "$stack")
	c0=$(cpu_snap)
	t0=$(date +%s.%N)
	if [[ -z $err ]]; then
		dst=$T_KIP
		[[ $stack == sluice ]] && dst=$T_SIP
		case $dir in
		down)
			port=$L_HTTP_PORT
			[[ $stack == kernel ]] && port=$(khttp_port "$kcc")
			timeout -s KILL $((T + 30)) taskset -c $GEN_CPU nsenter --net=/run/netns/"$T_CLI" \
				"$OUT/tcpbulk" get --dst "$dst" --port "$port" --bytes "$LOSS_BYTES" \
				--deadline "$T" --timeout 30 >"$f.cl" 2>"$f.clerr" || rc=$?
			;;
		up)
			port=$L_SINK_PORT
			[[ $stack == sluice ]] && port=$L_DISCARD_PORT
			timeout -s KILL $((T + 30)) taskset -c $GEN_CPU nsenter --net=/run/netns/"$T_CLI" \
				"$OUT/tcpbulk" send --dst "$dst" --port "$port" --bytes "$LOSS_BYTES" \
				--cc "$kcc" --deadline "$T" --timeout 30 >"$f.cl" 2>"$f.clerr" || rc=$?
			;;
		send)
			if [[ $stack == sluice ]]; then
				# Counters vanish with the process when it fails (a timeout): sample them.
				(while :; do
					lns "$T_SNS" "$SLUICE" stats "$T_SDEV" --json >"$f.smp.new" 2>/dev/null &&
						grep -q '"stacks":\[{' "$f.smp.new" && mv -f "$f.smp.new" "$f.smp"
					sleep 0.5
				done) &
				LOSS_BG2=$!
				timeout -s KILL $((T + 30)) taskset -c $SRV_CPU nsenter --net=/run/netns/"$T_SNS" \
					"$SLUICE" run "$T_SDEV" --addr "$T_SIP/24" --cc "$scc" "${bufopt[@]}" \
					--send "$T_CSIP:$L_SINK_PORT:$LOSS_BYTES" --duration "$T" --json \
					>"$f.sl" 2>"$f.slerr" || rc=$?
				kill "$LOSS_BG2" 2>/dev/null
				wait "$LOSS_BG2" 2>/dev/null
				LOSS_BG2=
				grep -o '([a-z]* XDP, [a-z-]* mode[a-zA-Z ,]*)' "$f.slerr" | head -1 >"$LD/mode-sluice.txt"
			else
				timeout -s KILL $((T + 30)) taskset -c $SRV_CPU nsenter --net=/run/netns/"$T_KNS" \
					"$OUT/tcpbulk" send --dst "$T_CKIP" --port $L_SINK_PORT --bytes "$LOSS_BYTES" \
					--cc "$kcc" --deadline "$T" --timeout 30 >"$f.sv" 2>"$f.sverr" || rc=$?
			fi
			;;
		esac
		# 3: tcpbulk's deadline passed (reported as a timeout, not a failure)
		[[ $rc -eq 0 || $rc -eq 3 ]] ||
			err="$dir $stack: exit $rc: $(cat "$f".clerr "$f".sverr "$f".slerr 2>/dev/null | tr '\n' ' ')"
		[[ $dir == send && $stack == sluice && $rc -ne 0 ]] &&
			grep -q 'stopped before the transfer finished' "$f.slerr" && err=
	fi
	t1=$(date +%s.%N)
	c1=$(cpu_snap)
	[[ $T_PART == direct ]] && d1=$(drop_counts "$stack")
	nstat_to "$T_CLI" "$f.nca"
	nstat_to "$T_KNS" "$f.nsa"
	$PY "$LU" veth "$T_CLI" "$vc" "$vsn" "$vs" >"$f.va"
	# Stop the server side.
	if [[ -n $LOSS_BG ]]; then
		local brc=0
		if [[ $stack == sluice && $dir != send ]]; then
			kill -TERM "$LOSS_BG" 2>/dev/null
			wait "$LOSS_BG" || brc=$?
			[[ $brc -eq 0 ]] || err="${err:+$err; }sluice run exited with status $brc: $(tr '\n' ' ' <"$TMP/lsluice.err")"
			cp "$TMP/lsluice.out" "$f.sl"
			cp "$TMP/lsluice.err" "$f.slerr"
		else
			# A sink whose sender failed or timed out waits for nothing: end it.
			[[ -n $err || $rc -ne 0 ]] && kill -TERM "$LOSS_BG" 2>/dev/null
			wait "$LOSS_BG" || brc=$?
			cp "$TMP/lsink.out" "$f.sink" 2>/dev/null
			[[ $dir == send ]] && cp "$f.sink" "$f.cl"
			[[ $dir == up ]] && cp "$f.sink" "$f.sv"
		fi
		LOSS_BG=
	fi
	# khttp reports a refused TCP_CONGESTION on stderr: the run did not use the algorithm.
	if [[ $stack == kernel ]] && grep -q TCP_CONGESTION "$TMP"/khttp-*.err "$f.clerr" "$f.sverr" 2>/dev/null; then
		err="${err:+$err; }TCP_CONGESTION refused: $(cat "$TMP"/khttp-*.err | grep TCP_CONGESTION | head -1)"
	fi
	local relayj=null
	if [[ $T_PART == relay ]]; then
		relay_stop
		relayj="[$(grep '^{' "$RELAY_OUT" | paste -sd,)]"
	fi
	# sluice --send: "sent N bytes ... in S s" or "stopped before the transfer finished (X of Y)"
	local sendj=null
	if [[ $dir == send && $stack == sluice ]]; then
		sendj=$($PY - "$f.slerr" <<'EOF'
import json, re, sys
t = open(sys.argv[1]).read()
m = re.search(r"sent (\d+) bytes .* in ([\d.]+) s: ([\d.]+) Mbit/s", t)
s = re.search(r"stopped before the transfer finished \((\d+) of (\d+) bytes\)", t)
print(json.dumps({"bytes": int(m.group(1)), "seconds": float(m.group(2))} if m else
                 {"timed_out": True, "bytes": int(s.group(1))} if s else None))
EOF
)
		# No summary after a timeout: the last counters sample stands in.
		if ! grep -q '^{' "$f.sl" 2>/dev/null && [[ -s $f.smp ]]; then
			$PY -c 'import json,sys; j=json.load(open(sys.argv[1]))["stacks"][0]
print(json.dumps({"counters": j["counters"], "frames_total": j["frames_total"],
 "frames_returned": j["frames_total"], "sampled": True}))' "$f.smp" >"$f.sl"
		fi
	fi
	local label="$T_PART $dir loss ${LOSS_CUR_LOSS}% $stack $cc${buf:+ buf $buf} run $r"
	local line
	line=$($PY "$LU" record "$LD/raw.jsonl" part="$T_PART" dir="$dir" loss="$LOSS_CUR_LOSS" \
		stack="$stack" cc="$cc" kernel_cc="$kcc" sluice_cc="$scc" buf="${buf:-default}" run="$r" \
		want_bytes="$LOSS_BYTES" timeout_s="$T" error="$err" client="@$f.cl" server="@$f.sv" \
		sluice="@$f.sl" sluice_send=":$sendj" nstat_client="%$f.ncb" nstat_client="%%$f.nca" \
		nstat_server="%$f.nsb" nstat_server="%%$f.nsa" veth="%$f.vb" veth="%%$f.va" drops_before=":$d0" drops_after=":$d1" \
		relay=":$relayj" cpu=":[$c0]" cpu_end=":[$c1]" wall_s=":$($PY -c "print(round($t1 - $t0, 3))")" \
		date="$(date -Iseconds)") || die "cannot record the run ($label)"
	say "loss: $label: $line"
	[[ $line == FAILED* ]] && LOSS_FAILED=$((LOSS_FAILED + 1))
	LAST_SECONDS=$($PY -c "print(round($t1 - $t0))")
}

# loss_point DIR TARGETS: every target ("stack:cc[:buf]") LOSS_REPEAT times, alternating, each
# target's repeats ended once its runs here took LOSS_BUDGET s in all.
loss_point() {
	local dir=$1 targets=$2 r t
	declare -A spent=()
	for r in $(seq "$LOSS_REPEAT"); do
		for t in $targets; do
			local s=${spent[$t]:-0}
			if [[ $r -gt 1 && $s -ge $LOSS_BUDGET ]]; then
				[[ $r -eq 2 ]] && say "loss: $T_PART $dir ${LOSS_CUR_LOSS}% $t: no more repeats" \
					"(its runs took ${s} s, budget $LOSS_BUDGET s)"
				continue
			fi
			IFS=: read -r st cc bf <<<"$t"
			if [[ -n $bf ]]; then
				loss_run "$dir" "$st" "$cc" "$r" "$bf"
			else
				loss_run "$dir" "$st" "$cc" "$r"
			fi
			spent[$t]=$((s + LAST_SECONDS))
		done
	done
}

loss_targets() { # loss_targets DIR
	case $1 in
	down | send) echo "sluice:cubic kernel:cubic sluice:newreno kernel:reno kernel:bbr" ;;
	up) echo "sluice:cubic kernel:cubic sluice:reno kernel:reno sluice:bbr kernel:bbr" ;;
	esac
}

# --- the part --------------------------------------------------------------------------------
loss_part() {
	local t0 rate dir
	t0=$(date +%s.%N)
	rm -rf "$LD"
	mkdir -p "$LD"
	LOSS_FAILED=0
	date -Iseconds >"$LD/date.txt"
	cat /proc/loadavg >"$LD/loadavg-start.txt"
	for t in tc bpftool clang nstat; do command -v $t >/dev/null || die "missing $t (make deps installs it)"; done
	clang -O2 -g -target bpf -I/usr/include/"$(gcc -dumpmachine)" -c "$ROOT/tests/net/drop.bpf.c" \
		-o "$LD/drop.bpf.o" || die "cannot compile tests/net/drop.bpf.c"
	loss_direct_setup
	# What the kernel side runs with, as seen inside the namespaces.
	{
		echo "{\"tcp_congestion_control\":\"$(lns "$NS_LK" sysctl -n net.ipv4.tcp_congestion_control)\","
		echo "\"tcp_allowed_congestion_control\":\"$(lns "$NS_LK" sysctl -n net.ipv4.tcp_allowed_congestion_control)\","
		echo "\"tcp_available_congestion_control\":\"$(lns "$NS_LK" sysctl -n net.ipv4.tcp_available_congestion_control)\","
		echo "\"tcp_rmem\":\"$(lns "$NS_LK" sysctl -n net.ipv4.tcp_rmem | tr '\t' ' ')\","
		echo "\"tcp_wmem\":\"$(lns "$NS_LK" sysctl -n net.ipv4.tcp_wmem | tr '\t' ' ')\","
		echo "\"tcp_sack\":$(lns "$NS_LK" sysctl -n net.ipv4.tcp_sack),"
		echo "\"tcp_recovery\":$(lns "$NS_LK" sysctl -n net.ipv4.tcp_recovery),"
		echo "\"tcp_no_metrics_save\":$(lns "$NS_LK" sysctl -n net.ipv4.tcp_no_metrics_save),"
		echo "\"napi\":\"$NAPI\", \"gen_cpu\":$GEN_CPU, \"srv_cpu\":$SRV_CPU,"
		echo "\"bytes\":$LOSS_BYTES, \"repeat\":$LOSS_REPEAT, \"timeout_s\":$LOSS_TIMEOUT,"
		echo "\"budget_s\":$LOSS_BUDGET, \"rates\":\"$LOSS_RATES\", \"dirs\":\"$LOSS_DIRS\","
		echo "\"send_rates\":\"$LOSS_SEND_RATES\", \"buf\":\"${LOSS_BUF:-default}\","
		echo "\"where\":\"$LOSS_WHERE\","
		echo "\"relay\":$LOSS_RELAY, \"relay_rates\":\"$LOSS_RELAY_RATES\","
		echo "\"relay_delay_ms\":$LOSS_RELAY_DELAY, \"relay_rate\":\"$LOSS_RELAY_RATE\","
		echo "\"relay_limit\":$LOSS_RELAY_LIMIT, \"relay_buf\":\"$LOSS_RELAY_BUF\","
		echo "\"relay_defbuf_rates\":\"$LOSS_RELAY_DEFBUF_RATES\","
		echo "\"sluice_default_buf\":$("$SLUICE" run --help 2>&1 | grep -A1 -- '--tcp-buf' |
			grep -o 'default [0-9]*' | grep -o '[0-9]*' | head -1 | grep . || echo null)}"
	} >"$LD/config.json"
	use_direct
	say "loss: direct link, $LOSS_BYTES bytes per run, rates: $LOSS_RATES %, timeout $LOSS_TIMEOUT s"
	for rate in $LOSS_RATES; do
		set_loss "$rate"
		for dir in $LOSS_DIRS; do
			loss_point "$dir" "$(loss_targets "$dir")"
		done
		if [[ " $LOSS_SEND_RATES " == *" $rate "* ]]; then
			loss_point send "$(loss_targets send)"
		fi
	done
	set_loss 0
	if [[ $LOSS_RELAY == 1 && -n $LOSS_RELAY_RATES ]]; then
		loss_relay_setup
		use_relay
		say "loss: relay, ${LOSS_RELAY_DELAY} ms each way, rate ${LOSS_RELAY_RATE:-none}" \
			"(queue $LOSS_RELAY_LIMIT frames), rates: $LOSS_RELAY_RATES %; sluice --tcp-buf $LOSS_RELAY_BUF"
		for rate in $LOSS_RELAY_RATES; do
			LOSS_CUR_LOSS=$rate
			for dir in $LOSS_DIRS; do
				local extra=
				[[ " $LOSS_RELAY_DEFBUF_RATES " == *" $rate "* ]] && extra=" sluice:cubic:default"
				loss_point "$dir" "$(loss_targets "$dir")$extra"
			done
		done
	fi
	loss_cleanup
	cat /proc/loadavg >"$LD/loadavg-end.txt"
	$PY -c "import sys; print(round($(date +%s.%N) - $t0, 1))" >"$LD/elapsed.txt"
	say "loss: done in $(cat "$LD/elapsed.txt") s, $LOSS_FAILED failed runs"
}
