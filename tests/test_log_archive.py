"""Log archive stack: the tamper-proof central bucket, its key and who may write where."""

from __future__ import annotations

import json
from typing import Any

LA = "KobeStg-LogArchive"
ACCOUNTS = ["111100000001", "111100000002", "111100000003", "111100000004", "111100000005"]


def log_bucket(synth, stack: str = LA) -> dict[str, Any]:
    return synth.resources(stack, "AWS::S3::Bucket")["LogBucket27CEF49F"]


def bucket_statements(synth, bucket_id: str, stack: str = LA) -> list[dict[str, Any]]:
    for policy in synth.resources(stack, "AWS::S3::BucketPolicy").values():
        if policy["Properties"]["Bucket"] == {"Ref": bucket_id}:
            return policy["Properties"]["PolicyDocument"]["Statement"]
    raise AssertionError(f"no policy for {bucket_id}")


def resource_paths(statement: dict[str, Any]) -> list[str]:
    """Object paths of a statement's resources, with the bucket ARN token removed."""
    resources = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
    out = []
    for r in resources:
        if isinstance(r, dict) and "Fn::Join" in r:
            out.append(r["Fn::Join"][1][1])
        else:
            out.append("<bucket>")
    return out


def test_log_bucket_is_locked_encrypted_versioned_private_and_retained(stg) -> None:
    bucket = log_bucket(stg)
    props = bucket["Properties"]
    assert props["BucketName"] == "kobe-stg-log-archive-111100000001-ap-northeast-1"
    assert props["VersioningConfiguration"] == {"Status": "Enabled"}
    assert props["ObjectLockEnabled"] is True
    assert props["ObjectLockConfiguration"] == {
        "ObjectLockEnabled": "Enabled",
        "Rule": {"DefaultRetention": {"Mode": "GOVERNANCE", "Days": 7}},
    }
    sse = props["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]
    assert sse["ServerSideEncryptionByDefault"] == {
        "SSEAlgorithm": "aws:kms",
        "KMSMasterKeyID": {"Fn::GetAtt": ["ArchiveKey69F03933", "Arn"]},
    }
    assert sse["BucketKeyEnabled"] is True
    assert all(props["PublicAccessBlockConfiguration"].values())
    assert props["LoggingConfiguration"] == {
        "DestinationBucketName": {"Ref": "AccessLogBucket99AA64AA"},
        "LogFilePrefix": "log-archive/",
    }
    assert bucket["DeletionPolicy"] == "Retain" and bucket["UpdateReplacePolicy"] == "Retain"


def test_production_uses_compliance_mode(prod) -> None:
    props = log_bucket(prod, "KobeProd-LogArchive")["Properties"]
    assert props["ObjectLockConfiguration"]["Rule"]["DefaultRetention"] == {"Mode": "COMPLIANCE", "Days": 365}


def test_lifecycle_moves_to_colder_storage_then_expires(stg) -> None:
    (rule,) = log_bucket(stg)["Properties"]["LifecycleConfiguration"]["Rules"]
    assert [(t["StorageClass"], t["TransitionInDays"]) for t in rule["Transitions"]] == [
        ("STANDARD_IA", 30),
        ("GLACIER", 90),
    ]
    assert rule["ExpirationInDays"] == 400
    assert rule["NoncurrentVersionExpiration"] == {"NoncurrentDays": 8}


def test_access_log_bucket_uses_sse_s3_without_object_lock(stg) -> None:
    props = stg.resources(LA, "AWS::S3::Bucket")["AccessLogBucket99AA64AA"]["Properties"]
    assert props["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"] == {
        "SSEAlgorithm": "AES256"
    }
    assert "ObjectLockEnabled" not in props
    assert props["VersioningConfiguration"] == {"Status": "Enabled"}
    writers = [s for s in bucket_statements(stg, "AccessLogBucket99AA64AA") if s["Effect"] == "Allow"]
    assert [s["Principal"] for s in writers] == [{"Service": "logging.s3.amazonaws.com"}]


def test_both_buckets_refuse_plain_http(stg) -> None:
    for bucket_id in ("LogBucket27CEF49F", "AccessLogBucket99AA64AA"):
        deny = [s for s in bucket_statements(stg, bucket_id) if s["Effect"] == "Deny"]
        assert deny[0]["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
        assert deny[0]["Action"] == "s3:*"


def test_each_writer_writes_only_under_its_own_prefix_for_its_own_account(stg) -> None:
    statements = {s["Sid"]: s for s in bucket_statements(stg, "LogBucket27CEF49F") if s["Effect"] == "Allow"}
    for acct in ACCOUNTS:
        trail = statements[f"CloudTrailWrite{acct}"]
        assert trail["Action"] == "s3:PutObject"
        assert resource_paths(trail) == [f"/cloudtrail/AWSLogs/{acct}/*"]
        assert trail["Condition"]["StringLike"]["aws:SourceArn"] == [  # Tokyo's trails, and Osaka's (replicas)
            f"arn:aws:cloudtrail:{region}:{acct}:trail/kobe-stg-*" for region in ("ap-northeast-1", "ap-northeast-3")
        ]
        assert trail["Condition"]["StringEquals"]["s3:x-amz-acl"] == "bucket-owner-full-control"

        delivery = statements[f"LogDeliveryWrite{acct}"]
        assert sorted(resource_paths(delivery)) == [
            f"/resolver-query-logs/AWSLogs/{acct}/*",
            f"/vpc-flow-logs/AWSLogs/{acct}/*",
        ]
        assert delivery["Condition"]["StringEquals"]["aws:SourceAccount"] == acct

        config = statements[f"ConfigWrite{acct}"]
        assert resource_paths(config) == [f"/config/AWSLogs/{acct}/Config/*"]
        assert config["Condition"]["StringEquals"]["aws:SourceAccount"] == acct

        session = statements[f"SessionLogsWrite{acct}"]
        assert session["Principal"] == {"AWS": f"arn:aws:iam::{acct}:root"}
        assert resource_paths(session) == [f"/session-manager/{acct}/*"]


def test_nobody_outside_the_archive_account_can_read_or_delete(stg) -> None:
    for statement in bucket_statements(stg, "LogBucket27CEF49F"):
        if statement["Effect"] != "Allow":
            continue
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        assert set(actions) <= {"s3:PutObject", "s3:GetBucketAcl", "s3:ListBucket", "s3:GetEncryptionConfiguration"}, (
            statement
        )


def test_archive_key_policy_admits_each_log_writer(stg) -> None:
    key = stg.resources(LA, "AWS::KMS::Key")["ArchiveKey69F03933"]
    sts = {s["Sid"]: s for s in key["Properties"]["KeyPolicy"]["Statement"]}
    trail = sts["CloudTrailEncryptsItsOwnTrails"]
    assert trail["Principal"] == {"Service": "cloudtrail.amazonaws.com"}
    assert trail["Condition"]["StringLike"]["kms:EncryptionContext:aws:cloudtrail:arn"] == [
        f"arn:aws:cloudtrail:*:{acct}:trail/*" for acct in ACCOUNTS
    ]
    assert sts["LogDeliveryForFlowAndResolverLogs"]["Principal"] == {"Service": "delivery.logs.amazonaws.com"}
    assert sts["LogDeliveryForFlowAndResolverLogs"]["Condition"]["StringEquals"]["aws:SourceAccount"] == ACCOUNTS
    assert sts["ConfigDelivery"]["Condition"]["StringEquals"]["aws:SourceAccount"] == ACCOUNTS
    writers = sts["MemberAccountWritersThroughS3"]
    assert writers["Condition"] == {"StringEquals": {"kms:ViaService": "s3.ap-northeast-1.amazonaws.com"}}
    assert sorted(writers["Principal"]["AWS"]) == [f"arn:aws:iam::{acct}:root" for acct in ACCOUNTS[1:]]
    assert sts["UseThroughServicesOfThisDataClass"]["Condition"]["StringEquals"]["kms:ViaService"] == [
        "s3.ap-northeast-1.amazonaws.com"
    ]
    alias = next(iter(stg.resources(LA, "AWS::KMS::Alias").values()))
    assert alias["Properties"]["AliasName"] == "alias/kobe-stg/log-archive"
    assert json.dumps(key).count('"kms:*"') == 0
