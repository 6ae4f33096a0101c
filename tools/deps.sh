#!/usr/bin/env bash
# Install the Debian packages given as arguments that are not installed yet.
# Idempotent: when everything is present it prints nothing and touches nothing.
set -euo pipefail
missing=()
for p in "$@"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "deps: installing missing Debian packages: ${missing[*]}"
if [ "$(id -u)" -eq 0 ]; then
	run=()
elif command -v sudo >/dev/null; then
	run=(sudo)
else
	echo "deps: need root to install ${missing[*]} (no sudo on this machine); run as root" >&2
	exit 1
fi
export DEBIAN_FRONTEND=noninteractive
"${run[@]}" apt-get update -q
"${run[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"
