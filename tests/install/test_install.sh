#!/usr/bin/env bash
# `make install` as a packager and a user see it: install into a DESTDIR tree, then, with
# nothing but pkg-config pointed into that tree, build tests/install/app.c shared and static
# and run both; check the shared library's soname and that it exports exactly the functions
# the public headers declare, the pkg-config version, the CLI's --version, every man page
# (groff and man warnings, one page per header documenting each of its functions, one alias
# per function), the installed example; then `make uninstall` must leave no file behind.
# Needs no root. Anything missing is a failure with its reason, never a skip.
set -uo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
fail() {
	echo "FAIL: $*" >&2
	exit 1
}
ok() { echo "ok: $*"; }
for t in make cc pkg-config nm readelf ldd groff man; do
	command -v $t >/dev/null || fail "$t is not installed (make deps installs it)"
done

VERSION=$(cat VERSION) || fail "no VERSION file"
MAJOR=${VERSION%%.*}
[[ $VERSION =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]] || fail "VERSION '$VERSION' is not MAJOR.MINOR.PATCH"
TMP=$(mktemp -d /tmp/sluice-install.XXXXXX)
trap 'rm -rf "$TMP"' EXIT
D=$TMP/root
P=$D/usr

make -j1 install DESTDIR="$D" PREFIX=/usr >"$TMP/install.log" 2>&1 ||
	{ tail -n 30 "$TMP/install.log"; fail "make install DESTDIR=$D PREFIX=/usr"; }

# --- the files ---
expect_file() { [[ -f $1 ]] || fail "make install did not install ${1#"$D"}"; }
expect_link() { # link target
	[[ -L $1 ]] || fail "${1#"$D"} is not a symlink"
	[[ $(readlink "$1") == "$2" ]] || fail "${1#"$D"} points to $(readlink "$1"), want $2"
}
expect_file "$P/sbin/sluice"
expect_file "$P/lib/libsluice.a"
expect_file "$P/lib/libsluice.so.$VERSION"
expect_link "$P/lib/libsluice.so.$MAJOR" "libsluice.so.$VERSION"
expect_link "$P/lib/libsluice.so" "libsluice.so.$MAJOR"
expect_file "$P/lib/pkgconfig/sluice.pc"
expect_file "$P/lib/sluice/libsluice-preload.so" # sluice exec's LD_PRELOAD shim
expect_file "$P/share/man/man8/sluice.8"
for h in include/sluice/*.h; do
	cmp -s "$h" "$P/include/sluice/${h##*/}" || fail "header ${h##*/} not installed (or differs)"
done
for e in docs/examples/*.c; do
	expect_file "$P/share/doc/sluice/examples/${e##*/}"
done
ok "files installed"

# --- the shared library ---
SO=$P/lib/libsluice.so.$VERSION
soname=$(readelf -d "$SO" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
[[ $soname == "libsluice.so.$MAJOR" ]] || fail "soname is '$soname', want libsluice.so.$MAJOR"
readelf -h "$SO" | grep >/dev/null 'Type:.*DYN' || fail "$SO is not a shared object"
nm -D --defined-only "$SO" | awk '{print $NF}' | sort -u >"$TMP/exported"
bash tools/api-symbols.sh | awk '{print $1}' >"$TMP/api" || fail "tools/api-symbols.sh"
[[ $(wc -l <"$TMP/api") -gt 50 ]] || fail "only $(wc -l <"$TMP/api") public functions found"
bad=$(grep -v '^sl_' "$TMP/exported" | tr '\n' ' ')
[[ -z $bad ]] || fail "the library exports symbols outside the sl_ API: $bad"
extra=$(comm -13 "$TMP/api" "$TMP/exported" | tr '\n' ' ')
[[ -z $extra ]] || fail "exported but declared in no public header: $extra"
missing=$(comm -23 "$TMP/api" "$TMP/exported" | tr '\n' ' ')
[[ -z $missing ]] || fail "declared in a public header but not exported: $missing"
while read -r s; do
	grep -qE "\b$s[[:space:]]*\(" "$P"/include/sluice/*.h || fail "$s is exported but no installed header declares it"
done <"$TMP/exported"
ok "soname libsluice.so.$MAJOR; exports exactly the $(wc -l <"$TMP/exported") public functions"

# --- pkg-config, from the DESTDIR tree only ---
export PKG_CONFIG_PATH=$P/lib/pkgconfig PKG_CONFIG_SYSROOT_DIR=$D
v=$(pkg-config --modversion sluice) || fail "pkg-config cannot read sluice.pc"
[[ $v == "$VERSION" ]] || fail "sluice.pc says version $v, want $VERSION"
pkg-config --print-requires-private sluice | grep >/dev/null libxdp || fail "sluice.pc lacks Requires.private libxdp"
CFL=$(pkg-config --cflags sluice)
LIBS=$(pkg-config --libs sluice)
SLIBS=$(pkg-config --static --libs sluice)
[[ $CFL == *"-I$P/include"* ]] || fail "pkg-config --cflags '$CFL' does not point into the tree"
echo "cflags: $CFL"
echo "libs: $LIBS"
echo "static libs: $SLIBS"

cat >"$TMP/want" <<'OUT'
ip 10.9.0.1 2001:db8::1 v4=1
parse bad: Invalid argument
config default: 0
config bad: Invalid argument
udp write: 0
echo from 10.9.0.2:7: hello
arp requests sent by a: 2
frames back: all
OUT
run_app() { # name binary [env...]
	local name=$1 bin=$2
	shift 2
	env "$@" "$bin" >"$TMP/$name.out" 2>&1 || { cat "$TMP/$name.out"; fail "$name program exited $?"; }
	diff -u "$TMP/want" "$TMP/$name.out" || fail "$name program printed something else"
}

# Shared: the program needs libsluice.so.MAJOR and finds it in the tree.
# shellcheck disable=SC2086 # pkg-config output is words
cc -Wall -Wextra -Werror -o "$TMP/app-shared" tests/install/app.c $CFL $LIBS ||
	fail "cannot build a program with \$(pkg-config --cflags --libs sluice)"
readelf -d "$TMP/app-shared" | grep >/dev/null "NEEDED.*\[libsluice.so.$MAJOR\]" ||
	fail "shared program does not need libsluice.so.$MAJOR: $(readelf -d "$TMP/app-shared" | grep NEEDED)"
LD_LIBRARY_PATH=$P/lib ldd "$TMP/app-shared" | grep >/dev/null "libsluice.so.$MAJOR => $P/lib/libsluice.so.$MAJOR" ||
	fail "ldd does not resolve libsluice.so.$MAJOR into the tree: $(LD_LIBRARY_PATH=$P/lib ldd "$TMP/app-shared")"
run_app shared "$TMP/app-shared" LD_LIBRARY_PATH="$P/lib"
ok "shared: built with pkg-config, needs libsluice.so.$MAJOR, runs"

# Static, all of it (-static): proves Libs.private / Requires.private name everything.
# shellcheck disable=SC2086
cc -static -Wall -Wextra -Werror -o "$TMP/app-static" tests/install/app.c $CFL $SLIBS ||
	fail "cannot link statically with \$(pkg-config --static --libs sluice)"
readelf -d "$TMP/app-static" 2>&1 | grep >/dev/null 'no dynamic section' || fail "the -static program is dynamic"
run_app static "$TMP/app-static"
# libsluice.a only, the system's libraries shared (what -lsluice cannot ask for when the .so
# is beside the .a: the linker prefers the .so).
# shellcheck disable=SC2086
cc -Wall -Wextra -Werror -o "$TMP/app-mixed" tests/install/app.c $CFL \
	${SLIBS/-lsluice/-l:libsluice.a} || fail "cannot link with -l:libsluice.a and the static libs"
readelf -d "$TMP/app-mixed" | grep >/dev/null 'libsluice' && fail "the program linked with libsluice.a needs libsluice.so"
run_app mixed "$TMP/app-mixed"
ok "static: -static and libsluice.a alone, both run"

# The installed example builds from the tree the same way and answers a usage error.
for e in "$P"/share/doc/sluice/examples/*.c; do
	n=$(basename "$e" .c)
	# shellcheck disable=SC2086
	cc -Wall -Werror -o "$TMP/ex-$n" "$e" $CFL $LIBS || fail "installed example $n.c does not build"
done
rc=0
LD_LIBRARY_PATH=$P/lib "$TMP/ex-udp_echo" >/dev/null 2>&1 || rc=$?
[[ $rc -eq 2 ]] || fail "udp_echo without arguments exited $rc, want 2 (usage)"
ok "installed examples build with pkg-config"

out=$("$P/sbin/sluice" --version) || fail "sluice --version failed"
[[ $out == "sluice $VERSION" ]] || fail "sluice --version says '$out', want 'sluice $VERSION'"
grep -qF -- '\-\-version' "$P/share/man/man8/sluice.8" || fail "sluice(8) does not document --version"
ok "sluice --version: $out"

# --- man pages ---
M=$P/share/man
pages=("$M/man8/sluice.8")
for h in include/sluice/*.h; do
	b=$(basename "$h" .h)
	[[ $b == sluice ]] && p=$M/man3/sluice.3 || p=$M/man3/sluice_$b.3
	[[ -f $p ]] || fail "no section-3 page for sluice/$b.h (want ${p#"$D"})"
	pages+=("$p")
done
for p in "${pages[@]}"; do
	w=$(groff -man -ww -z "$p" 2>&1) || fail "groff fails on ${p##*/}: $w"
	[[ -z $w ]] || fail "groff warns about ${p##*/}: $w"
	w=$(LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -l "$p" 2>&1 >/dev/null) || fail "man fails on ${p##*/}: $w"
	[[ -z $w ]] || fail "man warns about ${p##*/}: $w"
	grep -q '^\.SH "\?SEE ALSO' "$p" || fail "${p##*/} has no SEE ALSO section"
done
# Each public function has an alias page naming its header's page, and that page names it.
bash tools/api-symbols.sh | while read -r fn hdr; do
	a=$M/man3/$fn.3
	[[ -f $a ]] || fail "no man page alias for $fn"
	[[ $(cat "$a") == ".so man3/sluice_$hdr.3" ]] || fail "$fn.3 says '$(cat "$a")'"
	grep -q "\b$fn\b" "$M/man3/sluice_$hdr.3" || fail "sluice_$hdr(3) does not document $fn"
done || exit 1
ok "${#pages[@]} man pages without warnings; every function has a page"

# --- uninstall ---
make -j1 uninstall DESTDIR="$D" PREFIX=/usr >"$TMP/uninstall.log" 2>&1 ||
	{ tail -n 30 "$TMP/uninstall.log"; fail "make uninstall"; }
left=$(find "$D" ! -type d)
[[ -z $left ]] || fail "make uninstall left files behind: $left"
left=$(find "$D" -type d -name '*sluice*')
[[ -z $left ]] || fail "make uninstall left directories behind: $left"
ok "make uninstall removed everything"
