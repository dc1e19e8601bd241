#!/usr/bin/env bash
# Debian's arm64 CPython headers for the aarch64 build of kitpose._C, without installing anything:
# an arm64-only package list in a private apt state folder, `apt-get download`, `dpkg -x`, and the
# multiarch pyconfig.h copied over Debian's dispatching one (so one -I folder serves the compiler).
#   bash tests/cross/fetch_python_headers.sh OUT_DIR PYTHON_VERSION   (e.g. build/cross/python-aarch64 3.11)
set -euo pipefail
out=$1 ver=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/lists/partial" "$work/cache/archives/partial"
apt_opts=(-o "Dir::State::Lists=$work/lists" -o "Dir::Cache=$work/cache" -o APT::Architecture=arm64
          -o APT::Architectures::=arm64 -qq)
apt-get "${apt_opts[@]}" update
(cd "$work" && apt-get "${apt_opts[@]}" download "libpython$ver-dev:arm64" 2>/dev/null)
dpkg -x "$work"/libpython"$ver"-dev_*_arm64.deb "$work/root"
mkdir -p "$out/include"
rm -rf "$out/include/python$ver"
cp -r "$work/root/usr/include/python$ver" "$out/include/"
cp "$work/root/usr/include/aarch64-linux-gnu/python$ver/pyconfig.h" "$out/include/python$ver/pyconfig.h"
echo "aarch64 Python $ver headers in $out/include/python$ver"
