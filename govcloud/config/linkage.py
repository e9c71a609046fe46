"""The data linkage platform (データ連携基盤): its account and spoke, the systems that call it, the datasets."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import Field

from govcloud.config.base import ACCOUNT_ID, MISSING, Int, Model, Name, Problem, Str, account_reference

if TYPE_CHECKING:
    from govcloud.config.model import Config


ColumnType = Literal["string", "integer", "decimal", "date"]


class DatasetSettings(Model):
    producer: Name
    subscribers: Annotated[tuple[Name, ...], Field(min_length=1)]
    format: Literal["json", "csv"]
    encoding: Literal["utf-8", "cp932", "shift_jis"] = "utf-8"
    key_column: Str
    columns: Annotated[dict[Str, ColumnType], Field(min_length=1)]
    identifiers: tuple[Str, ...] = ()
    """Columns pseudonymized (keyed hash in KMS) before the data reaches the data lake."""


class LinkageSystem(Model):
    """A system that calls the linkage API: its account, the roles it calls with, its execute-api endpoint."""

    account: Annotated[Str, Field(pattern=ACCOUNT_ID)]
    spoke: Name | None = None
    """The system's spoke when it runs in this landing zone (it must have an execute-api endpoint)."""
    caller_roles: Annotated[tuple[Annotated[Str, Field(pattern=r"^[\w+=,.@-]{1,64}$")], ...], Field(min_length=1)]
    api_endpoint_id: Annotated[Str, Field(pattern=r"^vpce-[0-9a-f]{8,17}$")] | None = None
    """The execute-api endpoint in the VPC of a system run elsewhere (its vendor's). A system of this landing
    zone gives none: its spoke stack creates the endpoint and the linkage stack reads its ID at deploy time."""


class Exchange(Model):
    """Lifecycle of the exchange bucket, which holds data in transit between systems."""

    expire_after_days: Annotated[Int, Field(ge=1, le=36500)] = 400
    noncurrent_expire_after_days: Annotated[Int, Field(ge=1, le=36500)] = 30


class Linkage(Model):
    account: Name
    spoke: Name
    """The spoke whose application subnets run the platform's functions."""
    reserved_concurrency: Annotated[Int, Field(ge=1, le=1000)]
    throttle_rate_per_second: Annotated[Int, Field(ge=1, le=10000)]
    throttle_burst: Annotated[Int, Field(ge=1, le=5000)]
    systems: Annotated[dict[Name, LinkageSystem], Field(min_length=1)]
    datasets: Annotated[dict[Name, DatasetSettings], Field(min_length=1)]
    exchange: Exchange = Field(default_factory=Exchange)


# ----- checks across keys -----


def linkage_checks(cfg: Config) -> Iterator[Problem]:
    link = cfg.linkage
    spokes = cfg.network.spokes
    if link.account not in cfg.accounts:
        yield from account_reference("linkage.account", link.account, cfg.accounts)
    elif "linkage" not in cfg.accounts[link.account].data_classes:
        yield Problem(
            f"accounts.{link.account}.data_classes",
            list(cfg.accounts[link.account].data_classes),
            "the linkage account must hold the 'linkage' data class",
        )
    if link.spoke not in spokes:
        yield Problem("linkage.spoke", link.spoke, f"not a spoke; known spokes: {', '.join(spokes)}")
    elif spokes[link.spoke].account != link.account:
        yield Problem(
            "linkage.spoke",
            link.spoke,
            f"that spoke lives in account {spokes[link.spoke].account!r}, not {link.account!r}",
        )
    elif spokes[link.spoke].segment != "mynumber":
        yield Problem(
            "linkage.spoke",
            link.spoke,
            "the linkage platform carries My Number-linked data: its spoke must be in the mynumber segment",
        )
    seen_spokes: dict[str, str] = {}
    for name, system in link.systems.items():
        key = f"linkage.systems.{name}"
        if system.spoke is None:
            pass
        elif system.spoke in seen_spokes:
            yield Problem(
                f"{key}.spoke",
                system.spoke,
                f"already the spoke of linkage system {seen_spokes[system.spoke]!r}: one linkage system per spoke "
                "(the business system there creates its caller roles); give both systems' roles to one entry",
            )
        elif system.spoke not in spokes:
            yield Problem(f"{key}.spoke", system.spoke, f"not a spoke; known spokes: {', '.join(spokes)}")
        elif cfg.account_id(spokes[system.spoke].account) != system.account:
            yield Problem(f"{key}.account", system.account, f"the spoke {system.spoke!r} lives in another account")
        elif "execute-api" not in spokes[system.spoke].endpoints_in_spoke:
            yield Problem(
                f"{key}.spoke",
                system.spoke,
                f"add 'execute-api' to network.spokes.{system.spoke}.endpoints_in_spoke: the API is reached "
                "only through endpoints in the callers' spokes",
            )
        if system.spoke is not None:
            seen_spokes.setdefault(system.spoke, name)
        if system.spoke is None and system.api_endpoint_id is None:
            yield Problem(
                f"{key}.api_endpoint_id",
                MISSING,
                "required for a system run outside this landing zone: the API admits only known endpoints. Its "
                "vendor reads it with: aws ec2 describe-vpc-endpoints --filters "
                f"Name=service-name,Values=com.amazonaws.{cfg.regions.primary.name}.execute-api "
                "--query 'VpcEndpoints[].[VpcId,VpcEndpointId]'",
            )
        if system.spoke is not None and system.api_endpoint_id is not None:
            yield Problem(
                f"{key}.api_endpoint_id",
                system.api_endpoint_id,
                f"remove it: the endpoint of spoke {system.spoke!r} is created by its spoke stack, and its ID "
                "reaches the linkage stack at deploy time",
            )
    for name, dataset in link.datasets.items():
        key = f"linkage.datasets.{name}"
        for field_name, member in [("producer", dataset.producer), *(("subscribers", s) for s in dataset.subscribers)]:
            if member not in link.systems:
                yield Problem(f"{key}.{field_name}", member, f"not a linkage system; known: {', '.join(link.systems)}")
        if dataset.producer in dataset.subscribers:
            yield Problem(
                f"{key}.subscribers", list(dataset.subscribers), "the producer cannot subscribe to its own dataset"
            )
        for field_name, columns in (("key_column", [dataset.key_column]), ("identifiers", list(dataset.identifiers))):
            for column in columns:
                if column not in dataset.columns:
                    yield Problem(
                        f"{key}.{field_name}",
                        column,
                        f"not a column of the dataset; columns: {', '.join(dataset.columns)}",
                    )
