#!/usr/bin/env bash
# Builds images/disk-base/home.ext4: the read-only base of every lab VM's persistent disk (the
# guest's writes go to a copy-on-write overlay: docs/DEVICES.md, "Overlay disks"). An 8 MiB ext4
# file system with a journal, so that a VM killed mid-write comes back consistent by journal
# replay at the next mount (BusyBox has no e2fsck). Made by Debian's mke2fs (e2fsprogs) with a
# fixed UUID, hash seed and timestamps, so a rebuild gives the same bytes.
# Usage: images/build/disk-base.sh
set -euo pipefail
source "$(dirname "$0")/common.sh"

DEST=$REPO/images/disk-base
WORK=$CACHE/disk-base
SIZE_MIB=8
mkdir -p "$DEST" "$WORK"
command -v mke2fs >/dev/null || ensure_packages
command -v mke2fs >/dev/null || die "mke2fs missing (Debian package e2fsprogs)"

# What the disk holds at first: a note for the user, owned by root.
rm -rf "$WORK/root" && mkdir -p "$WORK/root"
cat > "$WORK/root/README" <<'TEXT'
This is your persistent disk. Files here survive a closed tab and a reload
(the page keeps them in the browser's storage); resetting the VM's disk
brings this folder back to how it was first.
TEXT
chmod 0644 "$WORK/root/README"
find "$WORK/root" -exec touch -h -d "@$EPOCH" {} +

rm -f "$WORK/home.ext4"
# E2FSPROGS_FAKE_TIME fixes the superblock times; -U and hash_seed fix the random parts.
E2FSPROGS_FAKE_TIME=$EPOCH mke2fs -q -F -t ext4 -b 1024 -L home \
  -U 6f9d7f3e-2b1a-4c5d-9e8f-0a1b2c3d4e5f -E hash_seed=1e2d3c4b-5a69-4788-97a6-b5c4d3e2f100,root_owner=0:0,lazy_itable_init=0,lazy_journal_init=0 \
  -O ^metadata_csum_seed -J size=1 -m 0 -d "$WORK/root" "$WORK/home.ext4" "${SIZE_MIB}M"
install -m 0644 "$WORK/home.ext4" "$DEST/home.ext4"

node "$REPO/images/build/update-manifest.mjs" <<JSON
{
  "kind": "disk",
  "name": "home",
  "description": "${SIZE_MIB} MiB ext4 (1 KiB blocks, 1 MiB journal) made by mke2fs $(mke2fs -V 2>&1 | head -1 | cut -d' ' -f2): the base of each lab VM's persistent disk",
  "file": "images/disk-base/home.ext4",
  "filesystem": "ext4"
}
JSON
log "built $DEST/home.ext4"
