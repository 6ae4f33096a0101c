#!/usr/bin/env bash
# `make run`: a demo network in namespaces this script creates and removes.
#
#   peer  (kernel host)   slp<pid> 10.200.0.1/24
#     │ veth
#   host  (shared NIC)    sls<pid> 10.200.0.2/24 ← the kernel keeps this address
#                                  10.200.0.3    ← the sluice stack serves this one
#
# Walks a short tour, then serves until Ctrl-C or for DURATION seconds (first argument).
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
SLUICE=$ROOT/build/sluice
DURATION=${1:-${DURATION:-}}
ID=$$
NS_PEER=sluice-demo-$ID-peer
NS_SL=sluice-demo-$ID-host
IF_PEER=slp$ID
IF_SL=sls$ID
PEER_IP=10.200.0.1 KERNEL_IP=10.200.0.2 STACK_IP=10.200.0.3
PID=

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
peer() { nsenter --net=/run/netns/"$NS_PEER" "$@"; }
host() { nsenter --net=/run/netns/"$NS_SL" "$@"; }

cleanup() {
	trap - INT TERM EXIT
	if [[ -n $PID ]] && kill -0 "$PID" 2>/dev/null; then
		kill -TERM "$PID"
		wait "$PID"
	fi
	host "$SLUICE" detach "$IF_SL" >/dev/null 2>&1
	ip netns del "$NS_PEER" 2>/dev/null
	ip netns del "$NS_SL" 2>/dev/null
	echo "demo: removed namespaces $NS_PEER and $NS_SL"
}

if [[ $(id -u) -ne 0 ]]; then
	command -v sudo >/dev/null && exec sudo "$0" "$@"
	echo "demo: needs root (network namespaces, XDP); run as root" >&2
	exit 1
fi
trap cleanup EXIT
trap 'exit 130' INT TERM

ip netns add "$NS_PEER" && ip netns add "$NS_SL" || exit 1
ip link add "$IF_PEER" netns "$NS_PEER" type veth peer name "$IF_SL" netns "$NS_SL" || exit 1
for ns in "$NS_PEER" "$NS_SL"; do nsenter --net=/run/netns/$ns ip link set lo up; done
peer ip addr add $PEER_IP/24 dev "$IF_PEER"
host ip addr add $KERNEL_IP/24 dev "$IF_SL"
peer sysctl -qw net.ipv6.conf."$IF_PEER".disable_ipv6=1
host sysctl -qw net.ipv6.conf."$IF_SL".disable_ipv6=1
peer ip link set "$IF_PEER" up
host ip link set "$IF_SL" up
peer ethtool -K "$IF_PEER" tx off >/dev/null 2>&1 # finish L4 checksums before veth
host ethtool -K "$IF_SL" tx off >/dev/null 2>&1

say "demo network: $NS_PEER ($PEER_IP) <-veth-> $NS_SL (kernel $KERNEL_IP, sluice $STACK_IP)"
nsenter --net=/run/netns/"$NS_SL" "$SLUICE" run "$IF_SL" --addr $STACK_IP/24 \
	--udp-echo 7 --tcp-echo 7 --http 80 &
PID=$!
for _ in $(seq 50); do
	host "$SLUICE" stats "$IF_SL" --json 2>/dev/null | grep -q '"pid"' && break
	sleep 0.1
done

say "ping the sluice stack ($STACK_IP) from the peer"
peer ping -c 5 -i 0.2 $STACK_IP
say "ping the kernel's own address ($KERNEL_IP) on the same interface"
peer ping -c 3 -i 0.2 $KERNEL_IP
say "arping the stack: the answer carries the interface's MAC"
peer arping -c 2 -w 3 -I "$IF_PEER" $STACK_IP
say "HTTP from the stack: curl http://$STACK_IP/"
peer curl -s --max-time 5 http://$STACK_IP/
say "TCP and UDP echo on port 7"
echo "hello over TCP" | peer timeout 5 nc -q 1 $STACK_IP 7
echo "hello over UDP" | peer timeout 5 socat -T 1 - UDP:$STACK_IP:7
say "sluice flow list $IF_SL"
host "$SLUICE" flow list "$IF_SL"
say "sluice stats $IF_SL"
host "$SLUICE" stats "$IF_SL"

if [[ -n $DURATION ]]; then
	say "serving for $DURATION s (try: ip netns exec $NS_PEER curl http://$STACK_IP/)"
	sleep "$DURATION"
else
	say "serving until Ctrl-C (try: ip netns exec $NS_PEER curl http://$STACK_IP/bytes/1000)"
	wait "$PID"
fi
