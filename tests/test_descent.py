"""Descent methods against scipy and torch.optim, the stopping rule, divergence, and the CLI."""

import json
import subprocess
import sys

import numpy as np
import pytest
import torch
from scipy.optimize import minimize, minimize_scalar

from core.descent.cli import main
from core.descent.expressions import parse_function
from core.descent.methods import PRESETS, curvature, descend, get_preset, race
from core.paths import REPO_ROOT

L_TEXT = "3*x**2 - sin(x) + exp(x) - 5"


def torch_rosenbrock(p: torch.Tensor) -> torch.Tensor:
    return (1 - p[0]) ** 2 + 100 * (p[1] - p[0] ** 2) ** 2


def torch_trajectory(optimizer_factory, start, steps: int) -> np.ndarray:
    """Points visited by a torch optimizer on Rosenbrock, gradients from torch autograd."""
    param = torch.tensor(start, dtype=torch.float64, requires_grad=True)
    optimizer = optimizer_factory([param])
    points = [param.detach().clone().numpy()]
    for _ in range(steps):
        optimizer.zero_grad()
        torch_rosenbrock(param).backward()
        optimizer.step()
        points.append(param.detach().clone().numpy())
    return np.array(points)


@pytest.fixture(scope="module")
def rosenbrock():
    return get_preset("rosenbrock").function()


@pytest.mark.parametrize(
    ("method", "lr", "beta", "factory"),
    [
        ("gd", 1e-3, 0.0, lambda p: torch.optim.SGD(p, lr=1e-3)),
        ("momentum", 1e-3, 0.9, lambda p: torch.optim.SGD(p, lr=1e-3, momentum=0.9)),
        ("nesterov", 1e-3, 0.8,
         lambda p: torch.optim.SGD(p, lr=1e-3, momentum=0.8, nesterov=True)),
        ("adam", 0.05, 0.9, lambda p: torch.optim.Adam(p, lr=0.05, betas=(0.9, 0.999), eps=1e-8)),
        ("adam", 0.02, 0.5, lambda p: torch.optim.Adam(p, lr=0.02, betas=(0.5, 0.999), eps=1e-8)),
    ],
)  # fmt: skip
def test_trajectories_match_torch_optim(rosenbrock, method, lr, beta, factory):
    run = descend(rosenbrock, [-1.2, 1.0], method, lr, beta, eps=0.0, max_steps=150)
    assert run.stopped_by == "max_steps" and run.steps == 150
    expected = torch_trajectory(factory, [-1.2, 1.0], 150)
    np.testing.assert_allclose(run.points, expected, rtol=1e-9, atol=1e-10)
    assert run.values[-1] < run.values[0]


def test_lion_trajectory_matches_the_lion_pytorch_package(rosenbrock):
    lion_pytorch = pytest.importorskip("lion_pytorch")
    run = descend(rosenbrock, [-1.2, 1.0], "lion", 0.01, 0.9, eps=0.0, max_steps=200)
    expected = torch_trajectory(
        lambda p: lion_pytorch.Lion(p, lr=0.01, betas=(0.9, 0.99)), [-1.2, 1.0], 200
    )
    np.testing.assert_allclose(run.points, expected, atol=1e-9)


def test_the_trajectory_is_self_consistent(rosenbrock):
    run = descend(rosenbrock, [0.5, -0.5], "gd", 1e-3, eps=0.0, max_steps=20)
    assert run.points.shape == (21, 2) and run.gradients.shape == (21, 2)
    np.testing.assert_allclose(run.points[1:], run.points[:-1] - 1e-3 * run.gradients[:-1])
    np.testing.assert_allclose(run.values, [rosenbrock.value(p) for p in run.points])
    np.testing.assert_allclose(run.step_sizes, np.linalg.norm(np.diff(run.points, axis=0), axis=1))
    best = int(np.argmin(run.values))
    assert run.f_min == run.values[best] and run.x_min.tolist() == run.points[best].tolist()


def test_gd_on_L_stops_by_eps_at_the_scipy_minimiser():
    preset = get_preset("L")
    run = descend(preset.function(), preset.x0, "gd", preset.lr, eps=1e-9, max_steps=1000)
    reference = minimize_scalar(
        lambda a: 3 * a**2 - np.sin(a) + np.exp(a) - 5, bracket=(-1, 1), tol=1e-12
    )
    assert run.stopped_by == "eps" and 3 <= run.steps < 1000
    assert abs(run.x_min[0] - reference.x) < 1e-4
    assert run.f_min == pytest.approx(reference.fun, abs=1e-8)
    changes = np.abs(np.diff(run.values))
    assert changes[-1] < 1e-9 and (changes[:-1] >= 1e-9).all()  # stopped at the first one


def test_the_max_steps_guard_is_reported():
    run = descend(parse_function(L_TEXT), [2.0], "gd", 0.01, eps=1e-12, max_steps=3)
    assert (run.steps, run.stopped_by, len(run.points)) == (3, "max_steps", 4)


@pytest.mark.parametrize(
    ("method", "beta", "bound"),
    [
        ("gd", 0.0, 2 / 50),
        ("momentum", 0.5, 2 * 1.5 / 50),
        ("nesterov", 0.5, 2 * 1.5 / (2 * 50)),
        ("nesterov", 0.9, 2 * 1.9 / (2.8 * 50)),
    ],
)
def test_the_stability_bound_on_the_bowl_and_the_divergence_hint(method, beta, bound):
    bowl = get_preset("bowl")
    function = bowl.function()
    stable = descend(function, bowl.x0, method, 0.9 * bound, beta, eps=1e-12, max_steps=5000)
    assert stable.stopped_by == "eps" and stable.f_min < 1e-8 and not stable.hint
    unstable = descend(function, bowl.x0, method, 1.1 * bound, beta, eps=1e-12, max_steps=5000)
    assert unstable.stopped_by == "diverged"
    assert f"= {bound:.4g}, with curvature 50" in unstable.hint
    assert f"try lr < {bound:.3g}" in unstable.hint


def test_curvature_is_the_largest_hessian_eigenvalue():
    assert curvature(get_preset("bowl").function(), np.array([0.3, -2.0])) == pytest.approx(50)
    hessian = np.array([[1200 * 1.0 - 400 * 1.0 + 2, -400.0], [-400.0, 200.0]])  # at (1, 1)
    expected = np.linalg.eigvalsh(hessian)[-1]
    assert curvature(get_preset("rosenbrock").function(), np.array([1.0, 1.0])) == pytest.approx(
        expected, rel=1e-5
    )


def test_an_unbounded_function_is_reported_as_such():
    run = descend(parse_function("x**3 - 3*x"), [-1.5], "gd", 0.1, max_steps=1000)
    assert run.stopped_by == "diverged"
    assert "unbounded below" in run.hint


def test_adam_steps_are_about_lr_long_and_its_divergence_hint_says_so():
    run = descend(parse_function("x**2"), [3.0], "adam", 0.1, 0.0, eps=0.0, max_steps=5)
    assert run.step_sizes[0] == pytest.approx(0.1)  # the first step is lr * sign(g)
    assert (run.step_sizes <= 0.1 + 1e-12).all()  # a shrinking gradient: shorter steps
    runaway = descend(parse_function("exp(x**2)"), [3.0], "adam", 30.0, max_steps=50)
    assert runaway.stopped_by == "diverged" and len(runaway.points) == 1  # exp(27**2) = inf
    assert "takes steps of about lr = 30 whatever the gradient's size" in runaway.hint


def test_the_box_keeps_exp_plus_cos_inside_and_finds_its_minimum():
    preset = get_preset("exp_cos")
    for method, lr in (("gd", 0.1), ("momentum", 0.05), ("adam", 0.1)):
        run = descend(preset.function(), preset.x0, method, lr, eps=1e-12, max_steps=3000,
                      box=preset.box)  # fmt: skip
        low, high = np.array(preset.box).T
        assert ((run.points >= low) & (run.points <= high)).all()
        np.testing.assert_allclose(run.x_min, preset.minimum[0], atol=1e-3)
    reference = minimize(
        lambda p: np.exp(p[0]) + np.cos(p[1]), preset.x0, bounds=preset.box, method="L-BFGS-B"
    )
    np.testing.assert_allclose(reference.x, preset.minimum[0], atol=1e-4)


@pytest.mark.parametrize("key", [key for key, p in PRESETS.items() if p.minimum and not p.box])
def test_each_preset_with_a_known_minimum_is_right_about_it(key):
    preset = PRESETS[key]
    function = preset.function()
    point, value = preset.minimum
    assert function.value(point) == pytest.approx(value, abs=1e-12)
    np.testing.assert_allclose(function.gradient(point), 0, atol=1e-12)
    reference = minimize(function.value, preset.x0, jac=function.gradient, method="BFGS",
                         options={"gtol": 1e-10})  # fmt: skip
    np.testing.assert_allclose(reference.x, point, atol=1e-4)


def test_accelerated_methods_beat_gradient_descent_on_the_ill_conditioned_bowl():
    """At the usual beta = 0.9 and their best lr: Nesterov <= momentum < gd (README table)."""
    lrs = np.geomspace(3e-3, 0.2, 31)
    results = {result.method: result for result in race("bowl", tol=1e-6, lrs=lrs, momenta=(0.9,))}
    steps = {method: result.steps for method, result in results.items()}
    assert all(count is not None for count in steps.values()), steps
    assert steps["nesterov"] <= steps["momentum"] < steps["gd"], steps
    assert steps["gd"] > 3 * steps["nesterov"]  # condition number 50: sqrt(50) ~ 7x in theory
    assert results["gd"].lr < 2 / 50  # the best gd lr respects the stability bound


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        ({"method": "sgd"}, "unknown method 'sgd'"),
        ({"lr": 0.0}, "learning rate must be in"),
        ({"momentum": 1.0}, "momentum must be in"),
        ({"eps": -1.0}, "eps must be in"),
        ({"max_steps": 0}, "max_steps must be in"),
    ],
)
def test_bad_settings_are_refused(setting, message):
    options = {"method": "gd", "lr": 0.1, "momentum": 0.9, "eps": 1e-6, "max_steps": 10} | setting
    with pytest.raises(ValueError, match=message):
        descend(parse_function("x**2"), [1.0], **options)


def test_a_start_where_the_function_is_undefined_is_refused():
    with pytest.raises(ValueError, match="not finite at the start point"):
        descend(parse_function("log(x)"), [-1.0])


# --- the command line ---


def test_cli_json_contract(capsys):
    code = main(["--function", L_TEXT, "--x0", "2", "--lr", "0.05", "--json"])
    assert code == 0
    result = json.loads(capsys.readouterr().out)
    assert {"x_min", "f_min", "steps", "stopped_by", "trajectory"} <= set(result)
    assert result["stopped_by"] == "eps" and result["steps"] == len(result["trajectory"]) - 1
    assert abs(result["x_min"][0]) < 1e-4 and result["f_min"] == pytest.approx(-4, abs=1e-8)
    first = result["trajectory"][0]
    assert first["x"] == [2.0] and first["step"] == 0
    assert first["gradient"][0] == pytest.approx(12 - np.cos(2) + np.exp(2))


def test_cli_methods_presets_and_divergence(capsys):
    assert main(["--preset", "bowl", "--method", "nesterov", "--lr", "0.03", "--json"]) == 0
    diverged = json.loads(capsys.readouterr().out)
    assert diverged["stopped_by"] == "diverged" and "2 (1 + momentum)" in diverged["hint"]
    assert main(["--preset", "bowl", "--method", "momentum", "--lr", "0.02", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["f_min"] < 1e-8
    args = ["--function", "x**2 + y**2", "--max-steps", "5", "--eps", "0", "--json"]
    assert main(args) == 0
    result = json.loads(capsys.readouterr().out)
    assert (result["steps"], result["stopped_by"], result["variables"]) == (
        5,
        "max_steps",
        ["x", "y"],
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--function", "x.__class__"], "attribute access"),
        (["--function", "x**2 + y**2", "--x0", "1"], "--x0 needs 2 number(s)"),
        (["--function", "x**2", "--lr", "-1"], "learning rate must be in"),
        (["--preset", "nope"], "unknown preset 'nope'"),
    ],
)
def test_cli_refusals_exit_2_with_one_line(capsys, args, message):
    assert main([*args, "--json"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.count("\n") == 1 and message in captured.err


def test_cli_refuses_hostile_text_in_a_real_process_running_nothing(tmp_path):
    flag = tmp_path / "pwned"
    hostile = f"__import__('os').system('touch {flag}')"
    process = subprocess.run(
        [sys.executable, "-m", "core", "optimize", "--function", hostile, "--json"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert process.returncode == 2 and process.stdout == ""
    assert process.stderr.startswith("error: only the named functions can be called")
    assert process.stderr.count("\n") == 1 and not flag.exists()


def test_a_start_point_of_the_wrong_size_is_refused():
    with pytest.raises(ValueError, match=r"needs 2 coordinate\(s\) \(x, y\), got 1"):
        descend(parse_function("x*y"), [1.0])
