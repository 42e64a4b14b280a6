#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# scripts/config.sh FLAVOR - write and verify the kernel .config.
#
# Layers, in this order (later ones win):
#   tinyconfig                          the smallest starting point
#   scripts/kconfig/base.config         a real kernel: SLUB, -O2, syscalls
#   tools/testing/selftests/mm/config   what the tests need
#   scripts/kconfig/harness.config      what the QEMU boot and bug catching need
#   scripts/kconfig/debug.config        FLAVOR=debug only: KASAN, kmemleak
#   $EXTRA_KCONFIG                      optional, a fragment of your own
# After olddefconfig every line of every fragment is checked: Kconfig drops
# options whose dependencies are unmet without a word, and a test that
# silently loses its kernel option proves nothing.
set -eu
. "$(dirname "$0")/lib.sh"

flavor=${1:-patched}
dir=$(flavor_dir "$flavor")
src=$dir/src obj=$dir/obj
[ -f "$src/Makefile" ] || die "no kernel tree at $src (run: make apply FLAVOR=$flavor)"

fragments=("$SCRIPTS/kconfig/base.config" "$SELFTESTS/config"
	   "$SCRIPTS/kconfig/harness.config")
[ "$flavor" != debug ] || fragments+=("$SCRIPTS/kconfig/debug.config")
if [ -n "${EXTRA_KCONFIG:-}" ]; then
	[ -f "$EXTRA_KCONFIG" ] || die "EXTRA_KCONFIG=$EXTRA_KCONFIG: no such file"
	fragments+=("$EXTRA_KCONFIG")
fi

key=$(cat "${fragments[@]}" "$src/kernel/configs/tiny.config" \
	"$src/arch/x86/configs/tiny.config" 2>/dev/null | sha256sum)
key="$key $(kernel_version "$src")"
if [ -f "$obj/.config" ] && stamp_ok "$obj/.forkpin-config" "$key"; then
	say "config $flavor: up to date"
	exit 0
fi

mkdir -p "$obj"
log=$dir/config.log
say "config $flavor: tinyconfig + ${#fragments[@]} fragments"
{
	make -C "$src" O="$obj" tinyconfig &&
	(cd "$src" && scripts/kconfig/merge_config.sh -m -O "$obj" \
		"$obj/.config" "${fragments[@]}") &&
	make -C "$src" O="$obj" olddefconfig
} >"$log" 2>&1 || { tail -n 20 "$log" >&2; die "config $flavor: kconfig failed; log: $log"; }

# Verify: every "CONFIG_X=v" must be there as is, every
# "# CONFIG_X is not set" must not be set.
missing=$(awk '
	FNR == NR { have[$0] = 1; if ($0 ~ /^CONFIG_/) { split($0, kv, "="); set[kv[1]] = 1 } next }
	/^CONFIG_[A-Za-z0-9_]+=/ { if (!($0 in have)) printf "  %s (from %s)\n", $0, FILENAME; next }
	/^# CONFIG_[A-Za-z0-9_]+ is not set/ { if ($2 in set) printf "  %s (from %s)\n", $0, FILENAME }
' "$obj/.config" "${fragments[@]}")
if [ -n "$missing" ]; then
	rm -f "$obj/.forkpin-config"
	printf '%s\n' "$missing" >&2
	die "config $flavor: olddefconfig dropped the options above (unmet dependencies); fix the fragments"
fi
echo "$key" >"$obj/.forkpin-config"
say "config $flavor: $(grep -c '^CONFIG_' "$obj/.config") options set, all requested ones verified"
