#!/usr/bin/env bash
# The end-to-end throughput benchmark (benches/throughput.rs): sets up whisper.cpp's CLI and
# faster-whisper next to callqa (benches/throughput/setup.sh; minutes, once), then runs the
# three over the stereo fixture calls. Arguments go to the benchmark, e.g.
#   bash benches/throughput/run.sh --repeat 1 --decoding greedy
set -euo pipefail
cd "$(dirname "$0")/../.."
bash benches/throughput/setup.sh
cargo bench --locked --quiet --bench throughput -- "$@"
