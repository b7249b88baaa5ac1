"""Write a plugin project from the templates of one kind."""

from __future__ import annotations

import re
from pathlib import Path

from genesis_core.errors import GenesisError
from genesis_core.scaffold import templates


KINDS = {
    "strategy": ("register_strategies", templates.STRATEGY, templates.STRATEGY_TEST),
    "indicator": ("register_indicators", templates.INDICATOR, templates.INDICATOR_TEST),
    "risk": ("register_risk_policies", templates.RISK, templates.RISK_TEST),
    "notifier": ("register_notifiers", templates.NOTIFIER, templates.NOTIFIER_TEST),
    "executor": ("register_executors", templates.EXECUTOR, templates.EXECUTOR_TEST),
    "data-source": ("register_data_sources", templates.DATA_SOURCE,
                    templates.DATA_SOURCE_TEST),
}


def scaffold(kind: str, name: str, directory: Path) -> Path:
    """Create ``directory/genesis-<kind>-<name>``; return its path."""
    if kind not in KINDS:
        raise GenesisError(f"unknown plugin kind {kind!r} (choose {', '.join(KINDS)})")
    if not re.fullmatch(r"[a-z][a-z0-9_]{1,30}", name):
        raise GenesisError(f"plugin name {name!r}: use 2-31 lower-case letters, digits and _")
    slug = kind.replace("-", "_")
    dist = f"genesis-{kind}-{name.replace('_', '-')}"
    package = f"genesis_{slug}_{name}"
    root = directory / dist
    if root.exists():
        raise GenesisError(f"{root} already exists; choose another name or folder")
    hook, component, test = KINDS[kind]
    values = {"name": name, "Name": "".join(p.title() for p in name.split("_")),
              "dist": dist, "package": package, "entry": f"{slug}_{name}", "hook": hook,
              "kind": kind}
    files = {
        "pyproject.toml": templates.PYPROJECT,
        "README.md": templates.README,
        f"src/{package}/__init__.py": templates.INIT,
        f"src/{package}/plugin.py": templates.PLUGIN,
        f"src/{package}/component.py": component,
        f"tests/test_{name}.py": test,
    }
    for relative, template in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(template.lstrip("\n").format(**values))
    return root
