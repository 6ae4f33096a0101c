#!/usr/bin/env bash
# The CLI from `ip netns exec` (issue 9, item 1). Each `ip netns exec` gives its command a
# /sys of its own, so pins another invocation made under /sys/fs/bpf are not visible: the
# CLI must find the gate through the interface (the attached program's maps). Every step is
# a separate `ip netns exec` invocation: attach, flow add/list/del (text and --json), run,
# stats --json (gate and stack counters), detach.
source "$(dirname "$0")/lib.sh"
setup_net
nsx() { ip netns exec "$NS_SL" "$SLUICE" "$@"; }

nsx attach "$IF_SL" >"$TMP/a.out" 2>&1 || fail "ip netns exec … sluice attach: $(cat "$TMP/a.out")"
ok "attach from ip netns exec"
out=$(nsx flow add "$IF_SL" proto tcp port 8080 2>&1) || fail "flow add from a second ip netns exec: $out"
id=$(sed -n 's/^added flow \([0-9]*\).*/\1/p' <<<"$out")
[[ -n $id ]] || fail "flow add printed no id: $out"
ok "flow add from a separate ip netns exec: $out"
nsx flow list "$IF_SL" --json >"$TMP/l.json" 2>"$TMP/l.err" || fail "flow list --json: $(cat "$TMP/l.err")"
$PY - "$TMP/l.json" "$id" <<'PYEOF' || fail "flow list --json does not show the rule: $(cat "$TMP/l.json")"
import json, sys
d = json.load(open(sys.argv[1]))
rules = d["flows"] if isinstance(d, dict) and "flows" in d else d
assert any(str(r.get("id")) == sys.argv[2] and r.get("port") == 8080 for r in rules), rules
PYEOF
ok "flow list --json shows flow $id"
nsx flow list "$IF_SL" | grep 8080 >/dev/null || fail "flow list (text) does not show port 8080"
nsx stats "$IF_SL" --json >"$TMP/s.json" 2>"$TMP/s.err" || fail "stats --json: $(cat "$TMP/s.err")"
$PY -c 'import json,sys; d=json.load(open(sys.argv[1])); assert "gate" in d, d' "$TMP/s.json" ||
	fail "stats --json has no gate counters: $(cat "$TMP/s.json")"
ok "stats --json from ip netns exec"
nsx flow del "$IF_SL" "$id" >/dev/null 2>&1 || fail "flow del $id"
nsx flow list "$IF_SL" | grep 8080 >/dev/null && fail "flow $id still listed after flow del"
ok "flow del from ip netns exec"

# A stack run from ip netns exec, read by another ip netns exec.
ip netns exec "$NS_SL" "$SLUICE" run "$IF_SL" --addr "$STACK_IP/24" --udp-echo 7 \
	>"$TMP/run.out" 2>"$TMP/run.err" &
SLUICE_PID=$!
for _ in $(seq 50); do
	grep -q serving "$TMP/run.err" && break
	sleep 0.1
done
grep -q serving "$TMP/run.err" || fail "sluice run from ip netns exec: $(cat "$TMP/run.err")"
in_peer $PY - "$STACK_IP" <<'PYEOF' || fail "UDP echo through the stack"
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(2)
s.connect((sys.argv[1], 7))
for i in range(5):
    s.send(b"ping %d" % i)
    assert s.recv(100) == b"ping %d" % i
PYEOF
nsx stats "$IF_SL" --json >"$TMP/s2.json" 2>"$TMP/s2.err" || fail "stats --json during run: $(cat "$TMP/s2.err")"
$PY - "$TMP/s2.json" <<'PYEOF' || fail "stats --json does not show the stack: $(cat "$TMP/s2.json")"
import json, sys
d = json.load(open(sys.argv[1]))
st = d["stacks"]
assert len(st) == 1 and st[0]["counters"]["udp_rx"] >= 5, st
PYEOF
ok "a stack run from ip netns exec: echo works, another ip netns exec reads its counters"
kill -TERM "$SLUICE_PID"
wait "$SLUICE_PID" || fail "sluice run exited non-zero: $(tail -2 "$TMP/run.err")"
SLUICE_PID=
nsx detach "$IF_SL" >"$TMP/d.out" 2>&1 || fail "detach from ip netns exec: $(cat "$TMP/d.out")"
ok "detach from ip netns exec"

# Stale pins: a gate attached (with pins, through nsenter) in a namespace that is then
# deleted leaves its pin directory behind; the next attach anywhere removes it.
NS_X=slt-$ID-x
trap 'ip netns del "$NS_X" 2>/dev/null; cleanup' EXIT
ip netns add "$NS_X" || fail "cannot create $NS_X"
ip -n "$NS_X" link add slx$ID type veth peer name sly$ID || fail "veth in $NS_X"
ip -n "$NS_X" link set slx$ID up
ip -n "$NS_X" link set sly$ID up
ino=$(stat -L -c %i /run/netns/"$NS_X")
nsenter --net=/run/netns/"$NS_X" "$SLUICE" attach slx$ID >/dev/null 2>&1 || fail "attach in $NS_X"
stale=/sys/fs/bpf/sluice/$ino/slx$ID
[[ -d $stale ]] || fail "no pin directory $stale after attach in $NS_X"
ip netns del "$NS_X"
for _ in $(seq 50); do # the namespace goes once nothing holds it
	[[ -e /proc/self/ns/net && ! -e /run/netns/$NS_X ]] && break
	sleep 0.1
done
[[ -d $stale ]] || fail "the pin directory went with the namespace already (nothing to test)"
in_sl "$SLUICE" attach "$IF_SL" >/dev/null 2>&1 || fail "attach $IF_SL"
[[ -d $stale ]] && fail "stale pin directory $stale (namespace deleted) still there after attach"
ok "attach removed the pins of a deleted namespace ($stale)"
in_sl "$SLUICE" detach "$IF_SL" >/dev/null 2>&1
