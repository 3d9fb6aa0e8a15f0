"""A classifier's loss, accuracy and macro-F1 on one split, in eval mode.

Training evaluates val and test after every epoch with it, and pseudo-labeling, ensembles and
the context-prediction pretext reuse it, so every number in a run's history is computed alike.
"""

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.metrics import f1_score
from torch import nn

from core.device import autocast


@dataclass
class Evaluation:
    """A model's loss, accuracy, macro-F1 and outputs on one split."""

    loss: float
    accuracy: float
    macro_f1: float
    predictions: np.ndarray
    probabilities: np.ndarray


@torch.inference_mode()
def evaluate(
    model: nn.Module,
    images: torch.Tensor,
    labels: torch.Tensor,
    normalize: Callable[[torch.Tensor], torch.Tensor],
    device: torch.device,
    batch_size: int = 256,
) -> Evaluation:
    """Evaluate in eval mode, batch by batch."""
    model.eval()
    logits = []
    for start in range(0, len(images), batch_size):
        with autocast(device):
            batch = normalize(images[start : start + batch_size]).to(device)
            logits.append(model(batch).float().cpu())
    scores = torch.cat(logits)
    predictions = scores.argmax(1).numpy()
    truth = labels.numpy()
    return Evaluation(
        loss=F.cross_entropy(scores, labels).item(),
        accuracy=float(np.mean(predictions == truth)),
        macro_f1=float(f1_score(truth, predictions, average="macro", zero_division=0)),
        predictions=predictions,
        probabilities=scores.softmax(1).numpy(),
    )
