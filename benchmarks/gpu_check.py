"""The GPU path, checked on a CUDA GPU: image training, ONNX serving and decoding against the CPU.

    python -m benchmarks.gpu_check [--json] [--smoke] [--no-tensorrt]

Meant for a lent GPU machine: one prepared script, so the whole check is a single run, sized to
finish in under 8 minutes on one H100 (--no-tensorrt leaves out the TensorRT engine build, the
least predictable step). Three parts:

1. training: one fine-tuning recipe of the image engine ((a) plain, the recipes' pretrained
   EfficientNet-Lite0) on Fashion-MNIST, or on the digits when Fashion-MNIST is not on the
   machine (`missing_data`), at 128x128 on CUDA with fp16 AMP, trained as a stored run
   (`train_image_classifier` with a RunLogger on a temporary RunStore; val and test are cut to
   2,000 pictures each to keep the time). Then the training pictures/s of the same config, the
   loop's own `train_one_epoch`, on the GPU against the CPU (all cores, fp32) over a short
   measured stretch after warm-up, and their ratio.
2. serving: the run's best checkpoint exported by the app's own path (`run_model_path`, which
   calls `ship_model` and its parity check), then served by ONNX Runtime with the
   CUDAExecutionProvider, and the TensorrtExecutionProvider (fp16, as the inference study's
   `ort_tensorrt`) when `onnxruntime.get_available_providers()` lists it, against the
   CPUExecutionProvider with one thread (the app's setting): median latency at batch 1 and 64
   on test pictures, the ratio CPU / provider, the largest logit difference from the CPU's
   logits and the share of pictures whose argmax agrees. A provider that ONNX Runtime silently
   replaced by another is reported as not in use.
3. decoding: the project's greedy and beam decoding (core.decoding.strategies.generate) on the
   offline LM (SmolLM2-135M-Instruct, fp32) on CUDA against transformers' `model.generate` on
   the same GPU: whether both give the same tokens, and tokens/s of each (median of 3 runs
   after a warm-up run).

Prints one table per part, or with --json one JSON object on stdout (progress goes to stderr).
The exit status is 1 when a part failed or a check did not hold (ship_model accepted the export,
CUDA in use in ONNX Runtime, the CUDA argmax the CPU's on every picture, greedy tokens the same
as generate's), else 0.
Without a CUDA GPU it prints one line saying so and exits with 0. `--smoke` runs the same code
on the CPU with tiny sizes (seconds to a minute or two, the LM's loading included), with the CPU
standing in for the GPU and ONNX Runtime's CPU provider for CUDA; its ratios mean nothing.
"""

import argparse
import contextlib
import itertools
import json
import statistics
import sys
import tempfile
import time
import traceback
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
import onnxruntime as ort
import torch
import torch.nn.functional as F

from benchmarks.bench_decoding import CASES, PROMPT, timed
from benchmarks.timing import median_ms
from core.decoding.lm import load_lm
from core.decoding.strategies import DecodingSettings, generate
from core.experiments import get_experiment
from core.runs.execution import FollowerLogger, RunLogger
from core.runs.store import RunStore
from core.serving.onnx import INPUT_NAME, PARITY_TOLERANCE, ModelCard, export_onnx
from core.serving.run_models import run_model_path
from core.serving.techniques import ort_predict, ort_session
from core.training import EpochProgress, TrainingStep, seed_everything
from core.vision.backbones import backbone_stages, create_backbone
from core.vision.checkpoints import load_trained_model
from core.vision.distributed import World
from core.vision.prepared import PreparedData
from core.vision.schedules import LrSchedule
from core.vision.train import (
    ImageTrainConfig,
    build_optimizer,
    prepare_data,
    train_image_classifier,
    train_one_epoch,
    training_loader,
)

EXPERIMENTS = ("fashion_plain", "digits_plain")  # the first whose data is on this machine
CPU = ["CPUExecutionProvider"]
CUDA = ["CUDAExecutionProvider", "CPUExecutionProvider"]
TENSORRT = "TensorrtExecutionProvider"
DECODING = ("greedy", "beam")  # strategies of bench_decoding.CASES compared with generate


@dataclass(frozen=True)
class Sizes:
    """How much each part does: the GPU check's sizes, or the smoke run's tiny ones."""

    device: str  # where the run trains and the LM decodes: "cuda", or "cpu" for --smoke
    input_size: int
    limit_train: int
    limit_eval: int  # pictures kept in val and in test
    epochs: int
    batch_size: int
    warm_up_steps: tuple[int, int]  # before the measured stretch: (device, CPU)
    measured_steps: tuple[int, int]  # the stretch: (device, CPU)
    batches: tuple[int, int]  # ONNX Runtime batch sizes
    repeats: int  # ONNX Runtime: calls per median
    max_new_tokens: int
    decode_repeats: int


GPU_SIZES = Sizes("cuda", 128, 10_000, 2_000, 3, 128, (5, 1), (40, 3), (1, 64), 30, 128, 3)
SMOKE_SIZES = Sizes("cpu", 32, 40, 40, 1, 16, (1, 1), (2, 2), (1, 8), 3, 8, 1)
_STARTED = time.perf_counter()


def say(message: str) -> None:
    """Progress on stderr, so that stdout holds only the table or the JSON."""
    print(f"[gpu_check {time.perf_counter() - _STARTED:6.1f} s] {message}", file=sys.stderr)


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


# -- 1. training ------------------------------------------------------------------------------


def pick_experiment() -> str:
    """Fashion-MNIST's plain recipe, or the digits' when Fashion-MNIST is not here."""
    for name in EXPERIMENTS:
        missing = get_experiment(name).missing_data()
        if missing is None:
            return name
        say(f"{name}: {missing} Trying the next.")
    raise RuntimeError(f"none of {', '.join(EXPERIMENTS)} has its data on this machine")


def endless(batches: Iterable) -> Iterator:
    while True:
        yield from batches


def pictures_per_s(
    config: ImageTrainConfig, data: PreparedData, device: torch.device, warm_up: int, steps: int
) -> float:
    """Training pictures/s of the image loop's `train_one_epoch` on `device` (fp16 AMP on CUDA,
    through TrainingStep) over `steps` optimiser steps after `warm_up` steps."""
    seed_everything(config.seed)
    model = create_backbone(
        config.backbone, config.pretrained, len(data.classes), data.spec.channels
    ).to(device)
    model.train()
    optimizer = build_optimizer(config, backbone_stages(model))
    loader = training_loader(
        data, config.batch_size, torch.Generator().manual_seed(config.seed), World(), config.seed
    )
    schedule = LrSchedule(
        optimizer, config.lr_schedule, config.epochs, len(loader), config.warmup_epochs
    )
    step = TrainingStep(model, F.cross_entropy, optimizer, device)
    batches = endless(loader)
    with tempfile.TemporaryDirectory() as folder:
        progress = EpochProgress(FollowerLogger(Path(folder)), 1, 1, warm_up + steps)

        def train(count: int) -> int:
            stretch = itertools.islice(batches, count)
            return train_one_epoch(step, stretch, schedule, data.normalize, None, progress)[2]

        train(warm_up)
        synchronize(device)
        started = time.perf_counter()
        seen = train(steps)
        synchronize(device)
    return seen / (time.perf_counter() - started)


def train_run(store: RunStore, experiment: str, config: ImageTrainConfig, data: PreparedData):
    """Train `config` as a stored run of `experiment`, as the worker would; returns its id."""
    run_id = store.create(experiment, asdict(config))
    store.start(run_id)
    try:
        train_image_classifier(config, RunLogger(store, run_id), data)
    except BaseException:
        store.finish(run_id, "failed", traceback.format_exc())
        raise
    store.finish(run_id, "done")
    return run_id


def check_training(sizes: Sizes, store: RunStore) -> tuple[dict, int, PreparedData]:
    experiment = pick_experiment()
    config = get_experiment(experiment).make_config(
        {
            "input_size": sizes.input_size,
            "epochs": sizes.epochs,
            "batch_size": sizes.batch_size,
            "limit_train": sizes.limit_train,
            "device": sizes.device,
        }
    )
    say(f"training: preparing {config.data} at {config.input_size} px")
    data = prepare_data(config, limit_eval=sizes.limit_eval)
    say(
        f"training: {experiment}, {plural(config.epochs, 'epoch')}, {len(data.y['train'])} pictures"
    )
    run_id = train_run(store, experiment, config, data)
    run = store.get(run_id)
    epoch_seconds = store.metrics(run_id)["epoch_time_s"].tolist()
    device = torch.device(sizes.device)
    say(f"training: pictures/s on {device.type}")
    fast = pictures_per_s(config, data, device, sizes.warm_up_steps[0], sizes.measured_steps[0])
    say("training: pictures/s on the CPU")
    slow = pictures_per_s(
        replace(config, device="cpu"),
        data,
        torch.device("cpu"),
        sizes.warm_up_steps[1],
        sizes.measured_steps[1],
    )
    per_epoch = len(data.y["train"]) // config.batch_size * config.batch_size
    return (
        {
            "experiment": experiment,
            "data": config.data,
            "backbone": config.backbone,
            "pretrained": config.pretrained,
            "recipe": config.recipe,
            "input_size": config.input_size,
            "batch_size": config.batch_size,
            "epochs": config.epochs,
            "device": run.details["device"],
            "amp": device.type == "cuda",
            "n_train": len(data.y["train"]),
            "n_val": len(data.y["val"]),
            "n_test": len(data.y["test"]),
            "run_seconds": round(run.duration_s, 1),
            "run_pictures_per_s_with_eval": round(
                per_epoch * len(epoch_seconds) / sum(epoch_seconds), 1
            ),
            "best_test_accuracy": round(run.details["best_test_accuracy"], 4),
            "device_pictures_per_s": round(fast, 1),
            "cpu_pictures_per_s": round(slow, 1),
            "cpu_threads": torch.get_num_threads(),
            "measured_steps": list(sizes.measured_steps),
            "device_over_cpu": round(fast / slow, 2),
        },
        run_id,
        data,
    )


# -- 2. serving -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Provider:
    """An ONNX Runtime session to compare: its label, the providers asked for, the one that must
    be first in use, and its intra-op threads."""

    label: str
    providers: list
    expected: str
    threads: int = 1


def providers_to_compare(sizes: Sizes, spec, folder: Path, tensorrt: bool) -> list[Provider]:
    """The CPU baseline (one thread, the app's setting), then CUDA and TensorRT; in the smoke
    run the CPU provider stands in for CUDA."""
    baseline = Provider("CPU", CPU, "CPUExecutionProvider")
    if sizes.device != "cuda":
        return [baseline, Provider("CPU (stand-in for CUDA)", CPU, "CPUExecutionProvider")]
    compared = [baseline, Provider("CUDA", CUDA, "CUDAExecutionProvider")]
    if tensorrt and TENSORRT in ort.get_available_providers():
        big = max(sizes.batches)
        shape = f"{spec.channels}x{spec.size}x{spec.size}"
        options = {
            "trt_fp16_enable": True,  # as the inference study's ort_tensorrt technique
            "trt_engine_cache_enable": True,
            "trt_engine_cache_path": str(folder / "tensorrt"),
            # one engine for every batch size measured, built once
            "trt_profile_min_shapes": f"{INPUT_NAME}:1x{shape}",
            "trt_profile_opt_shapes": f"{INPUT_NAME}:{big}x{shape}",
            "trt_profile_max_shapes": f"{INPUT_NAME}:{big}x{shape}",
        }
        (folder / "tensorrt").mkdir(exist_ok=True)
        compared.append(Provider("TensorRT fp16", [(TENSORRT, options), *CUDA], TENSORRT))
    return compared


def open_session(path: Path, provider: Provider) -> tuple[ort.InferenceSession, bool, str]:
    """The session; whether the expected provider is in use as the app opens sessions (ONNX
    Runtime falls back without raising when a provider's libraries do not load); a note when
    it is not. CUDA is then tried once more after `onnxruntime.preload_dlls()`, so that the
    latencies are still measured; the check keeps the first answer."""
    session = ort_session(path, provider.threads, providers=provider.providers)
    if session.get_providers()[0] == provider.expected:
        return session, True, ""
    note = f"{provider.expected} not in use (ONNX Runtime fell back to {session.get_providers()})"
    if provider.expected == "CUDAExecutionProvider" and hasattr(ort, "preload_dlls"):
        ort.preload_dlls()  # the CUDA and cuDNN libraries of the nvidia-* wheels
        session = ort_session(path, provider.threads, providers=provider.providers)
        if session.get_providers()[0] == provider.expected:
            note += "; in use after onnxruntime.preload_dlls(), which the app does not call"
    return session, False, note


def export_model(store: RunStore, run_id: int, folder: Path) -> tuple[Path, dict]:
    """The run's ONNX file as the app makes it (`run_model_path`: `ship_model`, whose parity
    check against PyTorch runs with the app's providers), and what that check said. When the
    check refuses the export, the same exporter writes the file anyway, to measure it."""
    try:
        path = run_model_path(run_id, store)
    except RuntimeError as error:  # ship_model: ONNX Runtime and PyTorch disagree
        say(f"serving: {error}")
        model, spec, _ = load_trained_model(store.get(run_id).artifacts["best_checkpoint"])
        path = export_onnx(model, spec, folder / f"run-{run_id}-unchecked.onnx")
        return path, {"ok": False, "error": str(error), "tolerance": PARITY_TOLERANCE}
    card = ModelCard.load(path.with_suffix(".json"))
    return path, {
        "ok": True,
        "parity_max_abs_diff": card.parity_max_abs_diff,
        "tolerance": PARITY_TOLERANCE,
    }


def serve(path: Path, provider: Provider, batches: dict[int, np.ndarray], repeats: int) -> dict:
    """Per batch size: the median ms of a call and the logits; and whether the provider is in
    use, with a note (why not, or how long the session and its first call took)."""
    started = time.perf_counter()
    session, in_use, note = open_session(path, provider)
    predict = ort_predict(session)
    predict(batches[max(batches)])  # a TensorRT engine is built here
    setup_s = time.perf_counter() - started
    timings: dict = {"in_use": in_use, "note": note or f"session and first call {setup_s:.1f} s"}
    for size, batch in batches.items():
        timings[size] = (median_ms(lambda b=batch: predict(b), repeats), predict(batch))
    return timings


def check_serving(
    sizes: Sizes, store: RunStore, run_id: int, data: PreparedData, folder: Path, tensorrt: bool
) -> dict:
    say("serving: exporting the run's model (run_model_path, ship_model)")
    path, shipped = export_model(store, run_id, folder)
    pictures = data.x["test"][: max(sizes.batches)]
    pictures = np.ascontiguousarray(data.normalize(pictures).numpy(), dtype=np.float32)
    batches = {size: pictures[:size] for size in sizes.batches}
    rows, in_use, notes, reference, baseline_ms = [], {}, {}, {}, {}
    baseline, *others = providers_to_compare(sizes, data.spec, folder, tensorrt)
    for provider in [baseline, *others]:
        say(f"serving: {provider.label}")
        try:
            timings = serve(path, provider, batches, sizes.repeats)
        except Exception as error:
            if provider is baseline:
                raise
            traceback.print_exc(file=sys.stderr)
            in_use[provider.label], notes[provider.label] = False, f"failed: {error}"
            continue
        in_use[provider.label], notes[provider.label] = timings.pop("in_use"), timings.pop("note")
        for size, (ms, logits) in timings.items():
            row = {"provider": provider.label, "batch": size, "ms": round(ms, 3)}
            if provider is baseline:
                baseline_ms[size], reference[size] = ms, logits
                parity = {"cpu_over_it": 1.0, "max_abs_diff": None, "argmax_agree": None}
            else:
                parity = {
                    "cpu_over_it": round(baseline_ms[size] / ms, 2),
                    "max_abs_diff": float(np.abs(logits - reference[size]).max()),
                    "argmax_agree": float(np.mean(logits.argmax(1) == reference[size].argmax(1))),
                }
            rows.append(row | parity)
    return {
        "model": path.name,
        "input": f"{data.spec.channels}x{data.spec.size}x{data.spec.size}",
        "pictures": "test pictures of the run's data",
        "ship_model": shipped,
        "repeats": sizes.repeats,
        "available_providers": ort.get_available_providers(),
        "in_use": in_use,
        "notes": notes,
        "rows": rows,
    }


# -- 3. decoding ------------------------------------------------------------------------------


def check_decoding(sizes: Sizes) -> dict:
    say("decoding: loading the LM")
    device = torch.device(sizes.device)
    lm = load_lm()
    lm.model.to(device)
    prompt_ids = lm.encode(PROMPT)
    ids = torch.tensor([prompt_ids], device=device)
    n = sizes.max_new_tokens

    def theirs(hf_kwargs: dict) -> list[int]:
        with torch.inference_mode():
            out = lm.model.generate(
                ids, attention_mask=torch.ones_like(ids), max_new_tokens=n, **hf_kwargs
            )
        return out[0, len(prompt_ids) :].tolist()

    rows = []
    for name in DECODING:
        say(f"decoding: {name}")
        ours_kwargs, hf_kwargs = CASES[name]
        settings = DecodingSettings(strategy=name, max_new_tokens=n, **ours_kwargs)
        runs = {
            "ours": lambda s=settings: generate(lm.model, prompt_ids, s, lm.eos_ids).token_ids,
            "hf": lambda h=hf_kwargs: theirs(h),
        }
        speeds: dict[str, list[float]] = {side: [] for side in runs}
        tokens = {side: run() for side, run in runs.items()}  # warm-up
        for _ in range(sizes.decode_repeats):
            for side, run in runs.items():  # alternating, as bench_decoding does
                speed, tokens[side] = timed(run)
                speeds[side].append(speed)
        ours, hf = statistics.median(speeds["ours"]), statistics.median(speeds["hf"])
        rows.append(
            {
                "strategy": name,
                "ours_tokens_per_s": round(ours, 2),
                "hf_tokens_per_s": round(hf, 2),
                "ours_over_hf": round(ours / hf, 2),
                "same_tokens": tokens["ours"] == tokens["hf"],
                "new_tokens": len(tokens["ours"]),
            }
        )
    return {
        "model": lm.name,
        "device": str(lm.device),
        "dtype": str(lm.model.dtype).removeprefix("torch."),
        "prompt_tokens": len(prompt_ids),
        "max_new_tokens": n,
        "repeats": sizes.decode_repeats,
        "strategies": rows,
    }


# -- the whole check --------------------------------------------------------------------------


def failure(part: str, error: Exception) -> dict:
    say(f"{part}: failed")
    traceback.print_exc(file=sys.stderr)
    return {"error": f"{type(error).__name__}: {error}"}


def run_checks(sizes: Sizes, tensorrt: bool) -> dict:
    device = torch.device(sizes.device)
    result: dict = {
        "smoke": sizes.device != "cuda",
        "device": torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU",
        "torch": torch.__version__,
        "onnxruntime": ort.__version__,
    }
    with tempfile.TemporaryDirectory(prefix="gpu-check-") as name:
        folder = Path(name)
        store = RunStore(folder / "runs.sqlite")
        try:
            result["training"], run_id, data = check_training(sizes, store)
        except Exception as error:
            result["training"] = failure("training", error)
            result["serving"] = {"error": "not run: the training part failed"}
        else:
            try:
                result["serving"] = check_serving(sizes, store, run_id, data, folder, tensorrt)
            except Exception as error:
                result["serving"] = failure("serving", error)
        try:
            result["decoding"] = check_decoding(sizes)
        except Exception as error:
            result["decoding"] = failure("decoding", error)
    result["checks"] = checks(result)
    result["ok"] = all(result["checks"].values())
    result["seconds"] = round(time.perf_counter() - _STARTED, 1)
    return result


def checks(result: dict) -> dict[str, bool]:
    """What must hold on the GPU: every part ran, greedy decoding gives generate's tokens, and
    ONNX Runtime serves with CUDA (the first provider after the CPU) and the CPU's argmax."""
    found = {f"{part}_ran": "error" not in result[part] for part in PARTS}
    if found["serving_ran"]:
        serving = result["serving"]
        found["ship_model_parity"] = serving["ship_model"]["ok"]
        accelerator = list(serving["in_use"])[1]
        found["onnx_cuda_in_use"] = serving["in_use"][accelerator]
        found["onnx_cuda_argmax_agrees"] = all(
            row["argmax_agree"] == 1.0 for row in serving["rows"] if row["provider"] == accelerator
        )
    if found["decoding_ran"]:
        greedy = next(r for r in result["decoding"]["strategies"] if r["strategy"] == "greedy")
        found["greedy_same_tokens_as_generate"] = greedy["same_tokens"]
    return found


# -- tables -----------------------------------------------------------------------------------


def plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'s' * (count != 1)}"


def print_training(part: dict) -> None:
    print(f"1. training: {part['experiment']} ({part['data']}, {part['backbone']}", end="")
    print(f"{', pretrained' if part['pretrained'] else ''}, recipe {part['recipe']})", end="")
    print(f" at {part['input_size']}x{part['input_size']}, batch {part['batch_size']}")
    print(
        f"   the run on {part['device']}{' with fp16 AMP' if part['amp'] else ''}: "
        f"{plural(part['epochs'], 'epoch')} on {part['n_train']:,} pictures in "
        f"{part['run_seconds']} s, "
        f"{part['run_pictures_per_s_with_eval']:,} pictures/s with val and test evaluated; "
        f"best test accuracy {part['best_test_accuracy']:.2%} ({part['n_test']:,} pictures)"
    )
    print(f"{'training on':<26}{'steps':>6}{'pictures/s':>12}")
    device = part["device"].split(":")[0] + (" (fp16 AMP)" if part["amp"] else "")
    cpu = f"cpu ({plural(part['cpu_threads'], 'thread')}, fp32)"
    for label, steps, speed in (
        (device, part["measured_steps"][0], part["device_pictures_per_s"]),
        (cpu, part["measured_steps"][1], part["cpu_pictures_per_s"]),
    ):
        print(f"{label:<26}{steps:>6}{speed:>12.1f}")
    print(f"{device.split()[0]} / cpu: {part['device_over_cpu']:.2f}x")


def print_serving(part: dict) -> None:
    shipped = part["ship_model"]
    parity = (
        f"max |diff| {shipped['parity_max_abs_diff']:.2e}"
        if shipped["ok"]
        else f"REFUSED the export ({shipped['error']}), exported unchecked"
    )
    print(
        f"2. serving: {part['model']} (input {part['input']}), exported by run_model_path; "
        f"ship_model's parity check (tolerance {shipped['tolerance']:g}): {parity}; "
        f"ONNX Runtime, medians of {part['repeats']} calls"
    )
    print(f"{'provider':<26}{'batch':>6}{'ms':>10}{'CPU/it':>9}{'max |diff|':>12}{'argmax':>8}")
    for row in part["rows"]:
        baseline = row["max_abs_diff"] is None
        difference = "-" if baseline else f"{row['max_abs_diff']:.2e}"
        agree = "-" if baseline else f"{row['argmax_agree']:.0%}"
        print(
            f"{row['provider']:<26}{row['batch']:>6}{row['ms']:>10.3f}{row['cpu_over_it']:>8.2f}x"
            f"{difference:>12}{agree:>8}"
        )
    for label, note in part["notes"].items():
        print(f"   {label}: {'in use' if part['in_use'][label] else 'NOT in use'}; {note}")
    listed = set(part["available_providers"])
    if TENSORRT not in listed:
        print(f"   {TENSORRT} is not listed by this ONNX Runtime: not measured")


def print_decoding(part: dict) -> None:
    print(
        f"3. decoding: {part['model']}, {part['dtype']} on {part['device']}; prompt "
        f"{part['prompt_tokens']} tokens, up to {part['max_new_tokens']} new tokens, median of "
        f"{plural(part['repeats'], 'run')} after a warm-up"
    )
    print(f"{'strategy':<10}{'tokens':>7}{'ours tok/s':>12}{'HF tok/s':>10}{'ours/HF':>9}  same")
    for row in part["strategies"]:
        print(
            f"{row['strategy']:<10}{row['new_tokens']:>7}{row['ours_tokens_per_s']:>12.2f}"
            f"{row['hf_tokens_per_s']:>10.2f}{row['ours_over_hf']:>8.2f}x  "
            f"{'yes' if row['same_tokens'] else 'NO'}"
        )


PARTS = {"training": print_training, "serving": print_serving, "decoding": print_decoding}


def print_tables(result: dict) -> None:
    kind = "smoke run on the CPU (its ratios mean nothing)" if result["smoke"] else "GPU check"
    print(
        f"{kind}: {result['device']}, torch {result['torch']}, "
        f"onnxruntime {result['onnxruntime']}, {result['seconds']} s"
    )
    for part, show in PARTS.items():
        print()
        if "error" in result[part]:
            print(f"{part}: FAILED: {result[part]['error']}")
        else:
            show(result[part])
    print()
    print(
        "checks: " + ", ".join(f"{k} {'yes' if v else 'NO'}" for k, v in result["checks"].items())
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--smoke", action="store_true", help="tiny sizes on the CPU")
    parser.add_argument("--no-tensorrt", action="store_true", help="leave TensorRT out")
    args = parser.parse_args(argv)
    if not args.smoke and not torch.cuda.is_available():
        message = (
            "no CUDA GPU is present (torch.cuda.is_available() is False): nothing checked; "
            "--smoke runs the same code on the CPU"
        )
        print(json.dumps({"cuda": False, "message": message}) if args.json else message)
        return 0
    sizes = SMOKE_SIZES if args.smoke else GPU_SIZES
    with contextlib.redirect_stdout(sys.stderr):  # the exporter and the libraries print too
        result = run_checks(sizes, tensorrt=not args.no_tensorrt)
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print_tables(result)
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
