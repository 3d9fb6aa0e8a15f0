"""benchmarks/gpu_check.py on a machine without a GPU: its one-line answer, and the tables and
checks it makes of a GPU result. The smoke run (`python -m benchmarks.gpu_check --smoke`, the
same code on the CPU with tiny sizes) takes about a minute with the LM's loading, so the suite
leaves it to the developer."""

import copy
import json

import pytest
import torch

from benchmarks import gpu_check


def test_without_a_gpu_it_says_so_in_one_line_and_exits_0(monkeypatch, capsys):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert gpu_check.main([]) == 0
    out = capsys.readouterr().out
    assert out.count("\n") == 1 and out.startswith("no CUDA GPU is present")
    assert gpu_check.main(["--json"]) == 0
    out = capsys.readouterr().out
    assert out.count("\n") == 1 and json.loads(out)["cuda"] is False


def serving_row(provider: str, batch: int, ms: float, ratio: float, agree: float | None) -> dict:
    difference = None if agree is None else 2e-4
    return {
        "provider": provider,
        "batch": batch,
        "ms": ms,
        "cpu_over_it": ratio,
        "max_abs_diff": difference,
        "argmax_agree": agree,
    }


GPU_RESULT = {
    "smoke": False,
    "device": "NVIDIA H100 80GB HBM3",
    "torch": "2.14.1+cu130",
    "onnxruntime": "1.31.1",
    "seconds": 250.0,
    "training": {
        "experiment": "fashion_plain",
        "data": "fashion-mnist",
        "backbone": "efficientnet_lite0",
        "pretrained": True,
        "recipe": "plain",
        "input_size": 128,
        "batch_size": 128,
        "epochs": 3,
        "device": "cuda:0",
        "amp": True,
        "n_train": 10000,
        "n_val": 2000,
        "n_test": 2000,
        "run_seconds": 20.5,
        "run_pictures_per_s_with_eval": 1800.0,
        "best_test_accuracy": 0.88,
        "device_pictures_per_s": 4000.0,
        "cpu_pictures_per_s": 100.0,
        "cpu_threads": 16,
        "measured_steps": [40, 3],
        "device_over_cpu": 40.0,
    },
    "serving": {
        "model": "run-1.onnx",
        "input": "1x128x128",
        "pictures": "test pictures of the run's data",
        "ship_model": {"ok": True, "parity_max_abs_diff": 3e-4, "tolerance": 1e-3},
        "repeats": 30,
        "available_providers": ["TensorrtExecutionProvider", "CUDAExecutionProvider"],
        "in_use": {"CPU": True, "CUDA": True, "TensorRT fp16": False},
        "notes": {
            "CPU": "session and first call 0.1 s",
            "CUDA": "session and first call 1.0 s",
            "TensorRT fp16": "failed: libnvinfer.so.10: cannot open shared object file",
        },
        "rows": [
            serving_row("CPU", 1, 5.0, 1.0, None),
            serving_row("CPU", 64, 300.0, 1.0, None),
            serving_row("CUDA", 1, 1.0, 5.0, 1.0),
            serving_row("CUDA", 64, 3.0, 100.0, 1.0),
        ],
    },
    "decoding": {
        "model": "smollm2",
        "device": "cuda:0",
        "dtype": "float32",
        "prompt_tokens": 43,
        "max_new_tokens": 128,
        "repeats": 3,
        "strategies": [
            {
                "strategy": name,
                "ours_tokens_per_s": 60.0,
                "hf_tokens_per_s": 50.0,
                "ours_over_hf": 1.2,
                "same_tokens": True,
                "new_tokens": 128,
            }
            for name in ("greedy", "beam")
        ],
    },
}


def test_the_tables_of_a_gpu_result(capsys):
    result = copy.deepcopy(GPU_RESULT)
    result["checks"] = gpu_check.checks(result)
    assert all(result["checks"].values())
    gpu_check.print_tables(result)
    out = capsys.readouterr().out
    assert out.startswith("GPU check: NVIDIA H100 80GB HBM3")
    assert "the run on cuda:0 with fp16 AMP: 3 epochs on 10,000 pictures" in out
    assert "cuda (fp16 AMP)" in out and "cpu (16 threads, fp32)" in out
    assert "cuda / cpu: 40.00x" in out
    assert "   TensorRT fp16: NOT in use; failed: libnvinfer" in out
    assert "greedy        128       60.00     50.00    1.20x  yes" in out
    assert out.rstrip().endswith("greedy_same_tokens_as_generate yes")


@pytest.mark.parametrize(
    ("change", "failed"),
    [
        (lambda r: r["decoding"]["strategies"][0].update(same_tokens=False), "greedy_same"),
        (lambda r: r["serving"]["in_use"].update(CUDA=False), "onnx_cuda_in_use"),
        (lambda r: r["serving"]["rows"][3].update(argmax_agree=0.98), "onnx_cuda_argmax"),
        (
            lambda r: r["serving"].update(
                ship_model={"ok": False, "error": "disagree", "tolerance": 1e-3}
            ),
            "ship_model_parity",
        ),
        (lambda r: r.update(decoding={"error": "OSError: no model"}), "decoding_ran"),
    ],
)
def test_a_check_that_does_not_hold_fails_the_run(change, failed, capsys):
    result = copy.deepcopy(GPU_RESULT)
    change(result)
    result["checks"] = gpu_check.checks(result)
    assert [name for name, held in result["checks"].items() if not held] == [
        name for name in result["checks"] if name.startswith(failed)
    ]
    gpu_check.print_tables(result)  # a failed part or a refused export still prints
    assert f"{failed}" in capsys.readouterr().out
