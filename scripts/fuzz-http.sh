#!/usr/bin/env bash
# Fuzzes the HTTP/1 engine (WeirHTTP) and the deflate encoder (WeirDeflate)
# with libFuzzer and AddressSanitizer.
#
#   scripts/fuzz-http.sh [SECONDS] [LIBFUZZER-FLAGS...]
#
# Builds the WeirHTTPFuzz product in release mode with -sanitize=fuzzer,address
# into .build-fuzz/, then fuzzes for SECONDS (default 60). The growing corpus
# lives in .build-fuzz/corpus/http (seeded from fuzz/corpus/http); a crashing
# input is written to .build-fuzz/artifacts/ and the script exits non-zero.
# Extra flags go to libFuzzer, e.g. -jobs=4 -workers=4. See docs/fuzzing.md.
set -euo pipefail

seconds="${1:-60}"
shift || true
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
scratch="$root/.build-fuzz"
corpus="$scratch/corpus/http"
artifacts="$scratch/artifacts"

swift build --package-path "$root" --scratch-path "$scratch" -c release \
    --product WeirHTTPFuzz -Xswiftc -sanitize=fuzzer,address

mkdir -p "$corpus" "$artifacts"
cd "$scratch"
# Swift's own crash backtracer hangs on a trap under libFuzzer and ASan;
# libFuzzer prints the stack itself.
export SWIFT_BACKTRACE="${SWIFT_BACKTRACE:-enable=no}"
exec "$scratch/release/WeirHTTPFuzz" \
    -max_total_time="$seconds" \
    -dict="$root/fuzz/http.dict" \
    -artifact_prefix="$artifacts/" \
    -print_final_stats=1 \
    "$@" \
    "$corpus" "$root/fuzz/corpus/http"
