"""Pretraining task diversity and in-context linear regression: the science behind
the workflow (task pools, Bayesian baselines, the transformer, metrics, figures).

The names below are imported on first use, so importing one module of the package
(as every workflow script does) loads only what that module needs.
"""
import importlib

_EXPORTS = {"dmmse_predict": "baselines", "ridge_predict": "baselines",
            "load_pretrained": "model", "eval_set": "tasks", "task_pool": "tasks",
            "BatchStream": "batches"}
__all__ = list(_EXPORTS)


def __getattr__(name):
    if name in _EXPORTS:
        return getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
