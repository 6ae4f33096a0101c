#!/usr/bin/env bash
# `make bench`: UDP echo over a veth pair between two network namespaces this script creates,
# against four servers on the same link, then the stack's instruction counts over the pipe device
# (UDP echo; TCP bulk and request/response); then TCP bulk transfer and HTTP on the same link
# (bench/tcp.sh, sourced from here), at the link's MTU 1500 and again at 9000; then `sluice run
# --queues 2` against `--queues 1` and the plain kernel on a 2-queue veth pair, UDP echo and HTTP
# (bench/queues.sh, namespaces of its own, about 2½ minutes); then 100 MiB transfers under random
# loss, sluice against the kernel (bench/loss.sh, namespaces of its own); then the same
# redis-server and nginx binaries under `sluice exec` and on the kernel (bench/apps.sh,
# namespaces of its own, about 2 minutes).
#
#   gen namespace  $NS_GEN: $IF_GEN 10.$NET.0.1/24   udpgen (CPU 0)
#     │ veth (tx checksum offload off on both ends, IPv6 off until the IPv6 pass)
#   srv namespace  $NS_SRV: $IF_SRV 10.$NET.0.2/24   kernel: kecho (CPU 1)
#                                   10.$NET.0.3      reflector / sluice (CPU 1), via the gate
#
# IPv6 pass (BENCH_FAMILIES, default "4 6"): after the IPv4 UDP and TCP parts, IPv6 is enabled on
# the same two veth ends (no link-local address, no router advertisements, addresses with nodad,
# static neighbour entries both ways) and the UDP and TCP parts run again against fd00:$NET::1 /
# ::2 / ::3 with the same targets and method, except the reflector (IPv4 only) and the perf
# profiles (BENCH_PERF6=1 adds them). Results in build/bench/udp6/ and build/bench/tcp6/.
#
# MTU 9000 pass (BENCH_MTUS, default "1500 9000"): after the IPv4 TCP part at the pair's MTU
# (1500) and before the IPv6 pass, the TCP part runs again over IPv4 with both veth ends at MTU
# 9000 (set before the gate attaches, put back after), results in build/bench/tcp9000/: bulk
# both ways, 2 runs per target, HTTP GET /bytes/64 at 16 connections only (bench/tcp.sh lists
# its knobs). BENCH_MTUS=1500 skips it, BENCH_MTUS=9000 runs it alone (the 1500 results are
# reported again); the IPv6 pass stays at 1500.
#
# Targets, in order: kernel (no XDP program on the link), kernel+gate (the sluice gate attached
# with an owned-address rule for .3; the kernel's traffic passes through it), reflector (raw
# AF_XDP, no stack), sluice (`sluice run --udp-echo`). Each gets BENCH_REPEAT pipelined runs of
# BENCH_SECONDS (median reported) and one closed-loop run of BENCH_CLOSED_SECONDS. The generator
# has static neighbour entries for .2 and .3 (no ARP in the measured path); so does the kernel
# for .1. Writes build/bench/results.json and the results section of docs/benchmarks.md.
#
# Knobs (environment): BENCH_SECONDS=5 BENCH_CLOSED_SECONDS=2 BENCH_REPEAT=3 BENCH_WARMUP=0.3
# BENCH_FLOWS=16 BENCH_WINDOW=256 BENCH_TIMEOUT_MS=50 BENCH_BATCH=32 BENCH_PAYLOAD=64
# BENCH_PIPE_PACKETS=100000 BENCH_PIPE_TCP_BYTES=100000000 BENCH_PIPE_TCP_TRANSACTIONS=100000
# BENCH_PIPE_TCP_CONNS="1 16" BENCH_TARGETS="kernel kernel_gate reflector sluice"
# BENCH_NAPI=server|sender BENCH_PERF=1|0 (a perf cpu-clock profile of the server CPU during one
# extra 3 s sluice run). BENCH_PARTS="udp tcp queues loss apps" (any subset: udp, tcp or queues
# alone reports the others' last results in build/bench/ again; loss and apps write their own
# sections;
# pipe: below). bench/tcp.sh, bench/queues.sh, bench/loss.sh and bench/apps.sh list their knobs. BENCH_FAMILIES="4 6" (either alone: the other
# family's last results are reported again), BENCH_REPEAT6 (UDP runs per target over IPv6;
# default BENCH_REPEAT), BENCH_PERF6=0, BENCH_MTUS="1500 9000" (the IPv4 TCP part's MTUs;
# either alone: the other's last results are reported again). docs/benchmarks.md explains the
# method.
#
# The pipe-device counts (bench/pipe_echo.c for UDP, bench/pipe_tcp.c for TCP: callgrind, no
# kernel, deterministic; about a minute) run with the udp part when IPv4 is among the families,
# as the UDP one always has. BENCH_PARTS=pipe runs them alone (no veth link, no namespaces) and
# reports the other parts' last results again; "pipe" may be added to any list. The report
# marks the issue's instruction budgets (UDP echo <= 400 per datagram, TCP <= 500 per full-size
# segment without the payload copy) PASS or FAIL; nothing fails on them.
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
START=$(date +%s.%N)
OUT=build/bench
SLUICE=$ROOT/build/sluice
PY=/usr/bin/python3
SECS=${BENCH_SECONDS:-5}
CSECS=${BENCH_CLOSED_SECONDS:-2}
REPEAT=${BENCH_REPEAT:-3}
WARMUP=${BENCH_WARMUP:-0.3}
FLOWS=${BENCH_FLOWS:-16}
WINDOW=${BENCH_WINDOW:-256}
TIMEOUT_MS=${BENCH_TIMEOUT_MS:-50}
BATCH=${BENCH_BATCH:-32}
PAYLOAD=${BENCH_PAYLOAD:-64}
PIPE_PACKETS=${BENCH_PIPE_PACKETS:-100000}
PIPE_TCP_BYTES=${BENCH_PIPE_TCP_BYTES:-100000000}
PIPE_TCP_TXNS=${BENCH_PIPE_TCP_TRANSACTIONS:-100000}
PIPE_TCP_CONNS=${BENCH_PIPE_TCP_CONNS:-1 16}
TARGETS=${BENCH_TARGETS:-kernel kernel_gate reflector sluice}
PARTS=" ${BENCH_PARTS:-udp tcp queues loss apps} "
FAMILIES=" ${BENCH_FAMILIES:-4 6} " # the UDP and TCP parts run once per family; loss is IPv4
MTUS=" ${BENCH_MTUS:-1500 9000} " # the TCP part over IPv4 runs once per MTU; IPv6 at 1500
REPEAT6=${BENCH_REPEAT6:-$REPEAT}
PERF6=${BENCH_PERF6:-0}
PORT=7777
GEN_CPU=0
SRV_CPU=1

ID=$$
NET=$((20 + ID % 200)) # 10.NET.0.0/24 exists only inside the two namespaces
NS_GEN=slb-$ID-gen
NS_SRV=slb-$ID-srv
IF_GEN=sbg$ID
IF_SRV=sbs$ID
GEN_IP4=10.$NET.0.1
KERNEL_IP4=10.$NET.0.2
STACK_IP4=10.$NET.0.3
GEN_IP6=fd00:$NET::1 # fd00:NET::/64, likewise only inside the namespaces
KERNEL_IP6=fd00:$NET::2
STACK_IP6=fd00:$NET::3
# The family being measured (use_family): addresses, prefix length, where results go.
FAM=4 GEN_IP=$GEN_IP4 KERNEL_IP=$KERNEL_IP4 STACK_IP=$STACK_IP4 PLEN=24 UD=$OUT
SRV_PID=
TMP=$(mktemp -d /tmp/sluice-bench.XXXXXX)
. "$ROOT/bench/tcp.sh"
. "$ROOT/bench/loss.sh"
. "$ROOT/bench/queues.sh"
. "$ROOT/bench/apps_lib.sh"
. "$ROOT/bench/apps.sh"

say() { echo "bench: $*" >&2; }
die() {
	echo "bench: FAILED: $*" >&2
	exit 1
}
# nsenter --net keeps /sys/fs/bpf visible (ip netns exec would remount /sys and hide the pins).
in_gen() { nsenter --net=/run/netns/"$NS_GEN" "$@"; }
in_srv() { nsenter --net=/run/netns/"$NS_SRV" "$@"; }

cleanup() {
	if [[ -n $SRV_PID ]] && kill -0 "$SRV_PID" 2>/dev/null; then
		kill -KILL "$SRV_PID" 2>/dev/null
		wait "$SRV_PID" 2>/dev/null
	fi
	tcp_cleanup
	loss_cleanup
	queues_cleanup
	apps_cleanup
	[[ -e /run/netns/$NS_SRV ]] && in_srv "$SLUICE" detach "$IF_SRV" >/dev/null 2>&1
	ip netns del "$NS_GEN" 2>/dev/null
	ip netns del "$NS_SRV" 2>/dev/null
	rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- build ---------------------------------------------------------------------------------
# The Makefile's flags; bench binaries link the library `make all` just built. valgrind 3.19
# cannot read clang 14's DWARF 5, so callgrind gets copies of pipe_echo and pipe_tcp without
# debug sections (the symbol table, static functions included, is all --toggle-collect and the
# per-function breakdown need).
CFLAGS="-O2 -g -Wall -Wextra -Werror -Wno-unused-parameter -std=gnu11 -D_GNU_SOURCE"
CFLAGS+=" -Iinclude -Iuser -Ibpf -Ibuild -fno-strict-aliasing"
LIBS="-lxdp -lbpf -lelf -lz -lpthread -lm"
mkdir -p "$OUT"
stale() { # stale OUTPUT INPUT...: true when OUTPUT is missing or older than an input
	local o=$1
	shift
	[[ -e $o ]] || return 0
	for i in "$@"; do [[ $i -nt $o ]] && return 0; done
	return 1
}
for b in udpgen kecho reflector pipe_echo pipe_tcp tcpbulk khttp; do
	if stale "$OUT/$b" "bench/$b.c" bench/bench_addr.h build/libsluice.a include/sluice/*.h; then
		say "cc bench/$b.c"
		clang $CFLAGS -o "$OUT/$b" "bench/$b.c" build/libsluice.a $LIBS || die "cannot build $b"
	fi
done
objcopy --strip-debug "$OUT/pipe_echo" "$OUT/pipe_echo_cg" || die "objcopy failed"
objcopy --strip-debug "$OUT/pipe_tcp" "$OUT/pipe_tcp_cg" || die "objcopy failed"

[[ $(id -u) -eq 0 ]] || die "needs root (network namespaces, XDP); run as root or through sudo"
for t in ip nsenter ethtool taskset chrt valgrind callgrind_annotate objcopy $PY; do
	command -v "$t" >/dev/null || die "missing $t (make deps installs it)"
done
[[ $(nproc) -ge 2 ]] || die "needs 2 CPUs (generator and server pinned apart)"
[[ $PARTS == *" udp "* || $PARTS == *" tcp "* || $PARTS == *" loss "* || $PARTS == *" pipe "* ||
	$PARTS == *" queues "* || $PARTS == *" apps "* ]] ||
	die "BENCH_PARTS names none of udp, tcp, queues, loss, apps, pipe"
# The pipe-device counts: with the udp part over IPv4 (as always), or alone as "pipe".
PIPE=0
[[ ($PARTS == *" udp "* && $FAMILIES == *" 4 "*) || $PARTS == *" pipe "* ]] && PIPE=1
LINK=0 # the veth link, for the udp, tcp and loss parts (queues makes a 2-queue pair of its own)
[[ $PARTS == *" udp "* || $PARTS == *" tcp "* || $PARTS == *" loss "* ]] && LINK=1
[[ $FAMILIES == *" 4 "* || $FAMILIES == *" 6 "* ]] || die "BENCH_FAMILIES names neither 4 nor 6"
for m in $MTUS; do
	[[ $m == 1500 || $m == 9000 ]] || die "BENCH_MTUS: $m is neither 1500 nor 9000"
done
[[ -z ${BENCH_MTU:-} ]] || die "BENCH_MTU is gone: the TCP part runs at every MTU of BENCH_MTUS" \
	"(default \"1500 9000\"; BENCH_MTUS=9000 for the MTU 9000 pass alone, results in $OUT/tcp9000)"
# Other work on the machine during the run makes every number worse: note who else used CPU.
rm -f "$OUT"/others-cpu.json
[[ $PARTS == *" udp "* && $FAMILIES == *" 4 "* ]] && rm -f "$OUT"/napi.txt "$OUT"/perf-*.txt \
	"$OUT"/veth-*.json "$OUT"/raw.jsonl "$OUT"/server-*.json "$OUT"/mode-*.txt
[[ $PIPE == 1 ]] && rm -f "$OUT"/pipe-*.json "$OUT"/pipe-*.txt
cat /proc/loadavg >"$OUT/loadavg-start.txt"
$PY bench/report.py --sampler "$OUT/others-cpu.json" --root $$ --stop-file "$TMP/stop-sampler" &
SAMPLER=$!

# --- the stack alone: instructions per echoed packet over the pipe device -------------------
# Deterministic (invented time, seeded), so two runs suffice; their difference cancels setup,
# the ARP exchange and the first poll.
udp_pipe() {
say "pipe: native run, then callgrind (sl_stack_poll only) at two packet counts"
"$OUT/pipe_echo" --packets 1000000 >"$OUT/pipe-native.json" || die "pipe_echo failed"
"$OUT/pipe_echo" --packets 200000 --batch 1 >"$OUT/pipe-native-b1.json" ||
	die "pipe_echo --batch 1 failed"
cg() { # cg NAME PACKETS BATCH [MODE]
	valgrind --tool=callgrind --toggle-collect=sl_stack_poll --callgrind-out-file="$TMP/cg.$1" \
		"$OUT/pipe_echo_cg" --packets "$2" --batch "$3" --mode "${4:-write}" \
		>"$OUT/pipe-$1.json" 2>"$TMP/cg.$1.err" ||
		{ cat "$TMP/cg.$1.err" >&2; die "callgrind run $1 failed"; }
	callgrind_annotate --inclusive=yes --threshold=100 "$TMP/cg.$1" \
		>"$OUT/pipe-$1.annotate.txt" 2>/dev/null
}
P1=$((PIPE_PACKETS / 10))
P2=$((P1 + PIPE_PACKETS))
cg b64-n1 $P1 64
cg b64-n2 $P2 64
cg b1-n1 $((P1 / 5)) 1
cg b1-n2 $(((P1 + PIPE_PACKETS) / 5)) 1
# The reply in place (sl_udp_reply), an addition reported beside the budget's figure.
cg reply-n1 $P1 64 reply
cg reply-n2 $P2 64 reply
}
# TCP over the pipe device (bench/pipe_tcp.c): two stacks, each polled through a wrapper of its
# own, so --toggle-collect counts one stack's poll alone. Bulk: the receiver's poll per received
# segment (and the sender's per sent one); request/response: the server's and the client's poll
# per transaction, with each of BENCH_PIPE_TCP_CONNS connections. The difference of two sizes
# cancels setup, ARP, the handshake, slow start and the close. Besides the inclusive counts, a
# caller tree: self cost per function, and which callers the memcpy family's cost came from
# (the device's copy of the frame against the stack's copy into the receive ring).
tcp_pipe() {
	say "pipe (TCP): native runs, then callgrind (one stack's poll at a time) at two sizes"
	"$OUT/pipe_tcp" --bulk --bytes $((PIPE_TCP_BYTES * 10)) >"$OUT/pipe-tcp-native-bulk.json" ||
		die "pipe_tcp --bulk failed"
	local c n t
	for c in $PIPE_TCP_CONNS; do
		"$OUT/pipe_tcp" --rr --conns "$c" --transactions $((PIPE_TCP_TXNS * 10)) \
			>"$OUT/pipe-tcp-native-rr-c$c.json" || die "pipe_tcp --rr --conns $c failed"
	done
	tcg() { # tcg NAME FUNCTION ARGS...: pipe_tcp under callgrind, counting inside FUNCTION
		local name=$1 fn=$2
		shift 2
		valgrind --tool=callgrind --toggle-collect="$fn" --callgrind-out-file="$TMP/cg.tcp-$name" \
			"$OUT/pipe_tcp_cg" "$@" >"$OUT/pipe-tcp-$name.json" 2>"$TMP/cg.tcp-$name.err" ||
			{ cat "$TMP/cg.tcp-$name.err" >&2; die "callgrind run tcp-$name failed"; }
		callgrind_annotate --inclusive=yes --threshold=100 "$TMP/cg.tcp-$name" \
			>"$OUT/pipe-tcp-$name.annotate.txt" 2>/dev/null
		callgrind_annotate --tree=caller --threshold=100 "$TMP/cg.tcp-$name" \
			>"$OUT/pipe-tcp-$name.callers.txt" 2>/dev/null
	}
	local b1=$((PIPE_TCP_BYTES / 5)) t1=$((PIPE_TCP_TXNS / 5))
	local b2=$((b1 + PIPE_TCP_BYTES)) t2=$((t1 + PIPE_TCP_TXNS))
	tcg bulk-rcv-n1 poll_receiver --bulk --bytes $b1
	tcg bulk-rcv-n2 poll_receiver --bulk --bytes $b2
	tcg bulk-snd-n1 poll_sender --bulk --bytes $b1
	tcg bulk-snd-n2 poll_sender --bulk --bytes $b2
	for c in $PIPE_TCP_CONNS; do
		for n in 1 2; do
			t=$t1
			[[ $n == 2 ]] && t=$t2
			tcg "rr-c$c-srv-n$n" poll_server --rr --conns "$c" --transactions $t
			tcg "rr-c$c-cli-n$n" poll_client --rr --conns "$c" --transactions $t
		done
	done
	echo "$PIPE_TCP_CONNS" >"$OUT/pipe-tcp-conns.txt"
}
if [[ $PIPE == 1 ]]; then
	date -Iseconds >"$OUT/pipe-date.txt"
	udp_pipe
	tcp_pipe
fi

# --- the veth link -------------------------------------------------------------------------
# BENCH_PARTS=pipe alone needs none of it.
# link_offloads sluice|kernel: the pair's transmit checksum offload. For the targets behind the
# gate (sluice, the kernel with the gate, the reflector): off at the generator's end, since
# veth hands the kernel's frames over with their L4 checksums partial otherwise and AF_XDP sees
# them unfinished; on at the server's end, as a veth is made (sluice leaves its own checksums
# to the kernel there, through AF_XDP TX metadata, and the kernel behind the gate sends as it
# would). For the plain kernel (no XDP program): on at both ends, the link a user has without
# sluice (TSO and checksum offload: nothing is summed between two kernel sockets on veth).
link_offloads() {
	local g=off
	[[ $1 == kernel ]] && g=on
	in_gen ethtool -K "$IF_GEN" tx $g >/dev/null 2>&1 || die "ethtool -K $IF_GEN tx $g failed"
	in_srv ethtool -K "$IF_SRV" tx on >/dev/null 2>&1 || die "ethtool -K $IF_SRV tx on failed"
}

if [[ $LINK == 1 ]]; then
	say "namespaces $NS_GEN ($GEN_IP4) <-veth-> $NS_SRV (kernel $KERNEL_IP4, XDP $STACK_IP4)"
	ip netns add "$NS_GEN" || die "cannot create namespace"
	ip netns add "$NS_SRV" || die "cannot create namespace"
	ip link add "$IF_GEN" netns "$NS_GEN" type veth peer name "$IF_SRV" netns "$NS_SRV" ||
		die "cannot create veth pair"
	for ns in "$NS_GEN" "$NS_SRV"; do nsenter --net=/run/netns/"$ns" ip link set lo up; done
	in_gen ip addr add "$GEN_IP4/24" dev "$IF_GEN"
	in_srv ip addr add "$KERNEL_IP4/24" dev "$IF_SRV"
	in_gen sysctl -qw net.ipv6.conf."$IF_GEN".disable_ipv6=1
	in_srv sysctl -qw net.ipv6.conf."$IF_SRV".disable_ipv6=1
	in_gen ip link set "$IF_GEN" up
	in_srv ip link set "$IF_SRV" up
	link_offloads sluice
	mac_of() { # mac_of NS DEV
		nsenter --net=/run/netns/"$1" ip -o link show dev "$2" |
			sed -n 's/.*link\/ether \([0-9a-f:]*\).*/\1/p'
	}
	GEN_MAC=$(mac_of "$NS_GEN" "$IF_GEN")
	SRV_MAC=$(mac_of "$NS_SRV" "$IF_SRV")
	[[ -n $GEN_MAC && -n $SRV_MAC ]] || die "cannot read the veth MAC addresses"
	# Static neighbours: no ARP inside any measurement, the same for every target.
	in_gen ip neigh replace "$KERNEL_IP4" lladdr "$SRV_MAC" nud permanent dev "$IF_GEN"
	in_gen ip neigh replace "$STACK_IP4" lladdr "$SRV_MAC" nud permanent dev "$IF_GEN"
	in_srv ip neigh replace "$GEN_IP4" lladdr "$GEN_MAC" nud permanent dev "$IF_SRV"
fi

# The IPv6 pass: IPv6 on both veth ends, then the same addresses' roles in fd00:NET::/64. No
# link-local address (addr_gen_mode 1) and no router advertisements: the kernel then sends no
# DAD probes or router solicitations of its own during the runs; the global addresses skip DAD
# (nodad), and static neighbours mean no Neighbor Discovery inside any measurement (sluice
# still runs DAD for its own address, about 1 s before it reports serving, and resolves ::1
# once during the readiness probe, as it resolves .1 by ARP).
ipv6_on() {
	local ns dev
	for ns in "$NS_GEN:$IF_GEN" "$NS_SRV:$IF_SRV"; do
		dev=${ns#*:}
		nsenter --net=/run/netns/"${ns%%:*}" sh -c "sysctl -qw net.ipv6.conf.$dev.addr_gen_mode=1 &&
			sysctl -qw net.ipv6.conf.$dev.accept_ra=0 &&
			sysctl -qw net.ipv6.conf.$dev.disable_ipv6=0" || die "cannot enable IPv6 on $dev"
	done
	in_gen ip -6 addr add "$GEN_IP6/64" dev "$IF_GEN" nodad || die "cannot add $GEN_IP6"
	in_srv ip -6 addr add "$KERNEL_IP6/64" dev "$IF_SRV" nodad || die "cannot add $KERNEL_IP6"
	in_gen ip -6 neigh replace "$KERNEL_IP6" lladdr "$SRV_MAC" nud permanent dev "$IF_GEN"
	in_gen ip -6 neigh replace "$STACK_IP6" lladdr "$SRV_MAC" nud permanent dev "$IF_GEN"
	in_srv ip -6 neigh replace "$GEN_IP6" lladdr "$GEN_MAC" nud permanent dev "$IF_SRV"
}
# use_family 4|6: the addresses and result directories the parts use from now on.
use_family() {
	FAM=$1
	TCP_MTU=1500
	if [[ $FAM == 6 ]]; then
		GEN_IP=$GEN_IP6 KERNEL_IP=$KERNEL_IP6 STACK_IP=$STACK_IP6 PLEN=64
		UD=$OUT/udp6 TD=$OUT/tcp6
	else
		GEN_IP=$GEN_IP4 KERNEL_IP=$KERNEL_IP4 STACK_IP=$STACK_IP4 PLEN=24
		UD=$OUT TD=$OUT/tcp
	fi
}
# use_mtu 1500|9000 (after use_family 4): the TCP part's pass at that MTU from now on; tcp_part
# sets it on both veth ends before the gate attaches and puts the pair's own back at its end.
use_mtu() {
	TCP_MTU=$1
	if [[ $1 == 9000 ]]; then TD=$OUT/tcp9000; else TD=$OUT/tcp; fi
}
hostport() { [[ $1 == *:* ]] && echo "[$1]:$2" || echo "$1:$2"; } # hostport ADDR PORT
# Where the server side's receive work runs. veth has no interrupt: without NAPI a frame is
# received in the sender's context, and with XDP attached veth's NAPI runs as a softirq on the
# CPU that transmitted — the generator's. Either way the gate, the AF_XDP copy and the kernel's
# receive path would be charged to the generator's CPU. BENCH_NAPI=server (default) makes the
# server veth's NAPI a kernel thread pinned to the server CPU, as a NIC's interrupt affinity
# would, and SCHED_FIFO so that it preempts the server process the way a softirq does (as a
# plain thread sharing the CPU with a busy server, the numbers swung by 2x from run to run).
# It exists while an XDP program is attached (kernel_gate, reflector, sluice). Without XDP
# (target kernel) veth uses no NAPI and the kernel receives on the sender's CPU regardless.
# BENCH_NAPI=sender leaves the kernel's default (softirq on the transmitting CPU).
NAPI=${BENCH_NAPI:-server}
pin_napi() { # threaded NAPI for the server veth, its threads on the server CPU (NAPI=server)
	[[ $NAPI == server ]] || return 0
	# veth has NAPI only while an XDP program is attached; only then can it be threaded.
	ip netns exec "$NS_SRV" sh -c "echo 1 > /sys/class/net/$IF_SRV/threaded" ||
		die "cannot make $IF_SRV's NAPI threaded"
	local prefix="napi/$IF_SRV-" f c n=0
	prefix=${prefix:0:15} # comm is at most 15 characters
	for f in /proc/[0-9]*/comm; do
		{ read -r c <"$f"; } 2>/dev/null || continue # the process may be gone
		[[ $c == "$prefix"* ]] || continue
		f=${f%/comm}
		taskset -pc $SRV_CPU "${f#/proc/}" >/dev/null || die "cannot pin $c"
		chrt -f -p 1 "${f#/proc/}" || die "cannot make $c SCHED_FIFO"
		n=$((n + 1))
	done
	[[ $n -gt 0 ]] || die "no NAPI thread for $IF_SRV (is an XDP program attached?)"
	echo "veth NAPI of $IF_SRV threaded, pinned to CPU $SRV_CPU, SCHED_FIFO 1 (preempts" \
		"the server like a softirq would); without XDP (kernel target) veth has no NAPI" \
		"and receives on the sending CPU" >"$NAPI_FILE"
}
NAPI_FILE=$OUT/napi.txt # where pin_napi says what it did (udp_part and tcp_part set it)

for _ in $(seq 50); do
	[[ $LINK == 1 ]] || break
	in_gen ip link show "$IF_GEN" | grep -q 'state UP' && break
	sleep 0.1
done

# --- measurements --------------------------------------------------------------------------
RUN=0
gen() { # gen LABEL DST ARGS...: one udpgen run on the generator CPU, JSON appended to raw.jsonl
	local label=$1 dst=$2
	shift 2
	RUN=$((RUN + 1))
	taskset -c $GEN_CPU nsenter --net=/run/netns/"$NS_GEN" "$OUT/udpgen" --dst "$dst" \
		--port $PORT --payload "$PAYLOAD" --sport-base $((20000 + (RUN % 100) * 300)) \
		--label "$label" "$@" >"$TMP/gen.json" 2>"$TMP/gen.err" ||
		{ cat "$TMP/gen.err" >&2; die "udpgen failed"; }
	cat "$TMP/gen.json" >>"$UD/raw.jsonl"
}
field() { $PY -c "import json,sys; print(json.load(sys.stdin)['$1'])" <"$TMP/gen.json"; }

# start_server NAME READY-PATTERN CMD...: CMD runs in the server namespace on the server CPU.
start_server() {
	local name=$1 pat=$2
	shift 2
	taskset -c $SRV_CPU nsenter --net=/run/netns/"$NS_SRV" "$@" \
		>"$TMP/$name.out" 2>"$TMP/$name.err" &
	SRV_PID=$!
	for _ in $(seq 100); do
		grep -q "$pat" "$TMP/$name.err" 2>/dev/null && return 0
		kill -0 "$SRV_PID" 2>/dev/null || break
		sleep 0.1
	done
	cat "$TMP/$name.err" >&2
	die "$name did not start"
}
stop_server() { # stop_server NAME: SIGTERM, wait, keep its JSON summary
	local name=$1 rc=0
	kill -TERM "$SRV_PID"
	wait "$SRV_PID" || rc=$?
	SRV_PID=
	[[ $rc -eq 0 ]] || { cat "$TMP/$name.err" >&2; die "$name exited with status $rc"; }
	grep '^{' "$TMP/$name.out" | tail -1 >"$UD/server-$name.json"
	grep -o '([a-z]* XDP, [a-z-]* mode[a-zA-Z ,]*)' "$TMP/$name.err" | head -1 >"$TMP/mode"
	[[ -s $TMP/mode ]] && cp "$TMP/mode" "$UD/mode-$name.txt"
	return 0
}

veth_snap() { # veth_snap FILE: both veth ends' counters (drops show where datagrams were lost)
	printf '{"gen":%s,"srv":%s}\n' "$(in_gen ip -s -j link show dev "$IF_GEN")" \
		"$(in_srv ip -s -j link show dev "$IF_SRV")" >"$1"
}

measure() { # measure TARGET DST
	local t=$1 dst=$2 ok=0
	# Readiness: a few closed-loop datagrams must come back (sluice resolves .1 by ARP here).
	for _ in 1 2 3 4 5; do
		gen "probe-$t" "$dst" --closed --warmup 0 --duration 1 --packets 20 --timeout-ms 200
		[[ $(field received) -ge 10 ]] && { ok=1; break; }
		sleep 0.2
	done
	[[ $ok -eq 1 ]] || die "$t at $dst does not echo"
	veth_snap "$UD/veth-$t-before.json"
	local reps=$REPEAT
	[[ $FAM == 6 ]] && reps=$REPEAT6
	for r in $(seq "$reps"); do
		gen "$t" "$dst" --flows "$FLOWS" --window "$WINDOW" --batch "$BATCH" --spin \
			--timeout-ms "$TIMEOUT_MS" --duration "$SECS" --warmup "$WARMUP"
		say "$t pipelined run $r: $(field pps) pps ($(field lost) lost, $(field mismatch) mismatched)"
	done
	veth_snap "$UD/veth-$t-after.json"
	gen "$t" "$dst" --closed --spin --duration "$CSECS" --warmup "$WARMUP"
	say "$t closed loop: p50 $(field p50_us) us, p99 $(field p99_us) us"
}

has_udp_echo() { "$SLUICE" run --help 2>&1 | grep -- '--udp-echo' >/dev/null; } # not -q: SIGPIPE under pipefail

udp_part() {
[[ $FAM == 6 ]] && rm -rf "$UD" && mkdir -p "$UD"
date -Iseconds >"$UD/udp-date.txt"
NAPI_FILE=$UD/napi.txt
echo "kernel default: veth receive runs on the transmitting CPU" >"$NAPI_FILE"
for t in $TARGETS; do
	if [[ $FAM == 6 && $t == reflector ]]; then # bench/reflector.c swaps IPv4 headers only
		say "reflector: IPv4 only; not measured over IPv6"
		echo '{"unavailable":"IPv4 only (bench/reflector.c)"}' >"$UD/server-reflector.json"
		continue
	fi
	case $t in
	kernel)
		in_srv "$SLUICE" detach "$IF_SRV" >/dev/null 2>&1 # no XDP program at all
		link_offloads kernel
		start_server kernel serving "$OUT/kecho" --addr "$KERNEL_IP" --port $PORT
		measure kernel "$KERNEL_IP"
		stop_server kernel
		link_offloads sluice
		;;
	kernel_gate)
		in_srv "$SLUICE" attach "$IF_SRV" >"$TMP/attach.out" 2>&1 ||
			{ cat "$TMP/attach.out"; die "attach failed"; }
		id=$(in_srv "$SLUICE" flow add "$IF_SRV" addr "$STACK_IP" | sed -n 's/^added flow \([0-9]*\).*/\1/p')
		[[ -n $id ]] || die "cannot add the owned-address rule"
		in_srv ip -d link show "$IF_SRV" | grep -o 'xdp[a-z]*' | head -1 >"$UD/mode-kernel_gate.txt"
		pin_napi
		start_server kernel_gate serving "$OUT/kecho" --addr "$KERNEL_IP" --port $PORT
		measure kernel_gate "$KERNEL_IP"
		stop_server kernel_gate
		in_srv "$SLUICE" flow del "$IF_SRV" "$id" >/dev/null || die "cannot delete flow $id"
		;;
	reflector)
		start_server reflector serving "$OUT/reflector" "$IF_SRV" --addr "$STACK_IP"
		pin_napi
		measure reflector "$STACK_IP"
		stop_server reflector
		;;
	sluice)
		if ! has_udp_echo; then
			say "sluice: build/sluice run has no --udp-echo yet; sluice not measured"
			echo '{"unavailable":"build/sluice run has no --udp-echo option"}' >"$UD/server-sluice.json"
			continue
		fi
		start_server sluice serving "$SLUICE" run "$IF_SRV" --addr "$STACK_IP/$PLEN" \
			--udp-echo $PORT --json
		pin_napi
		measure sluice "$STACK_IP"
		stop_server sluice
		;;
	*) die "unknown target $t" ;;
	esac
done

# Where the server CPU goes while sluice echoes: a perf cpu-clock profile of the server CPU
# (hardware counters are not exposed in this VM; the software clock works). BENCH_PERF=0 skips.
local perf=${BENCH_PERF:-1}
[[ $FAM == 6 ]] && perf=$PERF6
if [[ $perf == 1 && " $TARGETS " == *" sluice "* ]] && has_udp_echo; then
	if command -v perf >/dev/null &&
		perf record -q -e cpu-clock -o "$TMP/perf.test" -- true >/dev/null 2>&1; then
		start_server sluice-perf serving "$SLUICE" run "$IF_SRV" --addr "$STACK_IP/$PLEN" \
			--udp-echo $PORT --json
		pin_napi
		gen "probe-perf" "$STACK_IP" --closed --warmup 0 --duration 1 --packets 20 --timeout-ms 200
		perf record -q -e cpu-clock -C $SRV_CPU -o "$TMP/perf.data" -- sleep 3 >/dev/null 2>&1 &
		perfpid=$!
		gen "perf" "$STACK_IP" --flows "$FLOWS" --window "$WINDOW" --batch "$BATCH" --spin \
			--timeout-ms "$TIMEOUT_MS" --duration 3 --warmup 0
		wait $perfpid
		say "perf: sluice echoing $(field pps) pps while the server CPU was sampled"
		perf report -i "$TMP/perf.data" --no-children --sort comm,dso --stdio 2>/dev/null |
			grep -E '^ +[0-9.]+%' >"$UD/perf-sluice-dso.txt"
		perf report -i "$TMP/perf.data" --no-children --sort sym --stdio 2>/dev/null |
			grep -E '^ +[0-9.]+%' | head -30 >"$UD/perf-sluice-sym.txt"
		stop_server sluice-perf
	else
		say "perf record does not work here; no profile"
	fi
fi
in_srv "$SLUICE" detach "$IF_SRV" >/dev/null 2>&1
}
for fam in 4 6; do # IPv4 first, with IPv6 still off on the link; then the IPv6 pass
	[[ $FAMILIES == *" $fam "* ]] || continue
	[[ $PARTS == *" udp "* || $PARTS == *" tcp "* ]] || continue
	use_family $fam
	if [[ $fam == 6 ]]; then
		say "IPv6 pass: $GEN_IP6 <-veth-> kernel $KERNEL_IP6, XDP $STACK_IP6"
		ipv6_on
	fi
	[[ $PARTS == *" udp "* ]] && udp_part
	[[ $PARTS == *" tcp "* ]] || continue
	if [[ $fam == 6 ]]; then
		tcp_part # at the pair's MTU
		continue
	fi
	for mtu in 1500 9000; do # IPv4: once per MTU of BENCH_MTUS, 9000 still with IPv6 off
		[[ $MTUS == *" $mtu "* ]] || continue
		[[ $mtu == 9000 ]] && say "MTU 9000 pass: the TCP part again, both veth ends at MTU 9000"
		use_mtu $mtu
		tcp_part
	done
	use_mtu 1500
done
use_family 4
[[ $PARTS == *" queues "* ]] && queues_part
[[ $PARTS == *" loss "* ]] && loss_part
[[ $PARTS == *" apps "* ]] && apps_part

in_srv "$SLUICE" detach "$IF_SRV" >/dev/null 2>&1
cat /proc/loadavg >"$OUT/loadavg-end.txt"
touch "$TMP/stop-sampler"
wait $SAMPLER

END=$(date +%s.%N)
CONFIG="napi=$NAPI seconds=$SECS closed_seconds=$CSECS repeat=$REPEAT warmup=$WARMUP"
CONFIG+=" flows=$FLOWS window=$WINDOW timeout_ms=$TIMEOUT_MS batch=$BATCH payload=$PAYLOAD"
CONFIG+=" pipe_packets=$PIPE_PACKETS gen_cpu=$GEN_CPU srv_cpu=$SRV_CPU"
CONFIG+=" pipe_tcp_bytes=$PIPE_TCP_BYTES pipe_tcp_transactions=$PIPE_TCP_TXNS"
CONFIG+=" pipe_tcp_conns=$(echo $PIPE_TCP_CONNS | tr " " ,)"
CONFIG+=" parts=$(echo $PARTS | tr " " ,) tcp_repeat=$TCP_REPEAT bulk_bytes=$BULK_BYTES"
CONFIG+=" bulk_seconds=$BULK_SECONDS http_seconds=$HTTP_SECONDS http_conns=$HTTP_CONNS"
CONFIG+=" http_conns_high=$HTTP_CONNS_HIGH families=$(echo $FAMILIES | tr " " ,) repeat6=$REPEAT6"
CONFIG+=" tcp_repeat6=$TCP_REPEAT6 http_paths6=$(echo $HTTP_PATHS6 | tr " " ,)"
CONFIG+=" mtus=$(echo $MTUS | tr " " ,) tcp_repeat9000=$TCP_REPEAT9000"
CONFIG+=" http_paths9000=$(echo $HTTP_PATHS9000 | tr " " ,) http_conns_high9000=$HTTP_CONNS_HIGH9000"
if [[ $PARTS == *" udp "* || $PARTS == *" tcp "* || $PARTS == *" queues "* || $PIPE == 1 ]]; then
	$PY bench/report.py --out "$OUT" --doc docs/benchmarks.md \
		--elapsed "$($PY -c "print($END - $START)")" --config "$CONFIG" ||
		die "report failed"
fi
if [[ $PARTS == *" loss "* ]]; then
	$PY bench/loss_report.py --out "$OUT" --doc docs/benchmarks.md --png docs/bench-loss.png ||
		die "loss report failed"
fi
if [[ $PARTS == *" apps "* ]]; then
	$PY bench/apps_report.py --out "$OUT" --doc docs/benchmarks.md || die "apps report failed"
fi
say "wrote $OUT/results.json and docs/benchmarks.md"
[[ ${A_FAILED:-0} -eq 0 ]] ||
	say "FAILED: $A_FAILED apps measurements failed (see $OUT/apps/raw.jsonl and the report)"
[[ ${Q_FAILED:-0} -eq 0 ]] ||
	say "FAILED: $Q_FAILED queues measurements failed (see $OUT/queues/raw.jsonl and the report)"
[[ ${LOSS_FAILED:-0} -eq 0 ]] || die "$LOSS_FAILED loss runs failed (see $OUT/loss/raw.jsonl and the report)"
[[ ${Q_FAILED:-0} -eq 0 && ${A_FAILED:-0} -eq 0 ]] || exit 1
