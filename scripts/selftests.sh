#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# scripts/selftests.sh FLAVOR - build the selftests for FLAVOR's kernel.
#
# The directory is dropped into the private kernel tree as
# tools/testing/selftests/forkpin-mm (which is also how a user runs it
# in-tree) and built there with kselftest's lib.mk, statically, against
# the tree's headers_install output and Debian's static liburing.
set -eu
. "$(dirname "$0")/lib.sh"

flavor=${1:-patched}
dir=$(flavor_dir "$flavor")
src=$dir/src obj=$dir/obj out=$dir/selftests
[ -d "$obj/usr/include/linux" ] || die "no uapi headers in $obj/usr/include (run: make build FLAVOR=$flavor)"

intree=$src/tools/testing/selftests/forkpin-mm
rm -rf "$intree"
cp -r "$SELFTESTS" "$intree"
mkdir -p "$out"
log=$dir/selftests.log
say "selftests $flavor: building static into $out"
if ! make -C "$intree" OUTPUT="$out" \
	KHDR_INCLUDES="-isystem $obj/usr/include" LDFLAGS=-static >"$log" 2>&1; then
	tail -n 30 "$log" >&2
	die "selftests $flavor: build failed; log: $log"
fi
if grep -q 'warning:' "$log"; then
	grep 'warning:' "$log" >&2
	die "selftests $flavor: the tests must build without warnings"
fi
progs=$(selftest_programs "$intree")
for p in $progs; do
	[ -x "$out/$p" ] || die "selftests $flavor: $p was not built"
	! readelf -d "$out/$p" 2>/dev/null | grep -q NEEDED ||
		die "selftests $flavor: $p is not statically linked"
done
echo "$progs" | tr ' ' '\n' >"$out/.programs"
# Built but not run as tests (the benchmark).
files=$(selftest_list "$intree" TEST_GEN_FILES || true)
for p in $files; do
	[ -x "$out/$p" ] || die "selftests $flavor: $p was not built"
done
echo "$files" >"$out/.files"
grep -q HAVE_LIBURING "$log" || say "selftests $flavor: note: no static liburing found (apt-get install liburing-dev); io_uring cases will skip"
say "selftests $flavor: $(echo $progs | wc -w) programs"
