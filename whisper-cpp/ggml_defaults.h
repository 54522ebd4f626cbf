/*
 * Force-included into every C++ file of the whisper.cpp build (see callqa.cmake).
 *
 * whisper.cpp 1.8.3 computes DTW word times (which callqa uses to place each word in its
 * packed utterance) on a CPU backend it creates on the spot, with ggml's default thread
 * count, 4, whatever the caller asked for (whisper_exp_compute_token_level_timestamps_dtw).
 * Each window therefore started 3 extra threads that spun in ggml_barrier while one thread
 * ran the median filter: 12 % of a single worker's CPU time, and with callqa's one worker
 * per core they took cores from the other workers. One thread is what every other part of
 * a callqa worker uses.
 */
#pragma once
#if defined(__has_include)
#if __has_include("ggml.h")
#include "ggml.h"
#undef GGML_DEFAULT_N_THREADS
#define GGML_DEFAULT_N_THREADS 1
#endif
#endif
