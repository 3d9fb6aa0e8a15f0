"""The image classifiers' checkpoint files: one place that writes and reads each of them.

A run folder holds
- `best.pt` (BEST_CHECKPOINT): the best epoch's weights with the config (a dict), the class
  names and the input spec: everything serving needs (`load_trained_model`);
- `last.pt` (LAST_CHECKPOINT): the last epoch's weights, optimiser, schedule, scaler and random
  states, to resume the run (`save_last`, `load_last`);
- `extractor.pt` (EXTRACTOR_CHECKPOINT), in a context-prediction run: a self-supervised feature
  extractor a classifier can start from (`save_extractor`, `load_extractor`).

Training (core.vision.train, core.vision.pretext) and serving (core.serving) both use this
module, and it imports neither: a config arrives as the dict stored with the weights.
"""

from dataclasses import asdict
from pathlib import Path
from typing import Any

import torch
from torch import nn

from core.vision.backbones import create_backbone
from core.vision.preprocess import InputSpec

BEST_CHECKPOINT = "best.pt"
LAST_CHECKPOINT = "last.pt"
EXTRACTOR_CHECKPOINT = "extractor.pt"


def save_atomic(contents: dict[str, Any], path: Path) -> None:
    """torch.save through a temporary file, so a crash never leaves half a checkpoint."""
    partial_path = path.with_suffix(".tmp")
    torch.save(contents, partial_path)
    partial_path.replace(path)


def load_checkpoint(path: str | Path, device: torch.device | str = "cpu") -> dict[str, Any]:
    """A checkpoint's contents, tensors on `device`; tensors and plain values only."""
    return torch.load(path, map_location=device, weights_only=True)


# -- best.pt: the trained classifier ----------------------------------------------------------


def save_best(
    run_dir: Path,
    model: nn.Module,
    epoch: int,
    val_accuracy: float,
    config: dict[str, Any],
    classes: list[str],
    input_spec: dict[str, Any],
) -> None:
    """Write `run_dir`/best.pt: the weights of `epoch`, and what it takes to serve them."""
    save_atomic(
        {
            "model": model.state_dict(),
            "epoch": epoch,
            "val_accuracy": val_accuracy,
            "config": config,
            "classes": classes,
            "input_spec": input_spec,
        },
        run_dir / BEST_CHECKPOINT,
    )


def load_trained_model(path: str | Path) -> tuple[nn.Module, InputSpec, list[str]]:
    """The network of a best.pt checkpoint in eval mode, with its input spec and class names."""
    saved = load_checkpoint(path)
    spec = InputSpec.from_dict(saved["input_spec"])
    config = saved["config"]
    model = create_backbone(
        config["backbone"],
        pretrained=False,
        num_classes=len(saved["classes"]),
        in_chans=spec.channels,
    )
    model.load_state_dict(saved["model"])
    return model.eval(), spec, list(saved["classes"])


# -- last.pt: resuming a run ------------------------------------------------------------------


def save_last(
    run_dir: Path,
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    schedule: Any,
    scaler: torch.amp.GradScaler,
    state: dict[str, Any],
    loader_rng: torch.Tensor,
    config: dict[str, Any],
) -> None:
    """Write `run_dir`/last.pt: everything a resumed run continues from, exactly.

    `schedule` is anything with `state_dict()` (core.vision.schedules.LrSchedule), `state` the
    loop's own state (epoch, best so far, history) and `loader_rng` the state of the generator
    that shuffles the batches; torch's global random state is saved too.
    """
    save_atomic(
        {
            "model": model.state_dict(),
            "optimizer": optimizer.state_dict(),
            "schedule": schedule.state_dict(),
            "scaler": scaler.state_dict(),
            "state": state,
            "torch_rng": torch.get_rng_state(),
            "loader_rng": loader_rng,
            "config": config,
        },
        run_dir / LAST_CHECKPOINT,
    )


def find_checkpoint(resume: str) -> Path:
    """The last.pt checkpoint that `resume` (a run folder or the file itself) names."""
    path = Path(resume).expanduser()
    if path.is_dir():
        path = path / LAST_CHECKPOINT
    if not path.is_file():
        raise FileNotFoundError(
            f"resume: no checkpoint {path.name}: give a run folder or its {LAST_CHECKPOINT}"
        )
    return path


def check_resumable(saved: dict[str, Any], config: Any) -> None:
    """Resuming needs the config the checkpoint was trained with (the split, the network and the
    schedules depend on it); only `device` and `resume` itself may differ.

    `saved` is the config dict stored in last.pt, `config` the run's config dataclass.
    """
    current = asdict(config)
    differing = [
        f"{key}={saved[key]!r} there, {current[key]!r} here"
        for key in current
        if key not in ("device", "resume") and saved.get(key) != current[key]
    ]
    if differing:
        raise ValueError(
            "resume: the checkpoint was trained with another config (" + "; ".join(differing) + ")"
        )


def load_last(resume: str, config: Any) -> tuple[Path, dict[str, Any]]:
    """The path and contents of the last.pt that `resume` names, checked against `config`."""
    path = find_checkpoint(resume)
    saved = load_checkpoint(path)
    check_resumable(saved["config"], config)
    return path, saved


# -- extractor.pt: a self-supervised feature extractor ----------------------------------------


def save_extractor(
    path: Path,
    extractor: dict[str, torch.Tensor],
    backbone: str,
    in_chans: int,
    config: dict[str, Any],
    epoch: int,
    val_accuracy: float,
) -> None:
    """Write an extractor checkpoint: its tensors under the classifier's own names."""
    save_atomic(
        {
            "extractor": extractor,
            "backbone": backbone,
            "in_chans": in_chans,
            "config": config,
            "epoch": epoch,
            "val_accuracy": val_accuracy,
        },
        path,
    )


def load_extractor(model: nn.Module, backbone: str, init_from: str) -> list[str]:
    """Copy a self-supervised feature extractor into `model`; returns the tensors it set.

    `init_from` is a context-prediction run folder or its extractor.pt; the checkpoint holds
    the extractor's tensors under the classifier's own names, and the head keeps its random
    init.
    """
    path = Path(init_from).expanduser()
    if path.is_dir():
        path = path / EXTRACTOR_CHECKPOINT
    if not path.is_file():
        raise FileNotFoundError(
            f"init_from: no extractor checkpoint {path.name}: give a run folder or its "
            f"{EXTRACTOR_CHECKPOINT}"
        )
    saved = load_checkpoint(path)
    if saved.get("backbone") != backbone:
        raise ValueError(
            f"init_from: {path.name} holds a {saved.get('backbone')} extractor, "
            f"this run is a {backbone}"
        )
    unexpected = model.load_state_dict(saved["extractor"], strict=False).unexpected_keys
    if unexpected:
        raise ValueError(f"init_from: {path.name} has tensors the model lacks: {unexpected[:3]}")
    return list(saved["extractor"])
