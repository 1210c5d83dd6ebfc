#!/usr/bin/env bash
# Fuzzes the line framer and the command parser with libFuzzer for N seconds (default 60).
#
#   Tests/Fuzz/run-fuzz.sh [seconds] [extra libFuzzer flags...]
#
# Builds .build/fuzz/fuzz-lines from Sources/PartnerlineProtocol + Tests/Fuzz/FuzzLines.swift
# with `swiftc -sanitize=fuzzer,address` (the Swift toolchain ships libFuzzer), then runs it on
# a working copy of the seed corpus (Tests/Fuzz/corpus stays as committed). Each input's first
# 8 bytes choose where the stream is split and the line limit (see FramingSelfCheck.swift).
# A finding is saved as .build/fuzz/crash-<sha1>; replay it with
#   .build/fuzz/fuzz-lines .build/fuzz/crash-<sha1>
# and, once fixed, add it to Tests/Fuzz/corpus so `swift test` replays it forever.
set -euo pipefail
cd "$(dirname "$0")/../.."
seconds="${1:-60}"
shift || true
out=.build/fuzz
mkdir -p "$out/corpus"
swiftc -sanitize=fuzzer,address -parse-as-library -O -g \
  -module-name FuzzLines \
  Sources/PartnerlineProtocol/*.swift Tests/Fuzz/FuzzLines.swift \
  -o "$out/fuzz-lines"
cp -n Tests/Fuzz/corpus/* "$out/corpus/" 2>/dev/null || true
echo "fuzzing for ${seconds}s; corpus in $out/corpus, findings in $out/"
exec "$out/fuzz-lines" "$out/corpus" \
  -max_total_time="$seconds" -max_len=12000 -timeout=10 -rss_limit_mb=2048 \
  -artifact_prefix="$out/" -print_final_stats=1 "$@"
