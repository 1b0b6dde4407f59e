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
root=$(mktemp -d "${TMPDIR:-/tmp}/smsgw-rootfs.XXXXXX")
trap 'rm -rf "$root"' EXIT
echo "debootstrapping Debian bookworm for $image (about a minute)..." >&2
debootstrap --variant=minbase --include=python3,python3-venv,ca-certificates bookworm "$root" "$mirror" >"$root.log" 2>&1 || {
    tail -5 "$root.log" >&2
    rm -f "$root.log"
    exit 1
}
rm -f "$root.log"
# What an image does not need: downloaded packages and package lists.
rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
tar -C "$root" -c . | docker import -c 'CMD ["/bin/bash"]' - "$image" >/dev/null
echo "made $image" >&2
