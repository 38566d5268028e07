#!/usr/bin/env bash
# Builds images/x86-busybox: a small i386 Linux 6.1 (Debian linux-source-6.1, tinyconfig +
# x86-busybox.config, LZ4 bzImage), an uncompressed initramfs with Debian's busybox-static:i386,
# and Debian's SeaBIOS + VGA BIOS. Boots on the v86 engine. Usage: images/build/x86-busybox.sh
set -euo pipefail
source "$(dirname "$0")/common.sh"

NAME=x86-busybox
DEST=$REPO/images/$NAME
WORK=$CACHE/$NAME
KOUT=$WORK/linux
ROOT=$WORK/root
mkdir -p "$WORK" "$DEST"

ensure_packages
ensure_kernel_source

# --- busybox-static for i386, straight from the Debian archive -----------------------------
# apt runs with private index and cache folders limited to i386, so the system's apt setup
# (architectures, lists) is left exactly as it was.
fetch_busybox_deb() {
  local debdir=$WORK/debs apt=$WORK/apt
  mkdir -p "$debdir" "$apt/lists/partial" "$apt/cache/archives/partial"
  local opts=(-o "Dir::State::Lists=$apt/lists" -o "Dir::Cache=$apt/cache"
    -o APT::Architecture=i386 -o APT::Architectures::=i386 -o Debug::NoLocking=1
    -o APT::Sandbox::User=root)
  if ! ls "$debdir"/busybox-static_*_i386.deb >/dev/null 2>&1; then
    log "downloading busybox-static:i386"
    # One unreachable index (e.g. a mirror in sync) is not fatal: the download below checks.
    apt-get "${opts[@]}" update -qq >&2 || log "warning: apt-get update reported errors"
    (cd "$debdir" && apt-get "${opts[@]}" download -qq busybox-static:i386) >&2 ||
      die "could not download busybox-static:i386"
  fi
  ls "$debdir"/busybox-static_*_i386.deb | tail -1
}
BBDEB=$(fetch_busybox_deb)
log "userland: $(basename "$BBDEB")"
rm -rf "$WORK/bbdeb" && dpkg -x "$BBDEB" "$WORK/bbdeb"
BB=$WORK/bbdeb/bin/busybox
[ -x "$BB" ] || die "no bin/busybox in $BBDEB"

# --- kernel ----------------------------------------------------------------------------------
log "configuring the kernel in $KOUT"
configure_kernel i386 "$KOUT" "$REPO/images/build/$NAME.config"
log "building bzImage (make -j$JOBS, a few minutes)"
make -s -C "$KSRC" O="$KOUT" ARCH=i386 -j"$JOBS" bzImage
[ -x "$KOUT/usr/gen_init_cpio" ] || make -s -C "$KSRC" O="$KOUT" ARCH=i386 usr/gen_init_cpio

# --- initramfs -------------------------------------------------------------------------------
rm -rf "$ROOT" && mkdir -p "$ROOT/bin"
cp "$BB" "$ROOT/bin/busybox"
chmod 0755 "$ROOT/bin/busybox"
# The applet list comes from the binary itself (i386 runs on an x86-64 host; qemu-i386 otherwise).
if ! "$BB" --list-full > "$WORK/applets" 2>/dev/null; then
  command -v qemu-i386 >/dev/null || die "cannot run the i386 busybox to list its applets (install qemu-user)"
  qemu-i386 "$BB" --list-full > "$WORK/applets"
fi
install_busybox_links "$ROOT" "$WORK/applets"
write_guest_files "$ROOT"
make_initramfs "$KOUT" "$ROOT" "$WORK/initrd.cpio"

# --- artifacts -------------------------------------------------------------------------------
install -m 0644 "$KOUT/arch/x86/boot/bzImage" "$DEST/bzImage"
install -m 0644 "$WORK/initrd.cpio" "$DEST/initrd.cpio"
install -m 0644 /usr/share/seabios/bios.bin "$DEST/bios.bin"
install -m 0644 /usr/share/seabios/vgabios-stdvga.bin "$DEST/vgabios-stdvga.bin"
cp "$KOUT/.config" "$DEST/kernel.config"

node "$REPO/images/build/update-manifest.mjs" <<JSON
{
  "name": "$NAME",
  "description": "i386 Linux $(make -s -C "$KSRC" kernelversion) (tinyconfig) + BusyBox $(dpkg-deb -f "$BBDEB" Version) (Debian busybox-static:i386), SeaBIOS; serial console",
  "arch": "i686",
  "engine": "v86",
  "firmware": "images/$NAME/bios.bin",
  "vgaBios": "images/$NAME/vgabios-stdvga.bin",
  "kernel": "images/$NAME/bzImage",
  "initrd": "images/$NAME/initrd.cpio",
  "cmdline": "console=ttyS0",
  "memoryMiB": 128,
  "acpi": true,
  "readyMarker": "tabvisor-guest-ready"
}
JSON
log "artifacts in images/$NAME/:"
ls -l "$DEST" >&2
