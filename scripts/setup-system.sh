#!/usr/bin/env bash
# Installs the Debian packages that the tests and image builds need, when missing.
# Usage: scripts/setup-system.sh [test|images|all]   (default: test)
# Runs apt-get only as root and only for what is not installed yet.
set -euo pipefail
what=${1:-test}

test_pkgs=(chromium qemu-system-misc qemu-user device-tree-compiler opensbi)
image_pkgs=(gcc-riscv64-linux-gnu binutils-riscv64-linux-gnu libc6-dev-riscv64-cross linux-source-6.1 opensbi seabios
  bc flex bison libelf-dev libssl-dev cpio lz4 xz-utils dpkg-dev make gcc)
asm_pkgs=(gcc-riscv64-linux-gnu binutils-riscv64-linux-gnu)

case "$what" in
  test) pkgs=("${test_pkgs[@]}" "${asm_pkgs[@]}") ;;
  images) pkgs=("${image_pkgs[@]}" qemu-system-misc) ;;
  all) pkgs=("${test_pkgs[@]}" "${image_pkgs[@]}") ;;
  *) echo "setup-system: unknown set '$what' (test, images or all)" >&2; exit 2 ;;
esac

missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" != 0 ]; then
  echo "setup-system: missing Debian packages: ${missing[*]} (run as root or install them)" >&2
  exit 1
fi
echo "setup-system: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
