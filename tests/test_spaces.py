"""Hugging Face Spaces readiness: the front matter, lazy model loading, ZeroGPU wrapping, and
the line on every tab that says which model and data it uses and on which device it runs."""

import json
import os
import re
import subprocess
import sys
import types

import gradio as gr
import pytest
import torch
from test_packaging import REPO, dockerfile_instructions

import app
from core.decoding import lm
from core.decoding.lm import SMOLLM2
from core.hosting import runtime as runtime_info
from core.hosting import spaces as spaces_support
from core.retrieval import dense
from core.retrieval.search import cached_corpus
from core.runs.jobs import JobRunner
from core.runs.store import RunStore
from core.serving import onnx as serving

TABS = [*app.STANDALONE_TABS, app.training]
TAB_TITLES = [tab.TITLE for tab in TABS]
TOOL_OF_TITLE = {tab.TITLE: tab.TOOL for tab in TABS}


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """The whole app, built as `python app.py` builds it, without serving it."""
    data = tmp_path_factory.mktemp("spaces-data")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DLSTUDIO_DATA", str(data))
        runner = JobRunner(RunStore(data / "runs.sqlite"))
        yield app.build_app(runner)
        runner.shutdown()


def front_matter() -> dict[str, str]:
    text = (REPO / "README.md").read_text()
    block = re.match(r"---\n(.*?)\n---\n", text, re.S)
    assert block, "README.md must open with the Space's YAML front matter"
    return dict(line.split(": ", 1) for line in block.group(1).splitlines())


def test_the_readme_front_matter_is_a_docker_space_on_the_containers_port():
    """A Docker Space builds the Dockerfile (the same install as `make run`) and forwards
    app_port; docs/deploy.md gives the Gradio-SDK front matter that ZeroGPU needs instead."""
    config = front_matter()
    assert config["sdk"] == "docker"
    (exposed,) = [argument for kind, argument in dockerfile_instructions() if kind == "EXPOSE"]
    assert config["app_port"] == exposed
    assert config["title"] and config["short_description"]
    assert len(config["short_description"]) <= 60  # the Hub's limit


# Builds the app in a fresh interpreter (other tests load models into this one) and reports
# which models are loaded then.
LOADED_AT_START = """
import json, sys
import app
from core.decoding import lm
from core.serving import onnx as serving
from core.runs.jobs import JobRunner
from core.retrieval import dense
from core.runs.store import RunStore
app.build_app(JobRunner(RunStore(sys.argv[1])))
print(json.dumps({
    "language models": list(lm._loaded),
    "onnx sessions": serving._load.cache_info().currsize,
    "sentence-transformers models": dense.load_model.cache_info().currsize,
}))
"""


def test_building_the_app_loads_no_model(tmp_path):
    """Heavy models load at their first use, so a Space starts in seconds."""
    result = subprocess.run(
        [sys.executable, "-c", LOADED_AT_START, str(tmp_path / "runs.sqlite")],
        cwd=REPO,
        env={**os.environ, "DLSTUDIO_DATA": str(tmp_path)},
        capture_output=True,
        text=True,
        check=True,
    )
    loaded = json.loads(result.stdout.strip().splitlines()[-1])
    assert loaded == {
        "language models": [],
        "onnx sessions": 0,
        "sentence-transformers models": 0,
    }


def statements_of(blocks: gr.Blocks) -> list[str]:
    return [
        block.value
        for block in blocks.blocks.values()
        if isinstance(block, gr.Markdown) and "runtime-statement" in (block.elem_classes or [])
    ]


def test_every_tab_opens_with_its_runtime_statement(built):
    tabs = [block for block in built.blocks.values() if isinstance(block, gr.Tab)]
    titles = [tab.label for tab in tabs if tab.label in TAB_TITLES]
    assert titles == TAB_TITLES
    for tab in tabs:
        if tab.label in TAB_TITLES:
            first = tab.children[0]
            assert isinstance(first, gr.Markdown), tab.label
            assert first.value == runtime_info.statement(TOOL_OF_TITLE[tab.label])
    assert len(statements_of(built)) == len(TAB_TITLES)
    assert [tab.TOOL for tab in TABS] == list(runtime_info.TOOLS)  # one statement per tab


def test_the_statements_name_the_real_models_and_data():
    classifier = runtime_info.tab_runtime("classifier")
    for name in serving.list_models():
        assert f"`{name}`" in classifier.model
    assert classifier.engine == "ONNX Runtime"
    decoding = runtime_info.tab_runtime("decoding")
    assert (lm.default_model() == SMOLLM2) == ("SmolLM2-135M-Instruct" in decoding.model)
    retrieval = runtime_info.tab_runtime("retrieval")
    assert dense.MODEL_NAME in retrieval.model
    for collection in cached_corpus(None).collection_names():
        assert collection in retrieval.data
    with pytest.raises(KeyError, match="no tool 'nope': the tools are classifier"):
        runtime_info.tab_runtime("nope")


def test_the_statements_give_the_device_the_code_uses(monkeypatch):
    monkeypatch.delenv("SPACES_ZERO_GPU", raising=False)
    on_cpu = {tab.TOOL: runtime_info.tab_runtime(tab.TOOL).device for tab in TABS}
    if not torch.cuda.is_available():
        assert set(on_cpu.values()) == {"CPU"}
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda device=None: "Test GPU 80GB")
    on_gpu = {tab.TOOL: runtime_info.tab_runtime(tab.TOOL).device for tab in TABS}
    for tool in ("classifier", "decoding", "retrieval", "training"):
        assert on_gpu[tool] == "GPU (Test GPU 80GB)", tool
    for tool in ("gradient_descent", "metrics", "pq_explorer"):
        assert on_gpu[tool] == "CPU", tool


def test_on_zero_gpu_the_statements_say_where_the_gpu_is_and_is_not(monkeypatch):
    monkeypatch.setenv("SPACES_ZERO_GPU", "true")
    assert "ZeroGPU, attached per request" in runtime_info.tab_runtime("decoding").device
    training = runtime_info.tab_runtime("training").device
    assert training.startswith("CPU") and "no GPU to training" in training


@pytest.fixture
def fake_spaces(monkeypatch):
    """A stand-in `spaces` package whose GPU decorator records what it wrapped."""
    module = types.ModuleType("spaces")
    module.wrapped = []

    def gpu(duration: int = 60):
        def decorate(function):
            def on_the_gpu(*args, **kwargs):
                return function(*args, **kwargs)

            module.wrapped.append((function, duration))
            return on_the_gpu

        return decorate

    module.GPU = gpu
    monkeypatch.setitem(sys.modules, "spaces", module)
    return module


def double(x: int) -> int:
    return 2 * x


def test_on_gpu_leaves_the_function_itself_off_zero_gpu(monkeypatch, fake_spaces):
    monkeypatch.delenv("SPACES_ZERO_GPU", raising=False)
    assert spaces_support.on_gpu(duration=30)(double) is double
    assert fake_spaces.wrapped == []


def test_on_gpu_wraps_with_spaces_gpu_on_zero_gpu(monkeypatch, fake_spaces):
    monkeypatch.setenv("SPACES_ZERO_GPU", "true")
    wrapped = spaces_support.on_gpu(duration=30)(double)
    assert wrapped is not double
    assert fake_spaces.wrapped == [(double, 30)]
    assert wrapped(21) == 42


def test_on_zero_gpu_without_the_spaces_package_is_an_error(monkeypatch):
    monkeypatch.setenv("SPACES_ZERO_GPU", "1")
    monkeypatch.setitem(sys.modules, "spaces", None)  # makes `import spaces` fail
    with pytest.raises(RuntimeError, match="the `spaces` package is missing"):
        spaces_support.on_gpu()(double)


def test_on_gpu_refuses_a_duration_below_one_second():
    with pytest.raises(ValueError, match="a positive number of seconds, not 0"):
        spaces_support.on_gpu(duration=0)


def test_preloading_happens_only_on_zero_gpu(monkeypatch):
    loads = []
    stand_in = types.SimpleNamespace(name="the default model")
    monkeypatch.setattr(spaces_support, "load_lm", lambda: loads.append(1) or stand_in)
    monkeypatch.delenv("SPACES_ZERO_GPU", raising=False)
    assert spaces_support.preload_for_zero_gpu() == [] and loads == []
    monkeypatch.setenv("SPACES_ZERO_GPU", "true")
    assert spaces_support.preload_for_zero_gpu() == ["the default model"] and loads == [1]
