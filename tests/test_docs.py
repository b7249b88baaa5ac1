"""The docs cannot drift: every hook and every config field is documented as the code says."""

from __future__ import annotations

import inspect
import re

from genesis_core import hookspecs
from genesis_core.config.describe import markdown_reference

from .conftest import REPO


def test_every_hook_is_documented_with_its_exact_signature_and_an_example() -> None:
    text = (REPO / "docs" / "hooks.md").read_text()
    documented = re.findall(r"^## `(\w+)\(([^)]*)\)`$", text, flags=re.M)
    expected = [(name, ", ".join(args)) for name, args in hookspecs.spec_names().items()]
    assert sorted(expected) == sorted(documented)
    for name in hookspecs.spec_names():
        section = text.split(f"## `{name}(", 1)[1].split("\n## ", 1)[0]
        assert f"def {name}(" in section, f"{name} has no example"


def test_every_spec_has_a_contract_docstring_with_an_example() -> None:
    for name in hookspecs.spec_names():
        doc = inspect.getdoc(getattr(hookspecs, name)) or ""
        assert "Example::" in doc, name
        for arg in hookspecs.spec_names()[name]:
            assert f":param {arg}:" in doc, f"{name}: {arg} undocumented"


def test_configuration_reference_matches_the_schema() -> None:
    text = (REPO / "docs" / "configuration.md").read_text()
    block = text.split("(tests/test_docs.py checks it) -->\n", 1)[1].split("<!-- end generated",
                                                                          1)[0]
    assert markdown_reference().strip() == block.strip()
