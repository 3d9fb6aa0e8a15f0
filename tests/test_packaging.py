"""The container and the Makefile install the same way: both go through scripts/install.sh.

Docker cannot run on the development machines, so this checks the Dockerfile's instructions
against the install script instead of building it.
"""

import re
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def dockerfile_instructions() -> list[tuple[str, str]]:
    text = (REPO / "Dockerfile").read_text().replace("\\\n", " ")
    lines = [line.strip() for line in text.splitlines()]
    return [tuple(line.split(maxsplit=1)) for line in lines if line and not line.startswith("#")]


def test_dockerfile_installs_with_the_install_script_and_its_requirement_files():
    instructions = dockerfile_instructions()
    runs = " ".join(argument for name, argument in instructions if name == "RUN")
    copies = " ".join(argument for name, argument in instructions if name == "COPY")
    assert "scripts/install.sh" in runs and "--dev" not in runs
    script = (REPO / "scripts" / "install.sh").read_text()
    app_requirements = set(re.findall(r"install_once (requirements[\w-]*\.txt)", script))
    app_requirements -= {"requirements-dev.txt", "requirements-distributed.txt"}  # options
    assert app_requirements == {"requirements.txt", "requirements-offline.txt"}
    for requirement in app_requirements:
        assert requirement in copies, f"the Dockerfile does not copy {requirement}"


def test_dockerfile_serves_the_app_as_a_non_root_user_on_7860_with_a_data_volume():
    instructions = dict(dockerfile_instructions())
    assert instructions["FROM"].startswith("python:3.11-slim-bookworm")
    assert instructions["EXPOSE"] == "7860"
    assert instructions["USER"] != "root"
    assert "/data" in instructions["VOLUME"]
    assert "serve" in instructions["CMD"]
    assert "HEALTHCHECK" in instructions


def test_makefile_runs_and_tests_through_the_install_script():
    makefile = (REPO / "Makefile").read_text()
    assert re.search(r"^run: install$", makefile, re.M)
    assert re.search(r"^test: install-dev$", makefile, re.M)
    assert "scripts/install.sh --dev" in makefile


def test_requirements_are_pinned():
    names = ("requirements.txt", "requirements-offline.txt", "requirements-dev.txt")
    for name in (*names, "requirements-distributed.txt"):
        for line in (REPO / name).read_text().splitlines():
            line = line.split("#")[0].strip()
            if line:
                pinned = re.fullmatch(r"[A-Za-z0-9_.\-]+==[\w.]+", line)
                assert pinned, f"{name}: {line} is not pinned"
