"""Pretraining task diversity and in-context linear regression: the science behind
the workflow (task pools, Bayesian baselines, the transformer, metrics, figures)."""
from .baselines import dmmse_predict, ridge_predict
from .model import load_pretrained
from .tasks import eval_set, task_pool, train_batch

__all__ = ["dmmse_predict", "ridge_predict", "load_pretrained", "eval_set", "task_pool",
           "train_batch"]
