"""Loan default: five experiments with the block MLP, ROC-AUC on every split.

Each epoch logs loss and ROC-AUC on train, val and test, all computed in eval mode after the
epoch so the curves compare like with like. Grids (Exp 4, Exp 5) choose on the val split.
"""

from dataclasses import dataclass, field

import numpy as np
import torch
from sklearn.metrics import roc_auc_score
from torch import nn

from core.config import check_range, check_seed
from core.device import pick_device
from core.experiments.registry import Experiment, register
from core.optim import create_optimizer
from core.tabular.data import (
    BUILTIN_SOURCES,
    DEFAULT_TARGETS,
    check_binary_table,
    load_table,
    prepare_binary,
)
from core.tabular.mlp import BlockMLP
from core.training import SPLITS, EpochProgress, TrainingStep

LOAN_OPTIMIZERS = ("sgd", "lion")  # the names in core.optim.OPTIMIZERS a loan run may use
MAX_BLOCK_WEIGHTS = 2**25  # 8 h^2 per block: h=512 with 16 blocks, about 130 MB of float32


@dataclass
class LoanConfig:
    """Data, network and optimiser settings of one loan-default run."""

    data: str = field(
        default="islp-default",
        metadata={
            "help": f"built-in source ({', '.join(BUILTIN_SOURCES)}) or the path of a CSV file",
            "path": True,
            "not_a_path": BUILTIN_SOURCES.__contains__,
        },
    )
    target: str = field(
        default="", metadata={"help": "target column (empty: the built-in source's own target)"}
    )
    positive_label: str = field(
        default="", metadata={"help": "class to predict (empty: the minority class)"}
    )
    hidden: int = field(default=32, metadata={"help": "hidden size h of every block"})
    blocks: int = field(
        default=1, metadata={"help": "number of Linear(h,4h)-ReLU-Linear(4h,h) blocks"}
    )
    batchnorm: bool = field(
        default=False, metadata={"help": "BatchNorm at the start of each block"}
    )
    rmsnorm: bool = field(
        default=False,
        metadata={"help": "RMSNorm (arXiv 1910.07467) at the start of each block, not with BN"},
    )
    skip: bool = field(
        default=False, metadata={"help": "skip connection from block input to output"}
    )
    dropout: float = field(
        default=0.0, metadata={"help": "dropout inside the block, after the ReLU"}
    )
    optimizer: str = field(
        default="sgd",
        metadata={
            "help": "sgd, or lion (arXiv 2302.06675: give it a 3-10x smaller lr)",
            "choices": LOAN_OPTIMIZERS,
        },
    )
    lr: float = field(default=0.01, metadata={"help": "learning rate"})
    weight_decay: float = field(
        default=0.0, metadata={"help": "weight decay (SGD: L2 in the gradient; Lion: decoupled)"}
    )
    epochs: int = field(default=10, metadata={"help": "passes over the training split (1-1000)"})
    batch_size: int = field(default=32, metadata={"help": "examples per SGD step"})
    seed: int = field(
        default=0, metadata={"help": "seed of the split, the initialisation and the batches"}
    )
    device: str = field(
        default="auto",
        metadata={"help": "auto: CUDA when present", "choices": ("auto", "cpu", "cuda")},
    )

    def __post_init__(self) -> None:
        check_range("lr", self.lr, low=0, low_inclusive=False, high=10)
        check_range("epochs", self.epochs, low=1, high=1000)
        check_range("hidden", self.hidden, low=1, high=4096)
        check_range("blocks", self.blocks, low=1, high=64)
        check_range("dropout", self.dropout, low=0, high=1, high_inclusive=False)
        check_range("weight_decay", self.weight_decay, low=0, high=10)
        check_range("batch_size", self.batch_size, low=1, high=65536)
        check_seed("seed", self.seed)
        weights = 8 * self.hidden**2 * self.blocks
        if weights > MAX_BLOCK_WEIGHTS:
            raise ValueError(
                f"hidden={self.hidden} with blocks={self.blocks} makes {weights:,} weights; "
                f"at most {MAX_BLOCK_WEIGHTS:,}: choose a smaller hidden size or fewer blocks"
            )
        if not self.data.strip():
            raise ValueError("data must name a built-in source or a CSV file")
        if self.data not in BUILTIN_SOURCES and not self.target:
            raise ValueError("target: choose the target column of the CSV file")
        if self.batchnorm and self.rmsnorm:
            raise ValueError("rmsnorm: choose batchnorm or rmsnorm, not both")


def check_loan_data(config: LoanConfig) -> None:
    """Raise ValueError when the configured CSV cannot train a binary classifier."""
    if config.data not in BUILTIN_SOURCES:  # built-in sources are known to be good
        check_binary_table(load_table(config.data), config.target)


def build_model(config: LoanConfig, n_features: int) -> BlockMLP:
    """The network a loan config describes."""
    return BlockMLP(
        n_features,
        config.hidden,
        config.blocks,
        config.batchnorm,
        config.skip,
        config.dropout,
        config.rmsnorm,
    )


def train_loan(config: LoanConfig, logger) -> None:
    """Train the block MLP on the configured data, logging every split's loss and ROC-AUC."""
    torch.manual_seed(config.seed)
    splits = prepare_binary(
        load_table(config.data),
        config.target or DEFAULT_TARGETS[config.data],
        seed=config.seed,
        positive_label=config.positive_label or None,
    )
    device = pick_device(config.device)
    logger.details(
        device=str(device),
        positive_label=splits.positive_label,
        n_features=splits.n_features,
        n_train=len(splits.y_train),
        n_val=len(splits.y_val),
        n_test=len(splits.y_test),
    )
    data = {
        split: (
            torch.from_numpy(getattr(splits, f"x_{split}")).to(device),
            torch.from_numpy(getattr(splits, f"y_{split}")).to(device),
        )
        for split in SPLITS
    }
    model = build_model(config, splits.n_features).to(device)
    optimizer = create_optimizer(
        config.optimizer, model.parameters(), config.lr, config.weight_decay
    )
    loss_fn = nn.BCEWithLogitsLoss()
    step = TrainingStep(model, loss_fn, optimizer, device)
    x_train, y_train = data["train"]
    batches = range(0, len(y_train), config.batch_size)
    generator = torch.Generator().manual_seed(config.seed)

    for epoch in range(1, config.epochs + 1):
        model.train()
        progress = EpochProgress(logger, epoch, config.epochs, len(batches))
        order = torch.randperm(len(y_train), generator=generator).to(device)
        for number, start in enumerate(batches, 1):
            index = order[start : start + config.batch_size]
            step(x_train[index], y_train[index], progress, number)
        logger.log_epoch(epoch, evaluate(model, data, loss_fn))

    checkpoint = logger.run_dir / "model.pt"
    torch.save(
        {
            "state_dict": model.state_dict(),
            "config": vars(config),
            "feature_names": splits.feature_names,
            "positive_label": splits.positive_label,
        },
        checkpoint,
    )
    logger.artifact("model", checkpoint)
    x_test, y_test = data["test"]
    with torch.inference_mode():
        model.eval()
        scores = model(x_test).float().cpu().numpy()
    predictions = logger.run_dir / "test_predictions.npz"
    np.savez(predictions, y_true=y_test.cpu().numpy(), score=scores)
    logger.artifact("test_predictions", predictions)


@torch.inference_mode()
def evaluate(
    model: nn.Module, data: dict[str, tuple[torch.Tensor, torch.Tensor]], loss_fn: nn.Module
) -> dict[str, float]:
    """`{split}_loss` and `{split}_roc_auc` for every split, in eval mode."""
    model.eval()
    metrics = {}
    for split, (x, y) in data.items():
        logits = model(x).float()
        metrics[f"{split}_loss"] = loss_fn(logits, y).item()
        metrics[f"{split}_roc_auc"] = float(
            roc_auc_score(y.cpu().numpy(), logits.cpu().numpy().astype(np.float64))
        )
    return metrics


_BIG = {"hidden": 128, "blocks": 3}
_RESIDUAL = {**_BIG, "skip": True, "batchnorm": True}
# What the sweeps chose on the val split (reports/loan_default/README.md): the defaults of
# single Exp 4 / Exp 5 runs. The report itself re-chooses from its own sweeps.
CHOSEN_DROPOUT = 0.9


def _loan_experiment(
    name: str, description: str, defaults: dict | None = None, grid: dict | None = None
) -> Experiment:
    return Experiment(
        name,
        f"Loan default, {description}",
        LoanConfig,
        train_loan,
        defaults=defaults or {},
        grid=grid or {},
        check_data=check_loan_data,
    )


for _experiment in (
    _loan_experiment("loan_exp1", "Exp 1: one block, h=32, SGD lr 0.01, 10 epochs, batch 32"),
    _loan_experiment("loan_exp2", "Exp 2: three blocks, h=128", _BIG),
    _loan_experiment(
        "loan_exp3", "Exp 3: + skip connections and BatchNorm at block start", _RESIDUAL
    ),
    _loan_experiment(
        "loan_exp4",
        "Exp 4: + dropout inside the block; sweep p on val",
        {**_RESIDUAL, "dropout": CHOSEN_DROPOUT},
        grid={"dropout": (0.01, 0.1, 0.2, 0.5, 0.9)},
    ),
    _loan_experiment(
        "loan_exp5",
        "Exp 5: + weight decay; sweep (wd, lr) on val",
        {**_RESIDUAL, "dropout": CHOSEN_DROPOUT, "weight_decay": 0.01, "lr": 0.01},
        grid={"weight_decay": (0.1, 0.01, 0.001), "lr": (0.01, 0.05, 0.1)},
    ),
):
    register(_experiment)
