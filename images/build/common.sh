# Shared helpers for the image build scripts (sourced, not run).
# Build work happens in $CACHE (outside git); only finished artifacts land in images/<name>/.

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
CACHE=${TABVISOR_IMAGES_CACHE:-$REPO/.cache/images-build}
KSRC_TAR=/usr/src/linux-source-6.1.tar.xz
KSRC=$CACHE/linux-source-6.1
JOBS=${JOBS:-2}
# Fixed timestamp for initramfs entries, so that a rebuild gives the same bytes.
EPOCH=${SOURCE_DATE_EPOCH:-1700000000}
# The same for what the kernel and BusyBox embed (version banner), so artifacts only change
# when their inputs do.
export SOURCE_DATE_EPOCH=$EPOCH
export KBUILD_BUILD_TIMESTAMP="$(LC_ALL=C date -u -d "@$EPOCH")" KBUILD_BUILD_USER=tabvisor KBUILD_BUILD_HOST=images KBUILD_BUILD_VERSION=1

log() { echo "[$(basename "$0" .sh)] $*" >&2; }
die() { echo "[$(basename "$0" .sh)] error: $*" >&2; exit 1; }

# Sourced without arguments, so $# is the build script's own argument count.
if [ $# -ne 0 ]; then
  echo "[$(basename "$0" .sh)] usage: $0 (no arguments; environment: JOBS=N, TABVISOR_IMAGES_CACHE=DIR, SOURCE_DATE_EPOCH=N)" >&2
  exit 2
fi

ensure_packages() { bash "$REPO/scripts/setup-system.sh" images; }

# Unpacks Debian's linux-source-6.1 once; builds then use O= directories beside it.
ensure_kernel_source() {
  [ -f "$KSRC_TAR" ] || die "$KSRC_TAR missing (Debian package linux-source-6.1)"
  local stamp=$KSRC/.tabvisor-unpacked
  if [ ! -f "$stamp" ] || [ "$KSRC_TAR" -nt "$stamp" ]; then
    log "unpacking $KSRC_TAR"
    rm -rf "$KSRC"
    mkdir -p "$CACHE"
    tar -C "$CACHE" -xf "$KSRC_TAR"
    touch "$stamp"
  fi
}

# configure_kernel ARCH OUTDIR FRAGMENT [make args...]
# tinyconfig + FRAGMENT, then checks that every option of FRAGMENT survived olddefconfig.
configure_kernel() {
  local arch=$1 out=$2 frag=$3; shift 3
  mkdir -p "$out"
  make -s -C "$KSRC" O="$out" ARCH="$arch" "$@" tinyconfig >/dev/null
  "$KSRC/scripts/kconfig/merge_config.sh" -m -O "$out" "$out/.config" "$frag" >/dev/null
  make -s -C "$KSRC" O="$out" ARCH="$arch" "$@" olddefconfig >/dev/null
  local line opt bad=0
  while IFS= read -r line; do
    case "$line" in
      CONFIG_*=*) grep -qxF "$line" "$out/.config" || { echo "  wanted $line, got: $(grep -E "^(# )?${line%%=*}[= ]" "$out/.config" || echo unset)" >&2; bad=1; } ;;
      "# CONFIG_"*" is not set") opt=${line#\# }; opt=${opt%% *}
        grep -q "^$opt=" "$out/.config" && { echo "  wanted $opt off, it is on" >&2; bad=1; } ;;
    esac
  done < "$frag"
  [ $bad = 0 ] || die "kernel config: some options of $frag did not stick (missing dependency?)"
}

# write_initramfs_list ROOTDIR LISTFILE: a gen_init_cpio list for the tree at ROOTDIR
# (owner root, fixed modes) plus /dev/console, which the kernel opens before devtmpfs exists.
write_initramfs_list() {
  local root=$1 list=$2 p rel mode
  {
    echo "dir /dev 0755 0 0"
    echo "nod /dev/console 0600 0 0 c 5 1"
    (cd "$root" && find . -mindepth 1 | LC_ALL=C sort) | while IFS= read -r p; do
      rel=${p#.}
      [ "$rel" = /dev ] && continue
      mode=$(stat -c %a "$root$rel")
      if [ -L "$root$rel" ]; then echo "slink $rel $(readlink "$root$rel") 0777 0 0"
      elif [ -d "$root$rel" ]; then echo "dir $rel $mode 0 0"
      elif [ -f "$root$rel" ]; then echo "file $rel $root$rel $mode 0 0"
      else die "$root$rel: only files, directories and symlinks go into the initramfs"
      fi
    done
  } > "$list.tmp"
  mv "$list.tmp" "$list"
}

# make_initramfs KERNEL_OUTDIR ROOTDIR OUTFILE: uncompressed cpio (newc) built by the kernel's gen_init_cpio.
make_initramfs() {
  local kout=$1 root=$2 outfile=$3
  # gen_init_cpio takes regular files' mtimes from the files themselves.
  find "$root" -exec touch -h -d "@$EPOCH" {} +
  write_initramfs_list "$root" "$root.list"
  "$kout/usr/gen_init_cpio" -t "$EPOCH" "$root.list" > "$outfile.tmp"
  mv "$outfile.tmp" "$outfile"
}

# install_busybox_links ROOTDIR LISTFILE: one symlink per applet (paths as in LISTFILE, e.g. /usr/bin/wc).
install_busybox_links() {
  local root=$1 listfile=$2 path rel
  while IFS= read -r path; do
    [ -n "$path" ] || continue
    rel=${path#/}
    [ "$rel" = bin/busybox ] && continue
    mkdir -p "$root/$(dirname "$rel")"
    # -s: compute the path in the guest tree, not through the build host's own /bin -> usr/bin link.
    ln -sfn "$(realpath -m -s --relative-to="/$(dirname "$rel")" /bin/busybox)" "$root/$rel"
  done < "$listfile"
}

# write_guest_files ROOTDIR: the init scripts, inittab and profile of images/build/rootfs (the guest
# contract of docs/IMAGES.md), plus the account files and empty mount points.
write_guest_files() {
  local root=$1
  mkdir -p "$root"/{etc/init.d,proc,sys,dev,tmp,root,mnt/host,run,var/log}
  chmod 1777 "$root/tmp"
  chmod 0700 "$root/root"
  ln -sfn bin/busybox "$root/init"
  # Modes as git has them (755 scripts, 644 the rest), whatever the builder's umask.
  local f
  (cd "$REPO/images/build/rootfs" && find . -type f) | while IFS= read -r f; do
    mkdir -p "$root/$(dirname "$f")"
    if [ -x "$REPO/images/build/rootfs/$f" ]; then install -m 0755 "$REPO/images/build/rootfs/$f" "$root/$f"
    else install -m 0644 "$REPO/images/build/rootfs/$f" "$root/$f"; fi
  done
  echo tabvisor > "$root/etc/hostname"
  printf 'root:x:0:0:root:/root:/bin/sh\n' > "$root/etc/passwd"
  printf 'root:x:0:\n' > "$root/etc/group"
  printf '127.0.0.1 localhost\n127.0.1.1 tabvisor\n' > "$root/etc/hosts"
}

sha256_of() { sha256sum "$1" | cut -d' ' -f1; }
