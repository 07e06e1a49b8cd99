#!/bin/sh
# The demo behind README's first command, in two parts:
#  1. a short scripted control session: a relay on its built-in defaults in a
#     scratch directory, driven through prismctl, each step printed; then
#     that relay stops;
#  2. a relay with media on 127.0.0.1 plus the demo backend
#     (deploy/demo/server.py), which serves the call page; runs in the
#     foreground until Ctrl-C.
#   deploy/demo.sh [--script-only] [--listen HOST:PORT]   (default 127.0.0.1:8080)
# Open the printed address in a browser on this machine (the camera needs
# http://127.0.0.1 or http://localhost, or HTTPS), in two or more tabs or
# windows, and join the same bubble name in each.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
prism="$top/build/prism"
ctl="$top/build/signaling/prismctl"
listen=127.0.0.1:8080
demo=yes
while [ $# -gt 0 ]; do
    case "$1" in
    --script-only) demo=no ;;
    --listen) listen=${2:?--listen needs HOST:PORT}; shift ;;
    *) echo "usage: $0 [--script-only] [--listen HOST:PORT]" >&2; exit 2 ;;
    esac
    shift
done
work=$(mktemp -d /tmp/prism-demo-XXXXXX)
cd "$work"

"$prism" &
relay=$!
trap 'kill $relay 2>/dev/null; wait $relay 2>/dev/null; rm -rf "$work"' EXIT INT TERM
for _ in $(seq 100); do
    "$ctl" relay.info >/dev/null 2>&1 && break
    sleep 0.05
done

step() {
    echo "\$ prismctl $*"
    "$ctl" "$@" || true
}
step relay.info
step tenant.create '{"tenant":"acme","limits":{"max_bubbles":10,"max_peers":50}}'
step bubble.create '{"tenant":"acme","bubble":"standup"}'
step peer.join '{"tenant":"acme","bubble":"standup","peer":"alice"}'
step peer.join '{"tenant":"acme","bubble":"standup","peer":"bob","publish":false}'
step bubble.info '{"tenant":"acme","bubble":"standup"}'
step bubble.create '{"tenant":"acme","bubble":"bad id!"}'
step stats.get '{"tenant":"acme"}'
step peer.leave '{"tenant":"acme","bubble":"standup","peer":"bob"}'
step bubble.delete '{"tenant":"acme","bubble":"standup"}'
step relay.drain
echo "audit trail (pseudonymised):"
cat prism-audit.log

kill $relay
wait $relay 2>/dev/null || true
trap - EXIT INT TERM
cd /
rm -rf "$work"
[ "$demo" = yes ] || exit 0

echo
echo "demo: starting a relay (media on 127.0.0.1) and the demo backend."
echo "demo: open http://$listen/ in a browser on this machine, in two or more"
echo "      tabs, and join the same bubble name in each; Ctrl-C stops."
# server.py starts the relay itself (--relay), in its own scratch directory.
exec python3 "$top/deploy/demo/server.py" --listen "$listen" \
    --relay "'$prism' --media-ip 127.0.0.1"
