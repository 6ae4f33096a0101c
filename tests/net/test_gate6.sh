#!/usr/bin/env bash
# IPv6 in the gate (docs/gate.md): port and tuple rules, the extension-header walk and its
# bound, fragments, neighbour discovery for owned addresses, and what stays with the kernel.
#   1. tests/net/gate6.py: ~60 crafted frames (scapy) run through the attached program with
#      BPF_PROG_TEST_RUN (tests/net/gate_run.c), rules installed through the library; the
#      gate's counters and the per-rule counters say what matched.
#   2. the CLI: flow add/list/del with IPv6 addresses, errors for malformed ones.
#   3. live: the kernel peer's neighbour solicitation for an owned IPv6 address reaches the
#      owned rule, while the kernel's own IPv6 address keeps answering ping.
source "$(dirname "$0")/lib.sh"
setup_net
[[ -f $ROOT/build/libsluice.a ]] || fail "build/libsluice.a missing (make all)"
$PY -c 'import scapy' 2>/dev/null || fail "scapy missing for $PY (make deps installs python3-scapy)"

RUN=$TMP/gate_run
cc -O2 -g -Wall -Wextra -Werror -I"$ROOT/include" -I"$ROOT/bpf" -o "$RUN" \
	"$ROOT/tests/net/gate_run.c" "$ROOT/build/libsluice.a" -lbpf -lelf -lz ||
	fail "cannot build tests/net/gate_run.c"

S() { in_sl "$SLUICE" "$@"; }
expect() { # expect STATUS PATTERN -- command...
	local want=$1 pat=$2
	shift 3
	local out rc=0
	out=$("$@" 2>&1) || rc=$?
	[[ $rc -eq $want ]] || fail "'$*' exited $rc, want $want: $out"
	[[ -z $pat ]] || grep -qE -- "$pat" <<<"$out" || fail "'$*' said '$out', want /$pat/"
}

S attach "$IF_SL" >/dev/null || fail "attach (does the verifier accept the gate?)"

# --- 1. frames through BPF_PROG_TEST_RUN ------------------------------------------------------
# The peer's end is down meanwhile, so no real frame moves the counters between two reads.
in_peer ip link set "$IF_PEER" down
$PY "$ROOT/tests/net/gate6.py" "nsenter --net=/run/netns/$NS_SL $RUN $IF_SL" "$NET" ||
	fail "gate policy (tests/net/gate6.py)"
ok "IPv6 and IPv4 frames through the attached gate: rules, ext headers, fragments, NS/NA"
# The tuple rules gate6.py made through the library, as the CLI lists them.
S flow list "$IF_SL" >"$TMP/tuples.txt" || fail "flow list"
grep -qE '^[0-9]+ +tuple +tcp +fd00:6::2 +8080 .*  \[fd00:6::1\]:40000$' "$TMP/tuples.txt" ||
	fail "flow list: IPv6 tuple: $(cat "$TMP/tuples.txt")"
grep -qE "^[0-9]+ +tuple +udp +10\.$NET\.0\.2 +9000 .*  10\.$NET\.0\.1:9001$" "$TMP/tuples.txt" ||
	fail "flow list: IPv4 tuple: $(cat "$TMP/tuples.txt")"
S flow list "$IF_SL" --json | $PY -c "
import json,sys
t=[x for x in json.load(sys.stdin)['flows'] if x['kind']=='tuple' and x['proto']=='tcp']
assert len(t)==1 and t[0]['addr']=='fd00:6::2' and t[0]['raddr']=='fd00:6::1' and t[0]['rport']==40000 and t[0]['packets']==1, t
" || fail "flow list --json: IPv6 tuple"
ok "flow list shows the IPv6 tuple as [addr]:port and its one matched packet"
S detach "$IF_SL" >/dev/null || fail "detach"
in_peer ip link set "$IF_PEER" up

# --- 2. the CLI -----------------------------------------------------------------------------
S attach "$IF_SL" >/dev/null || fail "attach"
expect 0 "added flow 1" -- S flow add "$IF_SL" addr fd00:6:0:0::9
expect 0 "added flow 2" -- S flow add "$IF_SL" addr fd00:6::2 proto tcp port 443
expect 0 "added flow 3" -- S flow add "$IF_SL" proto icmp6 addr fd00:6::3
expect 1 "flow already exists" -- S flow add "$IF_SL" proto icmpv6 addr fd00:6::3
expect 0 "added flow 4" -- S flow add "$IF_SL" proto udp port 5353
expect 0 "added flow 5" -- S flow add "$IF_SL" proto icmp addr "$KERNEL_IP"
expect 2 "malformed address 'fd00::zz'" -- S flow add "$IF_SL" addr fd00::zz
expect 2 "malformed address 'fe80::1%lo'" -- S flow add "$IF_SL" addr fe80::1%lo
expect 2 "malformed address '1.2.3'" -- S flow add "$IF_SL" addr 1.2.3
expect 2 "address :: cannot" -- S flow add "$IF_SL" addr ::
expect 2 "icmp6" -- S flow add "$IF_SL" proto icmp addr fd00:6::3
expect 2 "icmp" -- S flow add "$IF_SL" proto icmp6 addr "$KERNEL_IP"
expect 2 "no ports" -- S flow add "$IF_SL" proto icmp6 port 7
expect 2 "proto must be" -- S flow add "$IF_SL" proto sctp port 7
S flow list "$IF_SL" --json >"$TMP/list.json" || fail "flow list --json"
$PY -c "
import json,sys
d=json.load(open('$TMP/list.json'))
f={x['id']:x for x in d['flows']}
assert set(f)=={1,2,3,4,5}, f
assert f[1]['kind']=='owned' and f[1]['addr']=='fd00:6::9' and f[1]['proto'] is None, f[1]
assert f[2]['kind']=='port' and f[2]['proto']=='tcp' and f[2]['addr']=='fd00:6::2' and f[2]['port']==443, f[2]
assert f[3]['proto']=='icmpv6' and f[3]['addr']=='fd00:6::3' and f[3]['port'] is None, f[3]
assert f[4]['addr'] is None and f[4]['port']==5353, f[4]
assert f[5]['proto']=='icmp' and f[5]['addr']=='$KERNEL_IP' and f[5]['port'] is None, f[5]
" || fail "flow list --json: $(cat "$TMP/list.json")"
S flow list "$IF_SL" >"$TMP/list.txt" || fail "flow list"
grep -qE '^1 +owned +- +fd00:6::9 ' "$TMP/list.txt" || fail "flow list: $(cat "$TMP/list.txt")"
grep -qE '^2 +port +tcp +fd00:6::2 +443 ' "$TMP/list.txt" || fail "flow list: $(cat "$TMP/list.txt")"
grep -qE '^3 +port +icmpv6 +fd00:6::3 +- ' "$TMP/list.txt" || fail "flow list: $(cat "$TMP/list.txt")"
expect 0 "deleted flow 2" -- S flow del "$IF_SL" 2
expect 0 "deleted flow 3" -- S flow del "$IF_SL" 3
S flow list "$IF_SL" --json | $PY -c "
import json,sys
assert sorted(x['id'] for x in json.load(sys.stdin)['flows'])==[1,4,5]" || fail "flow del"
expect 0 "added flow 2" -- S flow add "$IF_SL" addr fd00:6::2 proto tcp port 443
ok "CLI: IPv6 owned, port and icmp6 flows added, listed in RFC 5952 form, deleted; errors"

# --- 3. live neighbour discovery --------------------------------------------------------------
# IPv6 on the link now, without DAD (nodad) so the addresses are usable at once.
in_peer sysctl -qw net.ipv6.conf."$IF_PEER".disable_ipv6=0
in_sl sysctl -qw net.ipv6.conf."$IF_SL".disable_ipv6=0
in_peer ip addr add fd00:6::1/64 dev "$IF_PEER" nodad
in_sl ip addr add fd00:6::2/64 dev "$IF_SL" nodad
sleep 0.5
in_peer ping -6 -c 2 -i 0.2 -W 2 fd00:6::2 >/dev/null ||
	fail "the kernel's own IPv6 address does not answer with the gate attached"
# fd00:6::9 is owned but no stack runs: the peer's solicitations match flow 1, are passed
# (no_socket), and the kernel, which does not hold fd00:6::9, ignores them.
in_peer ping -6 -c 1 -W 2 fd00:6::9 >/dev/null 2>&1
S flow list "$IF_SL" --json | $PY -c "
import json,sys
f={x['id']:x for x in json.load(sys.stdin)['flows']}
assert f[1]['packets']>=1, f[1]
" || fail "no neighbour solicitation for the owned fd00:6::9 matched its rule"
S stats "$IF_SL" --json | $PY -c "
import json,sys
g=json.load(sys.stdin)['gate']
assert g['no_socket']>=1, g
assert sum(g[k] for k in ('redirected','passed','no_socket','redirect_failed','parse_error','non_ip'))==g['rx'], g
assert 'ext_chain_too_long' in g, g
" || fail "stats --json after live IPv6"
ok "live: NS for an owned IPv6 address matched its rule; the kernel's IPv6 address answers"

expect 0 "" -- S detach "$IF_SL"
