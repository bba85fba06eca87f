"""The app's files say what they hold: a module that defines widgets or screens is named after
one of them, and the main screen only arranges (it reads no field and computes no data)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

TUI = Path(__file__).resolve().parents[2] / "tui"
#: base classes whose subclasses are widgets or screens (a Message is not one)
VISUAL = re.compile(r"(Widget|Static|Vertical|Horizontal|DataTable|ScrollView|Select|Screen|App)$")


def snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def visual_classes(tree: ast.Module) -> list[str]:
    names = []
    for node in tree.body:
        if isinstance(node, ast.ClassDef):
            bases = [ast.unparse(base) for base in node.bases]
            if any(VISUAL.search(base.split("[")[0]) for base in bases):
                names.append(node.name)
    return names


def test_a_module_of_widgets_is_named_after_one_of_them() -> None:
    misnamed = {}
    for path in sorted(TUI.glob("*.py")):
        classes = visual_classes(ast.parse(path.read_text()))
        # "app.py" holds TwostageApp: the package's entry point keeps Textual's name for it
        if classes and path.stem != "app" and path.stem not in {snake(name) for name in classes}:
            misnamed[path.name] = classes
    assert not misnamed, f"name each file after the widget it is about: {misnamed}"


def test_the_main_screen_reads_no_field_and_computes_nothing() -> None:
    tree = ast.parse((TUI / "main_screen.py").read_text())
    imported = {
        alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom | ast.Import)
        for alias in node.names
    }
    assert not imported & {"Input", "Select", "numpy"}, (
        "the widgets own their fields and data; the screen arranges them and routes messages"
    )
