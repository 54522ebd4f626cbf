#!/usr/bin/env bash
# The nightly batch end to end on the bundled fixtures: set-up (packages, build, model), then
# `callqa run fixtures --out out`. Prints where the results are.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
out="${1:-out}"
set +e
./target/release/callqa run fixtures/manifest.csv --out "$out"
status=$?
set -e
# Exit code 2 means some calls failed and are listed in `failures`: the fixtures include
# malformed files on purpose, so that is the expected outcome here.
if [ "$status" -ne 0 ] && [ "$status" -ne 2 ]; then
  exit "$status"
fi
echo
echo "Results in $out/:"
echo "  $out/calls/ $out/segments/ $out/findings/ $out/agents/ $out/failures/  (Parquet, partitioned by call_date)"
echo "  $out/report.html   $out/runs/ (run manifests)"
