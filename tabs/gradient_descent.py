"""Gradient descent tab: step through GD, momentum, Nesterov, Adam and Lion on a function.

Panels: the controls (function, method and its settings), the path (summary, contour plot, a
step player and the trajectory) and the comparison of several methods on one plot. The functions
behind the events take the controls' values and return figures and tables; `build` lays the
panels out and wires the controls to the path.

A refused input (a function that does not parse, a start outside its range) leaves every
control and figure as it was and is said once in the message line under the function: a raised
`gr.Error` would mark each of the event's outputs, the controls among them, as failed.
"""

import functools
from collections.abc import Callable
from dataclasses import dataclass

import gradio as gr

from core.descent import view
from core.descent.methods import METHODS, PRESETS

TITLE = "Gradient descent"
TOOL = "gradient_descent"  # its runtime statement's key in core.hosting.runtime
FIRST = "L"
FIRST_COMPARED = "bowl"  # the ill-conditioned bowl shows the methods apart
COMPARE_LR, COMPARE_EPS = 0.02, 1e-9  # lr 0.02: below every method's stability bound there
LATEX = [{"left": "$", "right": "$", "display": False}]

EXPLANATION = """
**Momentum vs Nesterov.** Plain gradient descent steps along the gradient at the current
point: x ← x − lr·∇f(x). **Momentum** (heavy ball) keeps a velocity, v ← β·v + ∇f(x),
x ← x − lr·v: steps that agree add up, steps that zig-zag across a narrow valley cancel, so it
speeds along the valley floor. **Nesterov** first looks where the velocity is taking it and
takes the gradient *there* (x ← x − lr·(∇f + β·v) in torch's form): it brakes before
overshooting, so it oscillates less than momentum at the same β. On a quadratic with
curvature L, descent is stable only for lr·L < 2 (momentum: 2(1+β), Nesterov:
2(1+β)/(1+2β)). **Adam** divides by a running RMS of the gradient, **Lion** takes its sign:
both step about lr per coordinate, whatever the gradient's size.
"""


def _start_sliders(subject: view.Subject):
    """Start-point sliders spanning the function's ranges (y hidden for a function of x)."""
    updates = []
    for axis in range(2):
        if axis < subject.function.dim:
            low, high = subject.ranges[axis]
            value = subject.start[axis]
            updates.append(gr.update(minimum=low, maximum=high, value=value, visible=True))
        else:
            updates.append(gr.update(visible=False))
    return updates


def refusing(outputs: int) -> Callable:
    """Run an event; a ValueError leaves its `outputs` as they are and says why in the message
    line (the event's last output), which a good answer clears."""

    def wrap(handler: Callable) -> Callable:
        @functools.wraps(handler)
        def event(*values):
            try:
                return (*handler(*values), "")
            except ValueError as error:
                return (*[gr.skip()] * outputs, f"⚠️ {error}")

        return event

    return wrap


def _path(subject: view.Subject, run, log_eps: float) -> tuple:
    """The path panel for a run: summary, figure at the last step, table, the step slider."""
    return (
        view.summary_markdown(subject, run, 10.0**log_eps),
        view.path_figure(subject, [run], step=run.steps),
        view.trajectory_table(subject.function, run),
        gr.update(maximum=max(run.steps, 1), value=run.steps),
    )


@refusing(outputs=8)
def choose_function(key: str, text: str, method, momentum, log_eps, max_steps):
    """Switching function: its start point, learning rate and slider ranges, and its path
    from there (one event, so that a refused function changes nothing at all)."""
    subject = view.resolve(key, text)
    eps = 10.0**log_eps
    run = view.run_method(subject, method, subject.lr, momentum, eps, subject.start, max_steps)
    return key, *_start_sliders(subject), subject.lr, *_path(subject, run, log_eps)


def _inputs(key, text, method, lr, momentum, log_eps, x0, y0, max_steps):
    """The subject and the run the controls describe (ValueError: what is wrong)."""
    subject = view.resolve(key, text)
    run = view.run_method(subject, method, lr, momentum, 10.0**log_eps, (x0, y0), max_steps)
    return subject, run


@refusing(outputs=4)
def descend(key, text, method, lr, momentum, log_eps, x0, y0, max_steps):
    """Run the chosen method: summary, figure at the last step, table, and the step slider."""
    subject, run = _inputs(key, text, method, lr, momentum, log_eps, x0, y0, max_steps)
    return _path(subject, run, log_eps)


@refusing(outputs=1)
def show_step(key, text, method, lr, momentum, log_eps, x0, y0, max_steps, step):
    """The figure with step `step` marked (its tangent or descent direction)."""
    subject, run = _inputs(key, text, method, lr, momentum, log_eps, x0, y0, max_steps)
    return (view.path_figure(subject, [run], step=int(step)),)


def move_step(delta: int):
    @refusing(outputs=2)
    def move(key, text, method, lr, momentum, log_eps, x0, y0, max_steps, step):
        subject, run = _inputs(key, text, method, lr, momentum, log_eps, x0, y0, max_steps)
        step = min(max(int(step) + delta, 0), run.steps)
        return step, view.path_figure(subject, [run], step=step)

    return move


def play_tick(key, text, method, lr, momentum, log_eps, x0, y0, max_steps, step):
    """One frame of the animation: the next step, and the timer stops at the last one (or at a
    refused input, said once)."""
    try:
        subject, run = _inputs(key, text, method, lr, momentum, log_eps, x0, y0, max_steps)
    except ValueError as error:
        return gr.skip(), gr.skip(), gr.Timer(active=False), f"⚠️ {error}"
    step = int(step) + 1 if int(step) < run.steps else 0  # Play at the end starts over
    figure = view.path_figure(subject, [run], step=step)
    return step, figure, gr.Timer(active=step < run.steps), ""


@refusing(outputs=2)
def compare(key, text, methods, lr, momentum, max_steps):
    """Several methods from the function's start point with the same settings, on one figure."""
    if not methods:
        raise ValueError("Tick at least one method to compare.")
    subject = view.resolve(key, text)
    runs = [
        view.run_method(subject, method, lr, momentum, COMPARE_EPS, subject.start, max_steps)
        for method in methods
    ]
    return view.path_figure(subject, runs), view.comparison_table(runs)


def _slider(low, high, value, step, label, elem_id, **options) -> gr.Slider:
    return gr.Slider(low, high, value=value, step=step, label=label, elem_id=elem_id, **options)


# --- Panels ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Controls:
    function: gr.Dropdown
    expression: gr.Textbox
    method: gr.Radio
    lr: gr.Slider
    momentum: gr.Slider
    log_eps: gr.Slider
    x0: gr.Slider
    y0: gr.Slider
    max_steps: gr.Slider
    run: gr.Button
    message: gr.Markdown  # what was refused, if anything

    @property
    def inputs(self) -> list:
        """The controls in the order `descend` and its relatives take them."""
        return [
            self.function,
            self.expression,
            self.method,
            self.lr,
            self.momentum,
            self.log_eps,
            self.x0,
            self.y0,
            self.max_steps,
        ]


def controls_panel(choices, method_choices, first: view.Subject, settings: dict) -> Controls:
    """The function (a preset or typed), the method and its settings, and what they mean."""
    function = gr.Dropdown(choices, value=FIRST, label="Function", elem_id="gd-function")
    expression = gr.Textbox(
        label="Your own function of x, or of x and y (Enter to use it)",
        placeholder="e.g. x**4 - 2*x**2 + 0.5*x, or sin(x)*cos(y) + 0.1*(x^2 + y^2)",
        max_length=200,
        elem_id="gd-expression",
    )
    message = gr.Markdown(elem_id="gd-message")
    method = gr.Radio(method_choices, value="gd", label="Method", elem_id="gd-method")
    lr = _slider(0.0001, 1.0, first.lr, 0.0001, "Learning rate", "gd-lr")
    momentum = _slider(
        0.0, 0.99, settings["momentum"], 0.01, "Momentum β (β₁ for Adam and Lion)", "gd-momentum"
    )
    log_eps = _slider(
        -12, -1, settings["log_eps"], 1, "ε = 10^k: stop when |f(x_k) − f(x_k−1)| < ε", "gd-eps"
    )
    x0 = _slider(*first.ranges[0], first.start[0], 0.01, "Start x", "gd-x0")
    y0 = _slider(-5, 5, 0.0, 0.01, "Start y", "gd-y0", visible=False)
    max_steps = _slider(1, 500, settings["max_steps"], 1, "Maximum steps", "gd-max-steps")
    run = gr.Button("Run", variant="primary", elem_id="gd-run")
    gr.Markdown(EXPLANATION, elem_id="gd-explanation")
    return Controls(
        function, expression, method, lr, momentum, log_eps, x0, y0, max_steps, run, message
    )


@dataclass(frozen=True)
class Path:
    summary: gr.Markdown
    plot: gr.Plot
    table: gr.Dataframe
    step: gr.Slider
    previous: gr.Button
    following: gr.Button
    play: gr.Button
    timer: gr.Timer

    @property
    def outputs(self) -> list:
        """What `descend` fills, in its order."""
        return [self.summary, self.plot, self.table, self.step]


def path_panel(first: view.Subject, first_run, eps: float) -> Path:
    """The run's summary, its path on the plot, a step player and the trajectory table."""
    summary = gr.Markdown(
        view.summary_markdown(first, first_run, eps), latex_delimiters=LATEX, elem_id="gd-summary"
    )
    plot = gr.Plot(
        view.path_figure(first, [first_run], step=first_run.steps), label="Steps", elem_id="gd-plot"
    )
    with gr.Row():
        previous = gr.Button("◀ Previous", size="sm", elem_id="gd-previous")
        step = _slider(0, first_run.steps, first_run.steps, 1, "Show step", "gd-step")
        following = gr.Button("Next ▶", size="sm", elem_id="gd-next")
        play = gr.Button("▶ Play", size="sm", elem_id="gd-play")
    timer = gr.Timer(0.5, active=False)
    table = gr.Dataframe(
        view.trajectory_table(first.function, first_run),
        label="Trajectory",
        interactive=False,
        max_height=320,
        elem_id="gd-table",
    )
    return Path(summary, plot, table, step, previous, following, play, timer)


def compare_panel(choices, method_choices, expression: gr.Textbox) -> None:
    """Several methods from one start point with the same settings, on one contour plot."""
    gr.Markdown(
        "Every ticked method starts from the function's own start point with the same "
        "learning rate, β and step limit (the function box above is shared)."
    )
    compared = compare(FIRST_COMPARED, "", ["gd", "momentum", "nesterov"], COMPARE_LR, 0.9, 300)
    message = gr.Markdown(elem_id="gd-compare-message")
    with gr.Row():
        with gr.Column(scale=1, min_width=320):
            function = gr.Dropdown(
                choices, value=FIRST_COMPARED, label="Function", elem_id="gd-compare-function"
            )
            methods = gr.CheckboxGroup(
                method_choices,
                value=["gd", "momentum", "nesterov"],
                label="Methods",
                elem_id="gd-compare-methods",
            )
            lr = _slider(0.0001, 1.0, COMPARE_LR, 0.0001, "Learning rate", "gd-compare-lr")
            momentum = _slider(0.0, 0.99, 0.9, 0.01, "Momentum β", "gd-compare-momentum")
            steps = _slider(1, 1000, 300, 1, "Maximum steps", "gd-compare-steps")
            button = gr.Button("Compare", elem_id="gd-compare")
        with gr.Column(scale=2):
            plot = gr.Plot(compared[0], label="Trajectories", elem_id="gd-compare-plot")
            table = gr.Dataframe(compared[1], interactive=False, elem_id="gd-compare-table")
    gr.on(
        [button.click, function.input, methods.input],
        compare,
        [function, expression, methods, lr, momentum, steps],
        [plot, table, message],
        api_name="compare",
    )


def build() -> None:
    gr.Markdown(
        "Watch gradient descent and its relatives step over a function: pick a preset or type "
        "your own in x (or x and y), move the sliders, step through the path, and compare "
        "methods on one contour plot."
    )
    choices = [(preset.label, preset.key) for preset in PRESETS.values()]
    choices.append(("Your own function (type it below)", view.CUSTOM))
    method_choices = [(spec.label, key) for key, spec in METHODS.items()]
    first = view.resolve(FIRST)
    settings = {"method": "gd", "momentum": 0.9, "log_eps": -9, "max_steps": 100}
    eps = 10.0 ** settings["log_eps"]
    first_run = view.run_method(
        first,
        settings["method"],
        first.lr,
        settings["momentum"],
        eps,
        first.start,
        settings["max_steps"],
    )
    with gr.Row():
        with gr.Column(scale=1, min_width=320):
            controls = controls_panel(choices, method_choices, first, settings)
        with gr.Column(scale=2):
            path = path_panel(first, first_run, eps)
    with gr.Accordion("Compare methods on one plot", open=True):
        compare_panel(choices, method_choices, controls.expression)

    inputs, stepped = controls.inputs, [*controls.inputs, path.step]
    chosen = [controls.function, controls.x0, controls.y0, controls.lr, *path.outputs]
    settings = [controls.method, controls.momentum, controls.log_eps, controls.max_steps]
    controls.function.input(
        choose_function,
        [controls.function, controls.expression, *settings],
        [*chosen, controls.message],
        api_name="choose_function",
    )
    controls.expression.submit(
        lambda text, *rest: choose_function(view.CUSTOM, text, *rest),
        [controls.expression, *settings],
        [*chosen, controls.message],
        api_name="use_function",
    )
    sliders = (controls.lr, controls.momentum, controls.log_eps, controls.x0, controls.y0)
    gr.on(
        [
            controls.run.click,
            controls.method.input,
            *(slider.release for slider in (*sliders, controls.max_steps)),
        ],
        descend,
        inputs,
        [*path.outputs, controls.message],
        api_name="descend",
    )
    stepping = [path.step, path.plot, controls.message]
    path.step.release(show_step, stepped, [path.plot, controls.message], api_name="show_step")
    path.previous.click(move_step(-1), stepped, stepping, api_name="previous_step")
    path.following.click(move_step(+1), stepped, stepping, api_name="next_step")
    path.play.click(lambda: gr.Timer(active=True), None, path.timer, api_name="play")
    ticked = [path.step, path.plot, path.timer, controls.message]
    path.timer.tick(play_tick, stepped, ticked, api_name="play_tick")
