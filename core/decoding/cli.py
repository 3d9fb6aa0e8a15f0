"""`dlstudio generate`: generate a reply with one decoding strategy.

    dlstudio generate --prompt TEXT --strategy {greedy,sample,temperature,top_p,beam}
        [--temperature T] [--top-p P] [--top-p-rule {assignment,paper}] [--num-beams K]
        [--max-new-tokens N] [--seed S] [--model ID_OR_PATH] [--system TEXT]
        [--no-chat-template] [--json]

`--json` prints one object: model, settings, prompt_ids (the ids fed to the model, after the chat
template), token_ids (the generated ids, EOS included when produced), text, finish_reason ("eos"
or "length"), seconds, tokens_per_s, logprobs (of each generated token) and, for beam search,
beams (each with token_ids, text and score, best first). Bad input exits with status 2 and a
message. The model is the offline SmolLM2-135M-Instruct unless --model names another
(see core.decoding.lm).
"""

import argparse
import dataclasses
import json
import sys

from core.decoding.lm import LM, check_prompt_text, load_lm
from core.decoding.strategies import STRATEGIES, TOP_P_RULES, DecodingSettings, Generation, generate


def generation_record(lm: LM, settings: DecodingSettings, result: Generation) -> dict:
    """A finished generation as plain JSON-able data (the CLI's --json object)."""
    record = {
        "model": lm.name,
        "settings": dataclasses.asdict(settings),
        "prompt_ids": result.prompt_ids,
        "token_ids": result.token_ids,
        "text": lm.decode(result.token_ids),
        "finish_reason": result.finish_reason,
        "seconds": round(result.seconds, 4),
        "tokens_per_s": round(result.tokens_per_s, 3),
        "logprobs": [round(step.logprob, 6) for step in result.steps],
    }
    if settings.strategy == "beam":
        record["beams"] = [
            {"token_ids": beam.token_ids, "text": lm.decode(beam.token_ids), "score": beam.score}
            for beam in result.beams
        ]
    return record


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="dlstudio generate", description="Generate a reply with one decoding strategy."
    )
    defaults = DecodingSettings()
    parser.add_argument("--prompt", required=True)
    parser.add_argument("--strategy", choices=list(STRATEGIES), default=defaults.strategy)
    parser.add_argument("--temperature", type=float, default=defaults.temperature)
    parser.add_argument("--top-p", type=float, default=defaults.top_p)
    parser.add_argument("--top-p-rule", choices=list(TOP_P_RULES), default=defaults.top_p_rule)
    parser.add_argument("--num-beams", type=int, default=defaults.num_beams)
    parser.add_argument("--max-new-tokens", type=int, default=defaults.max_new_tokens)
    parser.add_argument("--seed", type=int, default=defaults.seed)
    parser.add_argument(
        "--model", default=None, help="a hub id or a local folder (see core.decoding.lm)"
    )
    parser.add_argument("--system", default="", help="a system prompt")
    parser.add_argument("--no-chat-template", action="store_true", help="feed the raw text")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)
    try:
        settings = DecodingSettings(
            strategy=args.strategy,
            temperature=args.temperature,
            top_p=args.top_p,
            top_p_rule=args.top_p_rule,
            num_beams=args.num_beams,
            max_new_tokens=args.max_new_tokens,
            seed=args.seed,
        )
        check_prompt_text(args.prompt)
        lm = load_lm(args.model)
        prompt_ids = lm.encode(args.prompt, args.system, chat_template=not args.no_chat_template)
        result = generate(lm.model, prompt_ids, settings, lm.eos_ids)
    except ValueError as error:  # bad settings, prompt or model name (ModelLoadError)
        parser.error(str(error))
    record = generation_record(lm, settings, result)
    if args.json:
        print(json.dumps(record, indent=2))
    else:
        print(record["text"])
        print(
            f"\n[{len(result.token_ids)} tokens, {record['tokens_per_s']} tokens/s, "
            f"stopped at {'EOS' if result.finish_reason == 'eos' else 'the length limit'}]",
            file=sys.stderr,
        )
    return 0
