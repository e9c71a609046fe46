"""S3 buckets with the landing zone's defaults: encrypted, versioned, TLS only, private, logged, retained."""

from __future__ import annotations

from collections.abc import Sequence

import aws_cdk as cdk
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct

from govcloud.compliance.packs import acknowledge


def object_lock(mode: str, days: int) -> s3.ObjectLockRetention:
    """Default retention of an Object Lock bucket: ``COMPLIANCE`` (nobody can shorten it) or ``GOVERNANCE``."""
    duration = cdk.Duration.days(days)
    return (
        s3.ObjectLockRetention.compliance(duration)
        if mode == "COMPLIANCE"
        else s3.ObjectLockRetention.governance(duration)
    )


class AccessLogBucket(Construct):
    """The target of S3 server access logs for one account and region.

    S3 delivers server access logs only to a bucket in the same account and region that uses SSE-S3 and has
    no Object Lock, so this is the one bucket that is not encrypted with a customer-managed key.
    """

    def __init__(self, scope: Construct, construct_id: str, *, bucket_name: str, expire_after_days: int) -> None:
        super().__init__(scope, construct_id)
        self.bucket = s3.Bucket(
            self,
            "Resource",
            bucket_name=bucket_name,
            encryption=s3.BucketEncryption.S3_MANAGED,
            enforce_ssl=True,
            versioned=True,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            removal_policy=cdk.RemovalPolicy.RETAIN,
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="ExpireAccessLogs",
                    expiration=cdk.Duration.days(expire_after_days),
                    noncurrent_version_expiration=cdk.Duration.days(30),
                    abort_incomplete_multipart_upload_after=cdk.Duration.days(7),
                )
            ],
        )
        cdk.Tags.of(self).add("DataClassification", "confidential")
        why = "This bucket receives S3 server access logs; logging it to itself would loop."
        acknowledge(self.bucket, "AwsSolutions-S1", why)
        acknowledge(self.bucket, "NIST.800.53.R5-S3BucketLoggingEnabled", why)
        acknowledge(
            self.bucket,
            "NIST.800.53.R5-S3DefaultEncryptionKMS",
            "S3 server access logging supports only SSE-S3 on the target bucket (no SSE-KMS).",
        )
        acknowledge(
            self.bucket,
            "NIST.800.53.R5-S3BucketReplicationEnabled",
            "Access logs are operational telemetry kept 90 days in the account that produced them; "
            "they are not business data and are not copied to Osaka.",
        )


class SecureBucket(Construct):
    """A bucket encrypted with a customer-managed key (bucket keys on), versioned, TLS only, public access
    blocked, server access logs to ``access_logs``, retained on delete."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        bucket_name: str,
        encryption_key: kms.IKey,
        access_logs: s3.IBucket,
        access_log_prefix: str,
        lifecycle_rules: Sequence[s3.LifecycleRule] = (),
        object_lock_retention: s3.ObjectLockRetention | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        self.bucket = s3.Bucket(
            self,
            "Resource",
            bucket_name=bucket_name,
            encryption=s3.BucketEncryption.KMS,
            encryption_key=encryption_key,
            bucket_key_enabled=True,
            enforce_ssl=True,
            versioned=True,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            server_access_logs_bucket=access_logs,
            server_access_logs_prefix=access_log_prefix,
            removal_policy=cdk.RemovalPolicy.RETAIN,
            lifecycle_rules=list(lifecycle_rules),
            object_lock_enabled=object_lock_retention is not None,
            object_lock_default_retention=object_lock_retention,
        )
