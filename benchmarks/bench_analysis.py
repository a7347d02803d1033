"""Time of the default run's analysis jobs, at the default config's sizes (not a test).

    .venv/bin/python benchmarks/bench_analysis.py            # config.yaml's sizes, 1 thread
    .venv/bin/python benchmarks/bench_analysis.py --repeats 5

Models are freshly initialised (the timings do not depend on the weights). Prints the
median over repeats of: one connectivity job (every finite M of the config to M = inf,
analysis.connectivity.n_points values of t on n_sequences T_True sequences), and the
work of one Fig 5 evaluation job at the largest M of analysis.interpolation (its set, one
PT per setting of the group, Ridge and dMMSE). Python start-up and file I/O of the jobs
come on top (a few seconds each).
"""
from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import numpy as np
import torch
import yaml

from icl_diversity import config as cfg
from icl_diversity.analysis import interpolation_set, path_losses
from icl_diversity.baselines import dmmse_predict, ridge_predict
from icl_diversity.model import ModelConfig, build_model
from icl_diversity.tasks import eval_set, task_pool
from icl_diversity.train import predict_numpy

ROOT = Path(__file__).resolve().parents[1]


def timed(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", default=str(ROOT / "config.yaml"))
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1, help="as the workflow's jobs use")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    conf = yaml.safe_load(Path(args.config).read_text())
    pb, an = conf["problem"], conf["analysis"]
    group = conf["figures"]["connectivity"]
    setting = cfg.sweep_settings(conf, group)[0]
    mcfg = ModelConfig(n_dims=pb["D"], n_points=pb["K"], **conf["models"][setting.model])
    a, b = build_model(mcfg, 1).state_dict(), build_model(mcfg, 2).state_dict()
    n_finite = sum(1 for M in conf["M"] if str(M) != "inf")
    con = an["connectivity"]
    true = eval_set(pb["D"], pb["K"], pb["noise_var"], con["n_sequences"], conf["seeds"]["eval"])
    ts = np.linspace(0, 1, con["n_points"])
    one_path = timed(lambda: path_losses(a, b, mcfg.to_dict(), ts, true["xs"], true["ys"], pb["D"]),
                     args.repeats)
    print(f"connectivity: one path ({con['n_points']} t x {con['n_sequences']} sequences): "
          f"{one_path:.2f} s; one job ({n_finite} paths): {n_finite * one_path:.1f} s")

    interp = an["interpolation"]
    M = max(interp["M"])
    pool = task_pool(M, pb["D"], conf["seeds"]["pool"])
    n_pt = len(cfg.sweep_settings(conf, conf["figures"]["fig5"])) * len(cfg.sweep_seeds(conf, group))
    model = build_model(mcfg, 1).eval()

    def fig5_job():
        s = interpolation_set(pool, pb["K"], pb["noise_var"], interp.get("n_pairs", 512),
                              interp.get("n_points", 11), conf["seeds"]["eval"])
        ridge_predict(s["xs"], s["ys"], pb["noise_var"])
        dmmse_predict(s["xs"], s["ys"], pool, pb["noise_var"])
        for _ in range(n_pt):
            predict_numpy(model, s["xs"], s["ys"])
    print(f"Fig 5 at M = {M}: set, Ridge, dMMSE and {n_pt} PT(s): {timed(fig5_job, args.repeats):.2f} s")


if __name__ == "__main__":
    main()
