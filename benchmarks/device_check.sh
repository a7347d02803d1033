#!/usr/bin/env bash
# GPU checks in one go (for a lent GPU machine whose python3 already has torch, numpy,
# scipy and pandas): dMMSE at paper scale, training throughput, train() end to end at the
# paper's evaluation settings in eager, compiled, bf16 and compiled bf16 modes (steps/s
# and a 500K-step estimate each), the share of a step outside forward/backward/Adam, and
# the steps/s table the plan reads (written to $OUT/rates_cuda.csv: merge it into
# src/icl_diversity/data/rates.csv; measured first). About 10 minutes.
#   bash benchmarks/device_check.sh [LOG]
set -uo pipefail
export PYTHONPATH=src PYTHONUNBUFFERED=1
log=${1:-/dev/null}
{
  nvidia-smi -L; python3 -c "import torch; print('torch', torch.__version__, torch.cuda.get_device_name())"
  # first, so that a check cut short by its time limit still leaves the table
  timeout 120 python3 benchmarks/measure_rates.py --device cuda --out "${OUT:-/tmp}/rates_cuda.csv"
  for dt in float32 float64; do
    timeout 120 python3 benchmarks/bench_dmmse.py --device cuda --dtype $dt --seq-block 256 --chunk 65536 --repeats 2
  done
  timeout 60 python3 benchmarks/bench_dmmse.py --device cpu --n 64 --dtype float64 --threads 16
  timeout 60 python3 benchmarks/bench_train.py --device cuda --steps 50 --repeats 3
  timeout 60 python3 benchmarks/bench_train.py --device cuda --steps 50 --repeats 3 --bf16
  for mode in "" "--compile" "--bf16" "--bf16 --compile"; do
    timeout 120 python3 benchmarks/train_device.py --device cuda --steps 3000 $mode
  done
  timeout 60 python3 benchmarks/step_overhead.py --device cuda --model 8 128 2 --batch 256 --D 8 --steps 300 --repeats 3
} 2>&1 | grep -v "it/s\]" | tee "$log"
