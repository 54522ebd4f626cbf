#!/usr/bin/env bash
# callqa as a Slurm job array: task K of N runs `callqa run --shard K/N`.
# Submit with: sbatch deploy/slurm-array.sh /shared/calls/2026-11-20/manifest.csv /shared/dataset
#SBATCH --job-name=callqa-nightly
#SBATCH --array=0-7            # N = 8 shards: tasks 0..7
#SBATCH --cpus-per-task=2
#SBATCH --mem=3G
#SBATCH --time=04:00:00
#SBATCH --requeue              # a preempted task reruns and resumes from the run state
set -u
calls="$1"
out="$2"
n_shards="${SLURM_ARRAY_TASK_COUNT:-8}"
callqa run "$calls" --out "$out" --shard "${SLURM_ARRAY_TASK_ID}/${n_shards}" \
  --workers "${SLURM_CPUS_PER_TASK:-2}" --threads 1 --quiet
code=$?
# 2 = some calls failed and are listed in `failures`: the shard itself finished.
[ "$code" -eq 0 ] || [ "$code" -eq 2 ]
