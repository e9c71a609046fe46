"""Data lake catalog and access (stateless): Glue databases and crawlers, the Athena workgroup, Lake Formation
settings, locations and grants, the data lake roles, and a CloudTrail trail of every read and write.

With a pilot light the same stack in Osaka (``region``) over the replicas: a database per replicated zone, Lake
Formation over the replica locations, a crawler of each replicated crawled zone (run on demand: the replicas'
tables are found when they are needed), and a workgroup whose results stay in Osaka. Its roles are Tokyo's (IAM is
global): it attaches Osaka policies to them and creates none. The replicas' data-event trail is the DR stack's."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_athena as athena
from aws_cdk import aws_glue as glue
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lakeformation as lakeformation
from aws_cdk import aws_s3 as s3
from constructs import Construct

from govcloud import naming
from govcloud.compliance.packs import acknowledge_wildcards
from govcloud.config import DATA_LAKE_ZONES, Config
from govcloud.constructs.data_events import data_events_trail
from govcloud.constructs.principals import roles_matching
from govcloud.stacks.base import GovCloudStack
from govcloud.stacks.data_lake import RESULTS

CRAWLED = ("curated", "analytics")
ANALYST_ZONES = ("curated", "analytics")
STEWARD_ZONES = DATA_LAKE_ZONES


class DataLakeCatalogStack(GovCloudStack):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        cfg: Config,
        key: kms.IKey,
        logs_key: kms.IKey,
        region: str | None = None,
    ) -> None:
        lake = cfg.data_lake
        self.osaka = region is not None
        super().__init__(
            scope,
            construct_id,
            cfg=cfg,
            account=lake.account,
            region=region,
            summary="the analysts' and stewards' catalog and workgroup over the Osaka replicas (Glue, Athena, Lake "
            "Formation)"
            if self.osaka
            else "data lake catalog and access (Glue, Athena, Lake Formation, roles, data-event trail)",
            system="data-lake",
            classification="restricted",
        )
        self.key, self.logs_key = key, logs_key
        # In Osaka only the replicated zones exist.
        self.zones = tuple(z for z in DATA_LAKE_ZONES if z in lake.replicate) if self.osaka else DATA_LAKE_ZONES
        self.crawled = tuple(z for z in CRAWLED if z in self.zones)
        self._databases()
        self._roles()
        self._lake_formation()
        self._crawlers()
        self._workgroup()
        if not self.osaka:
            self._data_events_trail()

    def _databases(self) -> None:
        """The storage stack's buckets by their deterministic names (this stack reads no output of that one), and
        a Glue database per zone."""
        cfg = self.cfg
        account = cfg.account_id(cfg.data_lake.account)
        region = self.region if self.osaka else None
        self.buckets = buckets = {
            z: s3.Bucket.from_bucket_name(self, f"{z.title()}Bucket", naming.data_lake_bucket(cfg, z, region))
            for z in (*self.zones, RESULTS)
        }
        self.databases = {
            zone: glue.CfnDatabase(
                self,
                f"{zone.title()}Database",
                catalog_id=account,
                database_input=glue.CfnDatabase.DatabaseInputProperty(
                    name=naming.glue_database(cfg, zone),
                    description=f"{cfg.name} data lake, {zone} zone",
                    location_uri=f"s3://{buckets[zone].bucket_name}/",
                ),
            )
            for zone in self.zones
        }
        for database in self.databases.values():
            database.apply_removal_policy(cdk.RemovalPolicy.RETAIN)  # tables the crawlers found live inside

    def _roles(self) -> None:
        """Fixed names: the bucket policies of the storage stack name them. In Osaka, Tokyo's roles by name."""
        cfg = self.cfg
        lake = cfg.data_lake
        if self.osaka:
            self.roles: dict[str, iam.IRole] = {
                who: iam.Role.from_role_name(
                    self, f"{who.title().replace('-', '')}Role", naming.data_lake_role(cfg, who), mutable=True
                )
                for who in ("analyst", "steward", "crawler", "lake-formation")
            }
            self._grant_storage(cfg, self.buckets, self.key)
            return

        self.roles = {
            "analyst": self._role(
                "analyst", roles_matching(lake.analysts), "Reads the curated and analytics zones through Athena"
            ),
            "steward": self._role("steward", roles_matching(lake.stewards), "Reads every zone, the raw zone included"),
            "ingestion": self._role(
                "ingestion",
                iam.AccountPrincipal(cfg.account_id(cfg.linkage.account)).with_conditions(
                    {"ArnEquals": {"aws:PrincipalArn": naming.linkage_function_role_arns(cfg)}}
                ),
                "Writes into the raw zone; assumed by the two linkage functions' roles only",
            ),
            "crawler": self._role(
                "crawler",
                iam.ServicePrincipal("glue.amazonaws.com"),
                "Glue crawlers of the curated and analytics zones",
            ),
            "lake-formation": self._role(
                "lake-formation",
                iam.ServicePrincipal("lakeformation.amazonaws.com"),
                "Lake Formation's access to the zone locations",
            ),
        }
        self._grant_storage(cfg, self.buckets, self.key)

    def _lake_formation(self) -> None:
        """Administrators, no IAMAllowedPrincipals defaults, the zones' locations, and the grants."""
        cfg, lake, buckets = self.cfg, self.cfg.data_lake, self.buckets
        # The role that deploys this stack grants, so it must be an administrator: in Osaka, Osaka's bootstrap role.
        deployer = naming.cdk_execution_role_arn(cfg, lake.account, self.region if self.osaka else None)
        admins = sorted({*lake.administrators, deployer})
        settings = lakeformation.CfnDataLakeSettings(
            self,
            "LakeFormationSettings",
            admins=[
                lakeformation.CfnDataLakeSettings.DataLakePrincipalProperty(data_lake_principal_identifier=a)
                for a in admins
            ],
            create_database_default_permissions=[],
            create_table_default_permissions=[],
            mutation_type="REPLACE",
        )
        for database in self.databases.values():
            # Created before the settings, a database would keep the IAMAllowedPrincipals default grant.
            database.add_resource_dependency(settings)
        locations = {}
        for zone in self.zones:
            location = lakeformation.CfnResource(
                self,
                f"{zone.title()}Location",
                resource_arn=buckets[zone].bucket_arn,
                use_service_linked_role=False,
                role_arn=self.roles["lake-formation"].role_arn,
            )
            location.add_resource_dependency(settings)
            locations[zone] = location
        grants = [
            *((("analyst", zone)) for zone in ANALYST_ZONES if zone in self.zones),
            *((("steward", zone)) for zone in STEWARD_ZONES if zone in self.zones),
        ]
        for who, zone in grants:
            self._grant_read(f"{who.title()}{zone.title()}", self.roles[who], self.databases[zone], settings)
        for zone in self.crawled:
            self._grant_crawler(
                zone, self.roles["crawler"], self.databases[zone], buckets[zone], settings, locations[zone]
            )

    def _crawlers(self) -> None:
        """The Glue security configuration, and crawlers of the curated and analytics zones."""
        cfg, lake, buckets, key, logs_key = self.cfg, self.cfg.data_lake, self.buckets, self.key, self.logs_key
        security = glue.CfnSecurityConfiguration(
            self,
            "GlueSecurity",
            name=naming.glue_security_configuration(cfg),
            encryption_configuration=glue.CfnSecurityConfiguration.EncryptionConfigurationProperty(
                s3_encryptions=[
                    glue.CfnSecurityConfiguration.S3EncryptionProperty(
                        s3_encryption_mode="SSE-KMS", kms_key_arn=key.key_arn
                    )
                ],
                cloud_watch_encryption=glue.CfnSecurityConfiguration.CloudWatchEncryptionProperty(
                    cloud_watch_encryption_mode="SSE-KMS", kms_key_arn=logs_key.key_arn
                ),
                job_bookmarks_encryption=glue.CfnSecurityConfiguration.JobBookmarksEncryptionProperty(
                    job_bookmarks_encryption_mode="CSE-KMS", kms_key_arn=key.key_arn
                ),
            ),
        )
        for zone in self.crawled:
            crawler = glue.CfnCrawler(
                self,
                f"{zone.title()}Crawler",
                name=naming.crawler(cfg, zone),
                role=self.roles["crawler"].role_arn,
                database_name=naming.glue_database(cfg, zone),
                targets=glue.CfnCrawler.TargetsProperty(
                    s3_targets=[glue.CfnCrawler.S3TargetProperty(path=f"s3://{buckets[zone].bucket_name}/")]
                ),
                # In Osaka, run on demand (aws glue start-crawler): the replicas' tables are needed only in a disaster.
                schedule=None
                if self.osaka
                else glue.CfnCrawler.ScheduleProperty(schedule_expression=lake.crawler_schedule),
                crawler_security_configuration=security.ref,
                schema_change_policy=glue.CfnCrawler.SchemaChangePolicyProperty(
                    update_behavior="UPDATE_IN_DATABASE", delete_behavior="LOG"
                ),
            )
            crawler.add_resource_dependency(self.databases[zone])

    def _workgroup(self) -> None:
        """Enforced settings, encrypted results, a bytes-scanned limit per query."""
        cfg, lake, buckets, key = self.cfg, self.cfg.data_lake, self.buckets, self.key
        account = cfg.account_id(lake.account)
        self.workgroup = athena.CfnWorkGroup(
            self,
            "Workgroup",
            name=naming.data_lake_workgroup(cfg),
            description="Data lake queries: enforced encryption, results bucket and scan limit",
            state="ENABLED",
            recursive_delete_option=False,
            work_group_configuration=athena.CfnWorkGroup.WorkGroupConfigurationProperty(
                enforce_work_group_configuration=True,
                publish_cloud_watch_metrics_enabled=True,
                bytes_scanned_cutoff_per_query=lake.athena_bytes_scanned_cutoff,
                result_configuration=athena.CfnWorkGroup.ResultConfigurationProperty(
                    output_location=f"s3://{buckets[RESULTS].bucket_name}/",
                    expected_bucket_owner=account,
                    encryption_configuration=athena.CfnWorkGroup.EncryptionConfigurationProperty(
                        encryption_option="SSE_KMS", kms_key=key.key_arn
                    ),
                ),
            ),
        )
        self._grant_queries(cfg, buckets, key)

    def _data_events_trail(self) -> None:
        """Who read what: data events of every data lake bucket, to the log archive."""
        cfg, buckets = self.cfg, self.buckets
        log_bucket = s3.Bucket.from_bucket_name(self, "CentralLogBucket", naming.log_bucket(cfg))
        data_events_trail(
            self,
            "DataEventsTrail",
            cfg=cfg,
            name="data-lake-events",
            buckets=list(buckets.values()),
            log_bucket=log_bucket,
            reason="This trail records data events only (every object read and write) for audit in the tamper-proof "
            "log archive; alarms on account activity come from the management trail.",
        )

    def _role(self, purpose: str, principal: iam.IPrincipal, description: str) -> iam.Role:
        return iam.Role(
            self,
            f"{purpose.title().replace('-', '')}Role",
            role_name=naming.data_lake_role(self.cfg, purpose),
            assumed_by=principal,
            description=description,
        )

    def _grant_storage(self, cfg: Config, buckets: dict[str, s3.IBucket], key: kms.IKey) -> None:
        """S3 and KMS permissions Lake Formation does not vend: crawler reads, ingestion writes, LF's own access
        (in Osaka on the replicas, and no ingestion: nothing is ingested there)."""
        zones = {z: buckets[z] for z in self.zones}
        crawled = self.crawled
        crawler_statements = [
            iam.PolicyStatement(
                sid="ListCrawledZones", actions=["s3:ListBucket"], resources=[zones[z].bucket_arn for z in crawled]
            ),
            iam.PolicyStatement(
                sid="ReadCrawledZones",
                actions=["s3:GetObject"],
                resources=[zones[z].arn_for_objects("*") for z in crawled],
            ),
            iam.PolicyStatement(sid="DecryptZones", actions=["kms:Decrypt"], resources=[key.key_arn]),
            iam.PolicyStatement(
                sid="Catalog",
                actions=[
                    "glue:GetDatabase",
                    "glue:GetTable",
                    "glue:GetTables",
                    "glue:CreateTable",
                    "glue:UpdateTable",
                    "glue:BatchCreatePartition",
                    "glue:BatchGetPartition",
                    "glue:GetPartition",
                    "glue:GetPartitions",
                    "glue:CreatePartition",
                    "glue:UpdatePartition",
                    "glue:GetSecurityConfiguration",
                    "lakeformation:GetDataAccess",
                ],
                resources=["*"],
            ),
            iam.PolicyStatement(
                sid="CrawlerLogs",
                actions=["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents", "logs:AssociateKmsKey"],
                resources=[f"arn:aws:logs:{self.region}:{self.account}:log-group:/aws-glue/*"],
            ),
        ]
        crawler = iam.ManagedPolicy(self, "CrawlerPolicy", roles=[self.roles["crawler"]], statements=crawler_statements)
        ingestion_statements: list[iam.PolicyStatement] = []
        ingestion = None
        if not self.osaka:
            ingestion, ingestion_statements = self._ingestion_policy(zones, key)
        lake_formation_statements = [
            iam.PolicyStatement(
                sid="ListZones", actions=["s3:ListBucket"], resources=[b.bucket_arn for b in zones.values()]
            ),
            iam.PolicyStatement(
                sid="ReadWriteZones",
                actions=["s3:GetObject", "s3:PutObject", "s3:DeleteObject"],
                resources=[b.arn_for_objects("*") for b in zones.values()],
            ),
            iam.PolicyStatement(
                sid="UseDataLakeKey", actions=["kms:Decrypt", "kms:GenerateDataKey"], resources=[key.key_arn]
            ),
        ]
        lake_formation = iam.ManagedPolicy(
            self, "LakeFormationPolicy", roles=[self.roles["lake-formation"]], statements=lake_formation_statements
        )
        acknowledged = [
            (
                crawler,
                crawler_statements,
                "Crawlers read every object of the zones they crawl and create the tables they find, whose names are "
                "not known in advance; Glue authorizes catalog reads and lakeformation:GetDataAccess only on '*' "
                "at this granularity.",
            ),
            (
                ingestion,
                ingestion_statements,
                "Ingestion writes objects under keys partitioned by dataset and date in the raw zone only.",
            ),
            (
                lake_formation,
                lake_formation_statements,
                "Lake Formation reads and writes objects of the registered zone locations on behalf of granted "
                "principals.",
            ),
        ]
        for policy, statements, why in acknowledged:
            if policy is not None:
                acknowledge_wildcards(policy, statements, why)

    def _ingestion_policy(
        self, zones: dict[str, s3.IBucket], key: kms.IKey
    ) -> tuple[iam.ManagedPolicy, list[iam.PolicyStatement]]:
        ingestion_statements = [
            # Batches arrive as multipart uploads, written only if absent (If-None-Match); a failed one is aborted.
            iam.PolicyStatement(
                sid="WriteRaw",
                actions=["s3:PutObject", "s3:AbortMultipartUpload"],
                resources=[zones["raw"].arn_for_objects("*")],
            ),
            # A multipart upload also decrypts the data keys of its parts.
            iam.PolicyStatement(
                sid="EncryptRaw", actions=["kms:GenerateDataKey", "kms:Decrypt"], resources=[key.key_arn]
            ),
        ]
        ingestion = iam.ManagedPolicy(
            self, "IngestionPolicy", roles=[self.roles["ingestion"]], statements=ingestion_statements
        )
        return ingestion, ingestion_statements

    def _grant_queries(self, cfg: Config, buckets: dict[str, s3.IBucket], key: kms.IKey) -> None:
        """Analysts and stewards query through the workgroup; Lake Formation decides which tables they see."""
        workgroup_arn = f"arn:aws:athena:{self.region}:{self.account}:workgroup/{self.workgroup.name}"
        for who, zones in (("analyst", ANALYST_ZONES), ("steward", STEWARD_ZONES)):
            catalog = [f"arn:aws:glue:{self.region}:{self.account}:catalog"]
            for zone in zones:
                db = naming.glue_database(cfg, zone)
                catalog += [
                    f"arn:aws:glue:{self.region}:{self.account}:database/{db}",
                    f"arn:aws:glue:{self.region}:{self.account}:table/{db}/*",
                ]
            statements = [
                iam.PolicyStatement(
                    sid="QueryInTheWorkgroup",
                    actions=[
                        "athena:StartQueryExecution",
                        "athena:GetQueryExecution",
                        "athena:GetQueryResults",
                        "athena:StopQueryExecution",
                        "athena:GetWorkGroup",
                    ],
                    resources=[workgroup_arn],
                ),
                iam.PolicyStatement(
                    sid="CatalogOfOwnZones",
                    actions=[
                        "glue:GetDatabase",
                        "glue:GetDatabases",
                        "glue:GetTable",
                        "glue:GetTables",
                        "glue:GetPartitions",
                    ],
                    resources=catalog,
                ),
                iam.PolicyStatement(
                    sid="DataThroughLakeFormation", actions=["lakeformation:GetDataAccess"], resources=["*"]
                ),
                iam.PolicyStatement(
                    sid="OwnQueryResults",
                    actions=["s3:GetObject", "s3:PutObject", "s3:ListBucket", "s3:GetBucketLocation"],
                    resources=[buckets[RESULTS].bucket_arn, buckets[RESULTS].arn_for_objects("*")],
                ),
                iam.PolicyStatement(
                    sid="ResultsKey", actions=["kms:Decrypt", "kms:GenerateDataKey"], resources=[key.key_arn]
                ),
            ]
            policy = iam.ManagedPolicy(self, f"{who.title()}Policy", roles=[self.roles[who]], statements=statements)
            acknowledge_wildcards(
                policy,
                statements,
                "Tables of the granted zones are created by crawlers (table/<database>/*), query results get generated "
                "names, and lakeformation:GetDataAccess takes only '*': Lake Formation grants decide the tables.",
            )

    @staticmethod
    def _grant_read(
        name: str, role: iam.IRole, database: glue.CfnDatabase, settings: lakeformation.CfnDataLakeSettings
    ) -> None:
        scope = role.node.scope
        assert scope is not None
        db_name = str(database.database_input.name)  # type: ignore[union-attr]
        for suffix, resource, permissions in (
            (
                "Database",
                lakeformation.CfnPrincipalPermissions.ResourceProperty(
                    database=lakeformation.CfnPrincipalPermissions.DatabaseResourceProperty(
                        catalog_id=database.catalog_id, name=db_name
                    )
                ),
                ["DESCRIBE"],
            ),
            (
                "Tables",
                lakeformation.CfnPrincipalPermissions.ResourceProperty(
                    table=lakeformation.CfnPrincipalPermissions.TableResourceProperty(
                        catalog_id=database.catalog_id, database_name=db_name, table_wildcard={}
                    )
                ),
                ["SELECT", "DESCRIBE"],
            ),
        ):
            grant = lakeformation.CfnPrincipalPermissions(
                scope,  # type: ignore[arg-type]
                f"{name}{suffix}Grant",
                principal=lakeformation.CfnPrincipalPermissions.DataLakePrincipalProperty(
                    data_lake_principal_identifier=role.role_arn
                ),
                resource=resource,
                permissions=permissions,
                permissions_with_grant_option=[],
            )
            grant.add_resource_dependency(settings)
            grant.add_resource_dependency(database)

    @staticmethod
    def _grant_crawler(
        zone: str,
        role: iam.IRole,
        database: glue.CfnDatabase,
        bucket: s3.IBucket,
        settings: lakeformation.CfnDataLakeSettings,
        location: lakeformation.CfnResource,
    ) -> None:
        scope = role.node.scope
        assert scope is not None
        db_name = str(database.database_input.name)  # type: ignore[union-attr]
        P = lakeformation.CfnPrincipalPermissions
        for suffix, resource, permissions in (
            (
                "Database",
                P.ResourceProperty(database=P.DatabaseResourceProperty(catalog_id=database.catalog_id, name=db_name)),
                ["CREATE_TABLE", "ALTER", "DESCRIBE"],
            ),
            (
                "Tables",
                P.ResourceProperty(
                    table=P.TableResourceProperty(
                        catalog_id=database.catalog_id, database_name=db_name, table_wildcard={}
                    )
                ),
                ["ALTER", "DROP", "DESCRIBE", "SELECT", "INSERT", "DELETE"],
            ),
            (
                "Location",
                P.ResourceProperty(
                    data_location=P.DataLocationResourceProperty(
                        catalog_id=database.catalog_id, resource_arn=bucket.bucket_arn
                    )
                ),
                ["DATA_LOCATION_ACCESS"],
            ),
        ):
            grant = P(
                scope,  # type: ignore[arg-type]
                f"Crawler{zone.title()}{suffix}Grant",
                principal=P.DataLakePrincipalProperty(data_lake_principal_identifier=role.role_arn),
                resource=resource,
                permissions=permissions,
                permissions_with_grant_option=[],
            )
            grant.add_resource_dependency(settings)
            grant.add_resource_dependency(database)
            grant.add_resource_dependency(location)
