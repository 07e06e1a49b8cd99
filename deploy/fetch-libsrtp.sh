#!/bin/sh
# Fetches Debian 12's libsrtp2 source package into subprojects/libsrtp2 so that
# meson builds it against OpenSSL (Debian's binary package is built on NSS and
# costs ~4.6x more per AES-CM packet). Uses a private apt source list and state
# directory: the system's apt configuration is not touched. Idempotent.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
dest="$top/subprojects/libsrtp2"
[ -f "$dest/meson.build" ] && exit 0

work="$top/subprojects/.fetch"
rm -rf "$work"
mkdir -p "$work/lists/partial" "$work/archives/partial" "$work/src"
cat > "$work/sources.list" <<LIST
deb-src http://deb.debian.org/debian bookworm main
deb-src http://deb.debian.org/debian-security bookworm-security main
LIST
opts="-o Dir::Etc::SourceList=$work/sources.list -o Dir::Etc::SourceParts=/dev/null
      -o Dir::State::Lists=$work/lists -o Dir::Cache::Archives=$work/archives
      -o APT::Sandbox::User=root"
# shellcheck disable=SC2086
apt-get $opts -qq update
cd "$work/src"
# shellcheck disable=SC2086
apt-get $opts -qq source --download-only libsrtp2
dpkg-source --no-check -x ./*.dsc unpacked >/dev/null
mv unpacked "$dest"
rm -rf "$work"
echo "libsrtp2 source: $(head -n1 "$dest/debian/changelog")"
