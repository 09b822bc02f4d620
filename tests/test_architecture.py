"""The shape of the code, held by tests: what a dialect is lives in its folder
only.
"""

from __future__ import annotations

import ast
import importlib.util
import re
from pathlib import Path

from sora_nb import dialects
from sora_nb.records import _turn, _video

from .conftest import ROOT

# A test of a dialect's kind: ``dialect == "videos"``, ``x.dialect != y``, a
# kind spelled as a string beside ``==``/``!=``, or a kind in a literal tuple
# (``in ("chat", "videos")``).
_KINDS = "|".join(re.escape(d.name) for d in dialects.DIALECTS) + "|transcript|sora2api"
_KIND = rf"[\"']({_KINDS})[\"']"
_CONDITIONAL = re.compile(
    rf"dialect\s*(==|!=)|(==|!=)\s*{_KIND}|{_KIND}\s*(==|!=)|\bin\s*[(\[{{]\s*{_KIND}"
)


def _outside_dialects() -> dict[str, str]:
    files = sorted((ROOT / "sora_nb").rglob("*.py"))
    return {
        str(path.relative_to(ROOT)): path.read_text(encoding="utf-8")
        for path in files
        if "dialect" not in str(path.relative_to(ROOT / "sora_nb").parent)
    }


def test_no_dialect_conditional_outside_the_dialects_folders() -> None:
    found = [
        f"{name}:{number}: {line.strip()}"
        for name, text in _outside_dialects().items()
        for number, line in enumerate(text.splitlines(), 1)
        if _CONDITIONAL.search(line.split("#", 1)[0])
    ]
    assert found == []


def test_the_check_finds_a_conditional() -> None:
    assert _CONDITIONAL.search('if self.dialect == "videos":')
    assert _CONDITIONAL.search('if name not in ("chat", "videos"):')
    assert _CONDITIONAL.search('kind = "sora2api" if x else y') is None


def test_records_of_a_video_import_nothing_that_reads_a_relay() -> None:
    for module in (_video, _turn):
        tree = ast.parse(Path(str(module.__file__)).read_text(encoding="utf-8"))
        imported = {
            node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)
        }
        # Event types, for the callbacks' annotations, are data; parsers not.
        readers = {m for m in imported if m.endswith(("_protocol", "_limits")) or "dialect" in m}
        assert readers == set(), module.__name__


def test_a_setting_names_one_dialect() -> None:
    for dialect in dialects.DIALECTS:
        assert dialect.__module__.rsplit(".", 1)[-1] == dialect.name
        for setting in (dialect.name, *dialect.aliases):
            assert dialects.dialect_for(setting) is dialect


def test_each_kind_of_relay_is_one_module_emulator_file_fixtures_and_doc_section() -> None:
    guide = (ROOT / "docs" / "dialects.md").read_text(encoding="utf-8")
    for kind in dialects.KINDS:
        assert kind.__module__ == f"sora_nb.dialects.{kind.name}"
        assert (ROOT / "sora_nb" / "emulator" / f"_{kind.name}.py").is_file(), kind.name
        assert any((ROOT / "tests" / "fixtures" / kind.name).iterdir()), kind.name
        assert f"`sora_nb/dialects/{kind.name}.py`" in guide, kind.name


def test_the_architecture_picture_is_the_code() -> None:
    script = ROOT / "scripts" / "layer_graph.py"
    spec = importlib.util.spec_from_file_location("layer_graph", script)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    picture = module.mermaid()
    assert "client --> dialects" in picture and "dialects --> client" not in picture
    assert picture in (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
