"""Reading a config file: choosing it, parsing the TOML, validating it, and rendering every problem in one message
that names the file, the key, the bad value and what is allowed."""

from __future__ import annotations

import difflib
import re
import tomllib
import typing
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, TypeAdapter, ValidationError

from govcloud.config.base import MISSING, ConfigError, Problem
from govcloud.config.model import Config, cross_checks

PROJECT_ROOT = Path(__file__).resolve().parents[2]
CONFIG_DIR = PROJECT_ROOT / "config"
DEFAULT_ENVIRONMENT = "kobe-stg"


def _unwrap(tp: Any) -> Any:
    while typing.get_origin(tp) is Annotated:
        tp = typing.get_args(tp)[0]
    return tp


def _model_at(loc: Iterable[Any]) -> type[BaseModel] | None:
    """The model class that holds the keys at ``loc`` (for did-you-mean suggestions)."""
    tp: Any = Config
    for part in loc:
        tp = _unwrap(tp)
        if isinstance(tp, type) and issubclass(tp, BaseModel):
            field = tp.model_fields.get(str(part))
            if field is None:
                return None
            tp = field.annotation
        elif typing.get_origin(tp) is dict:
            tp = typing.get_args(tp)[1]
        else:
            return None
    tp = _unwrap(tp)
    return tp if isinstance(tp, type) and issubclass(tp, BaseModel) else None


def _path(loc: Iterable[Any]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


# Keys of earlier config files, and what replaced them.
_DEPLOYED = (
    "config no longer holds {}, which exist only after a deployment; CloudFormation passes them from the stack "
    "that creates them to the stacks that use them"
)
RETIRED_KEYS = {
    ("NetworkSettings", "ids"): _DEPLOYED.format("the hub's IDs"),
    ("Spoke", "vpc_id"): _DEPLOYED.format("the spoke's VPC ID"),
    ("Spoke", "transit_gateway_attachment_id"): _DEPLOYED.format("the spoke's attachment ID"),
    ("NetworkSettings", "resolver_inbound_ips"): (
        "each segment resolves through its own DNS VPC: write the IPs as network.segments.<segment>.dns.inbound_ips"
    ),
    ("NetworkSettings", "on_premises_dns"): (
        "each segment forwards to its own DNS servers: write them as network.segments.<segment>.dns.servers"
    ),
    ("DatasetSettings", "identifiers"): (
        'each column now says what reaches the data lake: lake = "pseudonymize" on the columns listed here, '
        '"keep" or "drop" on the others'
    ),
    ("Exchange", "expire_after_days"): (
        "the exchange now keeps each kind of object for its own time: delivery_days, quarantine_days, manifest_days"
    ),
}


def _pydantic_problems(error: ValidationError) -> Iterator[Problem]:
    for err in error.errors(include_url=False):
        loc = tuple(part for part in err["loc"] if part != "[key]")
        kind = err["type"]
        if kind == "extra_forbidden":
            model = _model_at(loc[:-1])
            retired = RETIRED_KEYS.get((model.__name__ if model else "", str(loc[-1])))
            if retired:
                yield Problem(
                    _path(loc),
                    MISSING,
                    f"delete this key: {retired}",
                )
                continue
            known = list(model.model_fields) if model else []
            guess = difflib.get_close_matches(str(loc[-1]), known, n=1)
            hint = f"did you mean '{guess[0]}'? " if guess else ""
            yield Problem(_path(loc), err["input"], f"unknown key; {hint}allowed keys: {', '.join(known)}")
        elif kind == "missing":
            yield Problem(_path(loc), MISSING, "required key is missing")
        else:
            message = err["msg"].removeprefix("Value error, ")
            if kind in ("string_type", "int_type", "bool_type"):
                message += " (TOML: quote strings such as account IDs, write numbers and true/false without quotes)"
            if kind == "string_pattern_mismatch":
                message = f"does not match the allowed form {err['ctx']['pattern']}"
            yield Problem(_path(loc), err["input"], message)


def parse(data: dict[str, Any], source: str) -> Config:
    """Validate already-parsed TOML data. ``source`` names the file in error messages.

    Every problem comes in one round: when some tables fail their own validation, each table that passes is kept
    and the checks across keys that read only such tables still run."""
    try:
        cfg = Config.model_validate(data)
    except ValidationError as error:
        problems = list(_pydantic_problems(error))
        partial, valid = _valid_tables(data)
        if partial is not None:
            problems += [p for p in cross_checks(partial, valid) if p not in problems]
        raise _error(source, problems) from None
    problems = list(cross_checks(cfg))
    if problems:
        raise _error(source, problems)
    return cfg


def _valid_tables(data: dict[str, Any]) -> tuple[Config | None, set[str]]:
    """The top-level tables of ``data`` that validate on their own, as a config built from them alone."""
    if not isinstance(data, dict):
        return None, set()
    good: dict[str, Any] = {}
    for name, field in Config.model_fields.items():
        if name not in data:
            if not field.is_required():
                good[name] = field.get_default(call_default_factory=True)
            continue
        try:
            good[name] = TypeAdapter(field.annotation or Any).validate_python(data[name])
        except ValidationError:
            continue
    return Config.model_construct(**good), set(good)


def _error(source: str, problems: list[Problem]) -> ConfigError:
    lines = [f"{source}: invalid configuration ({len(problems)} problem{'s' if len(problems) > 1 else ''})"]
    lines += [p.render() for p in problems]
    return ConfigError("\n".join(lines))


def load(path: str | Path) -> Config:
    """Read and validate one configuration file."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: configuration file not found") from None
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(f"{path}: cannot be read as UTF-8 text ({error})") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{path}: not valid TOML: {error}") from None
    return parse(data, _display(path))


def available_environments(config_dir: Path = CONFIG_DIR) -> list[str]:
    return sorted(p.stem for p in config_dir.glob("*.toml"))


def resolve(env: str | None, config: str | None, config_dir: Path = CONFIG_DIR) -> Path:
    """The file chosen by ``-c env=NAME`` or ``-c config=PATH`` (the default environment when neither is given)."""
    if env and config:
        raise ConfigError(f"give either -c env=NAME or -c config=PATH, not both (got env={env!r}, config={config!r})")
    if config:
        return Path(config)
    name = env or DEFAULT_ENVIRONMENT
    if not re.match(r"^[A-Za-z0-9_.-]+$", name) or not (config_dir / f"{name}.toml").is_file():
        known = ", ".join(available_environments(config_dir)) or "none"
        raise ConfigError(
            f"-c env={name}: no file {_display(config_dir / f'{name}.toml')}; known environments: {known}"
        )
    return config_dir / f"{name}.toml"


def _display(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)
