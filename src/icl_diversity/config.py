"""Config helpers shared by the Snakefile, the scripts and the tests: checks the
schema cannot express, and the expansion of sweep groups into training runs."""
from __future__ import annotations

import hashlib
import itertools
import json
import math
from dataclasses import dataclass
from pathlib import Path

import yaml

from .tasks import M_label

SCHEMA = Path(__file__).resolve().parents[2] / "workflow" / "schemas" / "config.schema.yaml"


class ConfigError(ValueError):
    """A config value the workflow cannot run with; the message names the key."""


@dataclass(frozen=True)
class Setting:
    """One point of a sweep group, trained at every M."""
    model: str
    batch_size: int
    steps: int
    weight_decay: float

    @property
    def name(self) -> str:
        return f"{self.model}-b{self.batch_size}-s{self.steps}-wd{self.weight_decay:g}"

    @classmethod
    def parse(cls, name: str) -> "Setting":
        try:
            model, b, s, wd = name.rsplit("-", 3)
            assert b[0] == "b" and s[0] == "s" and wd[:2] == "wd"
            return cls(model, int(b[1:]), int(s[1:]), float(wd[2:]))
        except (ValueError, AssertionError, IndexError):
            raise ConfigError(f"not a setting name: {name!r} (expected MODEL-bBATCH-sSTEPS-wdDECAY)")


def sweep_settings(config: dict, group: str) -> list[Setting]:
    sweep = config["sweeps"][group]
    return [Setting(m, b, s, float(wd)) for m, b, s, wd in itertools.product(
        sweep["model"], sweep["batch_size"], sweep["steps"], sweep.get("weight_decay", [0.0]))]


def all_settings(config: dict) -> list[Setting]:
    seen = {}
    for group in config["sweeps"]:
        for s in sweep_settings(config, group):
            seen.setdefault(s.name, s)
    return list(seen.values())


def sweep_seeds(config: dict, group: str) -> list[int]:
    """The training seeds of a sweep group (each setting of the group runs every one)."""
    return sorted(int(s) for s in config["sweeps"][group].get("seed", [0]))


def all_runs(config: dict) -> list[tuple[str, int, str]]:
    """Every training run as (setting name, seed, M label), each once: a setting in
    several groups runs the union of their seeds."""
    seeds = {}
    for group in config["sweeps"]:
        for s in sweep_settings(config, group):
            seeds.setdefault(s.name, set()).update(sweep_seeds(config, group))
    return [(name, seed, M) for name, ss in seeds.items() for seed in sorted(ss)
            for M in M_labels(config)]


def M_labels(config: dict) -> list[str]:
    return [M_label(M) for M in config["M"]]


def _non_finite(node, path=()):
    """Key paths of every NaN or infinite number in a nested config."""
    if isinstance(node, float) and not math.isfinite(node):
        yield ".".join(map(str, path))
    elif isinstance(node, dict):
        for k, v in node.items():
            yield from _non_finite(v, path + (k,))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _non_finite(v, path + (i,))


def check(config: dict) -> None:
    """Cross-key checks the JSON Schema cannot state. Raises ConfigError naming the key."""
    # JSON Schema's bounds let NaN through (every comparison with NaN is false)
    bad = list(_non_finite(config))
    if bad:
        raise ConfigError(f"config key {bad[0]}: NaN or infinite numbers are not allowed "
                          "(M = infinity is spelled inf)")
    outdir = str(config["outdir"])
    if "{" in outdir or "}" in outdir:
        raise ConfigError(f"outdir: {outdir!r} may not contain braces (Snakemake reads them as wildcards)")
    if Path(outdir).exists() and not Path(outdir).is_dir():
        raise ConfigError(f"outdir: {outdir!r} exists and is not a folder")
    if not any(M_label(M) != "inf" for M in config["M"]):
        raise ConfigError("M: needs at least one finite pool size besides inf (the thresholds "
                          "and figures compare finite M)")
    for name, m in config["models"].items():
        if m["n_embd"] % m["n_head"]:
            raise ConfigError(f"models.{name}: n_embd ({m['n_embd']}) must be divisible by "
                              f"n_head ({m['n_head']})")
    for group, sweep in config["sweeps"].items():
        for model in sweep["model"]:
            if model not in config["models"]:
                raise ConfigError(f"sweeps.{group}.model: unknown model {model!r}; "
                                  f"defined in models: {sorted(config['models'])}")
            if "-" in model:
                raise ConfigError(f"sweeps.{group}.model: model names may not contain '-' ({model!r})")
    for fig, group in (config.get("figures") or {}).items():
        if group not in config["sweeps"]:
            raise ConfigError(f"figures.{fig}: unknown sweep group {group!r}; "
                              f"defined in sweeps: {sorted(config['sweeps'])}")
    t = config["train"]
    for s in all_settings(config):
        if s.steps < 2:
            raise ConfigError(f"sweeps: steps must be >= 2 for the triangle schedule ({s.name})")
    if t["eval_every"] < 1 or t["checkpoint_every"] < 1:
        raise ConfigError("train.eval_every and train.checkpoint_every must be >= 1")
    if t.get("device") == "cpu" and t.get("gpus_per_job", 0) >= 1:
        raise ConfigError("train.device is cpu but train.gpus_per_job asks each training job "
                          "for a GPU it would never use; set one of them differently")


def _coerce(value, schema: dict, defs: dict):
    if "$ref" in schema:
        schema = defs[schema["$ref"].rsplit("/", 1)[-1]]
    types = _types(schema, defs)
    if isinstance(value, str) and "string" not in types and value not in types:
        try:
            parsed = yaml.safe_load(value)
        except yaml.YAMLError:
            return value
        return value if parsed is None else _coerce(parsed, schema, defs)
    if isinstance(value, dict):
        props, extra = schema.get("properties", {}), schema.get("additionalProperties")
        return {k: _coerce(v, props.get(k, extra if isinstance(extra, dict) else {}), defs)
                for k, v in value.items()}
    if isinstance(value, list) and isinstance(schema.get("items"), dict):
        return [_coerce(v, schema["items"], defs) for v in value]
    return value


def _types(schema: dict, defs: dict) -> list[str]:
    """JSON types a schema admits (through $ref, anyOf, enum and const); the string
    constants it admits stand for themselves."""
    if "$ref" in schema:
        return _types(defs[schema["$ref"].rsplit("/", 1)[-1]], defs)
    if "anyOf" in schema:
        return [t for s in schema["anyOf"] for t in _types(s, defs)]
    if "type" in schema:
        return schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
    # a string constant admits only itself, returned as is (e.g. M's "inf")
    values = schema.get("enum", []) + ([schema["const"]] if "const" in schema else [])
    return [v if isinstance(v, str) else "number" for v in values] or ["any"]


def coerce_overrides(config: dict) -> dict:
    """Typed values for what `--config key=value` delivers as text: Snakemake reads a
    nested value (`train={lr: 0.001}`, `M=[2,16]`) with YAML's base loader, so every
    leaf is a string. A string where the schema admits no string is read as YAML."""
    schema = yaml.safe_load(SCHEMA.read_text())
    return _coerce(config, schema, schema.get("$defs", {}))


def validate(config: dict) -> dict:
    """Schema validation with defaults filled in, then the cross-key checks."""
    import jsonschema
    schema = yaml.safe_load(SCHEMA.read_text())
    validator = jsonschema.Draft202012Validator(schema)
    errors = sorted(validator.iter_errors(config), key=lambda e: list(e.absolute_path))
    if errors:
        e = errors[0]
        key = ".".join(str(p) for p in e.absolute_path) or "(top level)"
        raise ConfigError(f"config key {key}: {e.message}")
    check(config)
    return config


def config_hash(config: dict) -> str:
    """A short hash of the resolved config, stable across key order."""
    blob = json.dumps(config, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:12]
