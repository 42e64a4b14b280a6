#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# scripts/apply.sh FLAVOR - a private copy of the base tree with FLAVOR's
# patches applied by quilt, in $BUILD/FLAVOR/src.
#
# The copy is made of hard links (cheap, and GNU patch replaces the files
# it changes rather than writing through the link, so the user's tree is
# never modified). The new tree is built next to the old one and only
# swapped in when every patch applied: a failure names the patch and the
# hunk and leaves nothing half-applied.
set -eu
. "$(dirname "$0")/lib.sh"

flavor=${1:-patched}
dir=$(flavor_dir "$flavor")
base_env
mapfile -t patches < <(series_patches "$flavor")
for p in "${patches[@]}"; do
	[ -f "$PATCHES/$p" ] || die "patches/series lists $p, but patches/$p does not exist"
done

key="$PRISTINE $KVERSION ${patches[*]} $(cd "$PATCHES" && cat /dev/null "${patches[@]}" | sha256sum)"
if [ -d "$dir/src" ] && stamp_ok "$dir/.forkpin-apply" "$key"; then
	say "apply $flavor: up to date (${#patches[@]} patches on $KVERSION)"
	exit 0
fi

mkdir -p "$dir"
new=$dir/src.new
rm -rf "$new"
mkdir "$new"
say "apply $flavor: copying $PRISTINE (hard links)"
link=-l
for e in "$PRISTINE"/* "$PRISTINE"/.[!.]*; do
	[ -e "$e" ] || continue
	case ${e##*/} in .git|.pc) continue ;; esac
	if ! cp -a $link "$e" "$new/" 2>/dev/null; then
		[ -n "$link" ] || { rm -rf "$new"; die "cannot copy $e into $new"; }
		say "apply $flavor: hard links impossible (other filesystem?), copying"
		link=
		cp -a "$e" "$new/" || { rm -rf "$new"; die "cannot copy $e into $new"; }
	fi
done
if [ -e "$new/.config" ] || [ -d "$new/include/config" ]; then
	# Built in place: O= builds refuse such a tree. Cleaning the copy
	# only unlinks files, so the user's tree keeps its build.
	say "apply $flavor: KERNEL_SRC was built in place; cleaning the private copy"
	make -s -C "$new" mrproper >/dev/null 2>&1 || { rm -rf "$new"; die "make mrproper failed in $new"; }
fi

# quilt reads a series of its own: FLAVOR's subset of patches/series.
qp=$dir/quilt-patches
rm -rf "$qp"
mkdir -p "$qp"
for p in "${patches[@]}"; do
	ln -s "$PATCHES/$p" "$qp/$p"
	echo "$p" >>"$qp/series"
done
touch "$qp/series"

log=$dir/apply.log
if [ ${#patches[@]} -gt 0 ] && ! (cd "$new" && QUILT_PATCHES=$qp QUILT_PC=.pc \
	quilt --quiltrc=- push -a --fuzz=0) >"$log" 2>&1; then
	bad=$(sed -n 's/^Applying patch \(.*\/\)\{0,1\}//p' "$log" | tail -n 1)
	where=$(awk '
		/^patching file / { f = substr($0, 15) }
		/^Hunk #[0-9]+ FAILED at/ { sub(/\.$/, "", $5); printf "%s%s hunk #%s FAILED at line %s", sep, f, substr($2, 2), $5; sep = "; " }
		/can.t find file to patch|No file to patch|malformed patch/ { printf "%s%s", sep, $0; sep = "; " }
	' "$log")
	rm -rf "$new"
	die "apply $flavor: patch ${bad:-?} does not apply to Linux $KVERSION ($PRISTINE): ${where:-see $log}; nothing applied"
fi

# Files the old or the new series changed get a fresh inode and mtime, so
# that make rebuilds them even where the new content is older than the
# objects built from the old series.
touched() { [ -d "$1/.pc" ] && (cd "$1/.pc" && find . -mindepth 2 -type f ! -name '.timestamp' | cut -d/ -f3-); }
{ touched "$dir/src" 2>/dev/null || true; touched "$new"; } | sort -u | while read -r f; do
	[ -f "$new/$f" ] || continue
	if [ "$(stat -c %h "$new/$f")" -gt 1 ]; then
		cp "$new/$f" "$new/$f.forkpin-tmp" && mv "$new/$f.forkpin-tmp" "$new/$f"
	else
		touch "$new/$f"
	fi
done

rm -rf "$dir/src.old"
[ -d "$dir/src" ] && mv "$dir/src" "$dir/src.old"
mv "$new" "$dir/src"
rm -rf "$dir/src.old"
echo "$key" >"$dir/.forkpin-apply"
echo "$KVERSION" >"$dir/kversion"
say "apply $flavor: ${#patches[@]} patches applied on Linux $KVERSION"
