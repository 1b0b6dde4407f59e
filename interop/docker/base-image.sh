#!/bin/sh
# Makes the image smsgw's container builds on without an image registry: Debian bookworm
# (whose python3 is 3.11) debootstrapped from Debian's mirror and imported with `docker import`.
# Does nothing when the image is there already.  Usage: base-image.sh [IMAGE]
set -eu
image=${1:-smsgw-base:bookworm}
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
if docker image inspect "$image" >/dev/null 2>&1; then
    exit 0
fi
work=$(mktemp -d "${TMPDIR:-/tmp}/smsgw-base.XXXXXX")
root="$work/rootfs"
trap 'rm -rf "$work"' EXIT
trap 'exit 1' INT TERM HUP  # dash runs the EXIT trap on exit, not on a signal
echo "debootstrapping Debian bookworm for $image (about a minute)..." >&2
debootstrap --variant=minbase --include=python3,python3-venv,ca-certificates bookworm "$root" "$mirror" >"$work/log" 2>&1 || {
    tail -5 "$work/log" >&2
    exit 1
}
# What an image does not need: downloaded packages and package lists.
rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
# Through a file, not a pipe: sh has no pipefail, and a broken tar must not become the image
# (which later runs would keep, as it is there).
tar -C "$root" -cf "$work/rootfs.tar" .
docker import -c 'CMD ["/bin/bash"]' "$work/rootfs.tar" "$image" >/dev/null
echo "made $image" >&2
