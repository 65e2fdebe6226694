#!/usr/bin/env bash
# make test's pytest, in two processes at once: the tests marked `models` (they run the voice and extraction
# models, one at a time, as a box would) and all the others (Asterisk, the API, the database: light on CPU).
# The rest runs at the lowest CPU priority, so the calls get the cores as on a box of their own. Each line is
# prefixed with its half; the exit status is the worse of the two. The halves' outputs interleave, so each is
# also kept in build/test-<half>.log and the run ends with both halves' failures and counts, last.
set -uo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
mkdir -p build

half() {
    local name=$1 niceness=$2
    shift 2
    nice -n "$niceness" "$VENV/bin/pytest" -p no:cacheprovider -rfER --durations=20 "$@" tests 2>&1 \
        | tee "build/test-$name.log" | sed -u "s/^/[$name] /"
}

# Each failure's heading and its first "E" lines (the short summary cuts a message to one line), the tests
# that failed once and ran again, the short summary's FAILED lines: the end of the output is what CI keeps.
recap() {
    echo "=== $1: $(tail -n 1 "build/test-$1.log")"
    grep -E '^(_{3,} .* _{3,}$|E  )' "build/test-$1.log" | awk '/^_/ {n = 0} n++ < 12' | cut -c1-400 | head -n 80
    grep -E '^RERUN ' "build/test-$1.log" | cut -c1-300
    sed -n '/short test summary info/,$p' "build/test-$1.log" | grep -E '^(FAILED|ERROR) ' | cut -c1-300
}

# The model-server tests need llama.cpp's llama-server: on a machine that has none it is built (≈ 7 min) beside
# the first tests rather than inside the one that needs it, which waits for it (scripts/llama-server.sh locks).
nice -n 19 bash scripts/llama-server.sh > build/llama-server-build.log 2>&1 &
half models 0 -v -m models &  # a line per test: each takes up to a minute or two
models=$!
half rest 19 -q -m "not models" &
rest=$!
wait "$models"
a=$?
wait "$rest"
b=$?
recap models
recap rest
exit $((a > b ? a : b))
