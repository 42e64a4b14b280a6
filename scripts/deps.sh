#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# scripts/deps.sh [WHAT] - install the Debian packages forkpin needs.
#
# The one list of what the harness needs. As root, what is missing is
# installed with apt-get, quietly (one line naming them; apt's output only
# if it fails); otherwise the exact apt-get line is printed and the exit
# status is 2.
# WHAT: run (default: make, make check), host (make run-host), bench.
set -eu
. "$(dirname "$0")/lib.sh"

# Build a 6.1 kernel, apply the series, boot it, build the tests.
pkgs_run="make gcc libc6-dev binutils flex bison bc perl python3 cpio xz-utils
	kmod libelf-dev libssl-dev quilt patch git ccache qemu-system-x86 rsync
	sparse
	busybox-static liburing-dev"
[ -n "${KERNEL_SRC:-}" ] || pkgs_run+=" linux-source-6.1"
pkgs_host="make gcc libc6-dev python3 liburing-dev"
pkgs_bench="$pkgs_run gnuplot-nox"

case ${1:-run} in
run) want=$pkgs_run ;;
host) want=$pkgs_host ;;
bench) want=$pkgs_bench ;;
*) die "deps.sh: unknown set '$1' (run, host, bench)" ;;
esac

command -v dpkg-query >/dev/null || { say "deps: not Debian (no dpkg-query); not checking packages"; exit 0; }
missing=
for p in $want; do
	[ "$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null)" = installed ] ||
		missing+=" $p"
done
[ -n "$missing" ] || exit 0

if [ "$(id -u)" != 0 ]; then
	echo "forkpin: error: missing packages; as root run: apt-get install -y$missing" >&2
	exit 2
fi
# One line for the set; apt's output only if it fails.
say "deps: installing the ${1:-run} set:$missing"
export DEBIAN_FRONTEND=noninteractive
log=$(mktemp)
trap 'rm -f "$log"' EXIT
apt_install() { apt-get install -y --no-install-recommends $missing >>"$log" 2>&1; }
if ! apt_install && ! { apt-get update >>"$log" 2>&1 && apt_install; }; then
	cat "$log" >&2
	die "apt-get install$missing failed (apt's output above)"
fi
