"""Disaster recovery in Osaka (ap-northeast-3), one stack per account with data to protect: keys of its own and
the copies of that account's data (replica buckets of the data lake zones, backup vaults of business systems)."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_backup as backup
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_s3 as s3
from constructs import Construct

from govcloud import naming
from govcloud.compliance.packs import acknowledge
from govcloud.config import Config, pascal
from govcloud.constructs.buckets import SecureBucket, object_lock
from govcloud.constructs.keys import DataKey
from govcloud.constructs.system_backup import locked_vault
from govcloud.stacks.base import GovCloudStack


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
        # VPC Block Public Access is regional: the closed network stays closed in Osaka too.
        ec2.CfnVPCBlockPublicAccessOptions(
            self, "VpcBlockPublicAccess", internet_gateway_block_mode="block-bidirectional"
        )
        self.replicas: dict[str, s3.Bucket] = {}
        if account == cfg.data_lake.account:
            self._data_lake_replicas(cfg, region)
        self.vaults: dict[str, backup.CfnBackupVault] = {}
        for name, system in cfg.systems.items():
            if system.account == account:
                self._backup_vault(cfg, name, region)

    def _backup_vault(self, cfg: Config, system: str, region: str) -> None:
        """Destination of the copies of the system's recovery points, under the same Vault Lock as in Tokyo."""
        assert cfg.backup is not None  # config validation requires it when systems exist
        key = DataKey(
            self,
            f"{pascal(system)}BackupKey",
            alias=naming.dr_key_alias(cfg, f"{system}-backup"),
            data_class="resident-data",
            description=f"{cfg.name}: Osaka copies of the backups of {system}",
        ).key
        self.vaults[system] = locked_vault(
            self, f"{pascal(system)}Vault", name=naming.backup_vault(cfg, system, region), key=key, settings=cfg.backup
        )

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
            self.replicas[zone] = replica
