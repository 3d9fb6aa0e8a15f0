"""The import rules in `.importlinter` hold, and each of them catches the import it forbids.

`lint-imports` (import-linter) reads the contracts; a broken one fails this test with the
contract's name. Every contract is also shown to bite: a copy of the tree gets one forbidden
import and the named contract must break, so no rule here passes because it checks nothing.
"""

import configparser
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
CONFIG = REPO / ".importlinter"
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"

# contract id -> (file of the copied tree, the import appended to it that breaks the contract)
VIOLATIONS = {
    "no-ui-in-core": ("core/metrics/ranking.py", "import gradio"),
    "layers": ("core/paths.py", "import core.runs.store"),
    "domain-order": ("core/experiments/registry.py", "import core.runs.store"),
    "serving-without-training": ("core/serving/onnx.py", "import core.vision.train"),
    "reports-without-command-lines": ("core/reports/plateau.py", "import core.runs.cli"),
    "thin-command-lines": ("tabs/retrieval.py", "import core.retrieval.cli"),
}


def contract_names() -> dict[str, str]:
    """Contract id -> its name, as `.importlinter` declares them."""
    parser = configparser.ConfigParser()
    parser.read(CONFIG)
    prefix = "importlinter:contract:"
    return {
        section.removeprefix(prefix): parser[section]["name"]
        for section in parser.sections()
        if section.startswith(prefix)
    }


def lint_imports(root: Path) -> tuple[int, dict[str, str], str]:
    """Run lint-imports in `root`: its exit status, each contract's verdict by name (KEPT or
    BROKEN) and its whole report."""
    assert LINT_IMPORTS.is_file(), "lint-imports is missing: pip install -r requirements-dev.txt"
    result = subprocess.run(
        [str(LINT_IMPORTS), "--no-logo", "--no-cache"],
        cwd=root,
        capture_output=True,
        text=True,
        env={**os.environ, "COLUMNS": "500"},  # one line per verdict, however long the name
        timeout=120,
    )
    verdicts = dict(re.findall(r"^(.+?) (KEPT|BROKEN)\b", result.stdout, flags=re.MULTILINE))
    return result.returncode, verdicts, result.stdout + result.stderr


def test_every_import_contract_holds():
    status, verdicts, report = lint_imports(REPO)
    broken = [name for name in contract_names().values() if verdicts.get(name) != "KEPT"]
    assert not broken and status == 0, f"broken import contract(s): {'; '.join(broken)}\n{report}"


def test_every_contract_has_a_violation_that_shows_it_bites():
    assert set(VIOLATIONS) == set(contract_names())


@pytest.mark.parametrize("contract", sorted(VIOLATIONS))
def test_a_forbidden_import_breaks_its_contract(contract, tmp_path):
    for package in ("core", "tabs"):
        shutil.copytree(
            REPO / package, tmp_path / package, ignore=shutil.ignore_patterns("__pycache__")
        )
    shutil.copy(CONFIG, tmp_path / CONFIG.name)
    path, statement = VIOLATIONS[contract]
    with open(tmp_path / path, "a") as module:
        module.write(f"\n{statement}\n")

    status, verdicts, report = lint_imports(tmp_path)
    name = contract_names()[contract]
    assert status != 0 and verdicts.get(name) == "BROKEN", report
