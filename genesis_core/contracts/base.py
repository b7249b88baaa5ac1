"""What every registered component has in common."""

from __future__ import annotations

import re
from typing import Any, ClassVar

import attrs


NAME_RE = re.compile(r"^[a-z][a-z0-9_]*$")


@attrs.frozen
class NoParams:
    """Params class of a component that takes none."""


class Component:
    """Base of the six component contracts.

    A component class declares ``name`` (what YAML refers to in ``plugin:``) and ``Params``, an
    attrs class that the core structures from the YAML ``params:`` mapping (unknown keys and wrong
    types are errors that name the YAML line). The core instantiates the class with that
    params object; a component never parses its own config.
    """

    kind: ClassVar[str] = "component"
    name: ClassVar[str]
    Params: ClassVar[type] = NoParams

    def __init__(self, params: Any = None) -> None:
        self.params = self.Params() if params is None else params

    @classmethod
    def summary(cls) -> str:
        """First line of the class docstring, shown by ``genesis plugins``."""
        doc = (cls.__doc__ or "").strip()
        return doc.splitlines()[0] if doc else ""
