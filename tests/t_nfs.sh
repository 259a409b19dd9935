#!/bin/sh
# SPDX-License-Identifier: MIT
#
# t_nfs.sh - a udax mount exported over NFS by nfs-ganesha (FSAL VFS,
# which names files by the mount's file handles), used through libnfs's
# command-line clients: a tree copied in over NFS and out again,
# identical, and fsck clean after.
#
# Run from the repository root, as root:  sh tests/t_nfs.sh
# The tool is $UDAX (default build/udax). Needs the Debian packages
# nfs-ganesha, nfs-ganesha-vfs and libnfs-utils (sh scripts/install-deps.sh --nfs).
# Prints one line per check; exits 0 if all passed, 1 if any failed, and
# 77 after "SKIP nfs: <reason>" when the server or FUSE cannot be used.
#
# The server, rpcbind and the clients run in network and mount
# namespaces of their own (unshare -nm): only a loopback there, so
# nothing listens on the machine's addresses and the standard ports are
# free, and a private /run for rpcbind. NFSv3 carries the copies: the
# NFSv4 client of libnfs 4.0 (Debian 12) cannot encode a WRITE of more
# than about 4 KiB ("ZDR error: Failed to encode COMPOUND4args", against
# any server); NFSv4 reads the large file back once. libnfs-utils has
# no mkdir: the tree's folders are made through the mount, every file
# goes in and out over NFS (nfs-cp), and the listing over NFS (nfs-ls
# -R) must name every file.

. tests/cli-lib.sh

# ---- inside the namespaces: sh t_nfs.sh --inside TREE MNT ----

# Serve MNT over NFS and copy TREE/in (the files TREE/files names) into
# it and out to TREE/out, through libnfs's clients.
nfs_inside() {
	tree=$1
	mnt=$2
	url="nfs://127.0.0.1$mnt"
	if ! { ip link set lo up && mount -t tmpfs tmpfs /run &&
		mkdir /run/rpcbind; }; then
		echo "FAIL no loopback or no /run of its own in the namespace"
		return 1
	fi
	rpcbind -f -w &
	rpcbind=$!
	sed "s|@MNT@|$mnt|g" >"$work/ganesha.conf" <<'EOF'
NFS_CORE_PARAM {
	Protocols = 3, 4;
	Enable_NLM = false;
	Enable_RQUOTA = false;
}
NFSv4 {
	Graceless = true;
	RecoveryBackend = fs;
}
NFS_KRB5 { Active_krb5 = false; }
EXPORT {
	Export_Id = 1;
	Path = @MNT@;
	Pseudo = @MNT@;
	Access_Type = RW;
	Squash = No_Root_Squash;
	Protocols = 3, 4;
	Transports = TCP;
	SecType = sys;
	FSAL { Name = VFS; }
}
LOG { Default_Log_Level = WARN; }
EOF
	ganesha.nfsd -F -f "$work/ganesha.conf" -L "$work/ganesha.log" \
		-p "$work/ganesha.pid" >/dev/null 2>&1 &
	ganesha=$!
	# up to 60 s: the server answers once it has read the export
	up=1
	for _ in $(seq 120); do
		nfs-ls "$url" >/dev/null 2>&1 && { up=0; break; }
		kill -0 "$ganesha" 2>/dev/null || break
		sleep 0.5
	done
	[ $up = 0 ] || grep -E 'CRIT|MAJ|FATAL' "$work/ganesha.log" |
		grep -vE 'DBUS|dbus|krb5|keytab' | tail -n 3 >"$work/err"
	result $up "nfs-ganesha exports the mount (NFSv3 and v4, loopback)"
	if [ $up = 0 ]; then
		bad=0
		while read -r f; do
			nfs-cp "$tree/in/$f" "$url/$f" >/dev/null 2>>"$work/err" ||
				{ echo "nfs-cp in: $f" >>"$work/err"; bad=1; }
		done <"$tree/files"
		result $bad "nfs-cp: $(wc -l <"$tree/files") files in over NFS"
		nfs-ls -R "$url" 2>"$work/err" |
			awk '$1 ~ /^-/ { print $NF }' | sort >"$tree/listed"
		same "nfs-ls -R lists every file" "$tree/files" "$tree/listed"
		bad=0
		while read -r f; do
			nfs-cp "$url/$f" "$tree/out/$f" >/dev/null 2>>"$work/err" ||
				{ echo "nfs-cp out: $f" >>"$work/err"; bad=1; }
		done <"$tree/files"
		result $bad "nfs-cp: every file out again over NFS"
		nfs-cat "$url/random?version=4" >"$tree/cat" 2>"$work/err"
		same "nfs-cat over NFSv4 reads the 3 MiB file" \
			"$tree/in/random" "$tree/cat"
	fi
	kill "$ganesha" 2>/dev/null
	wait "$ganesha"
	[ $up = 0 ] && result $? "nfs-ganesha stops on SIGTERM"
	kill "$rpcbind"
	wait "$rpcbind"
	cli_summary
}

if [ "${1:-}" = --inside ]; then
	nfs_inside "$2" "$3"
	exit
fi

# ---- outside: the mount, the tree, the namespaces, fsck ----

skip() {
	echo "SKIP nfs: $*"
	exit 77
}

[ -c /dev/fuse ] || skip "/dev/fuse is absent"
[ "$(id -u)" = 0 ] || skip "needs root (mounting, namespaces, the server)"
for t in ganesha.nfsd rpcbind nfs-cp nfs-ls nfs-cat unshare ip; do
	command -v $t >/dev/null ||
		skip "$t is not installed (sh scripts/install-deps.sh --nfs" \
			"installs nfs-ganesha, nfs-ganesha-vfs and libnfs-utils)"
done
dpkg -s nfs-ganesha-vfs >/dev/null 2>&1 ||
	skip "nfs-ganesha-vfs (the VFS FSAL) is not installed" \
		"(sh scripts/install-deps.sh --nfs)"
unshare -nm true 2>/dev/null || skip "unshare -nm is not permitted here"

repo=$(pwd)
mnt=/tmp/udax-nfs-mnt.$$
img=$work/t.img

cleanup() {
	if awk -v m="$mnt" '$5 == m' /proc/self/mountinfo | grep -q .; then
		"$UDAX" umount "$mnt" 2>/dev/null || umount -l "$mnt"
	fi
	rmdir "$mnt" 2>/dev/null
	rm -rf "$work"
}
trap cleanup EXIT
mkdir -p "$mnt" "$work/in" "$work/out" || exit 1

# the tree: the sources, an empty file, 3 MiB of random bytes
cp -a "$repo/src" "$repo/include" "$work/in/" || exit 1
: >"$work/in/empty"
head -c 3145728 /dev/urandom >"$work/in/random"
(cd "$work/in" && find . -type f | sed 's|^\./||' | sort) >"$work/files"

"$UDAX" mkfs -q --size 256M "$img" || exit 1
expect 0 "udax mount" "$UDAX" mount -o allow_other "$img" "$mnt"
[ "$failures" = 0 ] || exit 1
(cd "$work/in" && find . -mindepth 1 -type d) | while read -r d; do
	mkdir -p "$mnt/$d" "$work/out/$d"
done

unshare -nm sh "$0" --inside "$work" "$mnt" >"$work/inside" 2>&1
rc=$?
grep -E '^(ok|FAIL|     )' "$work/inside"
checks=$((checks + $(grep -cE '^(ok|FAIL)' "$work/inside")))
if grep -q '^FAIL' "$work/inside" || [ $rc != 0 ]; then
	failures=$((failures + 1))
	grep -q '^FAIL' "$work/inside" ||
		echo "FAIL the NFS part exited $rc: $(tail -n 3 "$work/inside")"
fi
expect 0 "the mount holds the tree, identical (diff -r)" \
	diff -r "$work/in" "$mnt"
expect 0 "the tree out of NFS is identical (diff -r)" \
	diff -r "$work/in" "$work/out"
expect 0 "udax umount" "$UDAX" umount "$mnt"
expect 0 "fsck -n after the NFS round trip is clean" "$UDAX" fsck -n "$img"
cli_summary
