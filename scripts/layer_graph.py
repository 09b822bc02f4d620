"""Print the layer picture of docs/architecture.md from the code: who imports
whom.

Run ``python scripts/layer_graph.py``; ``tests/test_architecture.py`` checks
that the picture in the docs is what this prints. Imports made only for
annotations are left out, as import-linter leaves them out (pyproject.toml).
"""

from __future__ import annotations

import grimp

LAYERS = (
    "launch",
    "notebook",
    "render",
    "session",
    "client",
    "dialects",
    "wire",
    "records",
    "emulator",
)


def edges() -> list[tuple[str, str]]:
    """(importer, imported) for each pair of layers with a direct import between
    them.
    """
    graph = grimp.build_graph("sora_nb", exclude_type_checking_imports=True)
    found = set()
    for upper in LAYERS:
        for lower in LAYERS:
            if upper != lower and graph.direct_import_exists(
                importer=f"sora_nb.{upper}", imported=f"sora_nb.{lower}", as_packages=True
            ):
                found.add((upper, lower))
    return sorted(found, key=lambda e: (LAYERS.index(e[0]), LAYERS.index(e[1])))


def mermaid() -> str:
    lines = ["```mermaid", "flowchart TD"]
    links = edges()
    alone = [layer for layer in LAYERS if not any(layer in link for link in links)]
    # imports nothing of sora_nb at import time
    lines += [f"    {layer}" for layer in alone]
    lines += [f"    {upper} --> {lower}" for upper, lower in links]
    lines.append("```")
    return "\n".join(lines)


if __name__ == "__main__":
    print(mermaid())
