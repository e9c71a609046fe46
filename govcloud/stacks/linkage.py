"""Data linkage platform (データ連携基盤): a private API and a file and event exchange between the core systems.

``LinkageDataStack`` (stateful): the exchange bucket, the pseudonymization key (HMAC, never leaves KMS) and the
key of the subscriber queues. ``LinkageStack`` (stateless): the functions, the private API, the event bus and the
subscriber queues. The handler code is ``govcloud/runtime/linkage/``, packaged whole.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import aws_cdk as cdk
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_guardduty as guardduty
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from govcloud import naming
from govcloud.compliance.packs import acknowledge, acknowledge_wildcards
from govcloud.config import Config, pascal
from govcloud.config.linkage import handler_datasets
from govcloud.constructs.buckets import SecureBucket
from govcloud.constructs.data_events import data_events_trail
from govcloud.constructs.function_identity import function_identity
from govcloud.constructs.keys import KEY_ADMIN_ACTIONS, DataKey, lock_statements, service_statement
from govcloud.constructs.log_groups import encrypted_log_group
from govcloud.stacks.base import GovCloudStack

RUNTIME_DIR = Path(__file__).resolve().parent.parent / "runtime" / "linkage"
DATASETS_FILE = "datasets.json"  # beside the handlers in the function's code
# What a subscriber does with its queue: read, delete what it processed, extend its time; never send.
SUBSCRIBER_QUEUE_ACTIONS = [
    "sqs:ReceiveMessage",
    "sqs:DeleteMessage",
    "sqs:ChangeMessageVisibility",
    "sqs:GetQueueAttributes",
]


def callers_statement(
    cfg: Config,
    systems: list[str],
    *,
    sid: str,
    actions: list[str],
    resources: list[str],
    conditions: dict[str, dict[str, object]] | None = None,
) -> iam.PolicyStatement:
    """A resource-policy statement for the caller roles of ``systems``: the callers' accounts as principals, their
    roles by ``aws:PrincipalArn``. KMS, S3, SQS and API Gateway reject a policy whose principal is a role that does
    not exist yet, and the roles do not: a business system of this landing zone creates its caller roles after the
    platform, and a vendor creates its own whenever it does."""
    return iam.PolicyStatement(
        sid=sid,
        principals=[iam.AccountPrincipal(a) for a in sorted({cfg.linkage.systems[s].account for s in systems})],
        actions=actions,
        resources=resources,
        conditions={
            "ArnEquals": {
                "aws:PrincipalArn": sorted(arn for s in systems for arn in naming.linkage_caller_role_arns(cfg, s))
            },
            **(conditions or {}),
        },
    )


class LinkageDataStack(GovCloudStack):
    def __init__(
        self, scope: Construct, construct_id: str, *, cfg: Config, key: kms.IKey, upload_endpoints: dict[str, str]
    ) -> None:
        """``upload_endpoints``: the S3 gateway endpoint of each calling system's spoke, by system name (systems
        run elsewhere upload from their accounts' caller roles)."""
        link = cfg.linkage
        super().__init__(
            scope,
            construct_id,
            cfg=cfg,
            account=link.account,
            summary="data linkage platform storage (exchange bucket, pseudonymization key, queue key)",
            system="linkage",
            classification="restricted",
        )
        self._exchange_bucket(key)
        self._caller_grants(key, upload_endpoints)
        self._data_events()
        if link.exchange.malware_protection:
            self._malware_protection(key)
        self._pseudonymization_key()
        self._queue_key()

    def _exchange_bucket(self, key: kms.IKey) -> None:
        """The bucket batches go through: an inbox per dataset and producer, the outbox and records subscribers
        read, quarantine, and the batch manifests. Each prefix is kept only as long as it is needed."""
        cfg, exchange = self.cfg, self.cfg.linkage.exchange
        days = {
            "delivery": exchange.delivery_days,
            "quarantine": exchange.quarantine_days,
            "manifest": exchange.manifest_days,
        }
        access_logs = self.access_log_bucket()
        secure = SecureBucket(
            self,
            "ExchangeBucket",
            bucket_name=naming.exchange_bucket(cfg),
            encryption_key=key,
            access_logs=access_logs,
            access_log_prefix="exchange/",
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="ReplacedVersionsAndUnfinishedUploads",
                    noncurrent_version_expiration=cdk.Duration.days(exchange.noncurrent_expire_after_days),
                    abort_incomplete_multipart_upload_after=cdk.Duration.days(1),
                ),
                *(
                    s3.LifecycleRule(
                        id=f"Expire{pascal(prefix)}",
                        prefix=f"{prefix}/",
                        expiration=cdk.Duration.days(days[kind]),
                    )
                    for prefix, kind in naming.EXCHANGE_PREFIXES.items()
                ),
            ],
        )
        self.bucket = secure.bucket
        cfn_bucket = self.bucket.node.default_child
        assert isinstance(cfn_bucket, s3.CfnBucket)
        # S3 sends object events to the default event bus only; the platform forwards them to its own bus.
        cfn_bucket.notification_configuration = s3.CfnBucket.NotificationConfigurationProperty(
            event_bridge_configuration=s3.CfnBucket.EventBridgeConfigurationProperty(event_bridge_enabled=True)
        )
        acknowledge(
            self.bucket,
            "NIST.800.53.R5-S3BucketReplicationEnabled",
            "The exchange bucket holds data in transit between systems for days; the accepted data is kept in the data "
            "lake, whose raw zone is replicated to Osaka.",
        )

    def _readers(self) -> list[str]:
        """Every principal that may read an object of the exchange: the functions, the malware scan, subscribers."""
        cfg, link = self.cfg, self.cfg.linkage
        readers = naming.linkage_function_role_arns(cfg)
        if link.exchange.malware_protection:
            readers.append(naming.role_arn(cfg.account_id(link.account), naming.linkage_malware_scan_role(cfg)))
        subscribers = sorted({s for d in link.datasets.values() for s in d.subscribers})
        return readers + sorted(arn for s in subscribers for arn in naming.linkage_caller_role_arns(cfg, s))

    def _caller_grants(self, key: kms.IKey, upload_endpoints: dict[str, str]) -> None:
        """Who may put and get which objects: each dataset's producer its inbox folder, through its spoke's S3
        endpoint (or from its account's caller roles when it runs elsewhere), with the linkage key; each dataset's
        subscribers its committed outbox files; nobody else reads anything."""
        cfg, link = self.cfg, self.cfg.linkage
        region, account = cfg.regions.primary.name, cfg.account_id(link.account)
        inbox, everything = self.bucket.arn_for_objects("inbox/*"), self.bucket.arn_for_objects("*")
        for name, dataset in sorted(link.datasets.items()):
            self.bucket.add_to_resource_policy(
                callers_statement(
                    cfg,
                    [dataset.producer],
                    sid=f"Upload{pascal(name)}",
                    actions=["s3:PutObject"],
                    resources=[self.bucket.arn_for_objects(naming.inbox_objects(name, dataset.producer))],
                )
            )
            self.bucket.add_to_resource_policy(
                callers_statement(
                    cfg,
                    list(dataset.subscribers),
                    sid=f"Read{pascal(name)}",
                    actions=["s3:GetObject"],
                    resources=[self.bucket.arn_for_objects(naming.outbox_objects(name))],
                    conditions={"StringEquals": {"s3:ExistingObjectTag/state": "committed"}},
                )
            )
        elsewhere = sorted({s.account for s in link.systems.values() if s.spoke is None})
        self.bucket.add_to_resource_policy(
            iam.PolicyStatement(
                sid="UploadsOnlyThroughTheCallersEndpoints",
                effect=iam.Effect.DENY,
                principals=[iam.AnyPrincipal()],
                actions=["s3:PutObject"],
                resources=[inbox],
                conditions={
                    "StringNotEquals": {
                        "aws:SourceVpce": [upload_endpoints[s] for s in sorted(upload_endpoints)],
                        **({"aws:PrincipalAccount": elsewhere} if elsewhere else {}),
                    }
                },
            )
        )
        alias_arn = f"arn:aws:kms:{region}:{account}:{naming.key_alias(cfg, 'linkage')}"
        self.bucket.add_to_resource_policy(
            iam.PolicyStatement(
                sid="UploadsOnlyWithTheLinkageKey",
                effect=iam.Effect.DENY,
                principals=[iam.AnyPrincipal()],
                actions=["s3:PutObject"],
                resources=[inbox],
                conditions={
                    "StringNotEquals": {"s3:x-amz-server-side-encryption-aws-kms-key-id": [key.key_arn, alias_arn]}
                },
            )
        )
        self.bucket.add_to_resource_policy(
            iam.PolicyStatement(
                sid="ReadsOnlyByTheNamedRoles",
                effect=iam.Effect.DENY,
                principals=[iam.AnyPrincipal()],
                actions=["s3:GetObject", "s3:GetObjectVersion"],
                resources=[everything],
                conditions={"ArnNotEquals": {"aws:PrincipalArn": self._readers()}},
            )
        )
        producers = sorted({d.producer for d in link.datasets.values()})
        subscribers = sorted({s for d in link.datasets.values() for s in d.subscribers})
        via_s3: dict[str, dict[str, object]] = {"StringEquals": {"kms:ViaService": f"s3.{region}.amazonaws.com"}}
        # Producers encrypt their uploads with the exchange bucket's key (a multipart upload also decrypts its
        # parts' keys), subscribers decrypt what they read; through S3 only.
        key.add_to_resource_policy(
            callers_statement(
                cfg,
                producers,
                sid="ProducersUploadThroughS3",
                actions=["kms:GenerateDataKey", "kms:Decrypt"],
                resources=["*"],
                conditions=via_s3,
            )
        )
        key.add_to_resource_policy(
            callers_statement(
                cfg,
                subscribers,
                sid="SubscribersReadThroughS3",
                actions=["kms:Decrypt"],
                resources=["*"],
                conditions=via_s3,
            )
        )

    def _data_events(self) -> None:
        """Every read and write of the exchange's objects, recorded by a trail of its own into the log archive
        (the organisation's trail records management events only)."""
        cfg = self.cfg
        data_events_trail(
            self,
            "ExchangeDataEvents",
            cfg=cfg,
            name="linkage-exchange-data-events",
            buckets=[self.bucket],
            log_bucket=s3.Bucket.from_bucket_name(self, "CentralLogBucket", naming.log_bucket(cfg)),
            reason="Data events of the exchange (one per object read or written) go to the tamper-proof log archive "
            "for audit; alarms work on the management events of the organisation's trail.",
        )

    def _malware_protection(self, key: kms.IKey) -> None:
        """GuardDuty Malware Protection for S3 on the inbox: each upload is scanned and tagged with the result
        before the file handler reads it (it receives the scan result, not the upload event)."""
        cfg, region = self.cfg, self.cfg.regions.primary.name
        bucket = f"arn:aws:s3:::{naming.exchange_bucket(cfg)}"  # literal: the wildcard acknowledgement reads it
        guard_rules = f"arn:aws:events:{region}:{self.account}:rule/DO-NOT-DELETE-AmazonGuardDutyMalwareProtectionS3*"
        statements = [
            iam.PolicyStatement(
                sid="ManagedEventRule",
                actions=["events:PutRule", "events:DeleteRule", "events:PutTargets", "events:RemoveTargets"],
                resources=[guard_rules],
                conditions={"StringLike": {"events:ManagedBy": "malware-protection-plan.guardduty.amazonaws.com"}},
            ),
            iam.PolicyStatement(
                sid="DescribeManagedEventRule",
                actions=["events:DescribeRule", "events:ListTargetsByRule"],
                resources=[guard_rules],
            ),
            iam.PolicyStatement(
                sid="BucketNotifications",
                actions=[
                    "s3:PutBucketNotification",
                    "s3:GetBucketNotification",
                    "s3:GetBucketLocation",
                    "s3:ListBucket",
                ],
                resources=[bucket],
            ),
            iam.PolicyStatement(
                sid="ScanAndTagUploads",
                actions=[
                    "s3:GetObject",
                    "s3:GetObjectVersion",
                    "s3:GetObjectTagging",
                    "s3:GetObjectVersionTagging",
                    "s3:PutObjectTagging",
                    "s3:PutObjectVersionTagging",
                ],
                resources=[f"{bucket}/inbox/*"],
            ),
            iam.PolicyStatement(
                sid="ValidationObject",
                actions=["s3:PutObject"],
                resources=[f"{bucket}/malware-protection-resource-validation-object"],
            ),
            iam.PolicyStatement(
                sid="ExchangeKeyThroughS3",
                actions=["kms:GenerateDataKey", "kms:Decrypt"],
                resources=[key.key_arn],
                conditions={"StringEquals": {"kms:ViaService": f"s3.{region}.amazonaws.com"}},
            ),
        ]
        role = iam.Role(
            self,
            "MalwareScanRole",
            role_name=naming.linkage_malware_scan_role(cfg),
            assumed_by=iam.ServicePrincipal("malware-protection-plan.guardduty.amazonaws.com").with_conditions(
                {"StringEquals": {"aws:SourceAccount": self.account}}
            ),
            description="GuardDuty Malware Protection for S3: scans and tags uploads to the linkage inbox",
        )
        policy = iam.ManagedPolicy(self, "MalwareScanPolicy", roles=[role], statements=statements)
        acknowledge_wildcards(
            policy,
            statements,
            "GuardDuty names its managed rule DO-NOT-DELETE-AmazonGuardDutyMalwareProtectionS3-<id> when the plan is "
            "created; uploads are named by their producers under inbox/.",
        )
        plan = guardduty.CfnMalwareProtectionPlan(
            self,
            "InboxMalwareProtection",
            role=role.role_arn,
            protected_resource=guardduty.CfnMalwareProtectionPlan.CFNProtectedResourceProperty(
                s3_bucket=guardduty.CfnMalwareProtectionPlan.S3BucketProperty(
                    bucket_name=self.bucket.bucket_name, object_prefixes=["inbox/"]
                )
            ),
            actions=guardduty.CfnMalwareProtectionPlan.CFNActionsProperty(
                tagging=guardduty.CfnMalwareProtectionPlan.CFNTaggingProperty(status="ENABLED")
            ),
        )
        # GuardDuty checks the role's access when the plan is created: the role's policy and the bucket policy
        # must be in place by then.
        plan.node.add_dependency(policy)
        assert self.bucket.policy is not None
        plan.node.add_dependency(self.bucket.policy)

    def _pseudonymization_key(self) -> None:
        """The platform's HMAC key. It never leaves KMS; the functions derive their batch key from it with one
        GenerateMac call per batch (see the runtime's pseudonym module), so only their roles may call it."""
        cfg = self.cfg
        functions = naming.linkage_function_role_arns(cfg)
        self.mac_key = kms.Key(
            self,
            "PseudonymizationKey",
            alias=naming.pseudonymization_key_alias(cfg),
            description=f"{cfg.name}: HMAC key for pseudonymizing personal identifiers; it never leaves KMS",
            key_spec=kms.KeySpec.HMAC_256,
            key_usage=kms.KeyUsage.GENERATE_VERIFY_MAC,
            removal_policy=cdk.RemovalPolicy.RETAIN,
            pending_window=cdk.Duration.days(30),
            # The account administers the key (no grants: CreateGrant is not an administrator's action); only the
            # linkage functions' roles compute MACs with it, and nobody verifies one (a verifier could test guesses).
            policy=iam.PolicyDocument(
                statements=[
                    iam.PolicyStatement(
                        sid="KeyAdministration",
                        principals=[iam.AccountRootPrincipal()],
                        actions=KEY_ADMIN_ACTIONS,
                        resources=["*"],
                    ),
                    iam.PolicyStatement(
                        sid="FunctionsGenerateMac",
                        principals=[iam.AccountRootPrincipal()],
                        actions=["kms:GenerateMac"],
                        resources=["*"],
                        conditions={
                            "ArnEquals": {"aws:PrincipalArn": functions},
                            "StringEquals": {"kms:MacAlgorithm": "HMAC_SHA_256"},
                        },
                    ),
                    iam.PolicyStatement(
                        sid="NobodyElseGeneratesMacs",
                        effect=iam.Effect.DENY,
                        principals=[iam.AnyPrincipal()],
                        actions=["kms:GenerateMac"],
                        resources=["*"],
                        conditions={"ArnNotEquals": {"aws:PrincipalArn": functions}},
                    ),
                    iam.PolicyStatement(
                        sid="NobodyVerifiesMacs",
                        effect=iam.Effect.DENY,
                        principals=[iam.AnyPrincipal()],
                        actions=["kms:VerifyMac"],
                        resources=["*"],
                    ),
                    iam.PolicyStatement(
                        sid="NoGrants",
                        effect=iam.Effect.DENY,
                        principals=[iam.AnyPrincipal()],
                        actions=["kms:CreateGrant"],
                        resources=["*"],
                    ),
                    *lock_statements(self),
                ]
            ),
        )
        cdk.Tags.of(self.mac_key).add("DataClassification", "restricted")
        for rule in ("AwsSolutions-KMS5", "NIST.800.53.R5-KMSBackingKeyRotationEnabled"):
            acknowledge(
                self.mac_key,
                rule,
                "KMS cannot rotate HMAC keys, and a new key would give every resident a new token, breaking the "
                "joins across the data lake that pseudonymization exists to keep possible.",
            )

    def _queue_key(self) -> None:
        cfg, link = self.cfg, self.cfg.linkage
        account, region = cfg.account_id(link.account), cfg.regions.primary.name
        readers = sorted({s for d in link.datasets.values() for s in (d.producer, *d.subscribers)})
        self.queue_key = DataKey(
            self,
            "QueueKey",
            alias=naming.queue_key_alias(cfg),
            data_class="linkage",
            description=f"{cfg.name}: subscriber queues of the linkage platform",
            via_services=["sqs"],
            service_statements=[
                service_statement(
                    "EventBridgeDelivers",
                    "events.amazonaws.com",
                    ["kms:Decrypt", "kms:GenerateDataKey*"],
                    {"StringEquals": {"aws:SourceAccount": account}},
                ),
                callers_statement(
                    cfg,
                    readers,
                    sid="SystemsReadTheirQueues",
                    actions=["kms:Decrypt"],
                    resources=["*"],
                    conditions={"StringEquals": {"kms:ViaService": f"sqs.{region}.amazonaws.com"}},
                ),
                service_statement(
                    "AlarmsOnQueues",
                    "cloudwatch.amazonaws.com",
                    ["kms:Decrypt", "kms:GenerateDataKey*"],
                    {"StringEquals": {"aws:SourceAccount": account}},
                ),
            ],
        ).key


class LinkageStack(GovCloudStack):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        cfg: Config,
        data: LinkageDataStack,
        vpc: ec2.IVpc,
        key: kms.IKey,
        logs_key: kms.IKey,
        alarm_topic: sns.ITopic,
        api_endpoints: dict[str, str],
    ) -> None:
        """``api_endpoints``: the execute-api endpoint of each calling system, by system name."""
        link = cfg.linkage
        super().__init__(
            scope,
            construct_id,
            cfg=cfg,
            account=link.account,
            summary="data linkage platform (private API, file and event exchange, subscriber queues, handlers)",
            system="linkage",
            classification="restricted",
        )
        self.logs_key = logs_key
        environment = self._environment(data)
        self._functions(data, vpc, key, alarm_topic, environment)
        self._events(cfg, data, alarm_topic)
        self._api(cfg, api_endpoints)

    def _environment(self, data: LinkageDataStack) -> dict[str, str]:
        """The event bus, and what the handlers read from their environment."""
        cfg = self.cfg
        self.bus = events.EventBus(self, "Bus", event_bus_name=naming.linkage_bus(cfg))
        ingestion_role = naming.data_lake_role_arn(cfg, "ingestion")
        return {
            "EXCHANGE_BUCKET": naming.exchange_bucket(cfg),
            "RAW_BUCKET": naming.data_lake_bucket(cfg, "raw"),
            "INGESTION_ROLE_ARN": ingestion_role,
            "MAC_KEY_ID": data.mac_key.key_arn,
            "EVENT_BUS": self.bus.event_bus_name,
            "API_MAX_BYTES": str(cfg.linkage.exchange.api_max_bytes),
            "MALWARE_SCAN": "on" if cfg.linkage.exchange.malware_protection else "off",
        }

    def _functions(
        self, data: LinkageDataStack, vpc: ec2.IVpc, key: kms.IKey, alarm_topic: sns.ITopic, environment: dict[str, str]
    ) -> None:
        """The API and file handlers, in the spoke's application subnets: HTTPS only to the hub's endpoints, S3 and
        the spoke's own endpoints."""
        cfg, link, logs_key = self.cfg, self.cfg.linkage, self.logs_key
        group = self._function_security_group(vpc)
        statements = self._function_statements(data, key)
        staging = tempfile.TemporaryDirectory()
        code = self._code(Path(staging.name))
        self.functions: dict[str, lambda_.Function] = {}
        for purpose, handler in (("api", "linkage.api_handler"), ("files", "linkage.file_handler")):
            identity = function_identity(
                self,
                pascal(purpose),
                statements=statements,
                log_key=logs_key,
                log_retention_days=cfg.logging.retention_days,
                log_group_name=naming.linkage_log_group(cfg, purpose),  # fixed: the policy names it literally
                role_name=naming.linkage_function_role(cfg, purpose),
            )
            acknowledge_wildcards(
                identity.policy,
                statements,
                "Objects of the exchange are named per dataset, date and batch at run time (prefix/*); Lambda "
                "manages the function's network interfaces with EC2 calls that take no resource-level scoping.",
            )
            dead_letters = None
            if purpose == "files":
                dead_letters = sqs.Queue(
                    self,
                    "FilesDeadLetters",
                    encryption=sqs.QueueEncryption.KMS,
                    encryption_master_key=data.queue_key,
                    enforce_ssl=True,
                    removal_policy=cdk.RemovalPolicy.RETAIN,
                    retention_period=cdk.Duration.days(14),
                )
                acknowledge(
                    dead_letters, "AwsSolutions-SQS3", "This queue is itself the dead-letter queue of the file handler."
                )
                self._alarm(
                    dead_letters, "FilesDeadLettersAlarm", alarm_topic, "file handler events that failed every retry"
                )
            function = lambda_.Function(
                self,
                f"{pascal(purpose)}Function",
                runtime=lambda_.Runtime.PYTHON_3_14,
                handler=handler,
                code=code,
                role=identity.role,
                vpc=vpc,
                vpc_subnets=ec2.SubnetSelection(subnet_group_name="Application"),
                security_groups=[group],
                allow_public_subnet=False,
                environment=environment,
                environment_encryption=key,
                # A file of Kobe's 1.51 million residents takes about 15 s on one vCPU (README): the file handler
                # gets a full vCPU (1769 MB and more) and the longest time Lambda allows.
                timeout=cdk.Duration.seconds(900 if purpose == "files" else 60),
                memory_size=2048 if purpose == "files" else 512,
                reserved_concurrent_executions=link.reserved_concurrency,
                log_group=identity.log_group,
                dead_letter_queue=dead_letters,
                retry_attempts=2 if purpose == "files" else None,
                description=f"Data linkage platform: {purpose} handler",
            )
            function.node.add_dependency(identity.policy)
            self.functions[purpose] = function
        staging.cleanup()  # CDK staged the asset when the first function bound it
        acknowledge(
            self.functions["files"].role.node.find_child("DefaultPolicy"),  # type: ignore[union-attr]
            "NIST.800.53.R5-IAMNoInlinePolicy",
            "CDK adds sqs:SendMessage on the file handler's own dead-letter queue as an inline policy; everything "
            "else the handler may do is in its managed policy.",
        )
        acknowledge(
            self.functions["api"],
            "NIST.800.53.R5-LambdaDLQ",
            "API Gateway invokes this handler synchronously: a failure is answered to the caller, who still holds "
            "the batch; a dead-letter queue serves asynchronous invocations only.",
        )

    def _code(self, staging: Path) -> lambda_.Code:
        """The runtime folder with the datasets beside it (``datasets.json``). Not an environment variable: Lambda
        allows 4 KB of them in all, which three datasets of ten columns would exceed."""
        target = staging / "linkage"
        shutil.copytree(RUNTIME_DIR, target, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        (target / DATASETS_FILE).write_text(handler_datasets(self.cfg), encoding="utf-8")
        return lambda_.Code.from_asset(str(target))

    def _function_security_group(self, vpc: ec2.IVpc) -> ec2.SecurityGroup:
        cfg, link = self.cfg, self.cfg.linkage
        group = ec2.SecurityGroup(
            self,
            "FunctionSecurityGroup",
            vpc=vpc,
            description="Linkage functions: HTTPS to endpoints only",
            allow_all_outbound=False,
        )
        group.add_egress_rule(
            ec2.Peer.ipv4(cfg.network.hub_cidr), ec2.Port.tcp(443), "HTTPS to the hub's shared endpoints"
        )
        group.add_egress_rule(
            ec2.Peer.prefix_list(cfg.network.s3_prefix_list_id),
            ec2.Port.tcp(443),
            "HTTPS to S3 through the gateway endpoint",
        )
        own = cfg.network.spokes[link.spoke].cidr
        group.add_egress_rule(ec2.Peer.ipv4(own), ec2.Port.tcp(443), "HTTPS to this spoke's own endpoints")
        return group

    def _function_statements(self, data: LinkageDataStack, key: kms.IKey) -> list[iam.PolicyStatement]:
        """What both handlers may do: the exchange's folders and key, MACs, the ingestion role, their bus, ENIs."""
        cfg = self.cfg
        ingestion_role = naming.data_lake_role_arn(cfg, "ingestion")
        exchange = naming.exchange_bucket(cfg)
        return [
            iam.PolicyStatement(
                sid="Exchange",
                actions=[
                    "s3:GetObject",
                    "s3:GetObjectVersion",
                    "s3:PutObject",
                    "s3:AbortMultipartUpload",
                    "s3:GetObjectTagging",
                    "s3:GetObjectVersionTagging",
                    "s3:PutObjectTagging",
                    "s3:DeleteObject",
                    "s3:DeleteObjectVersion",
                ],
                resources=[f"arn:aws:s3:::{exchange}/{prefix}/*" for prefix in naming.EXCHANGE_PREFIXES],
            ),
            iam.PolicyStatement(
                sid="ExchangeKey", actions=["kms:Decrypt", "kms:GenerateDataKey"], resources=[key.key_arn]
            ),
            iam.PolicyStatement(
                sid="Pseudonymize",
                actions=["kms:GenerateMac"],
                resources=[data.mac_key.key_arn],
                conditions={"StringEquals": {"kms:MacAlgorithm": "HMAC_SHA_256"}},
            ),
            iam.PolicyStatement(
                sid="WriteRawThroughIngestionRole", actions=["sts:AssumeRole"], resources=[ingestion_role]
            ),
            iam.PolicyStatement(sid="Publish", actions=["events:PutEvents"], resources=[self.bus.event_bus_arn]),
            iam.PolicyStatement(
                sid="VpcNetworkInterfaces",
                actions=[
                    "ec2:CreateNetworkInterface",
                    "ec2:DescribeNetworkInterfaces",
                    "ec2:DeleteNetworkInterface",
                    "ec2:AssignPrivateIpAddresses",
                    "ec2:UnassignPrivateIpAddresses",
                ],
                resources=["*"],
            ),
        ]

    def _alarm(self, queue: sqs.IQueue, construct_id: str, topic: sns.ITopic, what: str) -> None:
        alarm = cloudwatch.Alarm(
            self,
            construct_id,
            alarm_description=f"Linkage dead letters: {what}",
            metric=queue.metric_approximate_number_of_messages_visible(period=cdk.Duration.minutes(5)),
            threshold=1,
            evaluation_periods=1,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        alarm.add_alarm_action(cw_actions.SnsAction(topic))

    def _events(self, cfg: Config, data: LinkageDataStack, topic: sns.ITopic) -> None:
        link = cfg.linkage
        bucket = naming.exchange_bucket(cfg)
        # Inbox uploads reach the file handler from the default bus through the linkage bus: as GuardDuty's scan
        # result when malware protection is on (never before the scan), else as S3's object event.
        if link.exchange.malware_protection:
            inbox = events.EventPattern(
                source=["aws.guardduty"],
                detail_type=["GuardDuty Malware Protection Object Scan Result"],
                detail={"s3ObjectDetails": {"bucketName": [bucket], "objectKey": [{"prefix": "inbox/"}]}},
            )
            what = "malware scan results of inbox uploads"
        else:
            inbox = events.EventPattern(
                source=["aws.s3"],
                detail_type=["Object Created"],
                detail={"bucket": {"name": [bucket]}, "object": {"key": [{"prefix": "inbox/"}]}},
            )
            what = "S3 inbox events"
        forward = events.Rule(self, "ForwardInboxEvents", description=f"{what} to the linkage bus", event_pattern=inbox)
        forward.add_target(targets.EventBus(self.bus))
        acknowledge(
            forward,
            "NIST.800.53.R5-IAMNoInlinePolicy",
            "CDK's role for forwarding events to the linkage bus has one inline statement: events:PutEvents on "
            "that bus.",
        )
        events.Rule(
            self,
            "InboxToFileHandler",
            event_bus=self.bus,
            description=f"{what} to the file handler",
            event_pattern=inbox,
        ).add_target(
            targets.LambdaFunction(self.functions["files"], retry_attempts=2, max_event_age=cdk.Duration.hours(6))
        )
        self._system_queues(cfg, data, topic)
        for name, dataset in sorted(link.datasets.items()):
            for subscriber in dataset.subscribers:
                events.Rule(
                    self,
                    f"{pascal(name)}To{pascal(subscriber)}",
                    event_bus=self.bus,
                    description=f"{name} to {subscriber}",
                    event_pattern=events.EventPattern(
                        source=["govcloud.linkage"], detail_type=["DatasetRecordsAccepted"], detail={"dataset": [name]}
                    ),
                ).add_target(targets.SqsQueue(self.queues[subscriber]))
        for producer in sorted({d.producer for d in link.datasets.values()}):
            events.Rule(
                self,
                f"QuarantinedTo{pascal(producer)}",
                event_bus=self.bus,
                description=f"batches of {producer} that were refused, with their reason, to {producer}",
                event_pattern=events.EventPattern(
                    source=["govcloud.linkage"],
                    detail_type=["DatasetBatchQuarantined"],
                    detail={"producer": [producer]},
                ),
            ).add_target(targets.SqsQueue(self.queues[producer]))

    def _system_queues(self, cfg: Config, data: LinkageDataStack, topic: sns.ITopic) -> None:
        """A queue per system: a subscriber's notices of new batches, a producer's of its refused ones; each with
        its dead-letter queue and an alarm on it."""
        link = cfg.linkage
        self.queues: dict[str, sqs.Queue] = {}
        systems = sorted({s for d in link.datasets.values() for s in (d.producer, *d.subscribers)})
        for system in systems:
            dead = sqs.Queue(
                self,
                f"{pascal(system)}DeadLetters",
                queue_name=f"{naming.system_queue(cfg, system)}-dead-letters",
                encryption=sqs.QueueEncryption.KMS,
                encryption_master_key=data.queue_key,
                enforce_ssl=True,
                removal_policy=cdk.RemovalPolicy.RETAIN,
                retention_period=cdk.Duration.days(14),
            )
            acknowledge(dead, "AwsSolutions-SQS3", "This queue is itself the dead-letter queue of a system's queue.")
            queue = sqs.Queue(
                self,
                f"{pascal(system)}Queue",
                queue_name=naming.system_queue(cfg, system),
                encryption=sqs.QueueEncryption.KMS,
                encryption_master_key=data.queue_key,
                enforce_ssl=True,
                removal_policy=cdk.RemovalPolicy.RETAIN,
                retention_period=cdk.Duration.days(4),
                visibility_timeout=cdk.Duration.minutes(5),
                dead_letter_queue=sqs.DeadLetterQueue(queue=dead, max_receive_count=5),
            )
            queue.add_to_resource_policy(
                callers_statement(
                    cfg,
                    [system],
                    sid="SystemReads",
                    actions=SUBSCRIBER_QUEUE_ACTIONS,
                    resources=[queue.queue_arn],
                )
            )
            self._alarm(dead, f"{pascal(system)}DeadLettersAlarm", topic, f"messages {system} did not process")
            self.queues[system] = queue

    def _api(self, cfg: Config, api_endpoints: dict[str, str]) -> None:
        link = cfg.linkage
        endpoints = [api_endpoints[name] for name in sorted(api_endpoints)]
        statements = [
            iam.PolicyStatement(
                sid="OnlyThroughTheCallersEndpoints",
                effect=iam.Effect.DENY,
                principals=[iam.AnyPrincipal()],
                actions=["execute-api:Invoke"],
                resources=["execute-api:/*"],
                conditions={"StringNotEquals": {"aws:SourceVpce": endpoints}},
            )
        ]
        for name, dataset in sorted(link.datasets.items()):
            for verb, systems in (("POST", [dataset.producer]), ("GET", list(dataset.subscribers))):
                statements.append(
                    callers_statement(
                        cfg,
                        systems,
                        sid=f"{verb.title()}{pascal(name)}",
                        actions=["execute-api:Invoke"],
                        resources=[f"execute-api:/*{naming.dataset_route(verb, name)}"],
                        conditions={"StringEquals": {"aws:SourceVpce": [api_endpoints[s] for s in sorted(systems)]}},
                    )
                )
        access_logs = encrypted_log_group(
            self, "ApiAccessLogs", key=self.logs_key, retention_days=cfg.logging.retention_days
        )
        api = apigw.RestApi(
            self,
            "Api",
            rest_api_name=naming.linkage_api(cfg),
            description="Data linkage platform: records of each dataset, from its producer to its subscribers",
            endpoint_configuration=apigw.EndpointConfiguration(
                types=[apigw.EndpointType.PRIVATE],
                vpc_endpoints=[
                    ec2.InterfaceVpcEndpoint.from_interface_vpc_endpoint_attributes(
                        self, f"Endpoint{i}", port=443, vpc_endpoint_id=e
                    )
                    for i, e in enumerate(endpoints)
                ],
            ),
            policy=iam.PolicyDocument(statements=statements),
            cloud_watch_role=False,
            deploy_options=apigw.StageOptions(
                stage_name="live",
                access_log_destination=apigw.LogGroupLogDestination(access_logs),
                access_log_format=apigw.AccessLogFormat.json_with_standard_fields(
                    caller=True,
                    http_method=True,
                    ip=True,
                    protocol=True,
                    request_time=True,
                    resource_path=True,
                    response_length=True,
                    status=True,
                    user=True,
                ),
                throttling_rate_limit=link.throttle_rate_per_second,
                throttling_burst_limit=link.throttle_burst,
            ),
            default_method_options=apigw.MethodOptions(authorization_type=apigw.AuthorizationType.IAM),
        )
        validator = api.add_request_validator("Validator", validate_request_body=True, validate_request_parameters=True)
        integration = apigw.LambdaIntegration(self.functions["api"])
        records = (
            api.root.add_resource(naming.LINKAGE_API_VERSION)
            .add_resource("datasets")
            .add_resource("{dataset}")
            .add_resource("records")
        )
        methods = [
            records.add_method(
                "POST",
                integration,
                request_validator=validator,
                request_parameters={"method.request.header.Idempotency-Key": True},
            ),
            records.add_resource("{id}").add_method("GET", integration, request_validator=validator),
        ]
        for method in methods:
            acknowledge(
                method,
                "AwsSolutions-COG4",
                "Callers are systems, not people: IAM authorization (SigV4 with each system's role) and the resource "
                "policy's per-dataset grants identify them; there is no user pool.",
            )
        self.api = api
        for rule, why in (
            (
                "AwsSolutions-APIG3",
                "A private API reachable only through the callers' VPC endpoints inside the closed network; IAM "
                "authorization and the resource policy decide every call.",
            ),
            (
                "AwsSolutions-APIG6",
                "Execution logging needs an account-wide API Gateway CloudWatch role; access logs of every call go "
                "to a KMS-encrypted log group instead.",
            ),
            (
                "NIST.800.53.R5-APIGWExecutionLoggingEnabled",
                "Access logs of every call go to a KMS-encrypted log group; execution logging would need an "
                "account-wide role.",
            ),
            (
                "NIST.800.53.R5-APIGWCacheEnabledAndEncrypted",
                "Records are personal data read once by their subscriber; nothing is cached.",
            ),
            (
                "NIST.800.53.R5-APIGWSSLEnabled",
                "The backend is a Lambda integration, not an HTTP endpoint: there is no backend TLS certificate to "
                "present.",
            ),
            (
                "NIST.800.53.R5-APIGWAssociatedWithWAF",
                "A private API reachable only through the callers' VPC endpoints inside the closed network.",
            ),
        ):
            acknowledge(api, rule, why)
