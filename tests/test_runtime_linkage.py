"""Linkage handlers against moto: every input ends in exactly one place (raw zone, quarantine, refusal)."""

from __future__ import annotations

import base64
import datetime as dt
import json

import boto3
import linkage  # the function's folder, as Lambda loads it (tests/conftest.py)
import pytest
from moto import mock_aws

TODAY = dt.date(2026, 11, 27)
RR_ROLE = "arn:aws:iam::111100000003:role/kobe-stg-rr-app"
TAX_ROLE = "arn:aws:iam::111100000006:role/kobe-stg-tax-app"
DATASETS = [
    {
        "name": "resident-moves",
        "producer": "resident-registry",
        "subscribers": ["tax"],
        "format": "json",
        "key_column": "record_id",
        "columns": {
            "record_id": "string",
            "resident_code": "string",
            "name": "string",
            "moved_on": "date",
            "household_size": "integer",
        },
        "identifiers": ["resident_code", "name"],
        "roles": {"resident-registry": [RR_ROLE], "tax": [TAX_ROLE]},
    },
    {
        "name": "resident-list",
        "producer": "resident-registry",
        "subscribers": ["tax"],
        "format": "csv",
        "encoding": "cp932",
        "key_column": "record_id",
        "columns": {"record_id": "string", "氏名": "string", "住所": "string"},
        "identifiers": ["氏名"],
        "roles": {"resident-registry": [RR_ROLE], "tax": [TAX_ROLE]},
    },
    {
        "name": "utf8-list",
        "producer": "resident-registry",
        "subscribers": ["tax"],
        "format": "csv",
        "encoding": "utf-8",
        "key_column": "record_id",
        "columns": {"record_id": "string", "氏名": "string"},
        "roles": {"resident-registry": [RR_ROLE], "tax": [TAX_ROLE]},
    },
]


@pytest.fixture
def env(monkeypatch):
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.setenv(key, "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "ap-northeast-1")
    with mock_aws():
        region = "ap-northeast-1"
        s3 = boto3.client("s3", region_name=region)
        for bucket in ("exchange", "raw"):
            s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": region})
        kms = boto3.client("kms", region_name=region)
        key = kms.create_key(KeySpec="HMAC_256", KeyUsage="GENERATE_VERIFY_MAC")["KeyMetadata"]["KeyId"]
        events = boto3.client("events", region_name=region)
        events.create_event_bus(Name="linkage")
        sqs = boto3.client("sqs", region_name=region)
        queue = sqs.create_queue(QueueName="tax")["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        events.put_rule(
            Name="moves-to-tax", EventBusName="linkage", EventPattern=json.dumps({"source": [linkage.EVENT_SOURCE]})
        )
        events.put_targets(Rule="moves-to-tax", EventBusName="linkage", Targets=[{"Id": "tax", "Arn": queue_arn}])
        clients = linkage.Clients(s3=s3, raw_s3=s3, kms=kms, events=events)
        settings = linkage.Settings(exchange_bucket="exchange", raw_bucket="raw", mac_key_id=key, event_bus="linkage")
        yield {"clients": clients, "settings": settings, "s3": s3, "sqs": sqs, "queue": queue, "kms": kms, "key": key}


def keys(s3, bucket: str) -> list[str]:
    return sorted(o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", []))


def body(s3, bucket: str, key: str) -> bytes:
    return s3.get_object(Bucket=bucket, Key=key)["Body"].read()


def api(env, method: str, dataset: str, caller: str, payload=None, record_id: str | None = None) -> dict:
    event = {
        "httpMethod": method,
        "pathParameters": {"dataset": dataset, **({"id": record_id} if record_id else {})},
        "requestContext": {"identity": {"userArn": caller}},
        "body": None
        if payload is None
        else (payload if isinstance(payload, str) else json.dumps(payload, ensure_ascii=False)),
    }
    datasets = linkage.load_datasets(json.dumps(DATASETS))
    response = linkage.handle_api(event, datasets, env["clients"], env["settings"], TODAY)
    return {"status": response["statusCode"], **json.loads(response["body"])}


def file(env, key: str, content: bytes) -> dict:
    env["s3"].put_object(Bucket="exchange", Key=key, Body=content)
    event = {"detail": {"bucket": {"name": "exchange"}, "object": {"key": key}}}
    return linkage.handle_file(
        event, linkage.load_datasets(json.dumps(DATASETS)), env["clients"], env["settings"], TODAY
    )


MOVES = [
    {
        "record_id": "m-001",
        "resident_code": "12345678901",
        "name": "神戸 太郎",
        "moved_on": "2026-11-20",
        "household_size": 3,
    },
    {
        "record_id": "m-002",
        "resident_code": "12345678902",
        "name": "神戸 花子",
        "moved_on": "2026-11-21",
        "household_size": 1,
    },
]


def expected_token(env, value: str) -> str:
    mac = env["kms"].generate_mac(KeyId=env["key"], MacAlgorithm="HMAC_SHA_256", Message=value.encode())["Mac"]
    return base64.urlsafe_b64encode(mac).decode().rstrip("=")


def test_valid_json_batch_reaches_the_raw_zone_pseudonymized(env) -> None:
    result = api(env, "POST", "resident-moves", "arn:aws:sts::111100000003:assumed-role/kobe-stg-rr-app/session", MOVES)
    assert result["status"] == 202 and result["accepted"] == 2
    (raw_key,) = keys(env["s3"], "raw")
    assert raw_key.startswith("dataset=resident-moves/date=2026-11-27/") and raw_key == result["raw_key"]
    stored = [json.loads(line) for line in body(env["s3"], "raw", raw_key).decode().splitlines()]
    assert [r["record_id"] for r in stored] == ["m-001", "m-002"]
    for original, row in zip(MOVES, stored, strict=True):
        assert row["resident_code"] == expected_token(env, original["resident_code"]) != original["resident_code"]
        assert row["name"] == expected_token(env, original["name"])
        assert row["moved_on"] == original["moved_on"]  # not an identifier: unchanged
    assert "神戸" not in body(env["s3"], "raw", raw_key).decode()
    messages = env["sqs"].receive_message(QueueUrl=env["queue"], MaxNumberOfMessages=10)["Messages"]
    detail = json.loads(messages[0]["Body"])["detail"]
    assert detail == {
        "dataset": "resident-moves",
        "batch": result["batch"],
        "producer": "resident-registry",
        "records": 2,
    }


def test_same_input_gives_the_same_token(env) -> None:
    api(env, "POST", "resident-moves", RR_ROLE, MOVES)
    api(env, "POST", "resident-moves", RR_ROLE, MOVES[:1])
    tokens = [
        json.loads(body(env["s3"], "raw", k).decode().splitlines()[0])["resident_code"] for k in keys(env["s3"], "raw")
    ]
    assert len(tokens) == 2 and tokens[0] == tokens[1]


def test_subscriber_reads_the_original_and_others_are_refused(env) -> None:
    api(env, "POST", "resident-moves", RR_ROLE, MOVES)
    record = api(env, "GET", "resident-moves", TAX_ROLE, record_id="m-001")
    assert record["status"] == 200 and record["name"] == "神戸 太郎"  # subscribers get the real data
    assert (
        api(env, "GET", "resident-moves", RR_ROLE, record_id="m-001")["status"] == 403
    )  # the producer is no subscriber
    assert api(env, "GET", "resident-moves", TAX_ROLE, record_id="m-999")["status"] == 404
    assert api(env, "GET", "resident-moves", TAX_ROLE, record_id="../x")["status"] == 400


def test_producer_posting_to_a_dataset_it_does_not_own_is_refused(env) -> None:
    result = api(env, "POST", "resident-moves", TAX_ROLE, MOVES)
    assert result["status"] == 403 and "only the producer" in result["error"]
    assert keys(env["s3"], "raw") == [] and keys(env["s3"], "exchange") == []  # refused: nothing stored


def test_unknown_dataset_is_refused(env) -> None:
    assert api(env, "POST", "no-such-data", RR_ROLE, MOVES)["status"] == 404
    assert keys(env["s3"], "raw") == []


def test_missing_column_is_quarantined_with_its_reason(env) -> None:
    bad = [dict(MOVES[0]), {k: v for k, v in MOVES[1].items() if k != "moved_on"}]
    result = api(env, "POST", "resident-moves", RR_ROLE, bad)
    assert result["status"] == 422 and "record 1: missing column(s) moved_on" in result["error"]
    assert keys(env["s3"], "raw") == []
    stored = keys(env["s3"], "exchange")
    assert stored == [f"{result['quarantined']}/payload", f"{result['quarantined']}/reason.json"]
    assert json.loads(body(env["s3"], "exchange", stored[0])) == bad  # nothing lost
    assert "moved_on" in json.loads(body(env["s3"], "exchange", stored[1]))["reason"]


def test_wrong_type_is_quarantined(env) -> None:
    bad = [{**MOVES[0], "household_size": "three"}]
    result = api(env, "POST", "resident-moves", RR_ROLE, bad)
    assert result["status"] == 422 and "household_size" in result["error"]


CSV_CP932 = "record_id,氏名,住所\r\nr-1,神戸 太郎,神戸市中央区加納町6-5-1\r\nr-2,山田 花子,神戸市東灘区住吉東町5-2-1\r\n".encode(
    "cp932"
)


def test_cp932_csv_is_decoded_stored_as_utf8_and_pseudonymized(env) -> None:
    result = file(env, "inbox/resident-list/resident-registry/list.csv", CSV_CP932)
    assert result["status"] == "accepted" and result["accepted"] == 2
    (raw_key,) = keys(env["s3"], "raw")
    rows = [json.loads(line) for line in body(env["s3"], "raw", raw_key).decode("utf-8").splitlines()]
    assert rows[0]["住所"] == "神戸市中央区加納町6-5-1"  # decoded from CP932, stored as UTF-8
    assert rows[0]["氏名"] == expected_token(env, "神戸 太郎")
    outbox = [k for k in keys(env["s3"], "exchange") if k.startswith("outbox/")]
    assert "山田 花子" in body(env["s3"], "exchange", outbox[0]).decode("utf-8")
    assert not [k for k in keys(env["s3"], "exchange") if k.startswith("inbox/")]  # consumed


def test_wrong_encoding_is_quarantined(env) -> None:
    result = file(
        env, "inbox/utf8-list/resident-registry/list.csv", "record_id,氏名\r\nr-1,神戸 太郎\r\n".encode("cp932")
    )
    assert result["status"] == "quarantined" and "not valid utf-8" in result["reason"]
    assert keys(env["s3"], "raw") == []
    payload = [k for k in keys(env["s3"], "exchange") if k.endswith("/payload")]
    assert body(env["s3"], "exchange", payload[0]) == "record_id,氏名\r\nr-1,神戸 太郎\r\n".encode("cp932")


def test_csv_missing_column_and_unknown_dataset_and_wrong_producer_are_quarantined(env) -> None:
    missing = file(env, "inbox/resident-list/resident-registry/a.csv", "record_id,氏名\r\nr-1,神戸\r\n".encode("cp932"))
    assert missing["status"] == "quarantined" and "missing column(s) 住所" in missing["reason"]
    unknown = file(env, "inbox/no-such/resident-registry/b.csv", b"x")
    assert unknown["status"] == "quarantined" and "unknown dataset" in unknown["reason"]
    wrong = file(env, "inbox/resident-list/tax/c.csv", CSV_CP932)
    assert wrong["status"] == "quarantined" and "'tax' is not the producer" in wrong["reason"]
    assert keys(env["s3"], "raw") == []
    assert len([k for k in keys(env["s3"], "exchange") if k.endswith("/reason.json")]) == 3


def test_api_handler_answers_errors_instead_of_losing_them(monkeypatch) -> None:
    monkeypatch.setenv("DATASETS", json.dumps(DATASETS))
    monkeypatch.setattr(linkage, "_clients", lambda: (_ for _ in ()).throw(RuntimeError("no network")))
    response = linkage.api_handler({"httpMethod": "POST", "pathParameters": {"dataset": "resident-moves"}}, None)
    assert response["statusCode"] == 500
