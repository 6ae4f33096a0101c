# shellcheck shell=bash
# The A - M - B topology of the impairment relay (docs/relay.md), for root tests and benchmarks:
#
#   ns $NS_A: $IF_A 10.$NET.0.1/24 ── veth ── $IF_MA : ns $NS_M (sluice-relay) : $IF_MB ── veth ── $IF_B 10.$NET.0.2/24 : ns $NS_B
#
# Every name carries this shell's PID; the namespaces (and with them every link) are removed
# by relay_cleanup, which this file installs as the EXIT trap. A script with an EXIT trap of
# its own sets RELAY_NO_TRAP=1 before sourcing and calls relay_cleanup from its trap. Nothing
# here touches the root namespace's links or routes.
#
#   relay_setup [MTU]        build the topology (offloads off, see below; default MTU 1500)
#   relay_start [OPTIONS]    start sluice-relay $IF_MA $IF_MB OPTIONS in $NS_M, wait until it
#                            relays; $RELAY_PID is the relay process itself (RELAY_CPU=N pins
#                            it to CPU N)
#   relay_stop               SIGTERM it, wait, require exit 0; its JSON lines are in $RELAY_OUT
#   relay_stat DIR NAME      a counter of the last stopped run (DIR ab: A->B, ba: B->A)
#   in_a / in_m / in_b CMD   run CMD in that namespace
set -uo pipefail
RELAY_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
RELAY=${RELAY:-$RELAY_ROOT/build/sluice-relay}
RELAY_PY=/usr/bin/python3 # Debian's python3; a pyenv python3 on PATH lacks Debian's modules
RID=$$
NET=${NET:-$((100 + RID % 100))} # 10.NET.0.0/24 exists only inside the namespaces
NS_A=slr-$RID-a
NS_M=slr-$RID-m
NS_B=slr-$RID-b
IF_A=ra$RID
IF_MA=rma$RID
IF_MB=rmb$RID
IF_B=rb$RID
A_IP=10.$NET.0.1
B_IP=10.$NET.0.2
RELAY_TMP=$(mktemp -d /tmp/sluice-relay.XXXXXX)
RELAY_OUT=$RELAY_TMP/relay.out
RELAY_ERR=$RELAY_TMP/relay.err
RELAY_PID=

declare -F fail >/dev/null || fail() {
	echo "FAIL: $*" >&2
	exit 1
}
declare -F ok >/dev/null || ok() { echo "ok: $*"; }
declare -F need >/dev/null || need() {
	for t in "$@"; do
		command -v "$t" >/dev/null || fail "missing tool $t (make deps installs it)"
	done
}

in_a() { ip netns exec "$NS_A" "$@"; }
in_m() { ip netns exec "$NS_M" "$@"; }
in_b() { ip netns exec "$NS_B" "$@"; }

relay_cleanup() {
	if [[ -n $RELAY_PID ]] && kill -0 "$RELAY_PID" 2>/dev/null; then
		kill -KILL "$RELAY_PID" 2>/dev/null
		wait "$RELAY_PID" 2>/dev/null
	fi
	RELAY_PID=
	# Whatever a test left running in its namespaces, ended by id before they go.
	local ns pids
	for ns in "$NS_A" "$NS_M" "$NS_B"; do
		pids=$(ip netns pids "$ns" 2>/dev/null)
		[[ -n $pids ]] && kill -KILL $pids 2>/dev/null
	done
	for ns in "$NS_A" "$NS_M" "$NS_B"; do
		ip netns del "$ns" 2>/dev/null
	done
	rm -rf "$RELAY_TMP"
}
[[ -n ${RELAY_NO_TRAP:-} ]] || trap relay_cleanup EXIT

relay_setup() {
	local mtu=${1:-1500} ns
	[[ $(id -u) -eq 0 ]] || fail "needs root (network namespaces, AF_PACKET)"
	[[ -x $RELAY ]] || fail "$RELAY missing (make all builds it)"
	need ip nsenter ethtool sysctl
	for ns in "$NS_A" "$NS_M" "$NS_B"; do
		ip netns add "$ns" || fail "cannot create namespace $ns"
		ip -n "$ns" link set lo up
	done
	ip link add "$IF_A" netns "$NS_A" type veth peer name "$IF_MA" netns "$NS_M" ||
		fail "cannot create veth pair $IF_A/$IF_MA"
	ip link add "$IF_B" netns "$NS_B" type veth peer name "$IF_MB" netns "$NS_M" ||
		fail "cannot create veth pair $IF_B/$IF_MB"
	local pair
	for pair in "$NS_A:$IF_A" "$NS_M:$IF_MA" "$NS_M:$IF_MB" "$NS_B:$IF_B"; do
		ns=${pair%%:*}
		local dev=${pair#*:}
		ip -n "$ns" link set "$dev" mtu "$mtu" || fail "$dev: cannot set MTU $mtu"
		# No IPv6: its autoconfiguration chatter is noise here (M must stay silent: the
		# relay does not see what M's kernel sends, so it would reach A and B directly).
		ip netns exec "$ns" sysctl -qw net.ipv6.conf."$dev".disable_ipv6=1
		# Loss must hit MTU-sized frames, as on a wire: no TSO/GSO super-frames from the
		# endpoints, no GRO merging on the relay's ports. tx off: the kernel must finish
		# its L4 checksums, since the relay forwards bytes as they are.
		ip netns exec "$ns" ethtool -K "$dev" tx off tso off gso off gro off >/dev/null 2>&1 ||
			fail "$dev: ethtool -K tx off tso off gso off gro off failed"
	done
	ip -n "$NS_A" addr add "$A_IP/24" dev "$IF_A"
	ip -n "$NS_B" addr add "$B_IP/24" dev "$IF_B"
	for pair in "$NS_A:$IF_A" "$NS_M:$IF_MA" "$NS_M:$IF_MB" "$NS_B:$IF_B"; do
		ip -n "${pair%%:*}" link set "${pair#*:}" up
	done
	for _ in $(seq 50); do
		ip -n "$NS_A" link show "$IF_A" | grep 'state UP' >/dev/null &&
			ip -n "$NS_B" link show "$IF_B" | grep 'state UP' >/dev/null && return 0
		sleep 0.1
	done
	fail "links did not come up"
}

relay_start() {
	[[ -z $RELAY_PID ]] || fail "relay_start: a relay is running already (pid $RELAY_PID)"
	: >"$RELAY_OUT"
	: >"$RELAY_ERR"
	# nsenter (and taskset) exec the relay: $! is the relay itself, so signals reach it.
	local pin=()
	[[ -n ${RELAY_CPU:-} ]] && pin=(taskset -c "$RELAY_CPU")
	"${pin[@]}" nsenter --net=/run/netns/"$NS_M" "$RELAY" "$IF_MA" "$IF_MB" "$@" >"$RELAY_OUT" 2>"$RELAY_ERR" &
	RELAY_PID=$!
	for _ in $(seq 100); do
		grep -q 'relaying' "$RELAY_ERR" 2>/dev/null && return 0
		kill -0 "$RELAY_PID" 2>/dev/null || break
		sleep 0.05
	done
	cat "$RELAY_ERR" >&2
	RELAY_PID=
	fail "sluice-relay did not start: $*"
}

relay_stop() {
	[[ -n $RELAY_PID ]] || fail "relay_stop: no relay running"
	kill -TERM "$RELAY_PID"
	local rc=0
	wait "$RELAY_PID" || rc=$?
	RELAY_PID=
	[[ $rc -eq 0 ]] || {
		cat "$RELAY_ERR" >&2
		fail "sluice-relay exited with status $rc on SIGTERM"
	}
	[[ $(grep -c '^{' "$RELAY_OUT") -eq 2 ]] || {
		cat "$RELAY_OUT" "$RELAY_ERR" >&2
		fail "sluice-relay did not print one JSON line per direction"
	}
}

relay_stat() {
	$RELAY_PY -c '
import json, sys
for line in open(sys.argv[1]):
    d = json.loads(line)
    if d["dir"] == sys.argv[2]:
        print(d[sys.argv[3]])
' "$RELAY_OUT" "$1" "$2"
}
