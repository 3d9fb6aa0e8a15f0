"""The container, checked without Docker (it cannot run on these machines).

hadolint lints the Dockerfile; the rest reads the Dockerfile's instructions and checks them
against the install script, the app's settings and the repository: the user, the port, the
health check, the data volume, the COPY sources and the DEVICE build argument. The install
script's --cpu / default choice of ONNX Runtime build is run for real against a stand-in
Python that records what pip was asked to install.

tests/test_packaging.py checks that the Dockerfile and the Makefile share the install script.
"""

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

from test_packaging import REPO, dockerfile_instructions

from core import paths


def instruction(name: str) -> list[str]:
    return [argument for kind, argument in dockerfile_instructions() if kind == name]


def env_values() -> dict[str, str]:
    """Every KEY=value of the Dockerfile's ENV instructions."""
    values = {}
    for argument in instruction("ENV"):
        for pair in shlex.split(argument):
            key, _, value = pair.partition("=")
            values[key] = value
    return values


def test_hadolint_finds_nothing():
    hadolint = shutil.which("hadolint", path=str(Path(sys.executable).parent))
    assert hadolint, "hadolint is missing: `make test` installs it (requirements-dev.txt)"
    result = subprocess.run(
        [hadolint, "--config", str(REPO / ".hadolint.yaml"), str(REPO / "Dockerfile")],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_app_runs_as_the_non_root_user_that_owns_the_data_volume():
    (user,) = instruction("USER")
    uid = user.split(":")[0]
    assert uid.isdigit() and uid != "0"
    created = " ".join(instruction("RUN"))
    assert re.search(rf"useradd .*--uid {uid} app\b", created)
    (volume,) = instruction("VOLUME")
    data = env_values()["DLSTUDIO_DATA"]
    assert volume == f'["{data}"]'
    assert f"chown app:app {data}" in created
    assert env_values()["HF_HOME"].startswith(data + "/")  # hub downloads are kept too


def test_the_data_volume_holds_the_run_store_uploads_and_trained_models(monkeypatch, tmp_path):
    """With DLSTUDIO_DATA set as in the image, everything a user makes lands under it."""
    monkeypatch.setenv("DLSTUDIO_DATA", str(tmp_path))
    monkeypatch.delenv("DLSTUDIO_DB", raising=False)
    from core.runs.store import RunStore
    from core.tabular.data import import_csv

    store = RunStore(paths.default_db_path())
    assert store.path.parent == tmp_path
    assert store.run_dir(7).is_relative_to(tmp_path)  # checkpoints and exported models
    kept, _ = import_csv(REPO / "assets" / "credit_sample.csv")
    assert kept.is_relative_to(tmp_path)


def test_the_port_and_the_health_check_are_the_apps():
    (port,) = instruction("EXPOSE")
    assert env_values()["GRADIO_SERVER_PORT"] == port == "7860"
    assert env_values()["GRADIO_SERVER_NAME"] == "0.0.0.0"  # reachable from outside
    (health,) = instruction("HEALTHCHECK")
    assert f"http://127.0.0.1:{port}/" in health
    assert instruction("CMD") == ['["dlstudio", "serve"]']


def test_every_copy_source_exists_and_is_not_docker_ignored():
    ignored = {
        line.strip()
        for line in (REPO / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    }
    for argument in instruction("COPY"):
        sources = [word for word in argument.split() if not word.startswith("--")][:-1]
        for source in sources:
            assert (REPO / source).exists(), f"COPY {source}: no such file"
            assert source.split("/")[0] not in ignored, f"COPY {source} is .dockerignored"


def test_the_device_argument_picks_the_onnx_runtime_build():
    (device,) = instruction("ARG")
    assert device == "DEVICE=cpu"
    (install,) = [run for run in instruction("RUN") if "scripts/install.sh --cpu" in run]
    assert "cpu) scripts/install.sh --cpu" in install
    assert re.search(r"gpu\) scripts/install.sh +&&.*CUDAExecutionProvider", install)


def run_install(tmp_path: Path, *options: str) -> tuple[list[str], Path]:
    """Run scripts/install.sh with a stand-in venv python that logs its arguments and a dpkg
    that says every Debian package is there; returns the logged calls and the venv."""
    venv, tools = tmp_path / "venv", tmp_path / "tools"
    (venv / "bin").mkdir(parents=True, exist_ok=True)  # a second call reuses the venv
    tools.mkdir(exist_ok=True)
    log = tmp_path / "calls.log"
    for stub, body in ((venv / "bin" / "python", f'echo "$*" >> {log}'), (tools / "dpkg", "")):
        stub.write_text(f"#!/bin/sh\n{body}\nexit 0\n")
        stub.chmod(0o755)
    subprocess.run(
        ["bash", "scripts/install.sh", *options],
        cwd=REPO,
        env={**os.environ, "VENV": str(venv), "PATH": f"{tools}:{os.environ['PATH']}"},
        check=True,
        capture_output=True,
    )
    return log.read_text().splitlines(), venv


def pinned(path: Path, package: str) -> str | None:
    found = re.search(rf"^{re.escape(package)}==(\S+)$", path.read_text(), re.M)
    return found and found.group(1)


def test_install_cpu_swaps_onnxruntime_gpu_for_the_cpu_build_of_the_same_version(tmp_path):
    calls, venv = run_install(tmp_path, "--cpu")
    cpu_requirements = venv / "requirements-cpu.txt"
    assert any(f"-r {cpu_requirements}" in call for call in calls)
    assert not any("-r requirements.txt" in call for call in calls)
    assert pinned(cpu_requirements, "onnxruntime-gpu") is None
    gpu_version = pinned(REPO / "requirements.txt", "onnxruntime-gpu")
    assert gpu_version and pinned(cpu_requirements, "onnxruntime") == gpu_version
    rest = set((REPO / "requirements.txt").read_text().splitlines()) - {
        f"onnxruntime-gpu=={gpu_version}"
    }
    assert rest <= set(cpu_requirements.read_text().splitlines())  # every other pin, unchanged


def test_install_without_options_installs_the_requirement_files_as_make_run_does(tmp_path):
    calls, _ = run_install(tmp_path)
    installs = [call for call in calls if " install " in f" {call} "]
    assert [call.split("-r ")[-1] for call in installs[:2]] == [
        "requirements.txt",
        "requirements-offline.txt",
    ]
    assert "--no-deps" in installs[1]
    assert installs[2].endswith("--no-deps --no-build-isolation -e .")  # the dlstudio command
    assert len(installs) == 3


def test_a_second_install_installs_nothing_and_a_cpu_venv_stays_cpu(tmp_path):
    """Stamps make the second call (the Dockerfile's, after it copies the code) a no-op; a venv
    made with --cpu is never given onnxruntime-gpu by a later call without the option."""
    first, _ = run_install(tmp_path, "--cpu")
    assert any("-e ." in call for call in first)
    calls, _ = run_install(tmp_path)
    again = calls[len(first) :]
    assert again and not [call for call in again if " install " in f" {call} "]


def test_the_image_installs_dl_studio_after_copying_the_code_and_serves_it_with_dlstudio():
    instructions = [(kind, argument) for kind, argument in dockerfile_instructions()]
    copy_code = instructions.index(("COPY", "--chown=app:app . ."))
    installs = [i for i, (kind, arg) in enumerate(instructions) if "scripts/install.sh" in arg]
    assert installs[0] < copy_code < installs[-1]  # dependencies first, then the project
    script = (REPO / "scripts" / "install.sh").read_text()
    assert "-e ." in script and "[ -f pyproject.toml ]" in script  # skipped in the first layer
    pyproject = (REPO / "pyproject.toml").read_text()
    assert 'dlstudio = "core.cli:main"' in pyproject


def test_install_refuses_an_unknown_option():
    result = subprocess.run(
        ["bash", "scripts/install.sh", "--gpu"], cwd=REPO, capture_output=True, text=True
    )
    assert result.returncode == 2
    assert "unknown option --gpu" in result.stderr
