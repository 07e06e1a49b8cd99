#!/bin/sh
# Sets up a fresh Debian 12 machine to build Prism, then builds it in ./build.
#   deploy/setup.sh           build dependencies only
#   deploy/setup.sh --tests   also what the test suites need (browsers, Python peers)
# Installs Debian packages with apt-get (as root, or through sudo), fetches
# Debian's libsrtp2 source (built against OpenSSL by meson) and compiles.
set -eu
cd "$(dirname "$0")/.."

build_pkgs="build-essential meson ninja-build pkg-config dpkg-dev ca-certificates
  libssl-dev libnice-dev libglib2.0-dev libuv1-dev libjansson-dev libopus-dev libvpx-dev
  libcmocka-dev openssl python3 scdoc"
# The metrics listener's HTTP server (signaling/metrics_http.c).
build_pkgs="$build_pkgs libmicrohttpd-dev"
test_pkgs="clang-format iproute2 nftables util-linux procps chromium chromium-driver python3-aiortc janus
  debhelper lintian fakeroot"
# The Debian package's build dependencies beyond the build's own
# (tests/package/test_package.py builds it): bash-completion's pkg-config
# file says where prismctl's completion goes.
test_pkgs="$test_pkgs bash-completion"
# A real Prometheus scrapes a relay in tests/integration/test_prometheus.py.
test_pkgs="$test_pkgs prometheus"
# Chromium reaches the relay only through coturn in tests/integration/test_turn.py.
test_pkgs="$test_pkgs coturn"

pkgs=$build_pkgs
[ "${1:-}" = "--tests" ] && pkgs="$pkgs $test_pkgs"

missing=""
for p in $pkgs; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    # shellcheck disable=SC2086
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends $missing
    # The package starts a TURN server on every interface with its sample
    # configuration; the tests start their own on loopback, so a coturn we
    # have just installed does not run as a service.
    case " $missing " in
    *" coturn "*) command -v systemctl >/dev/null && $sudo systemctl disable --now coturn 2>/dev/null || true ;;
    esac
fi

deploy/fetch-libsrtp.sh
[ -f build/build.ninja ] || meson setup build --buildtype=debugoptimized >/dev/null
ninja -C build
