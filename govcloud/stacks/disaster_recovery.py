"""Disaster recovery in Osaka (ap-northeast-3), one stack per account with data to protect: the copies of that
account's data (replica buckets of the data lake zones with their key and their own data-event trail, and a
logically air-gapped vault per business system). With a pilot light, also the bucket of the Osaka workgroup's query
results (``DataLakeCatalog-Osaka``). The region's keys, guards and alarms are its Osaka baseline."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_backup as backup
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct

from govcloud import naming
from govcloud.compliance.packs import acknowledge
from govcloud.config import Config, pascal
from govcloud.constructs.buckets import SecureBucket, object_lock
from govcloud.constructs.data_events import data_events_trail
from govcloud.constructs.keys import DataKey
from govcloud.stacks.base import GovCloudStack
from govcloud.stacks.data_lake import RESULTS, DataLakeStack, restrict_zone


class DisasterRecoveryStack(GovCloudStack):
    def __init__(self, scope: Construct, construct_id: str, *, cfg: Config, account: str) -> None:
        region = cfg.regions.dr.name
        super().__init__(
            scope,
            construct_id,
            cfg=cfg,
            account=account,
            region=region,
            summary=f"disaster recovery in Osaka for the '{account}' account (keys, replica buckets, backup vaults)",
            system="disaster-recovery",
            classification="restricted",
        )
        self.replicas: dict[str, s3.Bucket] = {}
        self.results: s3.Bucket | None = None
        self.key: kms.IKey | None = None
        """The Osaka data lake key (the data lake's account only)."""
        if account == cfg.data_lake.account:
            self._data_lake_replicas(cfg, region)
        self.vaults: dict[str, backup.CfnLogicallyAirGappedBackupVault] = {}
        for name, system in cfg.systems.items():
            if system.account == account:
                self._backup_vault(cfg, name, region)

    def _backup_vault(self, cfg: Config, system: str, region: str) -> None:
        """Destination of the copies of the system's recovery points: a logically air-gapped vault. It is always
        compliance-locked (no recovery point goes before its minimum retention, whoever asks) and encrypted with a
        key AWS owns, so an administrator of this account alone can neither delete the copies nor make them
        unreadable by disabling a key, as they could a vault with a key of the account (see docs/compliance.md)."""
        assert cfg.backup is not None  # config validation requires it when systems exist
        vault = backup.CfnLogicallyAirGappedBackupVault(
            self,
            f"{pascal(system)}AirGappedVault",
            backup_vault_name=naming.backup_vault(cfg, system, region),
            min_retention_days=cfg.backup.min_retention_days,
            max_retention_days=cfg.backup.max_retention_days,
        )
        vault.apply_removal_policy(cdk.RemovalPolicy.RETAIN)
        self.vaults[system] = vault

    def _data_lake_replicas(self, cfg: Config, region: str) -> None:
        lake = cfg.data_lake
        key = DataKey(
            self,
            "DataLakeKey",
            alias=naming.dr_key_alias(cfg, "data-lake"),
            data_class="data-lake",
            description=f"{cfg.name}: Osaka replicas of the data lake zones",
        ).key
        access_logs = self.access_log_bucket()
        for zone in lake.replicate:
            raw_lock = lake.raw_object_lock if zone == "raw" else None
            lock = object_lock(raw_lock.mode, raw_lock.days) if raw_lock else None
            replica = SecureBucket(
                self,
                f"{zone.title()}Replica",
                bucket_name=naming.data_lake_bucket(cfg, zone, region),
                encryption_key=key,
                access_logs=access_logs,
                access_log_prefix=f"{zone}/",
                object_lock_retention=lock,
                lifecycle_rules=[
                    s3.LifecycleRule(
                        id="ExpireNoncurrent",
                        noncurrent_version_expiration=cdk.Duration.days(lake.zones[zone].noncurrent_expire_after_days),
                        abort_incomplete_multipart_upload_after=cdk.Duration.days(7),
                    )
                ],
            ).bucket
            acknowledge(
                replica,
                "NIST.800.53.R5-S3BucketReplicationEnabled",
                "This bucket is the Osaka replica of a Tokyo zone; replicating the replica would add no copy in "
                "another region.",
            )
            restrict_zone(cfg, replica, zone)  # the same read and write denies as the zone in Tokyo
            self.replicas[zone] = replica
        self.key = key
        if cfg.disaster_recovery.mode == "pilot-light":
            self.results = SecureBucket(
                self,
                "ResultsBucket",
                bucket_name=naming.data_lake_bucket(cfg, RESULTS, region),
                encryption_key=key,
                access_logs=access_logs,
                access_log_prefix=f"{RESULTS}/",
                lifecycle_rules=[DataLakeStack.lifecycle(cfg, RESULTS)],
            ).bucket
            restrict_zone(cfg, self.results, RESULTS)
            acknowledge(
                self.results,
                "NIST.800.53.R5-S3BucketReplicationEnabled",
                "Query results of the Osaka workgroup are transient (they expire) and are rebuilt by running the query "
                "again; they need no copy in another region.",
            )
        self._data_events(cfg)

    def _data_events(self, cfg: Config) -> None:
        """Who read what in Osaka: data events of the replicas, to the log archive (bucket and key in Tokyo)."""
        data_events_trail(
            self,
            "DataEventsTrail",
            cfg=cfg,
            name="data-lake-replica-events",
            buckets=[*self.replicas.values(), *([self.results] if self.results else [])],
            log_bucket=s3.Bucket.from_bucket_name(self, "CentralLogBucket", naming.log_bucket(cfg)),
            reason="This trail records data events only (every read and write of the Osaka replicas) for audit in the "
            "tamper-proof log archive; alarms on account activity come from the management trail.",
        )
