"""Data linkage platform (データ連携基盤): the code behind the private API and the file exchange.

Two Lambda handlers share one pipeline: validate a batch against its dataset, keep the original for the
subscribers, pseudonymize the identifier columns with a keyed hash whose key never leaves KMS (``GenerateMac``,
HMAC-SHA-256: the same resident always maps to the same token, and nobody can reverse it), write the result into
the data lake raw zone (partitioned by dataset and date) through the data lake's ingestion role, and publish an
event. Anything invalid goes to a quarantine prefix with its reason: nothing is lost, nothing bad flows on.

Configuration comes from the function's environment (this module runs in Lambda, not at synth time):
``DATASETS`` (JSON, see :class:`Dataset`), ``EXCHANGE_BUCKET``, ``RAW_BUCKET``, ``INGESTION_ROLE_ARN``,
``MAC_KEY_ID``, ``EVENT_BUS``.
"""

from __future__ import annotations

import base64
import csv
import datetime as dt
import io
import json
import logging
import os
import re
import uuid
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

LOG = logging.getLogger()
LOG.setLevel(logging.INFO)

EVENT_SOURCE = "govcloud.linkage"
ACCEPTED = "DatasetRecordsAccepted"
QUARANTINE_PREFIX = "quarantine"
INBOX_PREFIX = "inbox"
RECORDS_PREFIX = "records"
OUTBOX_PREFIX = "outbox"


class Rejected(Exception):
    """The whole request or file is refused or quarantined; ``status`` is the HTTP status for API callers."""

    def __init__(self, reason: str, status: int = 400) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status


@dataclass(frozen=True)
class Dataset:
    name: str
    producer: str
    subscribers: tuple[str, ...]
    format: str  # "json" | "csv"
    encoding: str  # "utf-8" | "cp932" | "shift_jis"
    key_column: str
    columns: dict[str, str]  # column -> type: string | integer | decimal | date
    identifiers: tuple[str, ...] = ()
    roles: dict[str, tuple[str, ...]] = field(default_factory=dict)  # system -> caller role ARNs

    @staticmethod
    def from_json(data: dict[str, Any]) -> Dataset:
        return Dataset(
            name=data["name"],
            producer=data["producer"],
            subscribers=tuple(data["subscribers"]),
            format=data["format"],
            encoding=data.get("encoding", "utf-8"),
            key_column=data["key_column"],
            columns=dict(data["columns"]),
            identifiers=tuple(data.get("identifiers", ())),
            roles={k: tuple(v) for k, v in data.get("roles", {}).items()},
        )

    def system_of(self, caller_arn: str) -> str | None:
        """The system whose role made the call (an assumed-role session ARN maps to its role)."""
        match = re.match(r"^arn:aws:sts::(\d{12}):assumed-role/([^/]+)/", caller_arn)
        role_arn = f"arn:aws:iam::{match.group(1)}:role/{match.group(2)}" if match else caller_arn
        for system, arns in self.roles.items():
            if role_arn in arns:
                return system
        return None


def load_datasets(raw: str) -> dict[str, Dataset]:
    return {d["name"]: Dataset.from_json(d) for d in json.loads(raw)}


# ----- validation -----


def _is_date(value: str) -> bool:
    try:
        dt.date.fromisoformat(value)
    except ValueError:
        return False
    return True


def _is_decimal(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    try:
        Decimal(str(value))
    except InvalidOperation:
        return False
    return True


CHECKS = {
    "string": lambda v: isinstance(v, str) and v != "",
    "integer": lambda v: (
        (isinstance(v, int) and not isinstance(v, bool))
        or (isinstance(v, str) and re.fullmatch(r"-?\d+", v) is not None)
    ),
    "date": lambda v: isinstance(v, str) and _is_date(v),
    "decimal": _is_decimal,
}


def validate(dataset: Dataset, records: list[Any]) -> list[dict[str, Any]]:
    """Every record must be an object with every column of the dataset, each of its type. All or nothing:
    a batch with one bad record is quarantined whole, so a subscriber never sees half a batch."""
    if not isinstance(records, list) or not records:
        raise Rejected("the batch must be a non-empty list of records")
    for i, record in enumerate(records):
        if not isinstance(record, dict):
            raise Rejected(f"record {i}: not an object")
        missing = [c for c in dataset.columns if c not in record]
        if missing:
            raise Rejected(f"record {i}: missing column(s) {', '.join(missing)}")
        for column, kind in dataset.columns.items():
            if not CHECKS[kind](record[column]):
                raise Rejected(f"record {i}: column {column!r} is not a valid {kind}: {record[column]!r}")
        if not re.fullmatch(r"[\w.-]{1,128}", str(record[dataset.key_column])):
            raise Rejected(
                f"record {i}: key column {dataset.key_column!r} must be 1-128 letters, digits, '.', '_' or '-'"
            )
    return records


def decode_csv(dataset: Dataset, body: bytes) -> list[dict[str, Any]]:
    """Decode a CSV file in the dataset's encoding (CP932 / Shift_JIS files are common between packaged systems)."""
    try:
        text = body.decode(dataset.encoding)
    except UnicodeDecodeError as error:
        raise Rejected(f"not valid {dataset.encoding}: byte {error.start} cannot be decoded") from None
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    header = reader.fieldnames or []
    missing = [c for c in dataset.columns if c not in header]
    if missing:
        raise Rejected(f"missing column(s) {', '.join(missing)} in the header {header}")
    return [dict(row) for row in reader]


# ----- pseudonymization -----


class Pseudonymizer:
    """Tokens from KMS GenerateMac (HMAC-SHA-256 key that never leaves KMS); cached per batch."""

    def __init__(self, kms: Any, key_id: str) -> None:
        self._kms = kms
        self._key_id = key_id
        self._cache: dict[str, str] = {}

    def token(self, value: str) -> str:
        if value not in self._cache:
            mac = self._kms.generate_mac(
                KeyId=self._key_id, MacAlgorithm="HMAC_SHA_256", Message=value.encode("utf-8")
            )["Mac"]
            self._cache[value] = base64.urlsafe_b64encode(mac).decode().rstrip("=")
        return self._cache[value]

    def apply(self, dataset: Dataset, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [
            {k: (self.token(str(v)) if k in dataset.identifiers else v) for k, v in record.items()}
            for record in records
        ]


# ----- the pipeline -----


@dataclass
class Clients:
    s3: Any
    raw_s3: Any
    kms: Any
    events: Any


@dataclass(frozen=True)
class Settings:
    exchange_bucket: str
    raw_bucket: str
    mac_key_id: str
    event_bus: str

    @staticmethod
    def from_env() -> Settings:
        return Settings(
            exchange_bucket=os.environ["EXCHANGE_BUCKET"],
            raw_bucket=os.environ["RAW_BUCKET"],
            mac_key_id=os.environ["MAC_KEY_ID"],
            event_bus=os.environ["EVENT_BUS"],
        )


def accept(
    dataset: Dataset,
    records: list[dict[str, Any]],
    batch_id: str,
    producer: str,
    clients: Clients,
    settings: Settings,
    today: dt.date,
) -> dict[str, Any]:
    """Keep the originals for subscribers, pseudonymized copies in the raw zone, and tell the subscribers."""
    lines = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records).encode("utf-8")
    clients.s3.put_object(
        Bucket=settings.exchange_bucket,
        Key=f"{OUTBOX_PREFIX}/{dataset.name}/{today.isoformat()}/{batch_id}.jsonl",
        Body=lines,
    )
    for record in records:
        clients.s3.put_object(
            Bucket=settings.exchange_bucket,
            Key=f"{RECORDS_PREFIX}/{dataset.name}/{record[dataset.key_column]}.json",
            Body=json.dumps(record, ensure_ascii=False).encode("utf-8"),
        )
    pseudonymized = Pseudonymizer(clients.kms, settings.mac_key_id).apply(dataset, records)
    raw = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in pseudonymized).encode("utf-8")
    raw_key = f"dataset={dataset.name}/date={today.isoformat()}/{batch_id}.jsonl"
    clients.raw_s3.put_object(Bucket=settings.raw_bucket, Key=raw_key, Body=raw)
    clients.events.put_events(
        Entries=[
            {
                "Source": EVENT_SOURCE,
                "DetailType": ACCEPTED,
                "EventBusName": settings.event_bus,
                "Detail": json.dumps(
                    {"dataset": dataset.name, "batch": batch_id, "producer": producer, "records": len(records)}
                ),
            }
        ]
    )
    return {"batch": batch_id, "accepted": len(records), "raw_key": raw_key}


def quarantine(
    dataset_name: str, body: bytes, reason: str, batch_id: str, clients: Clients, settings: Settings, today: dt.date
) -> str:
    prefix = f"{QUARANTINE_PREFIX}/{dataset_name}/{today.isoformat()}/{batch_id}"
    clients.s3.put_object(Bucket=settings.exchange_bucket, Key=f"{prefix}/payload", Body=body)
    clients.s3.put_object(
        Bucket=settings.exchange_bucket,
        Key=f"{prefix}/reason.json",
        Body=json.dumps({"dataset": dataset_name, "reason": reason}, ensure_ascii=False).encode("utf-8"),
    )
    return prefix


# ----- API handler (API Gateway proxy integration, IAM authorization) -----


def _response(status: int, body: dict[str, Any]) -> dict[str, Any]:
    return {
        "statusCode": status,
        "headers": {"Content-Type": "application/json"},
        "body": json.dumps(body, ensure_ascii=False),
    }


def handle_api(
    event: dict[str, Any], datasets: dict[str, Dataset], clients: Clients, settings: Settings, today: dt.date
) -> dict[str, Any]:
    name = (event.get("pathParameters") or {}).get("dataset", "")
    caller = ((event.get("requestContext") or {}).get("identity") or {}).get("userArn") or ""
    dataset = datasets.get(name)
    if dataset is None:
        return _response(404, {"error": f"unknown dataset {name!r}"})
    system = dataset.system_of(caller)
    method = event.get("httpMethod")
    if method == "POST":
        if system != dataset.producer:
            return _response(403, {"error": f"only the producer {dataset.producer!r} may post to {name!r}"})
        batch_id = str(uuid.uuid4())
        body = (event.get("body") or "").encode("utf-8")
        try:
            records = validate(dataset, json.loads(body or b"null"))
        except (Rejected, json.JSONDecodeError) as error:
            reason = error.reason if isinstance(error, Rejected) else f"not valid JSON: {error}"
            where = quarantine(name, body, reason, batch_id, clients, settings, today)
            return _response(422, {"error": reason, "quarantined": where})
        return _response(202, accept(dataset, records, batch_id, system, clients, settings, today))
    if method == "GET":
        if system not in dataset.subscribers:
            return _response(403, {"error": f"only subscribers of {name!r} may read it"})
        record_id = (event.get("pathParameters") or {}).get("id", "")
        if not re.fullmatch(r"[\w.-]{1,128}", record_id):
            return _response(400, {"error": "invalid record id"})
        try:
            obj = clients.s3.get_object(
                Bucket=settings.exchange_bucket, Key=f"{RECORDS_PREFIX}/{name}/{record_id}.json"
            )
        except clients.s3.exceptions.NoSuchKey:
            return _response(404, {"error": f"no record {record_id!r} in {name!r}"})
        return _response(200, json.loads(obj["Body"].read()))
    return _response(405, {"error": "method not allowed"})


# ----- file handler (S3 object created in the exchange bucket, via EventBridge) -----


def handle_file(
    event: dict[str, Any], datasets: dict[str, Dataset], clients: Clients, settings: Settings, today: dt.date
) -> dict[str, Any]:
    """A producer uploads ``inbox/<dataset>/<producer>/<file>``; the file is decoded, validated, accepted or
    quarantined. The producer is the folder, and the bucket policy lets each producer write only its own."""
    key = event["detail"]["object"]["key"]
    parts = key.split("/")
    batch_id = str(uuid.uuid4())
    body = clients.s3.get_object(Bucket=settings.exchange_bucket, Key=key)["Body"].read()
    if len(parts) != 4 or parts[0] != INBOX_PREFIX:
        where = quarantine(
            "unknown",
            body,
            f"unexpected key {key!r}; expected inbox/<dataset>/<producer>/<file>",
            batch_id,
            clients,
            settings,
            today,
        )
        return {"status": "quarantined", "where": where}
    _, name, producer, _ = parts
    dataset = datasets.get(name)
    try:
        if dataset is None:
            raise Rejected(f"unknown dataset {name!r}")
        if producer != dataset.producer:
            raise Rejected(f"{producer!r} is not the producer of {name!r}")
        records = decode_csv(dataset, body) if dataset.format == "csv" else json.loads(body.decode("utf-8"))
        validate(dataset, records)
    except (Rejected, json.JSONDecodeError, UnicodeDecodeError) as error:
        reason = error.reason if isinstance(error, Rejected) else str(error)
        where = quarantine(name, body, reason, batch_id, clients, settings, today)
        clients.s3.delete_object(Bucket=settings.exchange_bucket, Key=key)
        return {"status": "quarantined", "where": where, "reason": reason}
    result = accept(dataset, records, batch_id, producer, clients, settings, today)
    clients.s3.delete_object(Bucket=settings.exchange_bucket, Key=key)
    return {"status": "accepted", **result}


# ----- Lambda entry points -----


def _clients() -> Clients:
    import boto3  # noqa: PLC0415 - imported in Lambda only

    sts = boto3.client("sts")
    creds = sts.assume_role(RoleArn=os.environ["INGESTION_ROLE_ARN"], RoleSessionName="linkage")["Credentials"]
    raw_s3 = boto3.client(
        "s3",
        aws_access_key_id=creds["AccessKeyId"],
        aws_secret_access_key=creds["SecretAccessKey"],
        aws_session_token=creds["SessionToken"],
    )
    return Clients(s3=boto3.client("s3"), raw_s3=raw_s3, kms=boto3.client("kms"), events=boto3.client("events"))


def api_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    try:
        return handle_api(
            event, load_datasets(os.environ["DATASETS"]), _clients(), Settings.from_env(), dt.date.today()
        )
    except Exception:  # the caller gets an error, never a silent loss
        LOG.exception("API request failed")
        return _response(500, {"error": "internal error; the request was not accepted"})


def file_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    # Failures raise: EventBridge invokes asynchronously, so Lambda retries and then sends the event to the DLQ.
    result = handle_file(event, load_datasets(os.environ["DATASETS"]), _clients(), Settings.from_env(), dt.date.today())
    LOG.info(json.dumps(result, ensure_ascii=False))
    return result
