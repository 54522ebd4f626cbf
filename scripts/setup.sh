#!/usr/bin/env bash
# Installs everything callqa needs on a fresh Debian machine, skipping what is already there:
# the C toolchain pieces whisper.cpp builds with (cmake, libclang for bindgen, patch for
# callqa's changes to whisper.cpp, see whisper-cpp/callqa.cmake), audio tools for
# the fixtures, the LibriVox test recordings, GNU time (the operations tests measure callqa's
# peak memory with it), and the Whisper base model (converted to ggml).
# Idempotent: a second run does nothing but check.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(cmake libclang-dev patch espeak-ng sox pocketsphinx-testdata time)
missing=()
for package in "${packages[@]}"; do
  dpkg -s "$package" >/dev/null 2>&1 || missing+=("$package")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}" >&2
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi

echo "setup: building callqa (release)" >&2
cargo build --release --locked --quiet

# The model lands in ~/.cache/callqa/models (or $CALLQA_MODELS_DIR); install verifies its
# checksum and returns at once when it is already there.
./target/release/callqa model install >/dev/null
echo "setup: ready" >&2
