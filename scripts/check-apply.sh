#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# scripts/check-apply.sh - the series applies with git am and with patch -p1
# as well as with quilt, and all three give the same files.
#
# Cheap: only the files the series touches are copied out of the base tree
# into scratch trees (one a git repository for git am).
set -eu
. "$(dirname "$0")/lib.sh"

base_env
mapfile -t patches < <(series_patches patched)
[ ${#patches[@]} -gt 0 ] || { say "check-apply: empty series"; exit 0; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/git" "$tmp/plain" "$tmp/quilt"
files=$(cd "$PATCHES" && sed -n -e 's|^--- a/||p' -e 's|^+++ b/||p' "${patches[@]}" |
	sed 's/[[:space:]].*//' | sort -u)
for f in $files; do
	[ -f "$PRISTINE/$f" ] || continue
	for t in git plain quilt; do
		mkdir -p "$tmp/$t/$(dirname "$f")"
		cp "$PRISTINE/$f" "$tmp/$t/$f"
	done
done

git -C "$tmp/git" init -q
git -C "$tmp/git" add -A
git -C "$tmp/git" -c user.name=forkpin -c user.email=forkpin@localhost \
	commit -q --allow-empty -m "Linux $KVERSION (files the series touches)"
for p in "${patches[@]}"; do
	git -C "$tmp/git" -c user.name=forkpin -c user.email=forkpin@localhost \
		am -q "$PATCHES/$p" >"$tmp/am.log" 2>&1 ||
		die "check-apply: git am: $p does not apply to Linux $KVERSION: $(head -n 3 "$tmp/am.log" | tr '\n' ' ')"
	patch -d "$tmp/plain" -p1 -s --fuzz=0 --no-backup-if-mismatch <"$PATCHES/$p" >"$tmp/patch.log" 2>&1 ||
		die "check-apply: patch -p1: $p does not apply to Linux $KVERSION: $(head -n 3 "$tmp/patch.log" | tr '\n' ' ')"
done
(cd "$tmp/quilt" && QUILT_PATCHES=$PATCHES QUILT_PC=.pc quilt --quiltrc=- push -a -q --fuzz=0) \
	>"$tmp/quilt.log" 2>&1 || die "check-apply: quilt push -a failed: $(tail -n 2 "$tmp/quilt.log" | tr '\n' ' ')"
diff -r -x .git "$tmp/git" "$tmp/plain" >/dev/null ||
	die "check-apply: git am and patch -p1 give different trees"
diff -r -x .pc "$tmp/quilt" "$tmp/plain" >/dev/null ||
	die "check-apply: quilt and patch -p1 give different trees"
say "check-apply: ${#patches[@]} patches apply with git am and patch -p1 on Linux $KVERSION, same result as quilt"
