"""RMSNorm, the e^X + cos(Y) autograd Function and Lion, against torch, the papers' formulas
and the lion-pytorch package; and their use in the loan experiments."""

from dataclasses import asdict

import numpy as np
import pytest
import torch
from sklearn.datasets import load_diabetes
from sklearn.preprocessing import StandardScaler

from core.experiments import get_experiment
from core.experiments.loan import LoanConfig
from core.nn import ExpPlusCos, RMSNorm, exp_plus_cos
from core.optim import Lion, lion_update
from core.runs.execution import execute_run
from core.tabular.data import load_table, prepare_binary
from core.tabular.mlp import BlockMLP

# --- RMSNorm ---


@pytest.mark.parametrize("shape", [(4, 16), (2, 3, 16), (16,)])
def test_rmsnorm_matches_torch_nn_rmsnorm(shape):
    torch.manual_seed(0)
    mine, reference = RMSNorm(16, eps=1e-6), torch.nn.RMSNorm(16, eps=1e-6)
    with torch.no_grad():
        mine.weight.uniform_(0.5, 1.5)
        reference.weight.copy_(mine.weight)
    x = torch.randn(*shape) * 3
    torch.testing.assert_close(mine(x), reference(x))
    mine(x).square().sum().backward()
    reference(x).square().sum().backward()
    torch.testing.assert_close(mine.weight.grad, reference.weight.grad)


def test_rmsnorm_is_the_papers_formula():
    """a_i / RMS(a) * g_i with RMS(a) = sqrt(mean(a^2) + eps), in float64 numpy."""
    rng = np.random.default_rng(0)
    a, gain = rng.normal(size=(5, 8)), rng.uniform(0.5, 2, size=8)
    layer = RMSNorm(8, eps=1e-8).double()
    with torch.no_grad():
        layer.weight.copy_(torch.from_numpy(gain))
    expected = a / np.sqrt((a**2).mean(axis=1, keepdims=True) + 1e-8) * gain
    np.testing.assert_allclose(layer(torch.from_numpy(a)).detach().numpy(), expected, rtol=1e-12)


def test_rmsnorm_output_has_unit_rms_and_is_scale_invariant():
    layer = RMSNorm(32)
    x = torch.randn(10, 32)
    out = layer(x)
    torch.testing.assert_close(out.square().mean(-1), torch.ones(10), rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(layer(7.5 * x), out, rtol=1e-5, atol=1e-5)  # re-scaling invariance
    assert not torch.allclose(out.mean(-1), torch.zeros(10))  # no re-centring, unlike LayerNorm


def test_partial_rmsnorm_estimates_the_rms_from_the_first_p_percent():
    rng = np.random.default_rng(1)
    a = rng.normal(size=(3, 10))
    layer = RMSNorm(10, partial=0.25).double()  # ceil(2.5) = 3 features
    assert layer.rms_size == 3
    expected = a / np.sqrt((a[:, :3] ** 2).mean(axis=1, keepdims=True) + 1e-8)
    np.testing.assert_allclose(layer(torch.from_numpy(a)).detach().numpy(), expected, rtol=1e-12)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"dim": 0}, "dim must be"), ({"dim": 4, "partial": 0.0}, "partial must be"),
     ({"dim": 4, "eps": -1.0}, "eps must be")],
)  # fmt: skip
def test_rmsnorm_rejects_bad_settings(kwargs, message):
    with pytest.raises(ValueError, match=message):
        RMSNorm(**kwargs)
    with pytest.raises(ValueError, match="expected 4 features"):
        RMSNorm(4)(torch.ones(2, 5))


# --- e^X + cos(Y) with a hand-written backward ---

SHAPES = [((3, 4), (3, 4)), ((3, 1), (1, 4)), ((4,), (2, 3, 4)), ((), (2, 3)), ((2, 1, 5), (5,))]


@pytest.mark.parametrize(("x_shape", "y_shape"), SHAPES)
def test_exp_plus_cos_passes_gradcheck_and_gradgradcheck(x_shape, y_shape):
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(x_shape, dtype=torch.float64, generator=generator, requires_grad=True)
    y = torch.randn(y_shape, dtype=torch.float64, generator=generator, requires_grad=True)
    assert torch.autograd.gradcheck(ExpPlusCos.apply, (x, y), eps=1e-6, atol=1e-8)
    assert torch.autograd.gradgradcheck(ExpPlusCos.apply, (x, y), eps=1e-6, atol=1e-7)


@pytest.mark.parametrize(("x_shape", "y_shape"), SHAPES)
def test_exp_plus_cos_matches_torch_autograd(x_shape, y_shape):
    x = torch.randn(x_shape, dtype=torch.float64, requires_grad=True)
    y = torch.randn(y_shape, dtype=torch.float64, requires_grad=True)
    weights = torch.randn(torch.broadcast_shapes(x_shape, y_shape), dtype=torch.float64)
    mine = exp_plus_cos(x, y)
    reference = torch.exp(x) + torch.cos(y)
    torch.testing.assert_close(mine, reference)
    grads = torch.autograd.grad((mine * weights).sum(), (x, y))
    expected = torch.autograd.grad((reference * weights).sum(), (x, y))
    for got, want, tensor in zip(grads, expected, (x, y), strict=True):
        assert got.shape == tensor.shape
        torch.testing.assert_close(got, want)


def test_exp_plus_cos_skips_gradients_nobody_asked_for():
    x = torch.randn(3, dtype=torch.float64, requires_grad=True)
    y = torch.randn(3, dtype=torch.float64)
    exp_plus_cos(x, y).sum().backward()
    torch.testing.assert_close(x.grad, torch.exp(x.detach()))
    assert y.grad is None


# --- Lion ---


def pseudo_code_lion(theta, grads, lr, beta1, beta2, wd):
    """Algorithm 2 of arXiv 2302.06675, line by line, in numpy."""
    m = np.zeros_like(theta)
    thetas = []
    for g in grads:
        c = beta1 * m + (1 - beta1) * g
        theta = theta - lr * (np.sign(c) + wd * theta)
        m = beta2 * m + (1 - beta2) * g
        thetas.append(theta)
    return thetas


def test_lion_step_by_step_matches_the_papers_pseudo_code():
    rng = np.random.default_rng(0)
    theta0 = rng.normal(size=(4, 3))
    grads = [rng.normal(size=(4, 3)) for _ in range(6)]
    expected = pseudo_code_lion(theta0, grads, lr=0.01, beta1=0.9, beta2=0.99, wd=0.1)
    param = torch.nn.Parameter(torch.from_numpy(theta0.copy()))
    optimizer = Lion([param], lr=0.01, betas=(0.9, 0.99), weight_decay=0.1)
    for grad, want in zip(grads, expected, strict=True):
        param.grad = torch.from_numpy(grad)
        optimizer.step()
        np.testing.assert_allclose(param.detach().numpy(), want, rtol=0, atol=1e-15)


def test_lion_update_is_the_mission_rule_on_fixed_tensors():
    param = torch.tensor([1.0, -2.0, 0.5, 0.0], dtype=torch.float64)
    grad = torch.tensor([0.3, 0.3, -1.0, 0.0], dtype=torch.float64)
    momentum = torch.tensor([-1.0, 0.1, 0.2, 0.0], dtype=torch.float64)
    lion_update(param, grad, momentum, lr=0.1, beta1=0.9, beta2=0.99, weight_decay=0.5)
    # interp(g, m, 0.9) = 0.9 m + 0.1 g = [-0.87, 0.12, 0.08, 0]: signs [-1, 1, 1, 0]
    old = torch.tensor([1.0, -2.0, 0.5, 0.0], dtype=torch.float64)
    expected_param = old - 0.1 * (torch.tensor([-1.0, 1.0, 1.0, 0.0]) + 0.5 * old)
    torch.testing.assert_close(param, expected_param.double())
    torch.testing.assert_close(momentum, torch.tensor([-0.987, 0.102, 0.188, 0.0]).double())


def small_network() -> torch.nn.Module:
    return torch.nn.Sequential(torch.nn.Linear(6, 16), torch.nn.Tanh(), torch.nn.Linear(16, 1))


def groups(model: torch.nn.Module) -> list[dict]:
    """Two parameter groups: weight decay on the first layer, a larger lr on the second."""
    return [
        {"params": model[0].parameters(), "weight_decay": 0.1},
        {"params": model[2].parameters(), "lr": 3e-3},
    ]


def test_lion_agrees_with_lion_pytorch_over_100_steps():
    lion_pytorch = pytest.importorskip("lion_pytorch")
    torch.manual_seed(0)
    # float64: lion-pytorch applies weight decay as p * (1 - lr wd) - lr sign(c), the paper as
    # p - lr (sign(c) + wd p); the same number, rounded differently in float32 (~2e-6 by step 100)
    mine_model, their_model = small_network().double(), small_network().double()
    their_model.load_state_dict(mine_model.state_dict())
    start = [p.detach().clone() for p in mine_model.parameters()]
    mine = Lion(groups(mine_model), lr=1e-3, betas=(0.9, 0.99), weight_decay=0.0)
    theirs = lion_pytorch.Lion(groups(their_model), lr=1e-3, betas=(0.9, 0.99), weight_decay=0.0)
    x, target = torch.randn(64, 6, dtype=torch.float64), torch.randn(64, 1, dtype=torch.float64)
    for _ in range(100):
        for model, optimizer in ((mine_model, mine), (their_model, theirs)):
            optimizer.zero_grad()
            torch.nn.functional.mse_loss(model(x), target).backward()
            optimizer.step()
    for a, b, before in zip(mine_model.parameters(), their_model.parameters(), start, strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-6)
        assert (a - before).abs().max() > 0.01  # really moved: 100 steps of 1e-3 or 3e-3


def test_lion_converges_on_a_real_regression_to_the_least_squares_optimum():
    features, target = load_diabetes(return_X_y=True)
    x = torch.from_numpy(StandardScaler().fit_transform(features))
    y = torch.from_numpy((target - target.mean()) / target.std())
    design = torch.cat([x, torch.ones(len(x), 1, dtype=torch.float64)], dim=1)
    best = torch.linalg.lstsq(design, y.unsqueeze(1)).solution.squeeze(1)
    optimum = torch.mean((design @ best - y) ** 2).item()

    weights = torch.zeros(design.shape[1], dtype=torch.float64, requires_grad=True)
    optimizer = Lion([weights], lr=0.01)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=1500)
    for _ in range(1500):
        optimizer.zero_grad()
        loss = torch.mean((design @ weights - y) ** 2)
        loss.backward()
        optimizer.step()
        schedule.step()
    final = torch.mean((design @ weights - y) ** 2).item()
    assert final < 1.01 * optimum  # within 1 % of the least-squares loss (0.48 here)
    assert final < 0.6 < torch.mean(y**2).item()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"lr": 0.0}, "lr must be"), ({"betas": (0.9, 1.5)}, "betas must be"),
     ({"weight_decay": -0.1}, "weight_decay must be")],
)  # fmt: skip
def test_lion_rejects_bad_settings(kwargs, message):
    with pytest.raises(ValueError, match=message):
        Lion([torch.nn.Parameter(torch.zeros(2))], **kwargs)


# --- used by the loan MLP and the training launcher ---


def test_the_loan_mlp_takes_rmsnorm_at_the_block_start():
    model = BlockMLP(4, hidden=8, blocks=2, rmsnorm=True)
    norms = [module for module in model.modules() if isinstance(module, RMSNorm)]
    assert len(norms) == 2 and model.blocks[0].body[0] is norms[0]
    assert (
        sum(p.numel() for p in model.parameters())
        == sum(p.numel() for p in BlockMLP(4, hidden=8, blocks=2).parameters()) + 2 * 8
    )  # one gain per feature per block
    with pytest.raises(ValueError, match="not both"):
        BlockMLP(4, batchnorm=True, rmsnorm=True)
    with pytest.raises(ValueError, match="rmsnorm: choose batchnorm or rmsnorm, not both"):
        LoanConfig(batchnorm=True, rmsnorm=True)


def test_defaults_keep_the_loan_experiments_as_they_were():
    config = get_experiment("loan_exp1").make_config()
    assert (config.optimizer, config.rmsnorm) == ("sgd", False)
    with pytest.raises(ValueError, match="optimizer: 'adam' is not one of sgd, lion"):
        get_experiment("loan_exp1").make_config({"optimizer": "adam"})


def test_loan_exp3_trains_with_rmsnorm_and_lion(store):
    experiment = get_experiment("loan_exp3")
    # lr 3e-4: at 1e-3 the train loss of these two epochs wandered (0.083, then 0.099 or 0.114
    # by the CPU's kernels); at 3e-4 it falls steadily to 0.078-0.085 over four seeds
    values = {"batchnorm": "false", "rmsnorm": "true", "optimizer": "lion", "lr": "0.0003"}
    config = asdict(experiment.make_config({**values, "epochs": "2"}))
    run = execute_run(store, store.create("loan_exp3", config))
    assert run.status == "done", run.error
    final = store.final_metrics(run.id)
    assert final["test_roc_auc"] > 0.9  # logistic regression: 0.96 on this split; it: 0.94-0.96
    rate = prepare_binary(load_table("islp-default"), "default", seed=0).y_train.mean()
    base_rate_loss = -(rate * np.log(rate) + (1 - rate) * np.log(1 - rate))  # 0.145 (3.3 %)
    history = store.metrics(run.id)
    assert history["train_loss"].iloc[-1] < 0.75 * base_rate_loss  # well below the base rate
    checkpoint = torch.load(run.artifacts["model"], map_location="cpu")
    assert any(key.endswith("body.0.weight") for key in checkpoint["state_dict"])  # RMSNorm gain
