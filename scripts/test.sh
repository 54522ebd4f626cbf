#!/usr/bin/env bash
# All tests: set-up (packages, build, model), unit and end-to-end tests with the real model on
# real audio, the rulebook check, bounded fuzzing of the parsers, and a DuckDB read of a
# dataset as a user would do it.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export CALLQA_MODEL="${CALLQA_MODEL:-$(./target/release/callqa model install)}"

cargo fmt --check
test_log="$(mktemp)"
cargo test --release --locked 2>&1 | tee "$test_log"

./target/release/callqa rules check rules

# The benchmarks are run by hand (README, Throughput), never as timed tests; build them here
# so that they keep compiling.
cargo bench --locked --no-run --quiet

# The decoder and the rulebook loader under cargo-fuzz, 30 s each (CALLQA_FUZZ_SECONDS; the
# first build instruments all dependencies and takes 10–25 min on a fresh machine).
CALLQA_FUZZ_SECONDS="${CALLQA_FUZZ_SECONDS:-30}" bash scripts/fuzz.sh

# DuckDB and pyarrow read the dataset as it is, with no conversion.
work="$(mktemp -d)"
trap 'rm -rf "$work" "$test_log"' EXIT
set +e
./target/release/callqa --quiet run fixtures/manifest.csv --out "$work/out" >/dev/null
status=$?
set -e
[ "$status" -eq 2 ] || { echo "expected exit code 2 (fixtures hold malformed files), got $status" >&2; exit 1; }
python3 -m venv "$work/venv"
"$work/venv/bin/pip" install --quiet duckdb pyarrow pytz
"$work/venv/bin/python" scripts/check_dataset.py "$work/out"

# The report in a real browser, offline, where one is installed (not by setup.sh: ~400 MB).
if command -v chromium >/dev/null 2>&1; then
  bash scripts/check_report_in_browser.sh "$work/out/report.html" "$work/report.png"
fi

# One closing line over every cargo test binary (unit, integration, doc), for CI's reader.
awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($i ~ /^passed;?$/) passed += $(i - 1); if ($i ~ /^failed;?$/) failed += $(i - 1) } }
     END { printf "tests: %d passed, %d failed\n", passed, failed }' "$test_log"
