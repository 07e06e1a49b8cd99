#!/bin/sh
# Lint suite: banned functions (STYLE.md, after curl's list) and the
# include direction between modules (base <- crypto <- relay <- signaling;
# only relay/main.c sees both relay/ and signaling/). Prints each offence.
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

for f in $(find crypto relay/base -name '*.[ch]'); do
    grep -nE '#include "(relay/[a-z_]+\.h|signaling/)' "$f" | grep -v '"relay/base/' |
        while IFS= read -r line; do echo "$f:$line: crypto/ and relay/base/ see only the base layer"; done
done | grep . && status=1

for f in $(find relay -name '*.[ch]' ! -name main.c); do
    grep -n '#include "signaling/' "$f" |
        while IFS= read -r line; do echo "$f:$line: relay/ never includes signaling/"; done
done | grep . && status=1

for f in $sources; do
    grep -nE '#include "[a-z_]+\.h"' "$f" |
        while IFS= read -r line; do echo "$f:$line: includes are rooted at the project"; done
done | grep . && status=1

[ $status -eq 0 ] && echo "lint: clean"
exit $status
