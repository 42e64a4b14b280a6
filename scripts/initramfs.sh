#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# scripts/initramfs.sh FLAVOR - the guest's initramfs: busybox-static, the
# selftests, the list of tests to run (TESTS=, default all) with their
# timeouts, scripts/guest-init.sh as /init and the runner it calls,
# scripts/run-tests.sh. Written with the kernel's own usr/gen_init_cpio,
# into INITRAMFS_DIR (default: the flavor's directory; make bench uses
# its own).
# TESTS may also name a built, not-run program (TEST_GEN_FILES: the
# benchmark).
set -eu
. "$(dirname "$0")/lib.sh"

flavor=${1:-patched}
dir=$(flavor_dir "$flavor")
obj=$dir/obj tests=$dir/selftests
busybox=${BUSYBOX:-/bin/busybox}
[ -f "$tests/.programs" ] || die "no selftests in $tests (run: make selftests FLAVOR=$flavor)"
readelf -d "$busybox" 2>/dev/null | grep -q NEEDED &&
	die "$busybox is not static: apt-get install busybox-static"
[ -x "$busybox" ] || die "no $busybox: apt-get install busybox-static"

gen=$obj/usr/gen_init_cpio
if [ ! -x "$gen" ]; then
	gen=$dir/gen_init_cpio
	gcc -O2 -o "$gen" "$dir/src/usr/gen_init_cpio.c" || die "cannot build gen_init_cpio"
fi

# TESTS="a b" or "a,b": a subset of the programs, in that order.
all=$(cat "$tests/.programs")
known=$(cat "$tests/.programs" "$tests/.files" 2>/dev/null)
selected=${TESTS:-$all}
selected=${selected//,/ }
timeout=${TEST_TIMEOUT:-$(sed -n 's/^timeout=//p' "$SELFTESTS/settings")}
timeout=${timeout:-300}
idir=${INITRAMFS_DIR:-$dir}
mkdir -p "$idir"
list=$idir/tests.list
: >"$list"
for t in $selected; do
	grep -qx "$t" <<<"$known" || die "TESTS: no test program '$t' (have: $(echo $all))"
	echo "$t $timeout" >>"$list"
done

spec=$idir/initramfs.list
{
	cat <<EOT
dir /dev 0755 0 0
nod /dev/console 0600 0 0 c 5 1
dir /bin 0755 0 0
file /bin/busybox $busybox 0755 0 0
file /init $SCRIPTS/guest-init.sh 0755 0 0
dir /forkpin 0755 0 0
file /forkpin/run-tests.sh $SCRIPTS/run-tests.sh 0755 0 0
dir /forkpin/tests 0755 0 0
file /forkpin/tests.list $list 0644 0 0
EOT
	for t in $selected; do
		echo "file /forkpin/tests/$t $tests/$t 0755 0 0"
	done
} >"$spec"
"$gen" "$spec" >"$idir/initramfs.cpio" || die "gen_init_cpio failed on $spec"
say "initramfs $flavor: $(wc -l <"$list") tests, $(($(stat -c %s "$idir/initramfs.cpio") / 1024)) KiB"
