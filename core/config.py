"""Experiment configs are plain dataclasses; this module turns user text into them and back.

The CLI (`--lr 0.05`) and the UI form hand over strings or loosely typed values; `build_config`
converts each to the field's declared type, rejects unknown names and lets the dataclass's own
`__post_init__` check ranges, so every entry point gives the same clear messages.

A field that names a file or folder says so in its metadata, `{"path": True}`, with
`"not_a_path"`: a test for the values that are names instead (a built-in source, a run id).
`build_config` confines every such path (`core.paths.confine`): the launcher, the command line
and the worker all build their configs here, so none of them opens a file a visitor may not.
"""

import dataclasses
import math
import typing
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from core.paths import confine

SEED_MAX = 2**32 - 1  # numpy's seeds are 32-bit; torch takes them too

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
    path: bool = False  # names a file or folder (or, where `not_a_path` says so, a name)


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
            path=bool(f.metadata.get("path")),
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
    config = config_type(**converted)
    confine_paths(config)
    return config


def confine_paths(config: Any) -> None:
    """Raise `core.paths.PathRefused` when a path field of `config` names a file the app may
    not read. Values stay as given (a relative path keeps a reproduce command portable);
    every build checks them again, the worker's included."""
    for spec in dataclasses.fields(config):
        value = getattr(config, spec.name)
        if spec.metadata.get("path") and value and not _is_a_name(spec, value):
            confine(value, spec.name)


def _is_a_name(spec: dataclasses.Field, value: str) -> bool:
    not_a_path: Callable[[str], bool] | None = spec.metadata.get("not_a_path")
    return not_a_path is not None and not_a_path(value)


def _convert(spec: FieldSpec, value: Any) -> Any:
    try:
        if spec.type is bool:
            converted = _to_bool(value)
        elif spec.type is int:
            converted = _to_int(value)
        elif spec.type is float:
            converted = _to_float(value)
        elif spec.path:  # stripped: the file checked and the file opened must be one
            converted = str(value).strip()
        else:
            converted = str(value)
    except (TypeError, ValueError, OverflowError):  # OverflowError: float(10**400)
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


def _to_float(value: Any) -> float:
    """A finite float: inf and nan are no setting of any experiment."""
    number = float(value)
    if not math.isfinite(number):
        raise ValueError(value)
    return number


def _to_int(value: Any) -> int:
    """An int from an int, an integer text ("12") or an integral number ("1e3", 3.0).

    Integer texts are read exactly, so a huge one reaches the field's range check as it is.
    """
    if isinstance(value, int):
        return int(value)
    try:
        return int(str(value).strip())
    except ValueError:
        pass
    number = _to_float(value)
    if not number.is_integer():
        raise ValueError(value)
    return int(number)


def check_seed(name: str, value: int) -> None:
    """A seed numpy and torch both accept: 0 to 2**32 - 1."""
    check_range(name, value, low=0, high=SEED_MAX)


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
