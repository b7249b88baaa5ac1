#!/usr/bin/env python3
"""Set up the project on a fresh machine and run the main job or the tests.

    python3 dev.py demo    # create .venv, install core + plugins, run the paper-trading demo bot
    python3 dev.py test    # create .venv, install core + plugins, run lint and every test

Only the base Python (3.11+) and pip are assumed. The venv is reused while the packaging files
are unchanged.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path


ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PLUGINS = sorted(p.parent for p in (ROOT / "plugins").glob("*/pyproject.toml"))
STAMP = VENV / ".genesis-setup"


def run(*args: str | Path, **kwargs: object) -> None:
    print("+", " ".join(str(a) for a in args), flush=True)
    result = subprocess.run([str(a) for a in args], cwd=ROOT, check=False, **kwargs)
    if result.returncode:
        sys.exit(result.returncode)


def fingerprint() -> str:
    digest = hashlib.sha256(Path(__file__).read_bytes())
    for path in [ROOT / "pyproject.toml", *(p / "pyproject.toml" for p in PLUGINS)]:
        digest.update(path.read_bytes())
    return digest.hexdigest()


def setup() -> None:
    wanted = fingerprint()
    if STAMP.exists() and STAMP.read_text() == wanted:
        return
    if not (BIN / "python").exists():
        venv.create(VENV, with_pip=True)
    pip = [BIN / "python", "-m", "pip", "--disable-pip-version-check", "-q"]
    run(*pip, "install", "hatchling>=1.25", "editables>=0.5")
    # Core and every plugin are separate distributions, installed editable side by side.
    editable = ["-e", f"{ROOT}[dev]"]
    for plugin in PLUGINS:
        editable += ["-e", str(plugin)]
    run(*pip, "install", "--no-build-isolation", *editable)
    STAMP.write_text(wanted)


def demo() -> None:
    genesis = BIN / "genesis"
    run(genesis, "plugins")
    run(genesis, "config", "check", *sorted(ROOT.glob("examples/*.yaml")))
    run(genesis, "run", "--fresh", ROOT / "examples" / "paper-demo.yaml")


def test(extra: list[str]) -> None:
    run(BIN / "ruff", "check", ".")
    run(BIN / "python", "-m", "pytest", *extra)


def main() -> None:
    if sys.version_info < (3, 11):  # noqa: UP036 - this script is what tells old Pythons
        sys.exit(f"Genesis needs Python 3.11 or newer; this is {sys.version.split()[0]}")
    command = sys.argv[1] if len(sys.argv) > 1 else ""
    if command not in ("demo", "test", "setup"):
        sys.exit(__doc__)
    setup()
    if command == "demo":
        demo()
    elif command == "test":
        test(sys.argv[2:])


if __name__ == "__main__":
    main()
