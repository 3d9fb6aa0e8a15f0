"""What every study's README shares: the command that trains each run again, the conclusions
list, and writing the file.

The writers (`core.reports.loan`, `images`, `ssl`, `pseudo_labels`, `inference`) build their
README as a list of Markdown lines; these helpers give the parts they have in common one
wording, so a regenerated report reads like its siblings.
"""

from argparse import ArgumentParser
from collections.abc import Iterable
from pathlib import Path

from core.experiments import get_experiment
from core.runs.store import Run


def changed_values(run: Run) -> dict:
    """The run's config values that differ from its experiment's defaults."""
    return get_experiment(run.experiment).changed_values(run.config)


def _cli(value) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


def reproduce_command(run: Run) -> str:
    """The `dlstudio train` line that trains this run again."""
    values = changed_values(run) | {"seed": run.config["seed"]}
    return " ".join(
        [
            "dlstudio train",
            run.experiment,
            *(f"--{k} {_cli(v)}" for k, v in values.items()),
        ]
    )


def rerun_lines(runs: Iterable[Run]) -> list[str]:
    """The "Each run again" list: one `dlstudio train` command per run."""
    return [
        "Each run again, one command each:",
        "",
        *[f"- run {run.id}: `{reproduce_command(run)}`" for run in runs],
        "",
    ]


def conclusion_lines(conclusions: Iterable[str], heading: str = "## Conclusions") -> list[str]:
    """The conclusions section: its heading, then one bullet per sentence."""
    return [heading, "", *[f"- {line}" for line in conclusions], ""]


def write_readme(out: Path, text: list[str]) -> Path:
    """`out/README.md` from the report's Markdown lines; returns its path."""
    path = out / "README.md"
    path.write_text("\n".join(text))
    return path


def add_reference_options(parser: ArgumentParser) -> None:
    """`--export-reference` and `--from-reference`, which every study's command takes."""
    parser.add_argument(
        "--export-reference",
        action="store_true",
        help="ship the runs as the app's reference runs and write the page from them",
    )
    parser.add_argument(
        "--from-reference",
        action="store_true",
        help="train nothing: write the page from the shipped reference runs",
    )
