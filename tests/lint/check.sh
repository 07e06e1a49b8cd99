#!/bin/sh
# Lint suite: banned functions (STYLE.md, after curl's list) and the
# include direction between layers (base <- wire, crypto <- net <- worker <-
# control <- signaling; only relay/main.c sees both relay/ and signaling/)
# and no jansson under relay/. Prints each offence.
set -u
top=${1:-$(cd "$(dirname "$0")/../.." && pwd)}
cd "$top" || exit 2
status=0
offend() {
    echo "$1"
    status=1
}

sources=$(find relay signaling crypto bench -name '*.[ch]' | sort)
for f in $sources; do
    # Calls only, not mentions in comments: a crude but effective filter.
    grep -nE '(^|[^_a-z0-9])(sprintf|strcpy|strcat|strncpy|strtok|atoi|gets)[[:space:]]*\(' "$f" |
        grep -vE '^\s*[0-9]+:\s*(/?\*|//)' | grep -v 'snprintf' |
        while IFS= read -r line; do echo "$f:$line: banned function"; done
done | grep . && status=1

# Layers, bottom first: a file may include its own layer and those below.
# crypto/ needs only relay/base/; relay/main.c alone sees signaling/.
rank() {
    case "$1" in
    relay/base/*) echo 0 ;;
    relay/wire/* | crypto/*) echo 1 ;;
    relay/net/*) echo 2 ;;
    relay/worker/*) echo 3 ;;
    relay/control/*) echo 4 ;;
    signaling/*) echo 5 ;;
    *) echo 9 ;;
    esac
}
for f in $(find crypto relay signaling -name '*.[ch]' ! -path relay/main.c); do
    own=$(rank "$f")
    grep -noE '#include "(relay|crypto|signaling|bench|tests)/[a-z_/]+\.h"' "$f" |
        while IFS=: read -r n inc; do
            dep=${inc#*\"}
            dep=${dep%\"}
            [ "$dep" = "${dep#crypto/}" ] || [ "$f" = "${f#relay/wire/}" ] ||
                { echo "$f:$n: $dep: relay/wire/ is pure and never sees crypto/"; continue; }
            [ "$(rank "$dep")" -le "$own" ] || echo "$f:$n: $dep: includes go down the layers only"
        done
done | grep . && status=1

for f in $sources; do
    grep -nE '#include "[a-z_]+\.h"' "$f" |
        while IFS= read -r line; do echo "$f:$line: includes are rooted at the project"; done
done | grep . && status=1

# relay/ speaks C and signaling/ speaks JSON (relay/control/relay.h): no
# jansson under relay/.
grep -rnE '#[[:space:]]*include[[:space:]]*[<"]jansson\.h[>"]' relay |
    while IFS= read -r line; do echo "$line: jansson stays out of relay/ (signaling/encode.c)"; done |
    grep . && status=1

# Formatting (.clang-format at the root): every C file as clang-format writes it.
if command -v clang-format >/dev/null 2>&1; then
    # shellcheck disable=SC2086
    clang-format --dry-run -Werror $sources $(find tests -name '*.[ch]' | sort) 2>&1 |
        grep -E '^[^ ].*: (error|warning):' | grep . && status=1
else
    offend "clang-format is not installed (deploy/setup.sh --tests installs it)"
fi

[ $status -eq 0 ] && echo "lint: clean"
exit $status
