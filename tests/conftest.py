import sys
from pathlib import Path
from typing import Any

# The program imports `components` from the project root, as the language host runs it.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

FIGURES: list[str] = []  # figures measured by the end-to-end tests, printed at the end


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if FIGURES:
        terminalreporter.section("end-to-end figures")
        for line in FIGURES:
            terminalreporter.write_line(line)
