"""The data linkage platform (データ連携基盤): its account and spoke, the systems that call it, the datasets."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import Field, model_validator

from govcloud.config.base import ACCOUNT_ID, MISSING, Bool, Int, Model, Name, Problem, Str, account_reference

if TYPE_CHECKING:
    from govcloud.config.model import Config


ColumnType = Literal["string", "integer", "decimal", "date"]


LakeAction = Literal["keep", "pseudonymize", "drop"]


class Column(Model):
    """One column of a dataset: its type, whether it is personal data, and what of it reaches the data lake."""

    type: ColumnType
    lake: LakeAction
    """``keep`` (as sent), ``pseudonymize`` (replaced by a keyed token: the same person always gets the same token,
    and nobody can reverse it) or ``drop`` (subscribers get it, the data lake never does)."""
    personal: Bool = True
    """Personal data unless the config says otherwise. A personal column may be ``keep`` only with a keep_reason."""
    keep_reason: Str | None = None
    """Why a personal column reaches the data lake as sent (the purpose it serves there), for the reviewers."""


class DatasetSettings(Model):
    producer: Name
    subscribers: Annotated[tuple[Name, ...], Field(min_length=1)]
    format: Literal["json", "csv"]
    """API batches are JSON arrays; files are CSV with a header, or JSON Lines (one record per line)."""
    encoding: Literal["utf-8", "cp932", "shift_jis"] = "utf-8"
    """Encoding of CSV files. "shift_jis" is read as CP932 (Windows-31J), the form Windows-based systems write:
    Python's strict Shift_JIS decodes some bytes to other characters and rejects NEC and IBM extensions."""
    key_column: Str
    """The column that identifies a record (1-128 letters, digits, '.', '_' or '-'); it names objects and appears
    in access logs, so it must not be personal data."""
    columns: Annotated[dict[Str, Column], Field(min_length=1)]
    """Every column of the dataset; a column not declared here is refused, never stored."""
    formula_guard: Literal["neutralize", "reject"] = "neutralize"
    """Text that a spreadsheet would run as a formula (starting with = + - @, a tab or a carriage return):
    "neutralize" prefixes it with an apostrophe in what subscribers receive, "reject" refuses the batch."""

    @model_validator(mode="before")
    @classmethod
    def _columns_are_tables(cls, data: Any) -> Any:
        if isinstance(data, dict) and isinstance(data.get("columns"), dict):
            bare = [name for name, value in data["columns"].items() if isinstance(value, str)]
            if bare:
                raise ValueError(
                    f"columns {', '.join(bare)}: write each column as a table, e.g. "
                    f'{bare[0]} = {{ type = "{data["columns"][bare[0]]}", lake = "keep" | "pseudonymize" | "drop" }} '
                    "(and personal = false for data that is not personal)"
                )
        return data


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
    """The exchange bucket, which holds data in transit between systems (the data lake keeps what was accepted)."""

    delivery_days: Annotated[Int, Field(ge=1, le=90)] = 14
    """Uploads waiting in the inbox, and what subscribers receive (outbox files, API records), are deleted after
    this many days: as long as a subscriber's dead-letter queue keeps the notice of a batch."""
    quarantine_days: Annotated[Int, Field(ge=1, le=365)] = 30
    """Refused batches, kept for investigation with their reason."""
    manifest_days: Annotated[Int, Field(ge=1, le=3650)] = 400
    """Batch manifests (counts, object names and states, no personal data): a retry within this many days returns
    the batch's first result instead of accepting it twice."""
    noncurrent_expire_after_days: Annotated[Int, Field(ge=1, le=30)] = 1
    """Replaced or deleted versions (a consumed upload, for example) are deleted after this many days."""
    api_max_bytes: Annotated[Int, Field(ge=1024, le=6_000_000)] = 1_048_576
    """Largest API request body; larger requests are answered 413 (send a file instead). Lambda accepts at most
    6 MB per synchronous request."""
    malware_protection: Bool = True
    """GuardDuty Malware Protection for S3 scans every upload to the inbox before it is read; a file with a threat
    (or one that cannot be scanned) is quarantined and its producer notified."""


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
        yield from _column_checks(key, dataset)
    if link.exchange.manifest_days < link.exchange.delivery_days:
        yield Problem(
            "linkage.exchange.manifest_days",
            link.exchange.manifest_days,
            f"must be at least delivery_days ({link.exchange.delivery_days}): a retry of a batch still being "
            "delivered must find its manifest, or it would be accepted twice",
        )


def _column_checks(key: str, dataset: DatasetSettings) -> Iterator[Problem]:
    """What reaches the data lake is declared per column, and personal data reaches it as sent only for a reason."""
    if dataset.key_column not in dataset.columns:
        yield Problem(
            f"{key}.key_column",
            dataset.key_column,
            f"not a column of the dataset; columns: {', '.join(dataset.columns)}",
        )
    elif dataset.columns[dataset.key_column].personal:
        yield Problem(
            f"{key}.columns.{dataset.key_column}.personal",
            MISSING,
            "the key column names objects and appears in access logs: it must not be personal data (a record "
            "number, not a resident code); write personal = false if it is not",
        )
    for name, column in dataset.columns.items():
        where = f"{key}.columns.{name}"
        if column.personal and column.lake == "keep" and not column.keep_reason:
            yield Problem(
                f"{where}.keep_reason",
                MISSING,
                'personal data reaches the data lake only pseudonymized or not at all: write lake = "pseudonymize" '
                'or "drop", or say in keep_reason why the data lake needs it as sent',
            )
        if column.keep_reason and not (column.personal and column.lake == "keep"):
            yield Problem(
                f"{where}.keep_reason",
                column.keep_reason,
                "only a personal column kept as sent takes a reason; remove it",
            )


def handler_datasets(cfg: Config) -> str:
    """The datasets as the linkage handlers read them (their ``DATASETS`` environment variable): schema, producer,
    subscribers and the roles each system calls with."""
    from govcloud.naming import linkage_caller_role_arns  # noqa: PLC0415 - naming reads config models

    return json.dumps(
        [
            {
                "name": name,
                "producer": d.producer,
                "subscribers": list(d.subscribers),
                "format": d.format,
                "encoding": d.encoding,
                "key_column": d.key_column,
                "columns": [{"name": c, "type": col.type, "lake": col.lake} for c, col in d.columns.items()],
                "formula_guard": d.formula_guard,
                "roles": {s: linkage_caller_role_arns(cfg, s) for s in (d.producer, *d.subscribers)},
            }
            for name, d in sorted(cfg.linkage.datasets.items())
        ],
        ensure_ascii=False,
        sort_keys=True,
    )
