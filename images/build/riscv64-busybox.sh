#!/usr/bin/env bash
# Builds images/riscv64-busybox: Linux 6.1 for riscv64 (Debian linux-source-6.1, tinyconfig +
# riscv64-busybox.config, uncompressed Image) for the QEMU virt board layout with one hart,
# an uncompressed initramfs with BusyBox built statically from Debian's busybox source, and
# Debian's OpenSBI fw_jump. Boots on the rv64 engine and on qemu-system-riscv64 -M virt.
# Usage: images/build/riscv64-busybox.sh
set -euo pipefail
source "$(dirname "$0")/common.sh"

NAME=riscv64-busybox
DEST=$REPO/images/$NAME
WORK=$CACHE/$NAME
KOUT=$WORK/linux
ROOT=$WORK/root
CROSS=riscv64-linux-gnu-
OPENSBI=/usr/lib/riscv64-linux-gnu/opensbi/generic/fw_jump.bin
mkdir -p "$WORK" "$DEST"

ensure_packages
ensure_kernel_source
command -v ${CROSS}gcc >/dev/null || die "${CROSS}gcc missing (Debian package gcc-riscv64-linux-gnu)"
[ -f "$OPENSBI" ] || die "$OPENSBI missing (Debian package opensbi)"

# --- BusyBox source ----------------------------------------------------------------------
# apt runs with a private deb-src list derived from the system's deb entries and private index
# and cache folders, so the system's apt configuration is left exactly as it was.
fetch_busybox_source() {
  local apt=$WORK/apt src=$WORK/src
  if ! ls -d "$src"/busybox-*/ >/dev/null 2>&1; then
    mkdir -p "$apt/sources.list.d" "$apt/lists/partial" "$apt/cache/archives/partial" "$src"
    local f found=0
    for f in /etc/apt/sources.list.d/*.sources; do
      [ -f "$f" ] || continue
      sed 's/^Types:.*/Types: deb-src/' "$f" > "$apt/sources.list.d/$(basename "$f")"; found=1
    done
    if [ -f /etc/apt/sources.list ]; then
      sed -n 's/^deb /deb-src /p' /etc/apt/sources.list > "$apt/sources.list.d/from-sources-list.list"
      [ -s "$apt/sources.list.d/from-sources-list.list" ] && found=1
    fi
    [ $found = 1 ] || die "no apt sources found in /etc/apt to derive a deb-src entry from"
    local opts=(-o "Dir::Etc::SourceList=/dev/null" -o "Dir::Etc::SourceParts=$apt/sources.list.d"
      -o "Dir::State::Lists=$apt/lists" -o "Dir::Cache=$apt/cache" -o Debug::NoLocking=1
      -o APT::Sandbox::User=root)
    log "downloading the busybox source package"
    apt-get "${opts[@]}" update -qq >&2 || log "warning: apt-get update reported errors"
    (cd "$src" && apt-get "${opts[@]}" source -qq busybox) >&2 || die "apt-get source busybox failed"
  fi
  ls -d "$src"/busybox-*/ | tail -1
}
BBSRC=$(fetch_busybox_source)
BBSRC=${BBSRC%/}
BBVER=$(cd "$BBSRC" && dpkg-parsechangelog -S Version)
log "busybox source: $BBSRC ($BBVER)"

# defconfig, linked statically; applets that do not build statically against glibc are off.
BBOUT=$WORK/busybox
mkdir -p "$BBOUT"
make -s -C "$BBSRC" O="$BBOUT" defconfig >/dev/null
bb_set() { sed -i -e "/^CONFIG_$1=/d" -e "/^# CONFIG_$1 is not set/d" "$BBOUT/.config"; echo "$2" >> "$BBOUT/.config"; }
bb_set STATIC 'CONFIG_STATIC=y'
bb_set CROSS_COMPILER_PREFIX "CONFIG_CROSS_COMPILER_PREFIX=\"$CROSS\""
for off in $(grep -v '^#' "$REPO/images/build/riscv64-busybox.busybox-off" | tr -s ' \n' ' '); do
  bb_set "$off" "# CONFIG_$off is not set"
done
{ yes '' || true; } | make -s -C "$BBSRC" O="$BBOUT" oldconfig >/dev/null
log "building busybox (static, ${CROSS}gcc)"
# Compiler warnings go to a log; it is shown only when the build fails.
if ! make -s -C "$BBSRC" O="$BBOUT" -j"$JOBS" busybox > "$WORK/busybox-build.log" 2>&1; then
  tail -40 "$WORK/busybox-build.log" >&2
  die "busybox did not build (full log: $WORK/busybox-build.log)"
fi
file "$BBOUT/busybox" | grep -q 'RISC-V.*statically linked' || die "$BBOUT/busybox is not a static RISC-V binary"
make -s -C "$BBSRC" O="$BBOUT" busybox.links >/dev/null
[ -s "$BBOUT/busybox.links" ] || die "no busybox.links"

# --- kernel --------------------------------------------------------------------------------
log "configuring the kernel in $KOUT"
configure_kernel riscv "$KOUT" "$REPO/images/build/$NAME.config" CROSS_COMPILE=$CROSS
log "building Image (make -j$JOBS, a few minutes)"
make -s -C "$KSRC" O="$KOUT" ARCH=riscv CROSS_COMPILE=$CROSS -j"$JOBS" Image
[ -x "$KOUT/usr/gen_init_cpio" ] || make -s -C "$KSRC" O="$KOUT" ARCH=riscv CROSS_COMPILE=$CROSS usr/gen_init_cpio

# --- initramfs -----------------------------------------------------------------------------
rm -rf "$ROOT" && mkdir -p "$ROOT/bin"
install -m 0755 "$BBOUT/busybox" "$ROOT/bin/busybox"
${CROSS}strip "$ROOT/bin/busybox"
install_busybox_links "$ROOT" "$BBOUT/busybox.links"
write_guest_files "$ROOT"
make_initramfs "$KOUT" "$ROOT" "$WORK/initrd.cpio"

# --- artifacts -----------------------------------------------------------------------------
install -m 0644 "$KOUT/arch/riscv/boot/Image" "$DEST/Image"
install -m 0644 "$WORK/initrd.cpio" "$DEST/initrd.cpio"
install -m 0644 "$OPENSBI" "$DEST/fw_jump.bin"
cp "$KOUT/.config" "$DEST/kernel.config"
cp "$BBOUT/.config" "$DEST/busybox.config"

node "$REPO/images/build/update-manifest.mjs" <<JSON
{
  "name": "$NAME",
  "description": "riscv64 Linux $(make -s -C "$KSRC" kernelversion) (tinyconfig, QEMU virt board, one hart) + BusyBox $BBVER (static), OpenSBI $(dpkg-query -W -f='${Version}' opensbi) fw_jump; serial console",
  "arch": "riscv64",
  "engine": "rv64",
  "firmware": "images/$NAME/fw_jump.bin",
  "kernel": "images/$NAME/Image",
  "initrd": "images/$NAME/initrd.cpio",
  "cmdline": "console=ttyS0 earlycon=sbi",
  "memoryMiB": 128,
  "readyMarker": "tabvisor-guest-ready"
}
JSON
log "artifacts in images/$NAME/:"
ls -l "$DEST" >&2
