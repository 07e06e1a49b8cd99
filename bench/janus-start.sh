#!/bin/sh
# Configures and starts Debian's Janus (VideoRoom over plain HTTP) on loopback
# for prism-bench --target janus. Run it as root INSIDE the bench's private
# network namespace (unshare -n sh -c 'ip link set lo up; ...'):
#
#   eval "$(bench/janus-start.sh --cores 1 --cpus 0)"
#   prism-bench run --target janus --janus-url "$JANUS_URL" ...
#   bench/janus-start.sh --stop "$JANUS_DIR"
#
# Prints JANUS_URL, JANUS_PID and JANUS_DIR as shell assignments on stdout.
#
# Janus never gathers candidates on loopback interfaces, so this gives it
# 127.0.0.2 on lo (so the bench reaches it) and on an ifb device (an
# interface Janus does not skip), and sets interface = ice_enforce_list =
# 127.0.0.2: every Janus candidate is 127.0.0.2. The ifb driver is built
# into this kernel (ip link add ... type ifb works in a fresh namespace); a
# dummy device would do as well and is tried when ifb is missing.
#
# Options:
#   --cores N         Janus event_loops (default: 1)
#   --cpus LIST       pin Janus with taskset -c LIST (default: not pinned)
#   --port P          HTTP API port (default: 8088)
#   --rtp-ports A-B   rtp_port_range (default: 10000-20000, below the
#                     kernel's ephemeral range the bench's own sockets use)
#   --dir DIR         where configs and the log go (default: a new temp dir)
#   --debug N         Janus debug_level (default: 3, warnings and errors)
#   --stop DIR        stop the Janus started with --dir DIR and remove DIR
set -eu
here=$(cd "$(dirname "$0")" && pwd)
cores=1 cpus="" port=8088 rtp_ports=10000-20000 dir="" debug=3
while [ $# -gt 0 ]; do
    case "$1" in
    --cores) cores=$2; shift 2 ;;
    --cpus) cpus=$2; shift 2 ;;
    --port) port=$2; shift 2 ;;
    --rtp-ports) rtp_ports=$2; shift 2 ;;
    --dir) dir=$2; shift 2 ;;
    --debug) debug=$2; shift 2 ;;
    --stop)
        d=$2
        if [ -f "$d/janus.pid" ]; then
            pid=$(cat "$d/janus.pid")
            kill "$pid" 2>/dev/null || true
            i=0
            while kill -0 "$pid" 2>/dev/null && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
            kill -9 "$pid" 2>/dev/null || true
        fi
        rm -rf "$d"
        exit 0 ;;
    *) echo "janus-start.sh: unknown option $1" >&2; exit 2 ;;
    esac
done

janus=$(command -v janus || true)
[ -n "$janus" ] || { echo "janus-start.sh: janus is not installed (apt-get install janus)" >&2; exit 3; }
lib=""
for d in /usr/lib/*/janus /usr/lib/janus /usr/local/lib/janus; do
    [ -f "$d/plugins/libjanus_videoroom.so" ] && { lib=$d; break; }
done
[ -n "$lib" ] || { echo "janus-start.sh: libjanus_videoroom.so not found" >&2; exit 3; }
[ -f "$lib/transports/libjanus_http.so" ] || { echo "janus-start.sh: libjanus_http.so not found" >&2; exit 3; }

# 127.0.0.2 on lo and on an ifb (or dummy) device; idempotent.
ip addr show dev lo | grep -q 'inet 127.0.0.2/' || ip addr add 127.0.0.2/32 dev lo
if ! ip link show jifb >/dev/null 2>&1; then
    ip link add jifb type ifb 2>/dev/null || ip link add jifb type dummy || {
        echo "janus-start.sh: cannot create an ifb or dummy device (root in a private namespace?)" >&2
        exit 1
    }
fi
ip addr show dev jifb | grep -q 'inet 127.0.0.2/' || ip addr add 127.0.0.2/32 dev jifb
ip link set jifb up

[ -n "$dir" ] || dir=$(mktemp -d /tmp/prism-janus-XXXXXX)
mkdir -p "$dir/plugins" "$dir/transports" "$dir/events" "$dir/loggers"
ln -sf "$lib/plugins/libjanus_videoroom.so" "$dir/plugins/libjanus_videoroom.so"
ln -sf "$lib/transports/libjanus_http.so" "$dir/transports/libjanus_http.so"
for f in janus.jcfg janus.transport.http.jcfg janus.plugin.videoroom.jcfg; do
    sed -e "s|@DIR@|$dir|g" -e "s|@CORES@|$cores|g" -e "s|@RTP_PORTS@|$rtp_ports|g" \
        -e "s|@PORT@|$port|g" -e "s|@DEBUG@|$debug|g" "$here/janus/$f.in" >"$dir/$f"
done

pin=""
[ -n "$cpus" ] && pin="taskset -c $cpus"
# shellcheck disable=SC2086
$pin "$janus" -C "$dir/janus.jcfg" -F "$dir" -o >"$dir/janus.log" 2>&1 &
pid=$!
echo "$pid" >"$dir/janus.pid"

# Ready when the HTTP API answers an info request.
i=0
until /usr/bin/python3 - "$port" <<'PY' 2>/dev/null
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=1)
s.sendall(b"GET /janus/info HTTP/1.0\r\n\r\n")
sys.exit(0 if b"server_info" in s.recv(65536) else 1)
PY
do
    if ! kill -0 "$pid" 2>/dev/null; then
        echo "janus-start.sh: janus exited; its log:" >&2
        tail -20 "$dir/janus.log" >&2
        exit 1
    fi
    i=$((i + 1))
    [ $i -lt 100 ] || { echo "janus-start.sh: janus did not answer on port $port" >&2; kill "$pid"; exit 1; }
    sleep 0.1
done
echo "JANUS_URL=http://127.0.0.1:$port/janus"
echo "JANUS_PID=$pid"
echo "JANUS_DIR=$dir"
