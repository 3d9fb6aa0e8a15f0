"""Several trained classifiers as one network: the average of their class probabilities.

Networks trained from different seeds on the same split make partly independent mistakes, and
averaging their probabilities cancels some of them. Whether that is worth the extra compute is
decided on the val split (`choose_on_val`), never on test.
"""

from dataclasses import replace
from pathlib import Path

import torch
from torch import nn

from core.vision.checkpoints import load_trained_model
from core.vision.evaluation import Evaluation, evaluate
from core.vision.prepared import PreparedData
from core.vision.train import ImageTrainConfig, prepare_data


class ProbabilityAverage(nn.Module):
    """The members' mean softmax, returned as log-probabilities: softmax of the output is the
    mean itself, so serving treats the ensemble like any classifier that returns logits."""

    def __init__(self, members: list[nn.Module]):
        super().__init__()
        if not members:
            raise ValueError("an ensemble needs at least one member")
        self.members = nn.ModuleList(members)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        probabilities = torch.stack([member(images).softmax(dim=1) for member in self.members])
        return probabilities.mean(dim=0).clamp_min(1e-12).log()


def evaluate_splits(
    model: nn.Module, data: PreparedData, splits: tuple[str, ...] = ("val", "test")
) -> dict[str, Evaluation]:
    """The model's evaluation on each of `splits`, on the CPU."""
    device = torch.device("cpu")
    return {
        split: evaluate(model, data.x[split], data.y[split], data.normalize, device)
        for split in splits
    }


def choose_on_val(candidates: dict[str, dict[str, Evaluation]]) -> str:
    """The candidate with the lowest val log-loss (ties: higher val accuracy).

    Log-loss, not accuracy: on a few hundred val pictures good candidates differ by one or two
    mistakes, so accuracy ties or flips by chance, while the loss weighs every prediction's
    confidence and separates them.
    """
    if not candidates:
        raise ValueError("no candidates to choose from")
    return min(
        candidates,
        key=lambda name: (candidates[name]["val"].loss, -candidates[name]["val"].accuracy),
    )


def ensemble_candidates(
    checkpoints: dict[str, str | Path], config: ImageTrainConfig
) -> tuple[dict[str, nn.Module], dict[str, dict[str, Evaluation]]]:
    """Each named checkpoint alone and all of them averaged, evaluated on val and test of
    `config`'s split (every checkpoint must come from that split: `split_seed` fixed, seeds
    varied)."""
    models = {name: load_trained_model(path)[0] for name, path in checkpoints.items()}
    models[f"ensemble of {len(checkpoints)}"] = ProbabilityAverage(list(models.values())).eval()
    data = prepare_data(replace(config, limit_train=0))
    return models, {name: evaluate_splits(model, data) for name, model in models.items()}
