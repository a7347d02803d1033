"""What made a result: file hashes, the git state of the code, the config hash and the
software versions, as plain dicts that rule scripts write next to their outputs."""
from __future__ import annotations

import hashlib
import json
import platform
import subprocess
from importlib import metadata
from pathlib import Path

from .config import config_hash
from .io import atomic_path

REPO = Path(__file__).resolve().parents[2]


def sha256(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def git_state(repo: str | Path = REPO) -> dict:
    """{"commit": sha or None, "dirty": bool or None}; None where git is unavailable.
    Dirty means tracked or untracked-but-not-ignored files differ from the commit."""
    def git(*args):
        return subprocess.run(["git", "-C", str(repo), *args], capture_output=True,
                              text=True, check=True).stdout.strip()
    try:
        return {"commit": git("rev-parse", "HEAD"), "dirty": bool(git("status", "--porcelain"))}
    except (OSError, subprocess.CalledProcessError):
        return {"commit": None, "dirty": None}


def file_record(paths) -> list[dict]:
    return [{"path": str(p), "sha256": sha256(p)} for p in paths]


def sidecar(inputs, outputs, config: dict) -> dict:
    """Provenance of one result: every input and output file with its sha256, the
    config hash and the git state of the code."""
    return {"config_hash": config_hash(config), "git": git_state(),
            "inputs": file_record(inputs), "outputs": file_record(outputs)}


def write_json(path, record: dict) -> None:
    with atomic_path(path) as tmp:
        Path(tmp).write_text(json.dumps(record, indent=2) + "\n")


def software_versions() -> dict:
    """Interpreter, key packages and the accelerator (if any) of this environment."""
    versions = {"python": platform.python_version(), "platform": platform.platform()}
    for package in ("torch", "numpy", "scipy", "pandas", "matplotlib", "snakemake"):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = None
    import torch
    versions["cuda_device"] = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    versions["cuda_version"] = torch.version.cuda
    return versions


def html_table(record: dict, title: str) -> str:
    """A flat dict as a two-column HTML page (the report shows HTML, not JSON)."""
    from html import escape
    rows = "\n".join(f"<tr><th>{escape(str(k))}</th><td><code>{escape(str(v))}</code></td></tr>"
                     for k, v in record.items())
    return (f"<!DOCTYPE html>\n<html><head><meta charset='utf-8'><title>{escape(title)}</title>"
            "<style>body{font-family:sans-serif} th{text-align:left;padding-right:2em}</style>"
            f"</head><body><h2>{escape(title)}</h2>\n<table>\n{rows}\n</table></body></html>\n")
