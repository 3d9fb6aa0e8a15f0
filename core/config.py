"""Experiment configs are plain dataclasses; this module turns user text into them and back.

The CLI (`--lr 0.05`) and the UI form hand over strings or loosely typed values; `build_config`
converts each to the field's declared type, rejects unknown names and lets the dataclass's own
`__post_init__` check ranges, so every entry point gives the same clear messages.
"""

import dataclasses
import typing
from dataclasses import dataclass
from typing import Any

_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off"}


@dataclass(frozen=True)
class FieldSpec:
    """What a form needs to show one config field."""

    name: str
    type: type
    default: Any
    help: str
    choices: tuple[Any, ...] | None


def config_fields(config_type: type) -> list[FieldSpec]:
    """The fields of a config dataclass, with their types, defaults, help and choices."""
    hints = typing.get_type_hints(config_type)
    return [
        FieldSpec(
            name=f.name,
            type=hints[f.name],
            default=f.default,
            help=f.metadata.get("help", ""),
            choices=f.metadata.get("choices"),
        )
        for f in dataclasses.fields(config_type)
    ]


def build_config(config_type: type, values: dict[str, Any] | None = None) -> Any:
    """A config from defaults plus `values` (strings are converted); ValueError on bad input."""
    values = dict(values or {})
    fields = {spec.name: spec for spec in config_fields(config_type)}
    unknown = sorted(set(values) - set(fields))
    if unknown:
        raise ValueError(
            f"unknown config key(s) {', '.join(unknown)}; known keys: {', '.join(fields)}"
        )
    converted = {name: _convert(fields[name], value) for name, value in values.items()}
    return config_type(**converted)


def _convert(spec: FieldSpec, value: Any) -> Any:
    try:
        if spec.type is bool:
            converted = _to_bool(value)
        elif spec.type is int:
            converted = _to_int(value)
        elif spec.type is float:
            converted = float(value)
        else:
            converted = str(value)
    except (TypeError, ValueError):
        raise ValueError(f"{spec.name}: {value!r} is not a valid {spec.type.__name__}") from None
    if spec.choices is not None and converted not in spec.choices:
        raise ValueError(
            f"{spec.name}: {value!r} is not one of {', '.join(map(str, spec.choices))}"
        )
    return converted


def _to_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ValueError(value)


def _to_int(value: Any) -> int:
    number = float(value)
    if not number.is_integer():
        raise ValueError(value)
    return int(number)


def check_range(
    name: str,
    value: float,
    low: float | None = None,
    high: float | None = None,
    low_inclusive: bool = True,
    high_inclusive: bool = True,
) -> None:
    """Raise a ValueError that names the field and the allowed range when `value` is outside it."""
    too_low = low is not None and (value < low if low_inclusive else value <= low)
    too_high = high is not None and (value > high if high_inclusive else value >= high)
    if too_low or too_high or value != value:  # value != value: NaN
        left = "[" if low_inclusive else "("
        right = "]" if high_inclusive else ")"
        bounds = f"{left}{'-inf' if low is None else low}, {'inf' if high is None else high}{right}"
        raise ValueError(f"{name} must be in {bounds}, got {value}")
