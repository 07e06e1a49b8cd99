#!/bin/sh
# Runs the relay on its built-in defaults in a scratch directory and drives a
# short control session through prismctl, printing each step. Leaves the relay
# running in the foreground until Ctrl-C when given --stay.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
prism="$top/build/prism"
ctl="$top/build/signaling/prismctl"
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
if [ "${1:-}" = "--stay" ]; then
    echo "relay running on $work/prism-control.sock; Ctrl-C to stop"
    wait $relay
fi
