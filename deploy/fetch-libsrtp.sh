#!/bin/sh
# Fetches Debian 12's libsrtp2 source package into subprojects/libsrtp2 so that
# meson builds it against OpenSSL (Debian's binary package is built on NSS and
# costs ~4.6x more per AES-CM packet). Idempotent.
#
# The archives are the machine's own: every `deb` entry of its apt sources
# (Dir::Etc::sourcelist and the *.list and *.sources files of
# Dir::Etc::sourceparts, as `apt-config` names them) becomes a `deb-src` entry
# of the same URIs, suites, components and options, so mirrors, proxies and
# signed-by keys work as they do for apt itself and this file names no
# archive. Those entries go to a private source list and state directory:
# the system's apt configuration is not touched.
#
#   deploy/fetch-libsrtp.sh                  fetch (nothing to do if present)
#   deploy/fetch-libsrtp.sh --print-sources  print the derived entries, fetch nothing
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
dest="$top/subprojects/libsrtp2"

# One-line format: `deb [options] URI suite [component...]` (and existing
# deb-src lines) as deb-src, comments dropped, duplicates once.
derive_list() {
    awk '{ sub(/#.*/, "") }
         $1 == "deb" || $1 == "deb-src" { $1 = "deb-src"; if (!seen[$0]++) print }' "$@"
}

# deb822 format: each stanza as is (URIs, Suites, Components, Signed-By,
# Enabled, comments) with its Types field, and its continuation lines if any,
# replaced by `Types: deb-src`. Field names are case-insensitive.
derive_sources() {
    awk 'tolower($0) ~ /^types:/ { print "Types: deb-src"; types = 1; next }
         types && /^[ \t]/ { next }
         { types = 0; print }' "$1"
}

# Writes DIR/sources.list and DIR/sources.d/*.sources from the system's apt
# sources; fails when they hold no entry to derive from.
derive() {
    out=$1
    list="" parts=""
    eval "$(apt-config shell list Dir::Etc::sourcelist/f parts Dir::Etc::sourceparts/d)"
    mkdir -p "$out/sources.d"
    set --
    if [ -f "$list" ]; then set -- "$list"; fi
    for f in "$parts"*.list; do
        if [ -f "$f" ]; then set -- "$@" "$f"; fi
    done
    : > "$out/sources.list"
    if [ $# -gt 0 ]; then derive_list "$@" > "$out/sources.list"; fi
    for f in "$parts"*.sources; do
        if [ -f "$f" ]; then derive_sources "$f" > "$out/sources.d/$(basename "$f")"; fi
    done
    if [ ! -s "$out/sources.list" ] && ! grep -qs '^Types: deb-src' "$out"/sources.d/*.sources; then
        echo "fetch-libsrtp: no deb entries in the apt sources ($list, ${parts}*.list," \
             "${parts}*.sources)" >&2
        return 1
    fi
}

if [ "${1:-}" = "--print-sources" ]; then
    tmp=$(mktemp -d)
    trap 'rm -rf "$tmp"' EXIT
    derive "$tmp"
    cat "$tmp/sources.list"
    for f in "$tmp"/sources.d/*.sources; do
        if [ -f "$f" ]; then echo "# $(basename "$f")"; cat "$f"; fi
    done
    exit 0
fi

[ -f "$dest/meson.build" ] && exit 0

work="$top/subprojects/.fetch"
rm -rf "$work"
mkdir -p "$work/lists/partial" "$work/cache/archives/partial" "$work/src"
derive "$work"
opts="-o Dir::Etc::SourceList=$work/sources.list -o Dir::Etc::SourceParts=$work/sources.d
      -o Dir::State::Lists=$work/lists -o Dir::Cache=$work/cache
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
