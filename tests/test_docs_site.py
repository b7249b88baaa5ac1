"""The documentation site builds with no broken references, and the tutorial works as written."""

from __future__ import annotations

import os
import re
import site
import subprocess
import sys
import venv
from pathlib import Path

import pytest

from .conftest import REPO


def test_docs_site_builds_strictly(tmp_path) -> None:
    """mkdocs in strict mode: a broken link or a missing page fails the build."""
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path)],
        cwd=REPO, capture_output=True, text=True, check=False)
    assert 0 == result.returncode, result.stderr
    assert (tmp_path / "plugins" / "risk_basic" / "index.html").exists()
    assert (tmp_path / "tutorial" / "index.html").exists()


def tutorial_blocks() -> list[tuple[str, str | None, str]]:
    """(language, target file or None, body) of every block tagged `tutorial`, in order."""
    text = (REPO / "docs" / "tutorial.md").read_text()
    pattern = re.compile(r"^```(\w+) tutorial(?: file=(\S+))?\n(.*?)^```$", re.M | re.S)
    return [(m.group(1), m.group(2), m.group(3)) for m in pattern.finditer(text)]


@pytest.fixture
def tutorial_env(tmp_path) -> dict[str, str]:
    """A fresh venv that also sees this environment's packages (genesis-core and plugins)."""
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True)
    bin_dir = env_dir / "bin"
    python = bin_dir / "python"
    purelib = subprocess.run([python, "-c", "import sysconfig; print(sysconfig.get_paths()"
                              "['purelib'])"], capture_output=True, text=True,
                             check=True).stdout.strip()
    lines = "".join(f"import site; site.addsitedir({p!r})\n" for p in site.getsitepackages())
    Path(purelib, "genesis_parent.pth").write_text(lines)
    for tool, module in (("genesis", "genesis_core"), ("pytest", "pytest")):
        shim = bin_dir / tool
        shim.write_text(f'#!/bin/sh\nexec "{python}" -m {module} "$@"\n')
        shim.chmod(0o755)
    return {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
            "VIRTUAL_ENV": str(env_dir), "PIP_NO_BUILD_ISOLATION": "false",
            "PIP_DISABLE_PIP_VERSION_CHECK": "1"}


def test_tutorial_runs_as_written(tmp_path, tutorial_env) -> None:
    work = tmp_path / "work"
    work.mkdir()
    outputs = []
    for language, target, body in tutorial_blocks():
        if target is not None:
            (work / target).parent.mkdir(parents=True, exist_ok=True)
            (work / target).write_text(body)
            continue
        assert "bash" == language
        result = subprocess.run(["bash", "-euo", "pipefail", "-c", body], cwd=work,
                                env=tutorial_env, capture_output=True, text=True, check=False)
        assert 0 == result.returncode, f"{body}\n{result.stdout}\n{result.stderr}"
        outputs.append(result.stdout)
    joined = "\n".join(outputs)
    assert "strategy_breakout  (genesis-strategy-breakout 0.1.0)" in joined
    assert "2 passed" in joined
    assert "ok: bot.yaml: bot 'breakout-paper'" in joined
    assert "backtest breakout-paper (run #1)" in joined
    assert (work / "backtests" / "breakout-paper-1.html").exists()
    assert "3 candidates, 3 scored, 0 errors" in joined
    assert "summary breakout-paper: 733 bars" in joined
    # The paper run ends where the backtest of the same file ended.
    backtest_equity = re.search(r"Final equity\s+([\d,.]+)", joined).group(1)
    paper_equity = re.search(r"-> ([\d.]+) \(", joined).group(1)
    assert backtest_equity.replace(",", "") == paper_equity
