#!/usr/bin/env bash
# GPU checks in one go (for a lent GPU machine whose python3 already has torch, numpy,
# scipy and pandas): dMMSE at paper scale, training throughput, train() end to end.
#   bash benchmarks/device_check.sh [LOG]
set -uo pipefail
export PYTHONPATH=src PYTHONUNBUFFERED=1
log=${1:-/dev/null}
{
  nvidia-smi -L; python3 -c "import torch; print('torch', torch.__version__, torch.cuda.get_device_name())"
  for dt in float32 float64; do
    timeout 120 python3 benchmarks/bench_dmmse.py --device cuda --dtype $dt --seq-block 256 --chunk 65536 --repeats 2
  done
  timeout 60 python3 benchmarks/bench_dmmse.py --device cpu --n 64 --dtype float64 --threads 16
  timeout 60 python3 benchmarks/bench_train.py --device cuda --steps 50 --repeats 3
  timeout 60 python3 benchmarks/bench_train.py --device cuda --steps 50 --repeats 3 --bf16
  timeout 90 python3 benchmarks/train_device.py --device cuda --steps 3000
  timeout 90 python3 benchmarks/train_device.py --device cuda --steps 3000 --bf16
} 2>&1 | grep -v "it/s\]" | tee "$log"
