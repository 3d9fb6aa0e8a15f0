"""The inference-optimisation study: every technique against PyTorch eager on the same inputs.

    dlstudio report inference --run 15 --run 10 [--repeats 300] [--threads 1] [--json]
    dlstudio report inference --checkpoint data/runs/15/best.pt --techniques eager ort_all

For each trained classifier (a run in the run store, or a best.pt checkpoint) every technique of
`core.serving.techniques` is built, then measured on the same prepared pictures of the data
set's official test split:

- latency at batch 1: p50 and p95 over `repeats` calls, in rounds that cycle through the
  techniques, so a change in machine load touches all of them alike;
- throughput (images/s) at batch sizes 1-256 and the best of them (batch-size tuning);
- the size of the served artifact, test accuracy on the whole test split and its change against
  eager, the largest |logit difference| and the top-1 agreement with eager;
- profiles: torch.profiler's top operators of eager by self CPU time, and ONNX Runtime's
  profiler's top node types (its JSON trace parsed here).

Calibration for static int8 uses validation pictures, never test ones. The report
(`reports/inference/README.md`) is generated from the numbers, with the hand-written discussion
of docs/inference-study.md appended; results.json holds everything measured.
"""

import argparse
import json
import os
import platform
import time
import warnings
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import onnxruntime as ort
import torch
from torch.profiler import ProfilerActivity, profile

from core.paths import REPO_ROOT, data_dir, default_db_path
from core.reports.markdown import conclusion_lines, reproduce_command
from core.reports.page import ForDevelopers, Page, to_markdown
from core.runs.store import RunStore
from core.serving.techniques import (
    NotApplicable,
    Predictor,
    Subject,
    build_predictor,
    get_technique,
    list_techniques,
    ort_predict,
    ort_session,
)
from core.vision.checkpoints import load_trained_model
from core.vision.data import dataset_splits, load_image_dataset, stratified_subset
from core.vision.prepared import prepare_pictures

BASELINE = "eager"
ORT_REFERENCE = "ort_all"  # the ONNX Runtime setting whose speed-up over eager is reported
BATCH_SIZES = (1, 4, 16, 64, 256)
EVAL_BATCH = 256
CALIBRATION_SIZE = 256  # validation pictures for static int8 calibration
ROUNDS = 10  # latency: the techniques take turns this many times
PROFILE_CALLS = 100
TOP_OPS = 10
ORT_PROFILED = ("ort_all", "ort_int8_static")
DISCUSSION = REPO_ROOT / "docs" / "inference-study.md"
RESULTS = REPO_ROOT / "reports" / "inference" / "results.json"  # the committed study


@dataclass
class LabelledPictures:
    """The prepared pictures and labels of a data set's test split."""

    pictures: np.ndarray  # (N, C, size, size) float32, normalised as the model expects
    labels: np.ndarray


@dataclass
class OpTime:
    """One operator (PyTorch) or node type (ONNX Runtime) in a profile."""

    name: str
    total_ms: float
    calls: int
    share: float  # of the profile's total operator time


@dataclass
class TechniqueResult:
    """Everything measured for one technique on one model."""

    name: str
    description: str
    status: str = "ok"  # ok, failed, not applicable
    note: str = ""
    build_s: float | None = None
    p50_ms: float | None = None
    p95_ms: float | None = None
    throughput: dict[int, float] = field(default_factory=dict)  # batch size -> images/s
    size_bytes: int | None = None
    test_accuracy: float | None = None
    max_abs_logit_diff: float | None = None
    top1_agreement: float | None = None

    @property
    def best_batch(self) -> int | None:
        return max(self.throughput, key=self.throughput.get) if self.throughput else None


# -- subjects ---------------------------------------------------------------------------------


def checkpoint_of_run(run_id: int, store: RunStore | None = None) -> Path:
    """The best checkpoint of a run in the run store."""
    store = store or RunStore(default_db_path())
    run = store.get(run_id)
    path = run.artifacts.get("best_checkpoint")
    if path is None:
        raise ValueError(f"run {run_id} ({run.experiment}, {run.status}) has no best checkpoint")
    return Path(path)


def load_subject(
    checkpoint: str | Path,
    work_dir: str | Path,
    threads: int = 1,
    calibration_size: int = CALIBRATION_SIZE,
) -> tuple[Subject, LabelledPictures, dict]:
    """The checkpoint's model as a `Subject` (calibrated on its validation split), its data
    set's test split, and the training config saved in the checkpoint."""
    checkpoint = Path(checkpoint)
    if not checkpoint.is_file():
        raise FileNotFoundError(f"no checkpoint at {checkpoint}: give a best.pt of an image run")
    model, spec, _ = load_trained_model(checkpoint)
    config = torch.load(checkpoint, map_location="cpu", weights_only=True)["config"]
    dataset = load_image_dataset(config["data"], config.get("data_root") or None)
    splits = dataset_splits(dataset, seed=config["split_seed"])
    calibration = stratified_subset(splits["val"], dataset.labels, calibration_size, seed=0)
    subject = Subject(
        model, spec, prepare_pictures(dataset, calibration, spec).numpy(), work_dir, threads
    )
    test = LabelledPictures(
        prepare_pictures(dataset, splits["test"], spec).numpy(), dataset.labels[splits["test"]]
    )
    return subject, test, config


# -- measurements -----------------------------------------------------------------------------


def predict_all(predictor: Predictor, pictures: np.ndarray, batch_size: int = EVAL_BATCH):
    """Logits for all pictures, a batch at a time."""
    return np.concatenate(
        [
            predictor.predict(pictures[start : start + batch_size])
            for start in range(0, len(pictures), batch_size)
        ]
    )


def accuracy(logits: np.ndarray, labels: np.ndarray) -> float:
    """Share of pictures whose largest logit is the true class."""
    return float(np.mean(logits.argmax(axis=1) == labels))


def latency_ms(
    predictors: dict[str, Predictor],
    batch: np.ndarray,
    repeats: int,
    rounds: int = ROUNDS,
    warm_up: int = 3,
) -> dict[str, np.ndarray]:
    """Milliseconds per call of each predictor on `batch`, about `repeats` calls each after
    `warm_up` calls: the predictors take turns in `rounds` rounds, so a change of machine load
    while measuring touches all of them alike."""
    for predictor in predictors.values():
        for _ in range(warm_up):
            predictor.predict(batch)
    times = defaultdict(list)
    per_round = max(1, -(-repeats // rounds))
    for _ in range(rounds):
        for name, predictor in predictors.items():
            for _ in range(per_round):
                started = time.perf_counter()
                predictor.predict(batch)
                times[name].append(1000 * (time.perf_counter() - started))
    return {name: np.array(values) for name, values in times.items()}


def throughputs(
    predictors: dict[str, Predictor],
    pictures: np.ndarray,
    batch_sizes: tuple[int, ...] = BATCH_SIZES,
    images: int = 1024,
) -> dict[str, dict[int, float]]:
    """Images per second of each predictor at each batch size (batch-size tuning): batch size
    over the median time per call, with about `images` pictures per predictor and size
    (at least `ROUNDS` calls), measured in turns as `latency_ms` does."""
    rates = defaultdict(dict)
    for size in batch_sizes:
        calls = max(ROUNDS, images // size)
        for name, times in latency_ms(predictors, pictures[:size], calls).items():
            rates[name][size] = 1000 * size / float(np.median(times))
    return dict(rates)


def _share(totals: dict[str, float], calls: dict[str, int]) -> list[OpTime]:
    overall = sum(totals.values()) or 1.0
    rows = [OpTime(name, ms, calls[name], ms / overall) for name, ms in totals.items()]
    return sorted(rows, key=lambda row: -row.total_ms)


def torch_profile(predictor: Predictor, batch: np.ndarray, calls: int = PROFILE_CALLS):
    """torch.profiler over `calls` predictions: operators by self CPU time, largest first."""
    predictor.predict(batch)
    with profile(activities=[ProfilerActivity.CPU]) as recorded:
        for _ in range(calls):
            predictor.predict(batch)
    events = recorded.key_averages()
    totals = {event.key: event.self_cpu_time_total / 1000 for event in events}
    return _share(totals, {event.key: event.count for event in events})


def parse_ort_profile(trace: str | Path) -> list[OpTime]:
    """ONNX Runtime's JSON trace summed by node type (its `op_name`), largest first.

    Each node run is one event of category "Node" named "<node>_kernel_time"; the events
    before and after the kernel (fences) are left out so nothing is counted twice.
    """
    events = json.loads(Path(trace).read_text())
    totals, calls = defaultdict(float), defaultdict(int)
    for event in events:
        if event.get("cat") == "Node" and event["name"].endswith("_kernel_time"):
            op = event["args"]["op_name"]
            totals[op] += event["dur"] / 1000
            calls[op] += 1
    return _share(totals, calls)


def ort_profile(
    model_path: Path, batch: np.ndarray, threads: int, work_dir: Path, calls: int = PROFILE_CALLS
) -> list[OpTime]:
    """ONNX Runtime's profiler over `calls` predictions of the model (all graph
    optimisations), summarised by node type."""
    session = ort_session(model_path, threads, profile_prefix=work_dir / "ort_profile")
    predict = ort_predict(session)
    for _ in range(calls):
        predict(batch)
    trace = Path(session.end_profiling())
    try:
        return parse_ort_profile(trace)
    finally:
        trace.unlink()


# -- the study --------------------------------------------------------------------------------


def _build_all(
    subject: Subject, names: list[str]
) -> tuple[dict[str, Predictor], dict[str, TechniqueResult]]:
    """Build every technique; one that fails is recorded with its error, not raised, because
    the study reports what does not work too (e.g. torch.compile without a compiler)."""
    predictors, results = {}, {}
    for name in names:
        result = TechniqueResult(name, get_technique(name).description)
        results[name] = result
        started = time.perf_counter()
        try:
            predictors[name] = build_predictor(name, subject)
        except NotApplicable as reason:
            result.status, result.note = "not applicable", str(reason).split(": ", 1)[1]
            continue
        except Exception as error:  # any failure is a result here, reported in the table
            first_line = (str(error).strip().splitlines() or [""])[0]
            result.status, result.note = "failed", f"{type(error).__name__}: {first_line[:300]}"
            continue
        result.build_s = time.perf_counter() - started
        result.note = predictors[name].note
        result.size_bytes = predictors[name].size_bytes
    return predictors, results


def run_study(
    subject: Subject,
    test: LabelledPictures,
    names: list[str] | None = None,
    repeats: int = 300,
    batch_sizes: tuple[int, ...] = BATCH_SIZES,
    profile_calls: int = PROFILE_CALLS,
) -> dict:
    """Measure the techniques `names` (default: all; eager is always included) on `subject`,
    with PyTorch set to the subject's thread count (restored afterwards)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(subject.threads)
    try:
        return _measure(subject, test, names, repeats, batch_sizes, profile_calls)
    finally:
        torch.set_num_threads(threads)


def _measure(
    subject: Subject,
    test: LabelledPictures,
    names: list[str] | None,
    repeats: int,
    batch_sizes: tuple[int, ...],
    profile_calls: int,
) -> dict:
    names = list(dict.fromkeys([BASELINE, *(names or list_techniques())]))
    started = time.perf_counter()
    _ = subject.onnx_path  # the export is shared by every ONNX Runtime technique
    export_s = time.perf_counter() - started
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # torch.ao's move to torchao
        predictors, results = _build_all(subject, names)
    logits = {name: predict_all(predictor, test.pictures) for name, predictor in predictors.items()}
    for name, outputs in logits.items():
        result, reference = results[name], logits[BASELINE]
        result.test_accuracy = accuracy(outputs, test.labels)
        result.max_abs_logit_diff = float(np.abs(outputs - reference).max())
        result.top1_agreement = float(np.mean(outputs.argmax(1) == reference.argmax(1)))
    one = test.pictures[:1]
    for name, times in latency_ms(predictors, one, repeats).items():
        results[name].p50_ms = float(np.percentile(times, 50))
        results[name].p95_ms = float(np.percentile(times, 95))
    for name, rates in throughputs(predictors, test.pictures, batch_sizes).items():
        results[name].throughput = rates
    profiles = {f"torch {BASELINE}": torch_profile(predictors[BASELINE], one, profile_calls)}
    for name in ORT_PROFILED:
        if name in predictors:
            profiles[f"ONNX Runtime {name}"] = ort_profile(
                predictors[name].artifact, one, subject.threads, subject.work_dir, profile_calls
            )
    return {
        "threads": subject.threads,
        "repeats": repeats,
        "export_s": export_s,
        "n_test": len(test.labels),
        "results": [
            asdict(result) | {"best_batch": result.best_batch} for result in results.values()
        ],
        "profiles": {key: [asdict(row) for row in rows] for key, rows in profiles.items()},
    }


def machine() -> dict:
    """What the timings were taken on."""
    return {
        "cpu": _cpu_name(),
        "cores": os.cpu_count(),
        "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        "python": platform.python_version(),
        "torch": torch.__version__,
        "onnxruntime": ort.__version__,
        "ort_providers": ort.get_available_providers(),
        "load_average": os.getloadavg(),
        "time": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
    }


def _cpu_name() -> str:
    cpuinfo = Path("/proc/cpuinfo")
    lines = cpuinfo.read_text().splitlines() if cpuinfo.is_file() else []
    names = [line.split(":", 1)[1].strip() for line in lines if line.startswith("model name")]
    return names[0] if names else platform.processor() or "unknown"


# -- the report -------------------------------------------------------------------------------


def _ms(value: float | None) -> str:
    return "" if value is None else f"{value:.3f}" if value < 10 else f"{value:.1f}"


def _size(size: int | None) -> str:
    return "" if size is None else f"{size / 1e6:.2f} MB"


def _ok(study: dict) -> dict[str, dict]:
    return {row["name"]: row for row in study["results"] if row["status"] == "ok"}


def _best_rate(row: dict) -> tuple[int, float]:
    size, rate = max(row["throughput"].items(), key=lambda item: item[1])
    return int(size), rate


def ort_speedup(study: dict) -> float | None:
    """Eager's p50 latency at batch 1 over ONNX Runtime's (all graph optimisations)."""
    ok = _ok(study)
    if BASELINE not in ok or ORT_REFERENCE not in ok:
        return None
    return ok[BASELINE]["p50_ms"] / ok[ORT_REFERENCE]["p50_ms"]


def results_table(study: dict) -> str:
    """The main Markdown table: one row per technique, its numbers against eager."""
    ok = _ok(study)
    eager = ok[BASELINE]
    lines = [
        "| technique | p50 ms (batch 1) | p95 ms | speed-up vs eager (p50) | best batch "
        "| images/s at best batch | size | test accuracy | change vs eager | max abs logit "
        "diff | top-1 = eager | notes |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for row in study["results"]:
        if row["status"] != "ok":
            lines.append(
                f"| {row['name']} | {row['status']} | | | | | | | | | | "
                f"{row['description']}. {row['note']} |"
            )
            continue
        batch, rate = _best_rate(row)
        change = 100 * (row["test_accuracy"] - eager["test_accuracy"])
        notes = "; ".join(filter(None, [row["description"], row["note"]]))
        lines.append(
            f"| {row['name']} | {_ms(row['p50_ms'])} | {_ms(row['p95_ms'])} | "
            f"{eager['p50_ms'] / row['p50_ms']:.2f}x | {batch} | {rate:,.0f} | "
            f"{_size(row['size_bytes'])} | {row['test_accuracy']:.2%} | {change:+.2f} pp | "
            f"{row['max_abs_logit_diff']:.1e} | {row['top1_agreement']:.2%} | {notes} |"
        )
    return "\n".join(lines)


def batch_table(study: dict) -> str:
    """Images per second of every working technique at each batch size (batch-size tuning)."""
    ok = _ok(study)
    sizes = sorted({int(size) for row in ok.values() for size in row["throughput"]})
    lines = [
        "| technique | " + " | ".join(f"batch {size}" for size in sizes) + " | best |",
        "| --- | " + " | ".join("---:" for _ in sizes) + " | ---: |",
    ]
    for name, row in ok.items():
        rates = {int(size): rate for size, rate in row["throughput"].items()}
        cells = " | ".join(f"{rates[size]:,.0f}" for size in sizes)
        lines.append(f"| {name} | {cells} | {_best_rate(row)[0]} |")
    return "\n".join(lines)


def profile_table(rows: list[dict], top: int = TOP_OPS) -> str:
    lines = ["| operator | total ms | calls | share |", "| --- | ---: | ---: | ---: |"]
    lines += [
        f"| `{row['name']}` | {row['total_ms']:.2f} | {row['calls']} | {row['share']:.1%} |"
        for row in rows[:top]
    ]
    return "\n".join(lines)


def conclusions(study: dict) -> list[str]:
    """Sentences computed from one model's numbers."""
    ok, eager = _ok(study), _ok(study)[BASELINE]
    latency = sorted(ok.values(), key=lambda row: row["p50_ms"])
    fastest = latency[0]
    lines = [
        f"Fastest at batch 1: {fastest['name']}, p50 {_ms(fastest['p50_ms'])} ms against "
        f"eager's {_ms(eager['p50_ms'])} ms ({eager['p50_ms'] / fastest['p50_ms']:.2f}x), "
        f"test accuracy {100 * (fastest['test_accuracy'] - eager['test_accuracy']):+.2f} pp."
    ]
    ratio = ort_speedup(study)
    if ratio is not None:
        lines.append(
            f"ONNX Runtime speed-up over eager at batch 1: {ratio:.2f}x "
            f"({_ms(eager['p50_ms'])} ms -> {_ms(ok[ORT_REFERENCE]['p50_ms'])} ms p50)."
        )
    if {"ort_disabled", ORT_REFERENCE} <= ok.keys():
        gain = ok["ort_disabled"]["p50_ms"] / ok[ORT_REFERENCE]["p50_ms"]
        lines.append(f"ONNX Runtime's graph optimisations alone (all vs none): {gain:.2f}x.")
    best = max(ok.values(), key=lambda row: _best_rate(row)[1])
    batch, rate = _best_rate(best)
    eager_batch, eager_rate = _best_rate(eager)
    lines.append(
        f"Best throughput: {best['name']} at batch {batch}, {rate:,.0f} images/s, against "
        f"eager's {eager_rate:,.0f} at batch {eager_batch} ({rate / eager_rate:.2f}x); eager "
        f"at batch 1 does {eager['throughput'][1]:,.0f} images/s."
        if 1 in eager["throughput"]
        else f"Best throughput: {best['name']} at batch {batch}, {rate:,.0f} images/s."
    )
    smallest = min(ok.values(), key=lambda row: row["size_bytes"])
    lines.append(
        f"Smallest artifact: {smallest['name']}, {_size(smallest['size_bytes'])} against "
        f"{_size(eager['size_bytes'])} ({eager['size_bytes'] / smallest['size_bytes']:.1f}x "
        "smaller)."
    )
    changes = [
        f"{row['name']} {100 * (row['test_accuracy'] - eager['test_accuracy']):+.2f} pp"
        for name, row in ok.items()
        if "int8" in name or name in ("prune_l1", "bf16_autocast")
    ]
    if changes:
        lines.append("Accuracy change of the lossy techniques: " + ", ".join(changes) + ".")
    slower = [row["name"] for row in latency if row["p50_ms"] > eager["p50_ms"]]
    if slower:
        lines.append("Slower than eager at batch 1: " + ", ".join(slower) + ".")
    for row in study["results"]:
        if row["status"] == "failed":
            lines.append(f"{row['name']} failed: {row['note']}")
    return lines


def speedup_table(studies: list[dict]) -> str:
    """Speed-up at batch 1 (p50) of each technique for each model side by side."""
    names = list(dict.fromkeys(row["name"] for study in studies for row in study["results"]))
    header = "| technique | " + " | ".join(study["label"] for study in studies) + " |"
    lines = [header, "| --- | " + " | ".join("---:" for _ in studies) + " |"]
    for name in names:
        cells = []
        for study in studies:
            ok = _ok(study)
            row = next(r for r in study["results"] if r["name"] == name)
            cells.append(
                f"{ok[BASELINE]['p50_ms'] / row['p50_ms']:.2f}x" if name in ok else row["status"]
            )
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def inference_page(studies: list[dict], command: str, before: dict, after: dict) -> Page:
    """The study's page (the README and the Results tab): tables, profiles, conclusions,
    discussion."""
    threads = studies[0]["threads"]
    page = Page("Inference optimisation study")
    page.add(
        ForDevelopers(f"Measured by `{command}` on {before['time']}."),
        f"Machine: {before['cpu']}, {before['cores']} cores, "
        f"{'GPU ' + before['gpu'] if before['gpu'] else 'no GPU'}; torch {before['torch']}, "
        f"ONNX Runtime {before['onnxruntime']}; {threads} intra-op thread(s) for PyTorch and "
        "ONNX Runtime (the app's serving setting). Load average (1, 5, 15 min) before "
        f"{', '.join(f'{x:.2f}' for x in before['load_average'])}, after "
        f"{', '.join(f'{x:.2f}' for x in after['load_average'])}: the cores may be shared with "
        "other work, so compare numbers within one run of the study, not across runs.",
        "Every technique runs on the same prepared pictures of the test split. Latency: p50 / "
        "p95 over the repeats at batch 1, the techniques taking turns in rounds. Throughput: "
        f"images/s at batch sizes {', '.join(map(str, BATCH_SIZES))}, the best one reported. "
        "Size: bytes of the file the technique serves from (state dict for PyTorch, .onnx for "
        "ONNX Runtime). Accuracy: the whole test split; max abs logit diff and top-1 agreement "
        "against eager on it.",
        "## Speed-up at batch 1 over eager, per model",
        speedup_table(studies),
    )
    for study in studies:
        page.add(
            f"## {study['label']}",
            study["about"],
            ForDevelopers(
                f"Checkpoint `{study['checkpoint']}`; regenerate it on a fresh clone with "
                f"`{study['reproduce']}`."
            ),
            f"The ONNX export took {study['export_s']:.1f} s; {study['repeats']} calls per "
            f"technique at batch 1; {study['n_test']:,} test pictures.",
            results_table(study),
            "### Batch-size tuning (images/s)",
            batch_table(study),
        )
        for key, rows in study["profiles"].items():
            page.add(
                f"### Profile: {key}, top {TOP_OPS} by self time, batch 1", profile_table(rows)
            )
        page.add("\n".join(conclusion_lines(conclusions(study), "### Conclusions")).rstrip("\n"))
    if DISCUSSION.is_file():
        page.add("\n".join(_demote_headings(DISCUSSION.read_text().strip().splitlines())))
    return page


def write_report(studies: list[dict], out: Path, command: str, before: dict, after: dict) -> Path:
    """reports/inference/README.md (`inference_page`) and results.json."""
    path = to_markdown(inference_page(studies, command, before, after), out)
    results = {"command": command, "machine": before, "machine_after": after, "studies": studies}
    (out / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    return path


def read_results(path: Path = RESULTS) -> dict:
    """A study's results.json, as `write_report` saved it (batch sizes back to numbers)."""
    saved = json.loads(Path(path).read_text())
    for study in saved["studies"]:  # JSON made the batch sizes strings
        for row in study["results"]:
            row["throughput"] = {int(size): rate for size, rate in row["throughput"].items()}
    return saved


def page_from_results(path: Path = RESULTS) -> Page:
    """The page of the committed study, measuring nothing (the Results tab shows this)."""
    saved = read_results(path)
    return inference_page(
        saved["studies"], saved["command"], saved["machine"], saved["machine_after"]
    )


def _demote_headings(lines: list[str]) -> list[str]:
    """Markdown lines with every heading one level lower (code blocks left alone)."""
    demoted, in_code = [], False
    for line in lines:
        in_code ^= line.startswith("```")
        demoted.append("#" + line if line.startswith("#") and not in_code else line)
    return demoted


def _describe(checkpoint: Path, run_id: int | None, store: RunStore) -> dict:
    """A label, a one-line description and the command that trains the checkpoint again."""
    saved = torch.load(checkpoint, map_location="cpu", weights_only=True)
    config = saved["config"]
    parameters = sum(
        tensor.numel() for tensor in saved["model"].values() if tensor.is_floating_point()
    )
    about = (
        f"{config['backbone']} ({'ImageNet-pretrained' if config['pretrained'] else 'from scratch'}"
        f"), {config['data']} at {config['input_size']}x{config['input_size']}, "
        f"{parameters:,} weights."
    )
    if run_id is None:
        return {"label": checkpoint.name, "about": about, "reproduce": "(not a run-store run)"}
    run = store.get(run_id)
    return {
        "label": f"run {run_id} {run.experiment}",
        "about": about,
        "reproduce": reproduce_command(run),
    }


def _shown(path: Path) -> str:
    """A path as the committed report shows it: relative to the repository when inside it."""
    path = Path(path).resolve()
    return str(path.relative_to(REPO_ROOT)) if path.is_relative_to(REPO_ROOT) else str(path)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="dlstudio report inference", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--run", type=int, action="append", default=[], help="run-store run id")
    parser.add_argument("--checkpoint", action="append", default=[], help="a best.pt file")
    parser.add_argument("--techniques", nargs="+", default=None, choices=list_techniques())
    parser.add_argument("--repeats", type=int, default=300, help="calls per technique at batch 1")
    parser.add_argument("--threads", type=int, default=1, help="intra-op threads")
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "reports" / "inference")
    parser.add_argument("--work-dir", type=Path, default=None, help="default: DATA/inference")
    parser.add_argument("--db", type=Path, default=None, help="run store (default: the app's)")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    parser.add_argument(
        "--from-results",
        type=Path,
        default=None,
        help="rewrite the report from a results.json of an earlier study, measuring nothing",
    )
    args = parser.parse_args(argv)
    if args.from_results:
        saved = read_results(args.from_results)
        path = write_report(
            saved["studies"], args.out, saved["command"], saved["machine"], saved["machine_after"]
        )
        print(f"wrote {path}")
        return 0
    if not args.run and not args.checkpoint:
        parser.error("give at least one --run ID or --checkpoint PATH")
    if args.repeats < ROUNDS or args.threads < 1:
        parser.error(f"--repeats must be at least {ROUNDS} and --threads at least 1")
    store = RunStore(args.db or default_db_path())
    work_root = args.work_dir or data_dir() / "inference"
    targets = [(checkpoint_of_run(run_id, store), run_id) for run_id in args.run]
    targets += [(Path(path), None) for path in args.checkpoint]
    command = " ".join([parser.prog, *argv])
    before, studies = machine(), []
    for checkpoint, run_id in targets:
        name = f"run-{run_id}" if run_id is not None else checkpoint.stem
        subject, test, _ = load_subject(checkpoint, work_root / name, args.threads)
        print(f"{name}: {len(test.labels):,} test pictures; measuring ...", flush=True)
        study = run_study(subject, test, args.techniques, args.repeats)
        studies.append(
            study | _describe(checkpoint, run_id, store) | {"checkpoint": _shown(checkpoint)}
        )
        # written after every model, so an interrupted study keeps what it measured
        path = write_report(studies, args.out, command, before, machine())
    if args.json:
        print(json.dumps(studies, indent=2))
    for study in studies:
        ratio = ort_speedup(study)
        if ratio is not None:
            print(f"{study['label']}: ONNX Runtime speed-up over eager at batch 1: {ratio:.2f}x")
    print(f"wrote {path}")
    return 0
