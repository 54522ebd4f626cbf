#!/usr/bin/env bash
# Bounded fuzzing of callqa's parsers of untrusted input (fuzz/: the WAV decoder and the
# rulebook loader): each target runs CALLQA_FUZZ_SECONDS seconds (default 60; 0 skips).
# Installs cargo-fuzz when it is missing. Runs on the stable toolchain: the targets are built
# without a sanitizer (`-s none`), which needs no nightly-only flag; callqa forbids `unsafe`,
# so AddressSanitizer would add little. A crash, a broken invariant or a hang fails the script
# and leaves the input in fuzz/artifacts/<target>/ (replay: cargo fuzz run -s none <target> <file>).
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${CALLQA_FUZZ_SECONDS:-60}"
if [ "$seconds" -eq 0 ]; then
  echo "fuzz: skipped (CALLQA_FUZZ_SECONDS=0)" >&2
  exit 0
fi
if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "fuzz: installing cargo-fuzz" >&2
  cargo install cargo-fuzz --locked --version 0.13.2 --quiet
fi
cd fuzz
# 16 codegen units: the instrumented build compiles all of callqa's dependencies (polars,
# whisper.cpp) once; with cargo-fuzz's default of 1 that takes several times longer.
build=(-s none --codegen-units 16)
cargo fuzz build "${build[@]}"
mkdir -p corpus/decode corpus/rules
# Seeds: the fixture recordings (good and malformed) and the real rulebooks. New inputs go to
# corpus/<target> (ignored by git), so later runs start where earlier ones stopped.
cargo fuzz run "${build[@]}" decode corpus/decode ../fixtures -- \
  -max_total_time="$seconds" -max_len=65536 -timeout=10 -rss_limit_mb=2048 -print_final_stats=1
cargo fuzz run "${build[@]}" rules corpus/rules ../rules -- \
  -max_total_time="$seconds" -max_len=16384 -timeout=10 -rss_limit_mb=2048 -print_final_stats=1
