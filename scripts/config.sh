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
#   scripts/kconfig/bench.config        FLAVOR=bench-*: the bug catchers off
#   $EXTRA_KCONFIG                      optional, a fragment of your own
# After olddefconfig every line of every fragment is checked (the last
# fragment that names an option has the word on it): Kconfig drops
# options whose dependencies are unmet without a word, and a test that
# silently loses its kernel option proves nothing.
# The bench flavors build the base or patched tree (bench.sh links it).
set -eu
. "$(dirname "$0")/lib.sh"

flavor=${1:-patched}
dir=$(flavor_dir "$flavor")
src=$dir/src obj=$dir/obj
[ -f "$src/Makefile" ] || die "no kernel tree at $src (run: make apply FLAVOR=$flavor)"

fragments=("$SCRIPTS/kconfig/base.config" "$SELFTESTS/config"
	   "$SCRIPTS/kconfig/harness.config")
[ "$flavor" != debug ] || fragments+=("$SCRIPTS/kconfig/debug.config")
stamps=()
case $flavor in
bench-*)
	fragments+=("$SCRIPTS/kconfig/bench.config")
	# The tree's patches count too: they may add Kconfig options.
	stamps=("$BUILD/$(bench_tree "$flavor")/.forkpin-apply")
	;;
esac
if [ -n "${EXTRA_KCONFIG:-}" ]; then
	[ -f "$EXTRA_KCONFIG" ] || die "EXTRA_KCONFIG=$EXTRA_KCONFIG: no such file"
	fragments+=("$EXTRA_KCONFIG")
fi

key=$(cat "${fragments[@]}" "$src/kernel/configs/tiny.config" \
	"$src/arch/x86/configs/tiny.config" "${stamps[@]}" 2>/dev/null | sha256sum)
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
# "# CONFIG_X is not set" must not be set, as the last fragment that
# names X says (bench.config turns off what harness.config turns on).
missing=$(awk '
	FNR == 1 { f++ }
	f == 1 { have[$0] = 1; if ($0 ~ /^CONFIG_/) { split($0, kv, "="); set[kv[1]] = 1 } next }
	/^CONFIG_[A-Za-z0-9_]+=/ { split($0, kv, "="); k = kv[1]; off = 0 }
	/^# CONFIG_[A-Za-z0-9_]+ is not set/ { k = $2; off = 1 }
	/^CONFIG_[A-Za-z0-9_]+=/ || /^# CONFIG_[A-Za-z0-9_]+ is not set/ {
		n++; line[n] = $0; key[n] = k; is_off[n] = off; from[n] = FILENAME
		at[n] = f; last[k] = f
	}
	END {
		for (i = 1; i <= n; i++)
			if (at[i] == last[key[i]] &&
			    (is_off[i] ? key[i] in set : !(line[i] in have)))
				printf "  %s (from %s)\n", line[i], from[i]
	}
' "$obj/.config" "${fragments[@]}")
if [ -n "$missing" ]; then
	rm -f "$obj/.forkpin-config"
	printf '%s\n' "$missing" >&2
	die "config $flavor: olddefconfig dropped the options above (unmet dependencies); fix the fragments"
fi
echo "$key" >"$obj/.forkpin-config"
say "config $flavor: $(grep -c '^CONFIG_' "$obj/.config") options set, all requested ones verified"
