"""Data lake storage (stateful): zone buckets, the query-results bucket, and replication to Osaka.

The catalog, crawlers, workgroup, roles and grants live in the stateless ``DataLakeCatalogStack``, so that a change
to a crawler never puts a bucket at risk. Bucket policies name the data lake roles by their deterministic ARNs.
"""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct

from govcloud import naming
from govcloud.compliance.packs import acknowledge, acknowledge_wildcards
from govcloud.config import DATA_LAKE_ZONES, Config
from govcloud.constructs.buckets import SecureBucket, object_lock
from govcloud.constructs.keys import key_by_alias_statement
from govcloud.stacks.base import GovCloudStack

RESULTS = "results"
# Who may read each bucket's objects; everyone else is denied by the bucket policy, whatever IAM says.
READERS = {
    "raw": ("steward", "lake-formation", "replication"),
    "curated": ("analyst", "steward", "lake-formation", "crawler", "replication"),
    "analytics": ("analyst", "steward", "lake-formation", "crawler", "replication"),
    RESULTS: ("analyst", "steward"),
}
# Who may write objects into the raw zone: only the ingestion role (and Lake Formation on behalf of grants).
RAW_WRITERS = ("ingestion", "lake-formation")


def restrict_zone(cfg: Config, bucket: s3.Bucket, zone: str) -> None:
    """Lake Formation does not govern direct S3 reads: the bucket policy closes that path, in Tokyo and on the
    zone's replica in Osaka alike."""
    readers = sorted(naming.data_lake_role_arn(cfg, r) for r in READERS[zone])
    bucket.add_to_resource_policy(
        iam.PolicyStatement(
            sid="OnlyDataLakeRolesRead",
            effect=iam.Effect.DENY,
            principals=[iam.AnyPrincipal()],
            actions=["s3:GetObject", "s3:GetObjectVersion"],
            resources=[bucket.arn_for_objects("*")],
            conditions={"ArnNotLike": {"aws:PrincipalArn": readers}},
        )
    )
    if zone == "raw":
        writers = sorted(naming.data_lake_role_arn(cfg, r) for r in RAW_WRITERS)
        bucket.add_to_resource_policy(
            iam.PolicyStatement(
                sid="OnlyIngestionWritesRaw",
                effect=iam.Effect.DENY,
                principals=[iam.AnyPrincipal()],
                actions=["s3:PutObject"],
                resources=[bucket.arn_for_objects("*")],
                conditions={"ArnNotLike": {"aws:PrincipalArn": writers}},
            )
        )


class DataLakeStack(GovCloudStack):
    def __init__(self, scope: Construct, construct_id: str, *, cfg: Config, key: kms.IKey) -> None:
        lake = cfg.data_lake
        super().__init__(
            scope,
            construct_id,
            cfg=cfg,
            account=lake.account,
            summary="data lake storage (raw, curated, analytics and query-result buckets, replication to Osaka)",
            system="data-lake",
            classification="restricted",
        )
        access_logs = self.access_log_bucket()
        self.buckets: dict[str, s3.Bucket] = {}
        for zone in (*DATA_LAKE_ZONES, RESULTS):
            raw_lock = lake.raw_object_lock if zone == "raw" else None
            lock = object_lock(raw_lock.mode, raw_lock.days) if raw_lock else None
            bucket = SecureBucket(
                self,
                f"{zone.title()}Bucket",
                bucket_name=naming.data_lake_bucket(cfg, zone),
                encryption_key=key,
                access_logs=access_logs,
                access_log_prefix=f"{zone}/",
                object_lock_retention=lock,
                lifecycle_rules=[self.lifecycle(cfg, zone)],
            ).bucket
            restrict_zone(cfg, bucket, zone)
            self.buckets[zone] = bucket

        self.replication_role = self._replication(cfg, key)
        for zone, bucket in self.buckets.items():
            if zone not in lake.replicate:
                acknowledge(
                    bucket,
                    "NIST.800.53.R5-S3BucketReplicationEnabled",
                    f"The {zone} zone is not in data_lake.replicate: it is rebuilt from the replicated zones "
                    "(or holds transient query results), so it needs no copy in Osaka.",
                )

    @staticmethod
    def lifecycle(cfg: Config, zone: str) -> s3.LifecycleRule:
        if zone == RESULTS:
            return s3.LifecycleRule(
                id="ExpireResults",
                expiration=cdk.Duration.days(cfg.data_lake.results_expire_after_days),
                noncurrent_version_expiration=cdk.Duration.days(1),
                abort_incomplete_multipart_upload_after=cdk.Duration.days(1),
            )
        life = cfg.data_lake.zones[zone]  # type: ignore[index]  # zone is one of DATA_LAKE_ZONES here
        transitions = []
        if life.infrequent_access_after_days is not None:
            transitions.append(
                s3.Transition(
                    storage_class=s3.StorageClass.INFREQUENT_ACCESS,
                    transition_after=cdk.Duration.days(life.infrequent_access_after_days),
                )
            )
        if life.glacier_after_days is not None:
            transitions.append(
                s3.Transition(
                    storage_class=s3.StorageClass.GLACIER, transition_after=cdk.Duration.days(life.glacier_after_days)
                )
            )
        return s3.LifecycleRule(
            id=f"{zone.title()}Lifecycle",
            transitions=transitions or None,
            expiration=cdk.Duration.days(life.expire_after_days) if life.expire_after_days else None,
            noncurrent_version_expiration=cdk.Duration.days(life.noncurrent_expire_after_days),
            abort_incomplete_multipart_upload_after=cdk.Duration.days(7),
        )

    def _replication(self, cfg: Config, key: kms.IKey) -> iam.Role:
        """Replication of the configured zones to Osaka, with a role that can do nothing else."""
        lake = cfg.data_lake
        dr_region = cfg.regions.dr.name
        dr_key = naming.dr_key_alias_arn(cfg, lake.account, "data-lake")
        role = iam.Role(
            self,
            "ReplicationRole",
            role_name=naming.data_lake_role(cfg, "replication"),
            assumed_by=iam.ServicePrincipal("s3.amazonaws.com"),
            description="S3 replication of the data lake zones to Osaka; nothing else",
        )
        # Literal ARNs (bucket names are deterministic): a reference to the buckets would make the bucket, whose
        # replication configuration needs this policy, and the policy depend on each other.
        sources = [f"arn:aws:s3:::{naming.data_lake_bucket(cfg, z)}" for z in lake.replicate]
        destinations = [f"arn:aws:s3:::{naming.data_lake_bucket(cfg, z, dr_region)}" for z in lake.replicate]
        statements = [
            iam.PolicyStatement(
                sid="ReadSourceConfiguration",
                actions=["s3:GetReplicationConfiguration", "s3:ListBucket"],
                resources=sources,
            ),
            iam.PolicyStatement(
                sid="ReadSourceVersions",
                actions=[
                    "s3:GetObjectVersionForReplication",
                    "s3:GetObjectVersionAcl",
                    "s3:GetObjectVersionTagging",
                    "s3:GetObjectRetention",
                    "s3:GetObjectLegalHold",
                ],
                resources=[f"{b}/*" for b in sources],
            ),
            iam.PolicyStatement(
                sid="WriteReplicas",
                actions=[
                    "s3:ReplicateObject",
                    "s3:ReplicateDelete",
                    "s3:ReplicateTags",
                    "s3:ObjectOwnerOverrideToBucketOwner",
                ],
                resources=[f"{d}/*" for d in destinations],
            ),
            iam.PolicyStatement(
                sid="DecryptSources",
                actions=["kms:Decrypt"],
                resources=[key.key_arn],
                conditions={"StringEquals": {"kms:ViaService": f"s3.{cfg.regions.primary.name}.amazonaws.com"}},
            ),
            key_by_alias_statement(
                "EncryptReplicas",
                ["kms:Encrypt", "kms:GenerateDataKey"],
                account=cfg.account_id(lake.account),
                region=dr_region,
                alias=naming.dr_key_alias(cfg, "data-lake"),
                via="s3",
            ),
        ]
        policy = iam.ManagedPolicy(self, "ReplicationPolicy", roles=[role], statements=statements)
        acknowledge_wildcards(
            policy,
            statements,
            "Replication reads every object version of the replicated zones and writes every object of their "
            "Osaka replicas (bucket/*); the Osaka key is matched by its alias, as its key ID is created in Osaka.",
        )
        for zone in lake.replicate:
            bucket = self.buckets[zone]
            cfn = bucket.node.default_child
            assert isinstance(cfn, s3.CfnBucket)
            cfn.replication_configuration = s3.CfnBucket.ReplicationConfigurationProperty(
                role=role.role_arn,
                rules=[
                    s3.CfnBucket.ReplicationRuleProperty(
                        id=f"{zone}-to-osaka",
                        status="Enabled",
                        priority=1,
                        filter=s3.CfnBucket.ReplicationRuleFilterProperty(prefix=""),
                        delete_marker_replication=s3.CfnBucket.DeleteMarkerReplicationProperty(status="Disabled"),
                        source_selection_criteria=s3.CfnBucket.SourceSelectionCriteriaProperty(
                            sse_kms_encrypted_objects=s3.CfnBucket.SseKmsEncryptedObjectsProperty(status="Enabled")
                        ),
                        destination=s3.CfnBucket.ReplicationDestinationProperty(
                            bucket=f"arn:aws:s3:::{naming.data_lake_bucket(cfg, zone, dr_region)}",
                            encryption_configuration=s3.CfnBucket.EncryptionConfigurationProperty(
                                replica_kms_key_id=dr_key
                            ),
                            storage_class="STANDARD",
                        ),
                    )
                ],
            )
            cfn.node.add_dependency(policy)
        return role
