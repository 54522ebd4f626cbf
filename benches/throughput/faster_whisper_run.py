"""faster-whisper side of callqa's throughput benchmark (benches/throughput.rs runs it).

Transcribes mono channel files with faster-whisper (CTranslate2, int8 on CPU by default) and
its own VAD filter (Silero) on, the way a team would use it instead of callqa, and writes one
JSON object {file: text} to --out. Decoding settings mirror callqa's: no temperature fallback,
no conditioning on previous text, non-speech tokens suppressed; --beam-size 1 is greedy.

Usage: python faster_whisper_run.py --model DIR --out FILE [--beam-size N] [--workers N]
       [--threads N] [--compute-type int8] FILE:LANGUAGE ...
"""

import argparse
import json
import sys
from concurrent.futures import ThreadPoolExecutor

from faster_whisper import WhisperModel


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", required=True, help="CTranslate2 Whisper model folder")
    parser.add_argument("--out", required=True)
    parser.add_argument("--beam-size", type=int, default=1)
    parser.add_argument("--workers", type=int, default=1, help="files transcribed at once")
    parser.add_argument("--threads", type=int, default=1, help="CTranslate2 threads per worker")
    parser.add_argument("--compute-type", default="int8")
    parser.add_argument("inputs", nargs="+", metavar="FILE:LANGUAGE")
    args = parser.parse_args()

    model = WhisperModel(
        args.model,
        device="cpu",
        compute_type=args.compute_type,
        cpu_threads=args.threads,
        num_workers=args.workers,
        local_files_only=True,
    )

    def transcribe(item: str) -> tuple[str, str]:
        path, _, language = item.rpartition(":")
        segments, _info = model.transcribe(
            path,
            language=language or None,
            beam_size=args.beam_size,
            best_of=1,
            temperature=0.0,
            condition_on_previous_text=False,
            vad_filter=True,
        )
        return path, " ".join(segment.text.strip() for segment in segments)

    with ThreadPoolExecutor(max_workers=args.workers) as pool:
        results = dict(pool.map(transcribe, args.inputs))
    with open(args.out, "w", encoding="utf-8") as out:
        json.dump(results, out, ensure_ascii=False, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
