"""The inference study: each technique against eager on a small CNN trained here on real digits,
BatchNorm folding (timm's BatchNormAct2d too), the profile parsers, sizes, accuracy and bad input.
No timings are asserted (speed lives in benchmarks/bench_inference.py)."""

import json

import numpy as np
import onnx
import pytest
import torch
from sklearn.metrics import accuracy_score
from torch import nn

from core.reports.inference import (
    LabelledPictures,
    accuracy,
    load_subject,
    main,
    ort_profile,
    parse_ort_profile,
    predict_all,
    run_study,
    torch_profile,
    write_report,
)
from core.serving.techniques import (
    NotApplicable,
    Subject,
    artifact_size,
    build_predictor,
    fold_batchnorm,
    list_techniques,
)
from core.vision.backbones import SmallCNN, create_backbone
from core.vision.data import dataset_splits, load_digits_dataset
from core.vision.prepared import prepare_pictures
from core.vision.preprocess import InputSpec

SPEC = InputSpec("digit", 16, (0.5,), (0.5,))


pytestmark = pytest.mark.usefixtures("one_torch_thread")  # as the study runs


@pytest.fixture(scope="module")
def digits(tmp_path_factory) -> tuple[Subject, LabelledPictures]:
    """A small SmallCNN trained for a few seconds on scikit-learn's digits at 16x16, calibrated
    on the val split, with the test split to check against."""
    dataset = load_digits_dataset()
    splits = dataset_splits(dataset, seed=0)
    x = {name: prepare_pictures(dataset, where, SPEC) for name, where in splits.items()}
    y = {name: torch.from_numpy(dataset.labels[where]) for name, where in splits.items()}
    torch.manual_seed(0)
    model = SmallCNN(num_classes=10, in_chans=1, widths=(8, 16, 32))
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    for _ in range(8):
        order = torch.randperm(len(y["train"]))
        for start in range(0, len(order), 64):
            batch = order[start : start + 64]
            loss = nn.functional.cross_entropy(model(x["train"][batch]), y["train"][batch])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    subject = Subject(model.eval(), SPEC, x["val"].numpy(), tmp_path_factory.mktemp("study"))
    return subject, LabelledPictures(x["test"].numpy(), y["test"].numpy())


@pytest.fixture(scope="module")
def eager_logits(digits) -> np.ndarray:
    subject, test = digits
    return predict_all(build_predictor("eager", subject), test.pictures)


def test_the_trained_model_is_a_real_classifier(digits, eager_logits):
    _, test = digits
    assert accuracy(eager_logits, test.labels) > 0.9


def test_accuracy_is_the_share_of_right_top_1_answers(digits, eager_logits):
    subject, test = digits
    with torch.no_grad():
        plain = subject.model(torch.from_numpy(test.pictures)).argmax(1).numpy()
    assert accuracy(eager_logits, test.labels) == pytest.approx(accuracy_score(test.labels, plain))


def test_folding_batchnorm_keeps_the_logits(digits):
    subject, test = digits
    folded, count = fold_batchnorm(subject.model)
    assert count == 5  # one conv-BN in the first stage, two in each later one
    assert not any(isinstance(m, nn.BatchNorm2d) for m in folded.modules())
    with torch.no_grad():
        batch = torch.from_numpy(test.pictures)
        torch.testing.assert_close(folded(batch), subject.model(batch), atol=1e-4, rtol=1e-4)


def test_folding_keeps_the_activation_of_timms_batchnormact():
    torch.manual_seed(0)
    model = create_backbone("efficientnet_lite0", pretrained=False, num_classes=10, in_chans=1)
    norms = [m for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
    for norm in norms:  # statistics of a trained network, so folding changes the weights
        norm.running_mean.uniform_(-0.5, 0.5)
        norm.running_var.uniform_(0.5, 2.0)
    model.eval()
    folded, count = fold_batchnorm(model)
    assert count == len(norms) == 49
    assert not any(isinstance(m, nn.BatchNorm2d) for m in folded.modules())
    assert sum(isinstance(m, nn.ReLU6) for m in folded.modules()) == sum(
        isinstance(m, nn.ReLU6) for m in model.modules()
    )
    with torch.no_grad():
        batch = torch.randn(2, 1, 32, 32)
        torch.testing.assert_close(folded(batch), model(batch), atol=1e-3, rtol=1e-3)


@pytest.mark.parametrize(
    "name", ["inference_mode", "fold_bn", "channels_last", "ort_disabled", "ort_basic", "ort_all"]
)
def test_exact_techniques_give_eager_logits(digits, eager_logits, name):
    subject, test = digits
    logits = predict_all(build_predictor(name, subject), test.pictures)
    np.testing.assert_allclose(logits, eager_logits, atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("name", ["ort_int8_static", "ort_int8_dynamic", "torch_int8_static"])
def test_int8_techniques_agree_with_eager_on_real_digits(digits, eager_logits, name):
    subject, test = digits
    logits = predict_all(build_predictor(name, subject), test.pictures)
    assert np.mean(logits.argmax(1) == eager_logits.argmax(1)) >= 0.95
    assert abs(accuracy(logits, test.labels) - accuracy(eager_logits, test.labels)) <= 0.03


def test_sizes_are_the_artifact_files(digits):
    subject, _ = digits
    eager, int8 = build_predictor("eager", subject), build_predictor("ort_int8_static", subject)
    assert eager.size_bytes == len(eager.artifact.read_bytes())
    assert artifact_size(int8.artifact) == len(int8.artifact.read_bytes())
    assert int8.size_bytes < artifact_size(subject.onnx_path) / 2  # int8 weights (+ scales)


def test_ort_profile_names_node_types_of_the_served_graph(digits):
    subject, test = digits
    optimized = build_predictor("ort_all", subject).artifact
    rows = ort_profile(optimized, test.pictures[:1], 1, subject.work_dir, calls=5)
    graph_ops = {node.op_type for node in onnx.load(str(optimized)).graph.node}
    assert {row.name for row in rows} <= graph_ops
    assert "Conv" in {row.name for row in rows}
    assert sum(row.share for row in rows) == pytest.approx(1.0)
    assert not list(subject.work_dir.glob("ort_profile*.json"))  # the trace is removed


def test_parse_ort_profile_sums_kernel_times_by_node_type(tmp_path):
    trace = tmp_path / "trace.json"
    events = [
        {"cat": "Session", "name": "session_initialization", "dur": 9000, "args": {}},
        {"cat": "Node", "name": "conv1_kernel_time", "dur": 300, "args": {"op_name": "Conv"}},
        {"cat": "Node", "name": "conv1_fence_before", "dur": 50, "args": {"op_name": "Conv"}},
        {"cat": "Node", "name": "conv2_kernel_time", "dur": 100, "args": {"op_name": "Conv"}},
        {"cat": "Node", "name": "relu_kernel_time", "dur": 100, "args": {"op_name": "Relu"}},
    ]
    trace.write_text(json.dumps(events))
    rows = parse_ort_profile(trace)
    assert [(row.name, row.total_ms, row.calls, row.share) for row in rows] == [
        ("Conv", 0.4, 2, 0.8),
        ("Relu", 0.1, 1, pytest.approx(0.2)),
    ]


def test_torch_profile_sees_the_convolutions(digits):
    subject, test = digits
    rows = torch_profile(build_predictor("eager", subject), test.pictures[:1], calls=3)
    assert any("conv" in row.name for row in rows[:5])
    assert rows == sorted(rows, key=lambda row: -row.total_ms)


def test_bad_input_gets_clear_messages(tmp_path, digits):
    subject, _ = digits
    with pytest.raises(ValueError, match=r"unknown inference technique 'fastest'.*eager"):
        build_predictor("fastest", subject)
    with pytest.raises(FileNotFoundError, match=r"no checkpoint at .*missing.pt"):
        load_subject(tmp_path / "missing.pt", tmp_path)
    with pytest.raises(SystemExit):
        main([])  # neither --run nor --checkpoint


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the CPU-only answer")
@pytest.mark.parametrize("name", ["cuda_fp16", "ort_cuda", "ort_tensorrt"])
def test_gpu_techniques_say_they_do_not_apply_on_a_cpu(digits, name):
    with pytest.raises(NotApplicable, match="no CUDA GPU"):
        build_predictor(name, digits[0])


def test_study_measures_and_reports(digits, eager_logits, tmp_path):
    subject, test = digits
    threads = torch.get_num_threads()
    study = run_study(
        subject, test, ["ort_all", "cuda_fp16"], repeats=10, batch_sizes=(1, 4), profile_calls=3
    )
    assert torch.get_num_threads() == threads
    rows = {row["name"]: row for row in study["results"]}
    assert list(rows) == ["eager", "ort_all", "cuda_fp16"]
    assert rows["eager"]["test_accuracy"] == accuracy(eager_logits, test.labels)
    assert rows["ort_all"]["max_abs_logit_diff"] < 1e-4
    assert rows["ort_all"]["size_bytes"] == artifact_size(subject.work_dir / "model.ort_all.onnx")
    assert rows["ort_all"]["best_batch"] in (1, 4)
    assert 0 < rows["ort_all"]["p50_ms"] <= rows["ort_all"]["p95_ms"]
    assert set(study["profiles"]) == {"torch eager", "ONNX Runtime ort_all"}
    if not torch.cuda.is_available():
        assert rows["cuda_fp16"]["status"] == "not applicable"
    study |= {"label": "digits", "about": "a test", "reproduce": "none", "checkpoint": "none"}
    machine = {
        "cpu": "test",
        "cores": 2,
        "gpu": None,
        "torch": "t",
        "onnxruntime": "o",
        "time": "now",
    }
    machine |= {"load_average": (1.0, 1.0, 1.0)}
    readme = write_report([study], tmp_path, "dlstudio report inference", machine, machine)
    text = readme.read_text()
    ratio = rows["eager"]["p50_ms"] / rows["ort_all"]["p50_ms"]
    assert f"ONNX Runtime speed-up over eager at batch 1: {ratio:.2f}x" in text
    assert "| cuda_fp16 | not applicable |" in text
    saved = json.loads((tmp_path / "results.json").read_text())
    assert saved["studies"][0]["results"][0]["name"] == "eager"
    again = tmp_path / "again"
    main(["--from-results", str(tmp_path / "results.json"), "--out", str(again)])
    assert (again / "README.md").read_text() == text  # the report is rebuilt from the JSON alone


def test_every_technique_is_listed_once_with_eager_first():
    names = list_techniques()
    assert names[0] == "eager" and len(names) == len(set(names)) >= 10
