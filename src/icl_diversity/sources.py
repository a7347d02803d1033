"""Which package files a workflow script runs: the closure of its `icl_diversity`
imports, read from the source (ast), so each rule's declared code inputs follow the
code as it moves and editing a module reruns exactly the rules that execute it."""
from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent
# Files a module reads at run time besides the Python it imports.
DATA_FILES = {"native.py": ["_dmmse.c"]}


def _imported_modules(path: Path) -> set[str]:
    """Package modules (file names) imported by one file, absolutely or relatively."""
    tree = ast.parse(path.read_text(), filename=str(path))
    in_package = path.parent == PACKAGE
    found = set()

    def add(dotted: str):
        if dotted:
            found.add(dotted.split(".")[0] + ".py")

    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("icl_diversity."):
                    add(alias.name.split(".", 1)[1])
        elif isinstance(node, ast.ImportFrom):
            if node.level == 0 and node.module and node.module.split(".")[0] == "icl_diversity":
                rest, names = node.module.partition(".")[2], [a.name for a in node.names]
            elif node.level == 1 and in_package:
                rest, names = node.module or "", [a.name for a in node.names]
            else:
                continue
            if rest:
                add(rest)
            else:   # from icl_diversity import x: x is a module or a name from __init__
                found.update(n + ".py" for n in names if (PACKAGE / f"{n}.py").exists())
    return {m for m in found if (PACKAGE / m).exists()}


def script_sources(script) -> list[Path]:
    """Every package file that running `script` imports (always `__init__.py`), and
    the data files those modules read, sorted."""
    todo, seen = [Path(script), PACKAGE / "__init__.py"], {"__init__.py"}
    while todo:
        for module in _imported_modules(todo.pop()) - seen:
            seen.add(module)
            todo.append(PACKAGE / module)
    files = set(seen)
    for module, extra in DATA_FILES.items():
        if module in seen:
            files.update(extra)
    return sorted(PACKAGE / f for f in files)
