# Shared by the root veth tests. Every host lives in a network namespace created here with a
# unique name and removed by the EXIT trap; nothing touches the root namespace's links or routes.
#
#   peer namespace  $NS_PEER: $IF_PEER 10.$NET.0.1/24         (plain kernel host)
#   stack namespace $NS_SL:   $IF_SL   10.$NET.0.2/24 (kernel) + sluice owns 10.$NET.0.3
# A test that sets PLEN before sourcing this file gets that prefix length instead of 24 on
# all three addresses.
set -uo pipefail
# Under pipefail `producer | grep -q PAT` can fail although PAT was there: grep -q exits at its
# first match and a producer still writing dies of SIGPIPE. Write `producer | grep PAT >/dev/null`
# (GNU grep then reads all of its input) or `grep -q PAT <<<"$var"`.
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
SLUICE=${SLUICE_BIN:-$ROOT/build/sluice} # SLUICE_BIN: another build (the sanitizer one)
PY=/usr/bin/python3 # Debian's python3 sees python3-scapy; a pyenv python3 on PATH does not
ID=$$
NET=$((100 + ID % 100)) # 10.NET.0.0/24, inside the namespaces only
PLEN=${PLEN:-24}
NS_PEER=slt-$ID-peer
NS_SL=slt-$ID-host
IF_PEER=slp$ID
IF_SL=sls$ID
PEER_IP=10.$NET.0.1
KERNEL_IP=10.$NET.0.2
STACK_IP=10.$NET.0.3
TMP=$(mktemp -d /tmp/sluice-test.XXXXXX)
SLUICE_PID=
# SLUICE_KEEP_TMP=1: a test that fails keeps $TMP (sluice's output, captures) and says where.
TEST_FAILED=

fail() {
	echo "FAIL: $*" >&2
	TEST_FAILED=1
	exit 1
}
ok() { echo "ok: $*"; }

in_peer() { ip netns exec "$NS_PEER" "$@"; }
# nsenter --net keeps the host's /sys/fs/bpf visible (ip netns exec would hide it).
in_sl() { nsenter --net=/run/netns/"$NS_SL" "$@"; }

cleanup() {
	if [[ -n $SLUICE_PID ]] && kill -0 "$SLUICE_PID" 2>/dev/null; then
		kill -KILL "$SLUICE_PID" 2>/dev/null
		wait "$SLUICE_PID" 2>/dev/null
	fi
	in_sl "$SLUICE" detach "$IF_SL" >/dev/null 2>&1
	ip netns del "$NS_PEER" 2>/dev/null
	ip netns del "$NS_SL" 2>/dev/null
	if [[ -n ${SLUICE_KEEP_TMP:-} && -n $TEST_FAILED ]]; then
		echo "kept $TMP (SLUICE_KEEP_TMP)" >&2
	else
		rm -rf "$TMP"
	fi
}
trap cleanup EXIT

need() {
	for t in "$@"; do
		command -v "$t" >/dev/null || fail "missing tool $t (make deps installs it)"
	done
}

setup_net() {
	[[ $(id -u) -eq 0 ]] || fail "needs root"
	[[ -x $SLUICE ]] || fail "build/sluice missing (make all)"
	need ip nsenter ping arping nc ethtool
	ip netns add "$NS_PEER" || fail "cannot create namespace"
	ip netns add "$NS_SL" || fail "cannot create namespace"
	# setup_net [QUEUES]: a veth pair with QUEUES TX and RX queues on both ends (default 1).
	local q=()
	[[ -n ${1:-} ]] && q=(numtxqueues "$1" numrxqueues "$1")
	ip link add "$IF_PEER" netns "$NS_PEER" "${q[@]}" type veth \
		peer name "$IF_SL" netns "$NS_SL" "${q[@]}" || fail "cannot create veth pair"
	in_peer ip link set lo up
	in_sl ip link set lo up
	in_peer ip addr add "$PEER_IP/$PLEN" dev "$IF_PEER"
	in_sl ip addr add "$KERNEL_IP/$PLEN" dev "$IF_SL"
	# No IPv6 on the test link: its autoconfiguration chatter is noise here.
	in_peer sysctl -qw net.ipv6.conf."$IF_PEER".disable_ipv6=1
	in_sl sysctl -qw net.ipv6.conf."$IF_SL".disable_ipv6=1
	in_peer ip link set "$IF_PEER" up
	in_sl ip link set "$IF_SL" up
	# The kernel peer must finish its L4 checksums: veth otherwise leaves them partial.
	in_peer ethtool -K "$IF_PEER" tx off >/dev/null 2>&1
	in_sl ethtool -K "$IF_SL" tx off >/dev/null 2>&1
	for _ in $(seq 50); do
		in_peer ip link show "$IF_PEER" | grep 'state UP' >/dev/null && break
		sleep 0.1
	done
}

# start_sluice [extra args]: runs `sluice run` in the background and waits until it serves.
# With SLUICE_CPUS set (a taskset list), sluice runs on those CPUs only.
start_sluice() {
	local pin=()
	[[ -n ${SLUICE_CPUS:-} ]] && pin=(taskset -c "$SLUICE_CPUS")
	# nsenter (and taskset) exec, so $! is sluice itself and signals reach it directly.
	"${pin[@]}" nsenter --net=/run/netns/"$NS_SL" "$SLUICE" run "$IF_SL" --addr "$STACK_IP/$PLEN" "$@" \
		>"$TMP/run.out" 2>"$TMP/run.err" &
	SLUICE_PID=$!
	for _ in $(seq 100); do
		grep -q 'serving' "$TMP/run.err" 2>/dev/null && return 0
		kill -0 "$SLUICE_PID" 2>/dev/null || break
		sleep 0.1
	done
	cat "$TMP/run.err" >&2
	fail "sluice run did not start"
}

# stop_sluice: SIGTERM and wait; returns sluice's exit status.
stop_sluice() {
	kill -TERM "$SLUICE_PID"
	local rc=0
	wait "$SLUICE_PID" || rc=$?
	SLUICE_PID=
	return $rc
}

# stat_of NAME: a stack counter from `sluice stats --json`.
stat_of() {
	in_sl "$SLUICE" stats "$IF_SL" --json | $PY -c "
import json,sys
d=json.load(sys.stdin)
s=d['stacks'][0]['counters'] if d['stacks'] else {}
print(s.get('$1', 0))"
}
