#!/bin/sh
# Makes the TLS material of the control socket in DIR (default ./tls): an
# ECDSA P-256 CA, a server certificate for the relay and one client
# certificate per NAME given (default: "backend"), all signed by that CA.
# Prints each client's SHA-256 fingerprint, for [client NAME] groups.
#   deploy/make-certs.sh [DIR] [NAME...]
set -eu
dir=${1:-tls}
[ $# -gt 0 ] && shift
[ $# -gt 0 ] || set -- backend
mkdir -p "$dir"
cd "$dir"
umask 077
ec="-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes"

if [ ! -f ca.pem ]; then
    # shellcheck disable=SC2086
    openssl req -x509 $ec -keyout ca.key -out ca.pem -days 825 -subj "/CN=prism control CA" \
        2>/dev/null
fi
leaf() {
    # shellcheck disable=SC2086
    openssl req $ec -keyout "$1.key" -out "$1.csr" -subj "/CN=$1" 2>/dev/null
    openssl x509 -req -in "$1.csr" -CA ca.pem -CAkey ca.key -CAcreateserial -days 825 \
        -out "$1.pem" 2>/dev/null
    rm -f "$1.csr"
}
[ -f server.pem ] || leaf server
for name in "$@"; do
    leaf "$name"
    fp=$(openssl x509 -in "$name.pem" -outform DER | openssl dgst -sha256 -r | cut -d' ' -f1)
    echo "$name: fingerprint = $fp"
done
echo "in [control]: tls_cert = $PWD/server.pem, tls_key = $PWD/server.key, tls_client_ca = $PWD/ca.pem"
