#!/usr/bin/env bash
# Installs what libprotect needs to build and test, from Debian's archive
# (--bench: and what bench/run needs).
set -euo pipefail
packages=(
  cmake make gcc pkg-config python3
  libelf-dev libdw-dev libcapstone-dev libinih-dev libcmocka-dev libunwind-dev libseccomp-dev
  sqlite3 libsqlite3-dev lmdb-utils liblmdb-dev zlib1g-dev libffi-dev liblwip-dev libgc-dev iproute2 netcat-openbsd
  dpkg-dev lintian groff man-db bash-completion
)
# bench/run draws its chart with gnuplot.
if [ "${1:-}" = --bench ]; then
  packages+=(gnuplot-nox)
fi
# A QEMU guest runs the checks that need a key enforced on machines whose CPU
# has no PKU, and the checks of a CPU without PKU on machines that have it.
packages+=(qemu-system-x86 linux-image-amd64 busybox-static cpio)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${missing[@]}" >/dev/null
fi
# And Debian 12's Linux 6.12 (bookworm-security), where it is to be had: the
# guest boots the newest kernel in /boot for the attack suite, and only since
# 6.12 can the kernel write signal frames where the application cannot reach
# them (the runtime checks keep Debian's 6.1).  Without it the guest runs 6.1,
# where the suite lists the frame attacks as known.
if ! ls /boot/vmlinuz-6.1[2-9]* /boot/vmlinuz-6.[2-9][0-9]* /boot/vmlinuz-[7-9].* >/dev/null 2>&1; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -qq linux-image-6.12-amd64 >/dev/null 2>&1 ||
    echo "install-deps: no Linux 6.12 image to be had: the guest runs the attacks on $(ls /boot/vmlinuz-* 2>/dev/null | sort -V | tail -n 1)"
fi
