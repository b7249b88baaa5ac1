"""mkdocs hook: publish each plugin's README and the changelog as pages (no copies in docs/)."""

from __future__ import annotations

from pathlib import Path

from mkdocs.structure.files import File


ROOT = Path(__file__).resolve().parents[2]


def on_files(files, config):  # type: ignore[no-untyped-def]
    for readme in sorted(ROOT.glob("plugins/*/README.md")):
        files.append(File.generated(config, f"plugins/{readme.parent.name}.md",
                                    content=readme.read_text(encoding="utf-8")))
    files.append(File.generated(config, "changelog.md",
                                content=(ROOT / "CHANGELOG.md").read_text(encoding="utf-8")))
    return files
