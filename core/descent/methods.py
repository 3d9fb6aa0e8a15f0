"""Gradient descent and its relatives on a function of one or two variables, step by step.

    f = get_preset("L").function()
    run = descend(f, x0=[2.0], method="gd", lr=0.05, eps=1e-6, max_steps=100)
    run.x_min, run.f_min, run.steps, run.stopped_by, run.points, run.hint

Every method returns the whole trajectory (points, values, gradients, step sizes). The update
rules follow torch's conventions, so a run can be checked against `torch.optim`:

    gd        x -= lr * g
    momentum  v = beta * v + g;  x -= lr * v                 (heavy ball, torch.optim.SGD)
    nesterov  v = beta * v + g;  x -= lr * (g + beta * v)    (SGD(nesterov=True))
    adam      torch.optim.Adam with betas (beta, 0.999), eps 1e-8
    lion      core.optim.lion_update with betas (beta, 0.99)

A run stops when |f(x_k) - f(x_{k-1})| < eps, after `max_steps` steps, or when it diverges (a
non-finite value or gradient, or a point far beyond where it started); `stopped_by` says which.
On divergence `hint` explains it: for a quadratic with curvature L, gradient descent converges
only for lr < 2 / L (momentum: 2 (1 + beta) / L; Nesterov: 2 (1 + beta) / ((1 + 2 beta) L)).
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from core.descent.expressions import ParsedFunction, parse_function
from core.optim import lion_update

ADAM_BETA2, ADAM_EPS = 0.999, 1e-8
LION_BETA2 = 0.99
DEFAULT_START = 2.0  # in every variable, for a typed function (a preset has its own)
ESCAPE = 1e6  # a point this many times farther out than the start (plus 1) has diverged


# --- update rules: (x, g, state, lr, beta) -> next x; `state` carries what a rule remembers ---


def _gd(x: np.ndarray, g: np.ndarray, state: dict, lr: float, beta: float) -> np.ndarray:
    return x - lr * g


def _momentum(x: np.ndarray, g: np.ndarray, state: dict, lr: float, beta: float) -> np.ndarray:
    velocity = state["v"] = beta * state.get("v", 0.0) + g
    return x - lr * velocity


def _nesterov(x: np.ndarray, g: np.ndarray, state: dict, lr: float, beta: float) -> np.ndarray:
    velocity = state["v"] = beta * state.get("v", 0.0) + g
    return x - lr * (g + beta * velocity)


def _adam(x: np.ndarray, g: np.ndarray, state: dict, lr: float, beta: float) -> np.ndarray:
    t = state["t"] = state.get("t", 0) + 1
    m = state["m"] = beta * state.get("m", 0.0) + (1 - beta) * g
    s = state["s"] = ADAM_BETA2 * state.get("s", 0.0) + (1 - ADAM_BETA2) * g * g
    denominator = np.sqrt(s) / np.sqrt(1 - ADAM_BETA2**t) + ADAM_EPS
    return x - lr / (1 - beta**t) * m / denominator


def _lion(x: np.ndarray, g: np.ndarray, state: dict, lr: float, beta: float) -> np.ndarray:
    momentum = state.setdefault("m", np.zeros_like(x))
    new = x.copy()
    lion_update(
        torch.from_numpy(new),
        torch.from_numpy(g),
        torch.from_numpy(momentum),
        lr,
        beta,
        LION_BETA2,
        0.0,
    )
    return new


@dataclass(frozen=True)
class Method:
    label: str
    rule: Callable[[np.ndarray, np.ndarray, dict, float, float], np.ndarray]
    # lr * curvature must stay below stable_below(momentum) on a quadratic (None: no such bound),
    # and the same bound in words.
    stable_below: Callable[[float], float] | None = None
    stable_text: str = ""


METHODS: dict[str, Method] = {
    "gd": Method("Gradient descent", _gd, lambda beta: 2.0, "2 / curvature"),
    "momentum": Method(
        "Momentum", _momentum, lambda beta: 2.0 * (1 + beta), "2 (1 + momentum) / curvature"
    ),
    "nesterov": Method(
        "Nesterov",
        _nesterov,
        lambda beta: 2.0 * (1 + beta) / (1 + 2 * beta),
        "2 (1 + momentum) / ((1 + 2 momentum) curvature)",
    ),
    "adam": Method("Adam", _adam),
    "lion": Method("Lion", _lion),
}


@dataclass
class Trajectory:
    """A whole run: points[k], values[k], gradients[k] at step k (0 = start); step_sizes[k] is
    |x_{k+1} - x_k|. x_min / f_min: the lowest point visited."""

    method: str
    lr: float
    momentum: float
    points: np.ndarray
    values: np.ndarray
    gradients: np.ndarray
    step_sizes: np.ndarray
    stopped_by: str  # "eps", "max_steps", "diverged" or "target"
    hint: str = ""

    @property
    def steps(self) -> int:
        return len(self.step_sizes)

    @property
    def best(self) -> int:
        return int(np.argmin(self.values))

    @property
    def x_min(self) -> np.ndarray:
        return self.points[self.best]

    @property
    def f_min(self) -> float:
        return float(self.values[self.best])

    def to_dict(self) -> dict:
        return {
            "method": self.method,
            "lr": self.lr,
            "momentum": self.momentum,
            "x_min": self.x_min.tolist(),
            "f_min": self.f_min,
            "steps": self.steps,
            "stopped_by": self.stopped_by,
            "hint": self.hint,
            "trajectory": [
                {
                    "step": k,
                    "x": self.points[k].tolist(),
                    "f": float(self.values[k]),
                    "gradient": self.gradients[k].tolist(),
                    "step_size": float(self.step_sizes[k - 1]) if k else 0.0,
                }
                for k in range(len(self.points))
            ],
        }


def descend(
    function: ParsedFunction,
    x0: Sequence[float],
    method: str = "gd",
    lr: float = 0.1,
    momentum: float = 0.9,
    eps: float = 1e-9,
    max_steps: int = 100,
    box: Sequence[tuple[float, float]] | None = None,
    target: float | None = None,
) -> Trajectory:
    """Run `method` from `x0` until |f_k - f_{k-1}| < eps, `max_steps`, or divergence.

    `momentum` is beta for momentum and Nesterov, beta1 for Adam and Lion (ignored by gd).
    `box` ((low, high) per variable) projects every point into it (projected gradient
    descent). `target` also stops a run once f <= target (stopped_by "target").
    """
    check_settings(method, lr, momentum, eps, max_steps)
    rule = METHODS[method].rule
    low, high = (None, None) if box is None else np.array(box, dtype=float).T
    x = np.asarray(x0, dtype=float).ravel()
    if x.size != function.dim:
        raise ValueError(
            f"the start point needs {function.dim} coordinate(s) "
            f"({', '.join(function.variables)}), got {x.size}"
        )
    x = _project(x, low, high)
    value, gradient = function.value(x), function.gradient(x)
    if not np.isfinite(value) or not np.isfinite(gradient).all():
        raise ValueError(f"the function or its gradient is not finite at the start point {x}")
    escape = ESCAPE * (1 + np.linalg.norm(x))
    points, values, gradients, state = [x], [value], [gradient], {}
    stopped_by = "max_steps"
    for _ in range(max_steps):
        new = _project(rule(x, gradient, state, lr, momentum), low, high)
        new_value, new_gradient = function.value(new), function.gradient(new)
        finite = np.isfinite(new).all() and np.isfinite(new_value)
        finite = finite and np.isfinite(new_gradient).all()
        if finite:
            points.append(new)
            values.append(new_value)
            gradients.append(new_gradient)
        if not finite or np.linalg.norm(new) > escape:
            stopped_by = "diverged"
            break
        if target is not None and new_value <= target:
            stopped_by = "target"
            break
        if abs(new_value - value) < eps:
            stopped_by = "eps"
            break
        x, value, gradient = new, new_value, new_gradient
    points = np.array(points)
    run = Trajectory(
        method=method,
        lr=lr,
        momentum=momentum,
        points=points,
        values=np.array(values),
        gradients=np.array(gradients),
        step_sizes=np.linalg.norm(np.diff(points, axis=0), axis=1),
        stopped_by=stopped_by,
    )
    if stopped_by == "diverged":
        run.hint = divergence_hint(function, run)
    return run


def check_settings(method: str, lr: float, momentum: float, eps: float, max_steps: int) -> None:
    """ValueError naming the setting when one is out of range."""
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; choose one of {', '.join(METHODS)}")
    if not 0 < lr <= 100:
        raise ValueError(f"the learning rate must be in (0, 100], got {lr}")
    if not 0 <= momentum < 1:
        raise ValueError(f"momentum must be in [0, 1), got {momentum}")
    if not 0 <= eps < 1e3:
        raise ValueError(f"eps must be in [0, 1000), got {eps}")
    if not 1 <= max_steps <= 100_000:
        raise ValueError(f"max_steps must be in [1, 100000], got {max_steps}")


def _project(x: np.ndarray, low: np.ndarray | None, high: np.ndarray | None) -> np.ndarray:
    return x if low is None else np.clip(x, low, high)


def curvature(function: ParsedFunction, point: np.ndarray) -> float:
    """The largest eigenvalue of the Hessian at `point` (central differences of the gradient)."""
    point = np.asarray(point, dtype=float)
    h = 1e-5 * (1 + np.abs(point))
    columns = [
        (function.gradient(point + step) - function.gradient(point - step)) / (2 * h[i])
        for i, step in enumerate(np.diag(h))
    ]
    hessian = np.array(columns)
    return float(np.linalg.eigvalsh((hessian + hessian.T) / 2)[-1])


def divergence_hint(function: ParsedFunction, run: Trajectory) -> str:
    """Why the steps blew up, in a sentence or two, with a learning rate that would not."""
    if run.values[-1] < run.values[0]:
        return (
            "The values fell without bound: the function has no minimum along this path "
            "(it is unbounded below), whatever the learning rate."
        )
    method = METHODS[run.method]
    bound = method.stable_below
    if bound is None:
        return (
            f"{method.label} takes steps of about lr = {run.lr:g} whatever the "
            "gradient's size, so a divergence means the function grows too fast for them: "
            "lower the learning rate or start closer to the minimum."
        )
    lowest = run.x_min  # near the minimum, where the step size must be stable
    bend = curvature(function, lowest)
    where = ", ".join(f"{value:.3g}" for value in lowest)
    if not bend > 0:
        return (
            f"The function curves downwards at ({where}) (curvature {bend:.3g}): the steps run "
            "away from there. Start elsewhere or lower the learning rate."
        )
    limit = bound(run.momentum) / bend
    return (
        f"The steps grew instead of shrinking: the learning rate {run.lr:g} is above "
        f"{method.stable_text} = {limit:.4g}, with curvature {bend:.4g} (the largest second "
        f"derivative at ({where}), the lowest point visited). On a quadratic, "
        f"{method.label.lower()} converges only below that: try lr < {limit:.3g}."
    )


# --- the preset functions ---


@dataclass(frozen=True)
class Preset:
    """A function to explore: its formula, a start point, a plot range and a good lr."""

    key: str
    label: str
    text: str
    x0: tuple[float, ...]
    ranges: tuple[tuple[float, float], ...]  # plot (and start-slider) range per variable
    lr: float
    note: str
    box: tuple[tuple[float, float], ...] | None = None  # keep every point inside
    minimum: tuple[tuple[float, ...], float] | None = None  # a global minimiser and its value

    def function(self) -> ParsedFunction:
        return parse_function(self.text)


PRESETS: dict[str, Preset] = {
    preset.key: preset
    for preset in (
        Preset(
            "L",
            "L(x) = 3x² - sin(x) + eˣ - 5",
            "3*x**2 - sin(x) + exp(x) - 5",
            (2.0,),
            ((-2.5, 2.5),),
            0.05,
            "A smooth convex function with its minimum in closed form: L'(0) = 0 - 1 + 1 = 0, "
            "so the minimum is at x = 0, L = -4; "
            "L''(0) = 7, so gradient descent near it converges for lr < 2/7.",
            minimum=((0.0,), -4.0),
        ),
        Preset(
            "double_well",
            "Double well x⁴ - 3x² + x (two minima)",
            "x**4 - 3*x**2 + x",
            (2.0,),
            ((-2.2, 2.2),),
            0.02,
            "Two valleys: from x0 > 0.17 plain descent stops in the shallow right one (x ≈ 1.13); "
            "momentum can carry it over the hump into the deeper left one (x ≈ -1.30).",
        ),
        Preset(
            "bowl",
            "Ill-conditioned bowl (x² + 50y²) / 2",
            "(x**2 + 50*y**2)/2",
            (-4.0, 1.0),
            ((-5.0, 5.0), (-1.5, 1.5)),
            0.03,
            "Curvatures 1 and 50 (condition number 50): a learning rate small enough for the "
            "steep y direction (< 2/50) crawls along x. Momentum fixes exactly this.",
            minimum=((0.0, 0.0), 0.0),
        ),
        Preset(
            "rosenbrock",
            "Rosenbrock (1 - x)² + 100(y - x²)²",
            "(1 - x)**2 + 100*(y - x**2)**2",
            (-1.2, 1.0),
            ((-2.0, 2.0), (-1.0, 3.0)),
            0.001,
            "A curved, flat-bottomed valley: easy to reach, slow to follow to the minimum (1, 1).",
            minimum=((1.0, 1.0), 0.0),
        ),
        Preset(
            "himmelblau",
            "Himmelblau (x² + y - 11)² + (x + y² - 7)² (four minima)",
            "(x**2 + y - 11)**2 + (x + y**2 - 7)**2",
            (0.0, 0.0),
            ((-5.0, 5.0), (-5.0, 5.0)),
            0.01,
            "Four minima, all with value 0, e.g. (3, 2) and (-2.81, 3.13): "
            "the start point decides which one a method finds.",
        ),
        Preset(
            "exp_cos",
            "eˣ + cos(y) on the box [-2, 2] × [0, 6]",
            "exp(x) + cos(y)",
            (1.5, 1.0),
            ((-2.0, 2.0), (0.0, 6.0)),
            0.1,
            "A function with no minimum on the plane (eˣ keeps falling as x -> -inf), "
            "so every step is projected back into the box; the minimum is the corner-side "
            "point (-2, pi).",
            box=((-2.0, 2.0), (0.0, 6.0)),
            minimum=((-2.0, float(np.pi)), float(np.exp(-2.0) - 1.0)),
        ),
    )
}


def get_preset(key: str) -> Preset:
    try:
        return PRESETS[key]
    except KeyError:
        raise ValueError(f"unknown preset {key!r}; choose one of {', '.join(PRESETS)}") from None


# --- which method needs the fewest steps at its best settings ---


@dataclass(frozen=True)
class RaceResult:
    method: str
    lr: float
    momentum: float
    steps: int | None  # None: never reached the tolerance


def steps_to_tolerance(
    preset: Preset, method: str, lr: float, momentum: float, tol: float, max_steps: int
) -> int | None:
    """Steps until f - f_min <= tol from the preset's start (None: not within max_steps)."""
    run = descend(
        preset.function(),
        preset.x0,
        method,
        lr,
        momentum,
        eps=0.0,
        max_steps=max_steps,
        box=preset.box,
        target=preset.minimum[1] + tol,
    )
    return run.steps if run.stopped_by == "target" else None


def race(
    preset_key: str = "bowl",
    methods: Sequence[str] = ("gd", "momentum", "nesterov"),
    tol: float = 1e-6,
    lrs: Sequence[float] = tuple(np.geomspace(1e-3, 1.0, 121)),
    momenta: Sequence[float] = tuple(np.arange(30, 96, 5) / 100),
    max_steps: int = 5000,
) -> list[RaceResult]:
    """Each method at its best (lr, momentum) on the grid: the fewest steps to f - f* <= tol.

    Runs stop as soon as they need more steps than the method's best so far, which keeps the
    grid search cheap. Momentum is not searched for gd.
    """
    preset = get_preset(preset_key)
    if preset.minimum is None:
        raise ValueError(f"the preset {preset_key!r} has no known minimum to race to")
    results = []
    for method in methods:
        best = RaceResult(method, float("nan"), float("nan"), None)
        for beta in (0.0,) if method == "gd" else momenta:
            for lr in lrs:
                budget = max_steps if best.steps is None else best.steps - 1
                if budget < 1:
                    break
                steps = steps_to_tolerance(preset, method, lr, beta, tol, budget)
                if steps is not None:
                    best = RaceResult(method, float(lr), float(beta), steps)
        results.append(best)
    return results
