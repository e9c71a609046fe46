"""Log archive: the central, tamper-proof log bucket of one environment, its key and its access-log bucket."""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from constructs import Construct

from govcloud import naming
from govcloud.compliance.packs import acknowledge
from govcloud.config import Config
from govcloud.constructs.buckets import SecureBucket, object_lock
from govcloud.constructs.keys import DataKey, service_statement
from govcloud.stacks.base import GovCloudStack


class LogArchiveStack(GovCloudStack):
    """The central log bucket (Object Lock, KMS, lifecycle), its key and the access-log bucket."""

    def __init__(self, scope: Construct, construct_id: str, *, cfg: Config) -> None:
        super().__init__(
            scope,
            construct_id,
            cfg=cfg,
            account=cfg.log_archive.account,
            summary="central log archive (Object Lock log bucket, archive key, access-log bucket)",
            system="log-archive",
            classification="confidential",
        )
        member_accounts = sorted({a.id for a in cfg.accounts.values()})
        self._archive_key(member_accounts)
        self._log_bucket()
        self._grant_writers(cfg, member_accounts)

    def _archive_key(self, member_accounts: list[str]) -> None:
        """The archive key: CloudTrail, log delivery and Config of every member account, and member accounts'
        writers through S3 only."""
        cfg = self.cfg
        region = cfg.regions.primary.name
        account = naming.log_archive_account_id(cfg)
        partition = "aws"
        self.key = DataKey(
            self,
            "ArchiveKey",
            alias=cfg.log_archive.key_alias,
            data_class="logs",
            description=f"{cfg.name}: encrypts the central log archive (CloudTrail, Config, flow, DNS, session logs)",
            via_services=["s3"],
            service_statements=[
                service_statement(
                    "CloudTrailEncryptsItsOwnTrails",
                    "cloudtrail.amazonaws.com",
                    ["kms:GenerateDataKey*"],
                    {
                        "StringLike": {
                            "kms:EncryptionContext:aws:cloudtrail:arn": [
                                f"arn:{partition}:cloudtrail:*:{acct}:trail/*" for acct in member_accounts
                            ]
                        }
                    },
                ),
                service_statement(
                    "CloudTrailDescribesKey",
                    "cloudtrail.amazonaws.com",
                    ["kms:DescribeKey"],
                    {
                        "StringLike": {
                            "aws:SourceArn": [
                                f"arn:{partition}:cloudtrail:*:{acct}:trail/*" for acct in member_accounts
                            ]
                        }
                    },
                ),
                service_statement(
                    "LogDeliveryForFlowAndResolverLogs",
                    "delivery.logs.amazonaws.com",
                    ["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:DescribeKey"],
                    {"StringEquals": {"aws:SourceAccount": member_accounts}},
                ),
                service_statement(
                    "ConfigDelivery",
                    "config.amazonaws.com",
                    ["kms:Decrypt", "kms:GenerateDataKey"],
                    {"StringEquals": {"aws:SourceAccount": member_accounts}},
                ),
                iam.PolicyStatement(
                    sid="MemberAccountWritersThroughS3",
                    principals=[iam.AccountPrincipal(acct) for acct in member_accounts if acct != account],
                    actions=["kms:Decrypt", "kms:GenerateDataKey"],
                    resources=["*"],
                    conditions={"StringEquals": {"kms:ViaService": f"s3.{region}.amazonaws.com"}},
                ),
            ],
        ).key

    def _log_bucket(self) -> None:
        """The access-log bucket, and the central log bucket: Object Lock, versioned, archive key, lifecycle."""
        cfg = self.cfg
        self.access_logs = self.access_log_bucket()

        la = cfg.log_archive
        lock = object_lock(la.object_lock_mode, la.object_lock_days)
        log_bucket = SecureBucket(
            self,
            "LogBucket",
            bucket_name=naming.log_bucket(cfg),
            encryption_key=self.key,
            access_logs=self.access_logs,
            access_log_prefix="log-archive/",
            object_lock_retention=lock,
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="ArchiveThenExpire",
                    transitions=[
                        s3.Transition(
                            storage_class=s3.StorageClass.INFREQUENT_ACCESS,
                            transition_after=cdk.Duration.days(la.infrequent_access_after_days),
                        ),
                        s3.Transition(
                            storage_class=s3.StorageClass.GLACIER,
                            transition_after=cdk.Duration.days(la.glacier_after_days),
                        ),
                    ],
                    expiration=cdk.Duration.days(la.expire_after_days),
                    noncurrent_version_expiration=cdk.Duration.days(la.object_lock_days + 1),
                    abort_incomplete_multipart_upload_after=cdk.Duration.days(7),
                )
            ],
        )
        self.bucket = log_bucket.bucket
        acknowledge(
            self.bucket,
            "NIST.800.53.R5-S3BucketReplicationEnabled",
            "The log archive is protected in place by Object Lock and versioning; its copy to Osaka is "
            "part of the disaster-recovery stack, not of this bucket's configuration.",
        )

    def _grant_writers(self, cfg: Config, member_accounts: list[str]) -> None:
        """Bucket policy: each writer may write under its own prefix, for its own account, and nothing else."""
        bucket = self.bucket
        region = cfg.regions.primary.name
        regions = (region, cfg.regions.dr.name)  # trails of Tokyo and of Osaka (the replicas' data events)
        trail_arns = [
            f"arn:aws:cloudtrail:{r}:{acct}:trail/{naming.trail(cfg, '*')}" for acct in member_accounts for r in regions
        ]
        owner_full_control = {"s3:x-amz-acl": "bucket-owner-full-control"}

        def allow(sid: str, service: str, actions: list[str], resources: list[str], conditions: dict[str, Any]) -> None:
            bucket.add_to_resource_policy(
                iam.PolicyStatement(
                    sid=sid,
                    principals=[iam.ServicePrincipal(service)],
                    actions=actions,
                    resources=resources,
                    conditions=conditions,
                )
            )

        allow(
            "CloudTrailAclCheck",
            "cloudtrail.amazonaws.com",
            ["s3:GetBucketAcl"],
            [bucket.bucket_arn],
            {"StringLike": {"aws:SourceArn": trail_arns}},
        )
        allow(
            "LogDeliveryAclCheck",
            "delivery.logs.amazonaws.com",
            ["s3:GetBucketAcl", "s3:ListBucket"],
            [bucket.bucket_arn],
            {"StringEquals": {"aws:SourceAccount": member_accounts}},
        )
        allow(
            "ConfigAclCheck",
            "config.amazonaws.com",
            ["s3:GetBucketAcl", "s3:ListBucket"],
            [bucket.bucket_arn],
            {"StringEquals": {"aws:SourceAccount": member_accounts}},
        )
        for acct in member_accounts:
            allow(
                f"CloudTrailWrite{acct}",
                "cloudtrail.amazonaws.com",
                ["s3:PutObject"],
                [bucket.arn_for_objects(f"{naming.CLOUDTRAIL_PREFIX}/AWSLogs/{acct}/*")],
                {
                    "StringEquals": owner_full_control,
                    "StringLike": {
                        "aws:SourceArn": [
                            f"arn:aws:cloudtrail:{r}:{acct}:trail/{naming.trail(cfg, '*')}" for r in regions
                        ]
                    },
                },
            )
            allow(
                f"LogDeliveryWrite{acct}",
                "delivery.logs.amazonaws.com",
                ["s3:PutObject"],
                [
                    bucket.arn_for_objects(f"{naming.FLOW_LOGS_PREFIX}/AWSLogs/{acct}/*"),
                    bucket.arn_for_objects(f"{naming.RESOLVER_LOGS_PREFIX}/AWSLogs/{acct}/*"),
                ],
                {"StringEquals": {**owner_full_control, "aws:SourceAccount": acct}},
            )
            allow(
                f"ConfigWrite{acct}",
                "config.amazonaws.com",
                ["s3:PutObject"],
                [bucket.arn_for_objects(f"{naming.CONFIG_PREFIX}/AWSLogs/{acct}/Config/*")],
                {"StringEquals": {**owner_full_control, "aws:SourceAccount": acct}},
            )
            # Session Manager writes with the instance role of each host, so the principal is the account.
            bucket.add_to_resource_policy(
                iam.PolicyStatement(
                    sid=f"SessionLogsWrite{acct}",
                    principals=[iam.AccountPrincipal(acct)],
                    actions=["s3:PutObject"],
                    resources=[bucket.arn_for_objects(f"{naming.SESSION_LOGS_PREFIX}/{acct}/*")],
                )
            )
        bucket.add_to_resource_policy(
            iam.PolicyStatement(
                sid="SessionManagerChecksEncryption",
                principals=[iam.AccountPrincipal(acct) for acct in member_accounts],
                actions=["s3:GetEncryptionConfiguration"],
                resources=[bucket.bucket_arn],
            )
        )
