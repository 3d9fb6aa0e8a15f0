"""Decoding tab: greedy, sampling, temperature, top-p and beam search on a small instruct LM,
streamed token by token, with a per-step view and the next-token distribution at any step.

Panels: the prompt (model, system prompt, prompt), the settings (strategy and its sliders), the
output (reply, statistics, per-step table, next-token distribution) and the side-by-side
comparison. The functions behind the events take and return plain values; `build` lays the
panels out and wires them.
"""

import dataclasses
import time
from dataclasses import dataclass

import gradio as gr
import pandas as pd

from core.decoding.lm import (
    KNOWN_MODELS,
    check_prompt_text,
    default_model,
    is_loaded,
    load_lm,
)
from core.decoding.strategies import (
    MAX_BEAMS,
    MAX_NEW_TOKENS,
    SETTINGS_READ,
    TOP_P_RULES,
    DecodingSettings,
    stream,
)
from core.decoding.view import beams_table, next_token_view, steps_table
from core.hosting.spaces import on_gpu

TITLE = "Decoding"
TOOL = "decoding"  # its runtime statement's key in core.hosting.runtime
STRATEGY_LABELS = {
    "greedy": "Greedy",
    "sample": "Sampling (full distribution)",
    "temperature": "Sampling with temperature",
    "top_p": "Top-p (nucleus) sampling",
    "beam": "Beam search (early stopping)",
}
COMPARED_BY_DEFAULT = ["greedy", "temperature", "top_p", "beam"]
EXAMPLE_PROMPT = "Explain in two sentences why the sky is blue."
COMPARE_COLUMNS = ["strategy", "text", "tokens", "stopped at", "tokens/s"]
# Generation and comparison share one queue slot: a forward pass already uses every core, so
# parallel generations only slow each other down and starve the app's quick events.
ONE_GENERATION_AT_A_TIME = {"concurrency_id": "language-model", "concurrency_limit": 1}

EXPLANATION = """
**How the next token is chosen.** At every step the model gives a score (logit) to each of the
~50,000 tokens of its vocabulary; softmax turns them into probabilities.

- **Greedy** takes the most probable token. Deterministic, often repetitive.
- **Sampling** draws the token from the whole distribution: varied, sometimes incoherent,
  because the long tail of unlikely tokens together has real mass.
- **Temperature T** divides the logits by T before softmax. T < 1 sharpens the distribution
  (T → 0 is greedy), T > 1 flattens it (more surprising words).
- **Top-p (nucleus)** samples only among the most probable tokens, renormalised. The
  *assignment rule* keeps the tokens whose cumulative probability does not exceed p (at least
  one); the *paper rule* (Holtzman et al. 2019, also transformers) keeps the smallest set whose
  mass reaches p, i.e. also the token that crosses p. Temperature is applied first.
- **Beam search** keeps the N best partial answers (score = sum of log-probabilities). Each step
  extends every beam by every token and keeps the N best; a candidate ending with EOS is
  finished, and the search stops when N are finished. It finds likelier, often shorter answers.

Every strategy reuses the keys and values of earlier tokens (the KV cache): one new token per
forward pass instead of the whole text. The seed makes sampling reproducible.
"""


# --- Plain functions behind the events ---------------------------------------------------------


def settings_from(strategy, temperature, top_p, rule, beams, max_new, seed) -> DecodingSettings:
    """The sliders as core settings; a bad value becomes an error message in the page."""
    try:
        return DecodingSettings(
            strategy=strategy,
            temperature=float(temperature),
            top_p=float(top_p),
            top_p_rule=rule,
            num_beams=int(beams),
            max_new_tokens=int(max_new),
            seed=int(seed),
        )
    except (TypeError, ValueError) as error:
        raise gr.Error(str(error)) from None


SETTING_CONTROLS = ("temperature", "top_p", "top_p_rule", "num_beams", "seed")  # panel order


def controls_for(strategy: str) -> list:
    """Show the settings `strategy` reads, hide the others (they would change nothing)."""
    read = SETTINGS_READ.get(strategy, ())
    return [gr.update(visible=name in read) for name in SETTING_CONTROLS]


def start(model_name: str, system: str, prompt: str, settings: DecodingSettings):
    """The model (loaded at first use) and the stream of a generation; ValueError if the model
    cannot be loaded or the prompt does not fit."""
    lm = load_lm(model_name)
    return lm, stream(lm.model, lm.encode(prompt, system), settings, lm.eos_ids)


def check_prompt(prompt: str) -> None:
    try:
        check_prompt_text(prompt)
    except ValueError as error:
        raise gr.Error(str(error)) from None


def stats_line(lm, result, settings: DecodingSettings) -> str:
    where = {"eos": "the EOS token", "length": "the length limit"}.get(result.finish_reason)
    state = f"stopped at {where}" if where else "generating…"
    running = " (best running beam)" if settings.strategy == "beam" and not where else ""
    return (
        f"**{len(result.token_ids)} tokens{running}** · {result.tokens_per_s:.1f} tokens/s · "
        f"{state} · `{lm.name}`, {STRATEGY_LABELS[settings.strategy].lower()}"
    )


STEPS_EVERY_S = 0.5  # while a reply streams, its per-step table is redrawn this often
MODEL_NAME_SHOWN = 80  # characters of a typed model name the stats line repeats


def first_words(model_name: str) -> str:
    """What the stats line says the moment Generate is pressed."""
    if is_loaded(model_name):
        return "Generating…"
    name = (str(model_name or "").strip() or default_model())[:MODEL_NAME_SHOWN]
    return f"Loading the model `{name}` (the first request takes about 20 s), then generating…"


def streaming(reply, stats: str) -> tuple:
    """`generate`'s outputs while tokens arrive: the reply and its statistics, the rest kept."""
    return (reply, stats, *(gr.skip() for _ in range(6)))


@on_gpu(duration=120)  # a GPU slice per request on ZeroGPU; the function itself elsewhere
def generate(model_name, system_text, prompt_text, *values):
    """Stream one reply, then fill the per-step views. Yields `OutputPanel.generated` in order:
    reply, stats, steps, beams, last, step, distribution, kept."""
    settings = settings_from(*values)
    check_prompt(prompt_text)
    hidden = [gr.Dataframe(value=None, visible=False) for _ in range(2)]  # the last reply's
    kept = [gr.skip() for _ in range(4)]  # steps and beams go at once
    yield ("", first_words(model_name), *hidden, *kept)
    try:
        lm, steps_stream = start(model_name, system_text, prompt_text, settings)
    except ValueError as error:
        yield streaming(gr.skip(), f"Not generated: {error}")
        raise gr.Error(str(error)) from None
    shown_steps = time.monotonic()
    for result in steps_stream:
        reply, stats = lm.decode(result.token_ids), stats_line(lm, result, settings)
        if settings.strategy != "beam" and time.monotonic() - shown_steps > STEPS_EVERY_S:
            shown_steps = time.monotonic()  # the per-step table grows with the reply
            steps = gr.Dataframe(steps_table(lm, result), visible=True)
            yield (reply, stats, steps, *(gr.skip() for _ in range(5)))
            continue
        yield streaming(reply, stats)
    is_beam = settings.strategy == "beam"
    figure, notes = show_step(lm, result, 1, settings.temperature, settings.top_p)
    yield (
        gr.skip(),
        gr.skip(),
        gr.Dataframe(steps_table(lm, result), visible=True),
        gr.Dataframe(beams_table(lm, result) if is_beam else None, visible=is_beam),
        {"model": lm.name, "result": result},
        gr.Slider(maximum=max(2, len(result.token_ids)), value=1),
        figure,
        notes,
    )


def show_step(lm, result, number, temperature_value, top_p_value):
    """The next-token distribution at step `number` and which tokens the settings keep."""
    try:
        return next_token_view(lm, result, int(number), temperature_value, top_p_value)
    except ValueError as error:
        gr.Warning(str(error))
        return gr.skip(), gr.skip()


@on_gpu(duration=30)
def step_view(state, number, temperature_value, top_p_value):
    """`show_step` on the visitor's last reply (nothing before the first one)."""
    if state is None:
        return gr.skip(), gr.skip()
    result = state["result"]
    number = min(int(number), len(result.token_ids))
    return show_step(load_lm(state["model"]), result, number, temperature_value, top_p_value)


@on_gpu(duration=300)
def compare(model_name, system_text, prompt_text, names, *values):
    """The same prompt under each ticked strategy, one row each, streamed as the rows grow."""
    if not names:
        raise gr.Error("Tick at least one strategy to compare.")
    base = settings_from(*values)
    check_prompt(prompt_text)
    rows = []
    for name in names:
        settings = dataclasses.replace(base, strategy=name)
        try:
            lm, steps_stream = start(model_name, system_text, prompt_text, settings)
        except ValueError as error:
            raise gr.Error(str(error)) from None
        for result in steps_stream:
            row = [
                STRATEGY_LABELS[name],
                lm.decode(result.token_ids),
                len(result.token_ids),
                result.finish_reason or "…",
                round(result.tokens_per_s, 1),
            ]
            yield pd.DataFrame([*rows, row], columns=COMPARE_COLUMNS)
        rows.append(row)


# --- Panels ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PromptPanel:
    model: gr.Dropdown
    system: gr.Textbox
    prompt: gr.Textbox

    @property
    def inputs(self) -> list:
        return [self.model, self.system, self.prompt]


def prompt_panel() -> PromptPanel:
    """Which model answers, an optional system prompt and the prompt."""
    return PromptPanel(
        model=gr.Dropdown(
            list(KNOWN_MODELS),
            value=default_model(),
            allow_custom_value=True,
            label="Model",
            info="smollm2 works offline; Qwen2.5 needs the Hugging Face hub; or a local "
            "model folder.",
            elem_id="decoding-model",
        ),
        system=gr.Textbox(label="System prompt (optional)", elem_id="decoding-system"),
        prompt=gr.Textbox(EXAMPLE_PROMPT, label="Prompt", lines=3, elem_id="decoding-prompt"),
    )


@dataclass(frozen=True)
class SettingsPanel:
    strategy: gr.Radio
    temperature: gr.Slider
    top_p: gr.Slider
    rule: gr.Radio
    beams: gr.Slider
    max_new: gr.Slider
    seed: gr.Number

    @property
    def inputs(self) -> list:
        """The controls in `settings_from`'s order."""
        return [
            self.strategy,
            self.temperature,
            self.top_p,
            self.rule,
            self.beams,
            self.max_new,
            self.seed,
        ]


def settings_panel() -> SettingsPanel:
    """The strategy and every setting a strategy reads, each saying what it does; only those the
    chosen strategy reads are shown (greedy, the first, reads none of them)."""
    return SettingsPanel(
        strategy=gr.Radio(
            [(label, name) for name, label in STRATEGY_LABELS.items()],
            value="greedy",
            label="Strategy",
            elem_id="decoding-strategy",
        ),
        temperature=gr.Slider(
            0,
            2,
            value=0.7,
            step=0.05,
            label="Temperature",
            info="Divides the logits: < 1 sharper, > 1 flatter. Temperature and top-p.",
            elem_id="decoding-temperature",
            visible=False,
        ),
        top_p=gr.Slider(
            0,
            1,
            value=0.9,
            step=0.01,
            label="Top-p",
            info="Nucleus: sample only among the most probable tokens holding this mass.",
            elem_id="decoding-top-p",
            visible=False,
        ),
        rule=gr.Radio(
            list(TOP_P_RULES),
            value="assignment",
            label="Top-p rule",
            info="assignment: cumulative probability <= p; paper: smallest set reaching p.",
            elem_id="decoding-top-p-rule",
            visible=False,
        ),
        beams=gr.Slider(
            1,
            MAX_BEAMS,
            value=4,
            step=1,
            label="Beams",
            info="Beam search: how many partial answers are kept at every step.",
            elem_id="decoding-num-beams",
            visible=False,
        ),
        max_new=gr.Slider(
            1,
            MAX_NEW_TOKENS,
            value=64,
            step=1,
            label="Max new tokens",
            info="Generation also stops at the model's EOS token.",
            elem_id="decoding-max-new-tokens",
        ),
        seed=gr.Number(
            0,
            precision=0,
            minimum=0,
            label="Seed",
            info="Same seed, same settings: the same sample.",
            elem_id="decoding-seed",
            visible=False,
        ),
    )


@dataclass(frozen=True)
class OutputPanel:
    reply: gr.Textbox
    stats: gr.Markdown
    steps: gr.Dataframe
    beams: gr.Dataframe
    last: gr.State  # {"model": name, "result": Generation} of this visitor's last reply
    step: gr.Slider
    distribution: gr.Plot
    kept: gr.Markdown

    @property
    def generated(self) -> list:
        """What `generate` fills, in its order."""
        return [
            self.reply,
            self.stats,
            self.steps,
            self.beams,
            self.last,
            self.step,
            self.distribution,
            self.kept,
        ]


def output_panel() -> OutputPanel:
    """The reply as it streams, its statistics, the per-step table and one step's distribution."""
    reply = gr.Textbox(label="Reply", lines=10, interactive=False, elem_id="decoding-output")
    stats = gr.Markdown("Nothing generated yet.", elem_id="decoding-stats")
    with gr.Accordion("Per step: each token's probability and the top 5", open=True):
        steps = gr.Dataframe(  # shown with the first reply: no placeholder headers before
            interactive=False,
            wrap=True,
            visible=False,
            column_widths=["9%", "18%", "15%", "58%"],  # headers on one line, the top 5 wide
            elem_id="decoding-steps",
        )
        beams = gr.Dataframe(
            interactive=False,
            wrap=True,
            visible=False,
            label="Finished beams (score = sum of log-probabilities)",
            elem_id="decoding-beams",
        )
    with gr.Accordion("The next-token distribution at one step", open=True):
        step = gr.Slider(
            1,
            2,
            value=1,
            step=1,
            label="Step of the last reply",
            info="Also follows the temperature and top-p sliders.",
            elem_id="decoding-step",
        )
        distribution = gr.Plot(elem_id="decoding-distribution")
        kept = gr.Markdown(elem_id="decoding-kept")
    return OutputPanel(reply, stats, steps, beams, gr.State(None), step, distribution, kept)


@dataclass(frozen=True)
class ComparePanel:
    strategies: gr.CheckboxGroup
    button: gr.Button
    table: gr.Dataframe


def compare_panel() -> ComparePanel:
    """Several strategies on the same prompt and settings, one row each."""
    strategies = gr.CheckboxGroup(
        [(label, name) for name, label in STRATEGY_LABELS.items()],
        value=COMPARED_BY_DEFAULT,
        label="Strategies (with the settings above)",
        elem_id="decoding-compare-strategies",
    )
    button = gr.Button("Compare", elem_id="decoding-compare")
    table = gr.Dataframe(
        headers=COMPARE_COLUMNS,
        interactive=False,
        wrap=True,
        column_widths=["16%", "54%", "10%", "10%", "10%"],  # the text wraps, the numbers stay
        elem_id="decoding-compare-table",
    )
    return ComparePanel(strategies, button, table)


def build() -> None:
    gr.Markdown(
        "Type a prompt, pick a decoding strategy and watch the reply appear token by token. "
        "Every strategy is written by hand on the model's logits (and checked token for token "
        "against transformers' `generate`). The offline model is SmolLM2-135M-Instruct; the "
        "first request loads it (about 20 s)."
    )
    with gr.Row():
        with gr.Column(scale=2):
            request = prompt_panel()
            settings = settings_panel()
            with gr.Row():
                generate_button = gr.Button(
                    "Generate", variant="primary", elem_id="decoding-generate"
                )
                stop_button = gr.Button("Stop", variant="stop", elem_id="decoding-stop")
        with gr.Column(scale=3):
            out = output_panel()
    with gr.Accordion("Side by side: several strategies on the same prompt", open=False):
        side_by_side = compare_panel()
    with gr.Accordion("How the strategies work", open=False):
        gr.Markdown(EXPLANATION)

    settings.strategy.change(
        controls_for,
        settings.strategy,
        [settings.temperature, settings.top_p, settings.rule, settings.beams, settings.seed],
        api_name="strategy_controls",
    )
    generation = generate_button.click(
        generate,
        [*request.inputs, *settings.inputs],
        out.generated,
        api_name="generate",
        **ONE_GENERATION_AT_A_TIME,
    )
    stop_button.click(
        lambda: "**Stopped.** The reply above is as far as it got.",
        None,
        out.stats,
        cancels=[generation],
        api_name="stop_generation",
    )
    for control in (out.step, settings.temperature, settings.top_p):
        control.release(
            step_view,
            [out.last, out.step, settings.temperature, settings.top_p],
            [out.distribution, out.kept],
            api_name=f"step_view_{control.elem_id.removeprefix('decoding-').replace('-', '_')}",
        )
    side_by_side.button.click(
        compare,
        [*request.inputs, side_by_side.strategies, *settings.inputs],
        side_by_side.table,
        api_name="compare",
        **ONE_GENERATION_AT_A_TIME,
    )
