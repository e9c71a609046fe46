"""Data linkage platform (データ連携基盤): the code behind the private API and the file exchange.

Two Lambda handlers share one pipeline (``linkage_platform``): check a batch against its dataset's schema, give
subscribers every column (text made safe for spreadsheets), give the data lake raw zone only what the dataset
declares for it (pseudonymized or kept; dropped columns never), and tell the subscribers. A batch is all or
nothing and is accepted once (see ``linkage_platform.batches``); anything invalid goes to a quarantine prefix with
a reason that names a row, a column and what was expected, never a value. Logs carry the same and nothing more.

The datasets come with the code (``datasets.json`` beside this module, written at synth from the config: see
``linkage_platform.schema.Dataset``); the rest from the function's environment: ``EXCHANGE_BUCKET``,
``RAW_BUCKET``, ``INGESTION_ROLE_ARN``, ``MAC_KEY_ID``, ``EVENT_BUS``, ``API_MAX_BYTES``, ``MALWARE_SCAN``
(``on`` or ``off``).
"""

from __future__ import annotations

import base64
import datetime as dt
import functools
import hashlib
import json
import logging
import os
from pathlib import Path
from typing import Any

from linkage_platform.batches import (
    ACCEPTED,
    EVENT_SOURCE,
    Batch,
    Clients,
    Conflict,
    Settings,
    batch_id,
    error_code,
    process,
)
from linkage_platform.pseudonym import Pseudonymizer
from linkage_platform.schema import Dataset, load_datasets
from linkage_platform.sources import ApiSource, FileSource
from linkage_platform.values import is_key

__all__ = ["ACCEPTED", "EVENT_SOURCE", "Clients", "Settings", "api_handler", "file_handler", "load_datasets"]

LOG = logging.getLogger()
LOG.setLevel(logging.INFO)
# The AWS SDK logs request bodies at DEBUG: never, whatever the function's log level.
for _name in ("boto3", "botocore", "urllib3", "s3transfer"):
    logging.getLogger(_name).setLevel(logging.WARNING)

SCAN_RESULT = "GuardDuty Malware Protection Object Scan Result"
SCAN_TAG = "GuardDutyMalwareScanStatus"
CLEAN = "NO_THREATS_FOUND"
DEFAULT_API_MAX_BYTES = 1_048_576


def _log(event: str, **fields: Any) -> None:
    """One JSON line per outcome: names, counts and reasons only (the reasons hold no input value)."""
    LOG.info(json.dumps({"event": event, **fields}, ensure_ascii=False, sort_keys=True))


def _log_failure(what: str, error: BaseException) -> None:
    """A failure without its message: an exception's text can quote the data it failed on."""
    LOG.error(json.dumps({"event": f"{what} failed", "error": type(error).__name__, "code": error_code(error)}))


def _pseudonymizer(clients: Clients, settings: Settings) -> Any:
    return lambda: Pseudonymizer(clients.kms, settings.mac_key_id)


# ----- API handler (API Gateway proxy integration, IAM authorization) -----


def _response(status: int, body: dict[str, Any]) -> dict[str, Any]:
    return {
        "statusCode": status,
        "headers": {"Content-Type": "application/json"},
        "body": json.dumps(body, ensure_ascii=False),
    }


def _idempotency_key(event: dict[str, Any]) -> str | None:
    headers = {str(k).lower(): v for k, v in (event.get("headers") or {}).items()}
    key = headers.get("idempotency-key")
    if isinstance(key, str) and 0 < len(key) <= 128 and key.isascii() and key.isprintable() and " " not in key:
        return key
    return None


def _body(event: dict[str, Any]) -> bytes:
    body = event.get("body") or ""
    return base64.b64decode(body) if event.get("isBase64Encoded") else body.encode("utf-8")


def handle_api(
    event: dict[str, Any], datasets: dict[str, Dataset], clients: Clients, settings: Settings, today: dt.date
) -> dict[str, Any]:
    params = event.get("pathParameters") or {}
    caller = ((event.get("requestContext") or {}).get("identity") or {}).get("userArn") or ""
    dataset = datasets.get(params.get("dataset", ""))
    if dataset is None:
        return _response(404, {"error": "no such dataset"})
    system = dataset.system_of(caller)
    method = event.get("httpMethod")
    if method == "POST":
        if system != dataset.producer:
            return _response(403, {"error": f"only the producer {dataset.producer!r} may post to {dataset.name!r}"})
        return _post(event, dataset, system, clients, settings, today)
    if method == "GET":
        if system not in dataset.subscribers:
            return _response(403, {"error": f"only subscribers of {dataset.name!r} may read it"})
        return _get(params.get("id", ""), dataset, clients, settings)
    return _response(405, {"error": "method not allowed"})


def _post(
    event: dict[str, Any], dataset: Dataset, producer: str, clients: Clients, settings: Settings, today: dt.date
) -> dict[str, Any]:
    body = _body(event)
    if len(body) > settings.api_max_bytes:
        return _response(
            413,
            {
                "error": f"the request has {len(body)} bytes, more than the {settings.api_max_bytes} one request may "
                "carry: split the batch, or upload it as a file to the inbox"
            },
        )
    key = _idempotency_key(event)
    if key is None:
        return _response(
            400,
            {
                "error": "an Idempotency-Key header is required (1-128 printable ASCII characters, no spaces): the "
                "same key on a retry returns the first result instead of accepting the batch twice"
            },
        )
    batch = Batch(
        dataset=dataset,
        id=batch_id("api", dataset.name, producer, key),
        producer=producer,
        fingerprint=hashlib.sha256(body).hexdigest(),
    )
    try:
        result = process(batch, ApiSource(dataset, body), _pseudonymizer(clients, settings), clients, settings, today)
    except Conflict as conflict:
        return _response(409, {"error": str(conflict)})
    _log("batch", **_summary(result))
    if result["status"] == "quarantined":
        return _response(422, {"error": result["reason"], "batch": batch.id, "quarantined": result["quarantined"]})
    return _response(202, result)


def _get(record_id: str, dataset: Dataset, clients: Clients, settings: Settings) -> dict[str, Any]:
    if not is_key(record_id):
        return _response(400, {"error": "invalid record id: 1-128 letters, digits, '.', '_' or '-'"})
    try:
        obj = clients.s3.get_object(Bucket=settings.exchange_bucket, Key=f"records/{dataset.name}/{record_id}.json")
    except Exception as error:
        if error_code(error) == "NoSuchKey":
            return _response(404, {"error": f"no such record in {dataset.name!r}"})
        raise
    return _response(200, json.loads(obj["Body"].read()))


def _summary(result: dict[str, Any]) -> dict[str, Any]:
    keys = ("status", "dataset", "batch", "accepted", "reason", "replayed")
    return {k: result[k] for k in keys if k in result}


# ----- file handler (an inbox upload, via EventBridge: scanned first when malware protection is on) -----


def _file_of(event: dict[str, Any]) -> tuple[str, str | None, str | None]:
    """The object key, its version and, for a scan result, why it may not be read (None: it may)."""
    detail = event.get("detail") or {}
    if event.get("detail-type") == SCAN_RESULT:
        obj = detail.get("s3ObjectDetails") or {}
        result = detail.get("scanResultDetails") or {}
        status = result.get("scanResultStatus") or detail.get("scanStatus") or "UNKNOWN"
        refusal = None
        if detail.get("scanStatus") != "COMPLETED" or status != CLEAN:
            threats = sorted({t.get("name", "") for t in result.get("threats") or [] if isinstance(t, dict)})
            found = f" ({', '.join(t for t in threats if t)})" if any(threats) else ""
            refusal = f"the malware scan did not find the file clean: {status}{found}"
        return obj.get("objectKey", ""), obj.get("versionId"), refusal
    obj = detail.get("object") or {}
    return obj.get("key", ""), obj.get("version-id"), None


def _is_safe_name(part: str) -> bool:
    return is_key(part) and part not in (".", "..")


def handle_file(
    event: dict[str, Any], datasets: dict[str, Dataset], clients: Clients, settings: Settings, today: dt.date
) -> dict[str, Any]:
    """A producer uploads ``inbox/<dataset>/<producer>/<file>``; the bucket policy lets each producer write only
    into its own folders. The file is checked and accepted or quarantined, and then removed from the inbox."""
    key, version, refusal = _file_of(event)
    scanned = event.get("detail-type") == SCAN_RESULT
    if settings.malware_scan and not scanned:
        _log("ignored", reason="files are read only after their malware scan; this event is not a scan result")
        return {"status": "ignored"}
    parts = key.split("/")
    dataset = datasets.get(parts[1]) if len(parts) == 4 and parts[0] == "inbox" else None
    producer = parts[2] if len(parts) == 4 else ""
    if len(parts) != 4 or parts[0] != "inbox" or not all(_is_safe_name(p) for p in parts):
        refusal = (
            "unexpected object name: expected inbox/<dataset>/<producer>/<file>, each of letters, digits, '.', '_' "
            "or '-'"
        )
        dataset = None
    elif dataset is None:
        refusal = "the folder names no dataset of the platform"
    elif producer != dataset.producer:
        refusal = f"only the producer {dataset.producer!r} may send files of {dataset.name!r}"
    elif refusal is None and settings.malware_scan and not _tagged_clean(clients, settings, key, version):
        refusal = f"the object does not carry the malware scan tag {SCAN_TAG}={CLEAN}"
    batch = Batch(
        dataset=dataset,
        id=batch_id("file", key, version or ""),
        producer=producer if dataset else "",
        fingerprint=f"{key}#{version or ''}",
    )
    source = FileSource(clients.s3, settings.exchange_bucket, key, version, dataset)
    result = process(batch, source, _pseudonymizer(clients, settings), clients, settings, today, refuse=refusal)
    _consume(clients, settings, key, version)
    _log("batch", **_summary(result))
    return result


def _tagged_clean(clients: Clients, settings: Settings, key: str, version: str | None) -> bool:
    """The scan result as GuardDuty tagged the object itself (an event alone is not trusted)."""
    tags = clients.s3.get_object_tagging(
        Bucket=settings.exchange_bucket, Key=key, **({"VersionId": version} if version else {})
    )["TagSet"]
    return {t["Key"]: t["Value"] for t in tags}.get(SCAN_TAG) == CLEAN


def _consume(clients: Clients, settings: Settings, key: str, version: str | None) -> None:
    """Removes the upload: its version itself, so that no copy of the personal data waits for the lifecycle."""
    clients.s3.delete_object(Bucket=settings.exchange_bucket, Key=key, **({"VersionId": version} if version else {}))


# ----- Lambda entry points -----


DATASETS_FILE = Path(__file__).with_name("datasets.json")


@functools.cache
def _datasets() -> dict[str, Dataset]:
    return load_datasets(DATASETS_FILE.read_text(encoding="utf-8"))


def _settings() -> Settings:
    return Settings(
        exchange_bucket=os.environ["EXCHANGE_BUCKET"],
        raw_bucket=os.environ["RAW_BUCKET"],
        mac_key_id=os.environ["MAC_KEY_ID"],
        event_bus=os.environ["EVENT_BUS"],
        api_max_bytes=int(os.environ.get("API_MAX_BYTES", DEFAULT_API_MAX_BYTES)),
        malware_scan=os.environ.get("MALWARE_SCAN", "off") == "on",
    )


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
        return handle_api(event, _datasets(), _clients(), _settings(), dt.date.today())
    except Exception as error:  # the caller gets an error, never a silent loss
        _log_failure("API request", error)
        return _response(
            500,
            {
                "error": "internal error; nothing was delivered to subscribers. Retry with the same Idempotency-Key: "
                "a batch is accepted once"
            },
        )


class FileBatchFailed(Exception):
    """Raised (without the original message) so that Lambda retries the event and then sends it to the DLQ."""


def file_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    try:
        return handle_file(event, _datasets(), _clients(), _settings(), dt.date.today())
    except Exception as error:
        _log_failure("file batch", error)
        raise FileBatchFailed(type(error).__name__) from None
