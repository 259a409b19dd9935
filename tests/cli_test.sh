#!/bin/sh
# SPDX-License-Identifier: MIT
#
# cli_test.sh - end-to-end test of the udax command-line tool.
#
# Builds a host tree with the awkward cases (empty, large, sparse and
# zero-filled files, deep and empty directories, symbolic links including
# dangling ones, odd names, odd modes, old timestamps), copies it into a
# fresh image on /dev/shm and back out, then compares contents, types,
# modes, sizes and times. Then exercises every other command and checks
# exit statuses and the shape of error messages.
#
# Run from the repository root:  sh tests/cli_test.sh
# The tool is $UDAX (default build/udax). Exits 0 if every check passed,
# 1 otherwise; prints one line per check.

# shellcheck source=tests/cli-lib.sh
. "$(dirname "$0")/cli-lib.sh"

img=$work/t.img
img2=$work/u.img
src=$work/src
out=$work/out

# tree_listing DIR: type, mode, mtime, link target and (for regular
# files) size of everything below DIR, sorted. Directory sizes differ
# between file systems and are left out.
tree_listing() {
	(cd "$1" && find . -printf '%y %m %T@ %p -> %l\n' &&
		find . -type f -printf 'size %s %p\n') | LC_ALL=C sort
}

# same_tree DESC A B: identical contents and identical listings.
same_tree() {
	tree_listing "$2" >"$work/list.a"
	tree_listing "$3" >"$work/list.b"
	if diff -r --no-dereference "$2" "$3" >"$work/err" 2>&1 &&
		diff "$work/list.a" "$work/list.b" >"$work/err" 2>&1; then
		result 0 "$1"
	else
		result 1 "$1"
	fi
}

# ---- the source tree ----

mkdir -p "$src/dir/sub/deep" "$src/emptydir" "$src/private" \
	"$src/name with spaces" || exit 1
: >"$src/empty"
printf 'hello, udax\n' >"$src/small.txt"
head -c $((3 * 1024 * 1024 + 123)) /dev/urandom >"$src/big.bin"
head -c 1048576 /dev/zero >"$src/zeros.bin"
truncate -s 8M "$src/sparse.bin"
head -c 4096 /dev/urandom |
	dd of="$src/sparse.bin" bs=4096 seek=1280 conv=notrunc 2>/dev/null
truncate -s 5M "$src/hole-only.bin"
printf 'deep\n' >"$src/dir/sub/deep/file"
printf 'spaced\n' >"$src/name with spaces/file one"
printf 'colon\n' >"$src/a:b"
long=$(printf '%0250d' 0)
printf 'long\n' >"$src/$long"
printf '#!/bin/sh\n' >"$src/exec.sh"
printf 'read only\n' >"$src/ro.txt"
printf 'secret\n' >"$src/private/key"
ln -s small.txt "$src/link"
ln -s does/not/exist "$src/dangling"
ln -s dir/sub "$src/dirlink"
chmod 0755 "$src/exec.sh"
chmod 0444 "$src/ro.txt"
chmod 0700 "$src/private"
chmod 2750 "$src/dir/sub"
touch -d '2001-02-03 04:05:06.123456789' "$src/small.txt" "$src/big.bin"
touch -h -d '1999-12-31 23:59:59' "$src/link"
touch -d '2010-01-01 00:00:00' "$src/dir/sub/deep" "$src/emptydir" "$src"

# ---- round trip ----

expect 0 "mkfs --size 256M" "$UDAX" mkfs -q --size 256M "$img"
expect 0 "cp -r host tree into the image" "$UDAX" cp -r "$src" "$img:/tree"
expect 0 "ls -lR of the copied tree" "$UDAX" ls -lR "$img:/tree"
if grep -q 'link -> small.txt' "$work/stdout" &&
	grep -q '^drwx------ .* private$' "$work/stdout"; then
	result 0 "ls -l shows link targets and modes"
else
	cp "$work/stdout" "$work/err"
	result 1 "ls -l shows link targets and modes"
fi
expect 0 "cp -r image tree out to the host" "$UDAX" cp -r "$img:/tree" "$out"
same_tree "host -> image -> host round trip" "$src" "$out"

blocks=$(stat -c %b "$out/sparse.bin")
[ "$blocks" -lt 1024 ]
result $? "holes survive the round trip ($blocks blocks)"
"$UDAX" stat "$img:/tree/sparse.bin" >"$work/stdout" 2>"$work/err"
blocks=$(sed -n 's/.*Blocks: *\([0-9]*\).*/\1/p' "$work/stdout")
[ -n "$blocks" ] && [ "$blocks" -lt 1024 ]
result $? "sparse file is sparse in the image (${blocks:-?} blocks)"

"$UDAX" cat "$img:/tree/big.bin" >"$work/cat.out" 2>"$work/err"
result $? "cat exits 0"
same "cat gives the file's bytes" "$src/big.bin" "$work/cat.out"
"$UDAX" cat "$img:/tree/small.txt" "$img:/tree/empty" "$img:/tree/a:b" \
	>"$work/cat.out" 2>"$work/err"
printf 'hello, udax\ncolon\n' >"$work/cat.want"
same "cat of several files, one with ':' in its name" "$work/cat.want" \
	"$work/cat.out"

expect 0 "stat of a file" "$UDAX" stat "$img:/tree/small.txt"
grep -q 'Size: 12 ' "$work/stdout" && grep -q 'regular file' "$work/stdout"
result $? "stat shows size and type"

# ---- special files: FIFOs and (as root) device nodes ----

spec="$work/spec"
mkdir -p "$spec/d" || exit 1
mkfifo -m 0640 "$spec/fifo" "$spec/d/fifo2" || exit 1
if [ "$(id -u)" = 0 ]; then
	mknod -m 0600 "$spec/chr" c 4000 5 && mknod -m 0660 "$spec/d/blk" b 4001 70000 ||
		exit 1
fi
special_listing() {
	(cd "$1" && find . ! -type d -printf '%y %m %p\n' &&
		find . \( -type c -o -type b \) -exec stat -c '%t:%T %n' {} +) |
		LC_ALL=C sort
}
expect 0 "cp -r of FIFOs and devices into the image" \
	"$UDAX" cp -r "$spec" "$img:/spec"
expect 0 "ls -l of special files" "$UDAX" ls -l "$img:/spec"
if grep -q '^prw-r----- .* fifo$' "$work/stdout" &&
	{ [ "$(id -u)" != 0 ] || grep -q '^crw------- .* 4000, 5 .* chr$' "$work/stdout"; }; then
	result 0 "ls -l shows FIFOs and device numbers"
else
	cp "$work/stdout" "$work/err"
	result 1 "ls -l shows FIFOs and device numbers"
fi
expect 0 "cp -r of special files out of the image" \
	"$UDAX" cp -r "$img:/spec" "$work/spec-out"
special_listing "$spec" >"$work/spec.a"
special_listing "$work/spec-out" >"$work/spec.b"
diff "$work/spec.a" "$work/spec.b" >"$work/err" 2>&1
result $? "special files survive the round trip (types, modes, numbers)"

# ---- within one image ----

expect 0 "cp -r image to image" "$UDAX" cp -r "$img:/tree" "$img:/tree2"
expect 0 "cp -r second copy out" "$UDAX" cp -r "$img:/tree2" "$work/out2"
same_tree "image -> image copy" "$src" "$work/out2"
expect 0 "cp -r --reflink image to image" \
	"$UDAX" cp -r --reflink "$img:/tree" "$img:/tree3"
expect 0 "cp -r reflinked copy out" "$UDAX" cp -r "$img:/tree3" "$work/out3"
same_tree "image -> image clone" "$src" "$work/out3"
expect_err 1 "Invalid cross-device link" \
	"cp --reflink=always from the host is refused" \
	"$UDAX" cp --reflink=always "$src/small.txt" "$img:/refl"
expect 0 "cp --reflink=auto from the host copies" \
	"$UDAX" cp --reflink=auto "$src/small.txt" "$img:/refl"
expect_err 2 "invalid argument" "cp --reflink=sometimes is refused" \
	"$UDAX" cp --reflink=sometimes "$src/small.txt" "$img:/refl"
expect 0 "dedupe of the image's copies" "$UDAX" dedupe -q "$img" /tree /tree2
expect 0 "tree copy still out after dedupe" \
	"$UDAX" cp -r "$img:/tree2" "$work/out4"
same_tree "image copy after dedupe" "$src" "$work/out4"
expect_err 2 "missing image operand" "dedupe without an image" \
	"$UDAX" dedupe
expect_err 1 "into itself" "cp -r of a directory into itself is refused" \
	"$UDAX" cp -r "$img:/tree" "$img:/tree/dir/copy"
expect_err 1 "are the same file" "cp of a file onto itself is refused" \
	"$UDAX" cp "$img:/tree/small.txt" "$img:/tree/small.txt"

# ---- cp into directories, several sources, host names with ':' ----

expect 0 "mkdir" "$UDAX" mkdir "$img:/into"
expect 0 "cp file into an existing directory" \
	"$UDAX" cp "$src/small.txt" "$img:/into"
expect 0 "cp several files into a directory" \
	"$UDAX" cp "$src/empty" "$src/big.bin" "$img:/into"
# shellcheck disable=SC2016 # expanded by the inner shell
expect 0 "cp ./a:b names a host file" sh -c \
	'cd "$1" && "$2" cp ./a:b "$3:/into/colon"' sh "$src" "$UDAX" "$img"
expect 0 "cp files back out" "$UDAX" cp "$img:/into/small.txt" \
	"$img:/into/big.bin" "$img:/into/colon" "$img:/into/empty" "$work"
same "file copied into a directory" "$src/big.bin" "$work/big.bin"
same "host file named with ':'" "$src/a:b" "$work/colon"
expect_err 1 "is not a directory" "several sources need a directory" \
	"$UDAX" cp "$src/empty" "$src/small.txt" "$img:/into/small.txt"
expect_err 1 "omitting directory" "cp of a directory without -r" \
	"$UDAX" cp "$src/dir" "$img:/nodir"
expect_err 1 "$img:/nope: No such file or directory" \
	"missing source: message names IMAGE:PATH" \
	"$UDAX" cp "$img:/nope" "$work/nope"
expect 0 "mkfs a second image" "$UDAX" mkfs -q --size 16M "$img2"
expect_err 1 "two images" "cp between two images is refused" \
	"$UDAX" cp "$img:/tree/small.txt" "$img2:/small.txt"
expect_err 2 "no operand names a file in an image" \
	"cp between host paths is a usage error" \
	"$UDAX" cp "$src/small.txt" "$work/x"

# ---- mkdir, mv, rm ----

expect 0 "mkdir -p" "$UDAX" mkdir -p "$img:/a/b/c"
expect 0 "mkdir -p of an existing directory" "$UDAX" mkdir -p "$img:/a/b"
expect_err 1 "File exists" "mkdir of an existing directory" \
	"$UDAX" mkdir "$img:/a/b"
expect 0 "mkdir -m 700" "$UDAX" mkdir -m 700 "$img:/a/m"
expect 0 "ls -ld" "$UDAX" ls -ld "$img:/a/m"
grep -q '^drwx------ ' "$work/stdout"
result $? "mkdir -m sets the mode"
expect 0 "mv renames" "$UDAX" mv "$img:/a/b/c" "$img:/a/c2"
expect 0 "mv into a directory" "$UDAX" mv "$img:/into/small.txt" "$img:/a"
expect 0 "stat the moved file" "$UDAX" stat "$img:/a/small.txt"
expect_err 1 "No such file or directory" "stat of the old name fails" \
	"$UDAX" stat "$img:/into/small.txt"
expect_err 1 "Is a directory" "rm of a directory without -r" \
	"$UDAX" rm "$img:/a"
expect 0 "rm -r" "$UDAX" rm -r "$img:/a"
expect 1 "the tree is gone" "$UDAX" ls "$img:/a"
expect 0 "rm -f of a missing file" "$UDAX" rm -f "$img:/a/none"
expect_err 1 "No such file or directory" "rm of a missing file" \
	"$UDAX" rm "$img:/none"
expect_err 1 "dangerous" "rm -r of the root is refused" \
	"$UDAX" rm -r "$img:/"
expect 0 "rm -r a copied tree" "$UDAX" rm -r "$img:/tree2"
expect 0 "ls -a of the root" "$UDAX" ls -a "$img"
if grep -qx 'tree' "$work/stdout" && ! grep -qx 'tree2' "$work/stdout" &&
	grep -qx '\.\.' "$work/stdout"; then
	result 0 "ls -a lists . and .. and the remaining tree"
else
	cp "$work/stdout" "$work/err"
	result 1 "ls -a lists . and .. and the remaining tree"
fi

# ---- df, info, usage errors ----

expect 0 "df" "$UDAX" df "$img"
grep -qF "$img" "$work/stdout"
result $? "df names the image"
expect 0 "df -h" "$UDAX" df -h "$img" "$img2"
expect 0 "info" "$UDAX" info "$img"
grep -q '^Block size:' "$work/stdout"
result $? "info shows the block size"
expect 0 "--help" "$UDAX" --help
expect 0 "--version" "$UDAX" --version
for cmd in mkfs ls stat cat cp mkdir rm mv df info; do
	expect 0 "$cmd --help" "$UDAX" "$cmd" --help
done
expect 2 "unknown command" "$UDAX" frobnicate
expect 2 "unknown option" "$UDAX" ls --frobnicate "$img"
expect 2 "missing operand" "$UDAX" cat
expect 2 "bad size" "$UDAX" mkfs --size 12Q "$work/bad.img"
expect_err 1 "$work/none.img" "a missing image is reported" \
	"$UDAX" ls "$work/none.img"
head -c 8M /dev/zero >"$work/zero.img"
expect 1 "an image of zeros is refused" "$UDAX" ls "$work/zero.img"

# ---- fsck, when the tool has it ----

if "$UDAX" fsck --help >/dev/null 2>&1; then
	expect 0 "fsck -n finds the image clean" "$UDAX" fsck -n "$img"
fi

cli_summary
