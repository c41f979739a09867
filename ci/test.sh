#!/usr/bin/env bash
# The whole test run (the README's test command): each stage in ci/test.d/ installs the Debian packages it
# needs, builds and runs its tests. Stages run in name order and stop at the first failure.
# CNB_STAGES="10 20" runs only the stages whose names start with those prefixes.
set -euo pipefail
cd "$(dirname "$0")/.."
export DEBIAN_FRONTEND=noninteractive
for stage in ci/test.d/*.sh; do
    name=$(basename "$stage")
    if [ -n "${CNB_STAGES:-}" ]; then
        want=0
        for p in $CNB_STAGES; do case "$name" in "$p"*) want=1 ;; esac; done
        [ "$want" = 1 ] || continue
    fi
    echo "=== $name ($(date -u +%H:%M:%S))"
    start=$SECONDS
    bash -euo pipefail "$stage"
    echo "=== $name passed in $((SECONDS - start)) s"
done
