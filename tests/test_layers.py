"""The house of `components/`: no import circle (imports inside functions and under TYPE_CHECKING
counted), no function over 80 lines, no module over 600 code lines (docstrings, comments and blank
lines not counted). docs/design.md draws the floors these imports make."""

from __future__ import annotations

import ast
import io
import tokenize
from pathlib import Path

COMPONENTS = Path(__file__).resolve().parent.parent / "components"
MODULES = {path.stem: path for path in sorted(COMPONENTS.glob("*.py"))}


def imports(path: Path) -> set[str]:
    """The modules of `components/` that `path` imports, anywhere in it."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.level == 1:
            names = [node.module.split(".")[0]] if node.module else [alias.name for alias in node.names]
            found |= {name for name in names if name in MODULES}
    return found


def arrows_of_components() -> dict[str, set[str]]:
    return {name: imports(path) - {name} for name, path in MODULES.items()}


def floors(arrows: dict[str, set[str]]) -> dict[str, int]:
    """Each module's floor: 0 imports no other module, n imports one of floor n-1 at most. Raises on a circle."""
    floor: dict[str, int] = {}
    visiting: list[str] = []

    def place(name: str) -> int:
        if name in floor:
            return floor[name]
        if name in visiting:
            raise AssertionError("import circle: " + " -> ".join([*visiting[visiting.index(name) :], name]))
        visiting.append(name)
        floor[name] = 1 + max((place(other) for other in arrows[name]), default=-1)
        visiting.pop()
        return floor[name]

    for name in arrows:
        place(name)
    return floor


def code_lines(source: str) -> int:
    tree = ast.parse(source)
    docs: set[int] = set()
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        first = body[0] if isinstance(body, list) and body else None
        if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) and isinstance(first.value.value, str):
            docs.update(range(first.lineno, (first.end_lineno or first.lineno) + 1))
    code: set[int] = set()
    skipped = {tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT, tokenize.ENDMARKER}
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type not in skipped:
            code.update(range(token.start[0], token.end[0] + 1))
    return len(code - docs)


def test_no_import_circle_in_components() -> None:
    placed = floors(arrows_of_components())
    assert placed["__init__"] == max(placed.values())  # the package's face is the top floor
    assert placed["model"] < placed["settings"] < placed["private_registry"]


def test_a_circle_is_named_and_floors_count_up() -> None:
    """The check above can fail: a circle is reported by its modules."""
    assert floors({"names": set(), "model": {"names"}, "settings": {"model", "names"}}) == {"names": 0, "model": 1, "settings": 2}
    try:
        floors({"model": {"settings"}, "settings": {"distribution"}, "distribution": {"model"}})
    except AssertionError as error:
        assert str(error) == "import circle: model -> settings -> distribution -> model"
    else:
        raise AssertionError("no circle found")


def test_no_function_over_80_lines_and_no_module_over_600_code_lines() -> None:
    long_functions, big_modules = [], []
    for name, path in MODULES.items():
        source = path.read_text()
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.end_lineno - node.lineno + 1 > 80:
                long_functions.append(f"{name}.{node.name}: {node.end_lineno - node.lineno + 1} lines")
        if (lines := code_lines(source)) > 600:
            big_modules.append(f"{name}: {lines} code lines")
    assert not long_functions and not big_modules, long_functions + big_modules
