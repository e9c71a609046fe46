"""What every area of the config shares: strict scalar types, the frozen model base, problems and their paths."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, Strict

Int = Annotated[int, Strict()]
Str = Annotated[str, Strict()]
Bool = Annotated[bool, Strict()]

NAME = r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$"
"""Lower-case names with dashes: accounts, segments, spokes, systems, host roles, datasets."""
EMAIL = re.compile(
    r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+"
    r"@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$"
)
CIDR = r"^[0-9]{1,3}(\.[0-9]{1,3}){3}/[0-9]{1,2}$"
IPV4 = r"^[0-9]{1,3}(\.[0-9]{1,3}){3}$"
DOMAIN = r"^(\*\.)?([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$"
ACCOUNT_ID = r"^[0-9]{12}$"


class ConfigError(Exception):
    """A configuration problem, with a message meant for a person (no traceback needed)."""


class Model(BaseModel):
    # Attribute docstrings become the descriptions in the JSON Schema, which editors show beside each key.
    model_config = ConfigDict(frozen=True, extra="forbid", use_attribute_docstrings=True)


MISSING: Any = object()
"""The value of a problem whose key is absent."""


@dataclass(frozen=True)
class Problem:
    path: str
    value: Any
    message: str

    def render(self) -> str:
        shown = "" if self.value is MISSING else f" = {self.value!r}"
        return f"  {self.path or '(top level)'}{shown}: {self.message}"


def account_reference(key: str, value: str, accounts: Iterable[str]) -> Iterator[Problem]:
    """The one check of a key that names an account of ``[accounts]``."""
    known = list(accounts)
    if value not in known:
        yield Problem(key, value, f"not an account of [accounts]; known accounts: {', '.join(known)}")


def named_reference(key: str, value: str, kind: str, known: Iterable[str]) -> Iterator[Problem]:
    """The check of a key that names one of a config table's entries (a spoke, a segment, a linkage system)."""
    names = list(known)
    if value not in names:
        yield Problem(key, value, f"not a {kind}; known: {', '.join(names) or 'none'}")


def emails(addresses: tuple[str, ...]) -> tuple[str, ...]:
    for address in addresses:
        if len(address) > 254 or not EMAIL.match(address):
            raise ValueError(
                f"{address!r} is not a valid e-mail address (expected name@domain, e.g. ops@city.kobe.lg.jp)"
            )
    return addresses


def _valid_network(value: str) -> str:
    try:
        network = ipaddress.ip_network(value, strict=True)
    except ValueError as error:
        raise ValueError(f"not a valid network address with prefix (e.g. 10.0.0.0/16): {error}") from None
    if network.version != 4:
        raise ValueError("only IPv4 networks are supported")
    return value


def _valid_ip(value: str) -> str:
    try:
        ipaddress.IPv4Address(value)
    except ValueError:
        raise ValueError("not a valid IPv4 address") from None
    return value


Network = Annotated[Str, Field(pattern=CIDR), AfterValidator(_valid_network)]
IpAddress = Annotated[Str, Field(pattern=IPV4), AfterValidator(_valid_ip)]
Name = Annotated[Str, Field(pattern=NAME)]
Cron = Annotated[Str, Field(pattern=r"^cron\(.+\)$")]


def pascal(name: str) -> str:
    """``resident-registry`` -> ``ResidentRegistry``."""
    return "".join(part[:1].upper() + part[1:] for part in re.split(r"[-_ ]+", name) if part)
