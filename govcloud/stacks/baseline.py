"""Security baseline of one account: keys, account guards, optional account services, alarms, budget."""

from __future__ import annotations

from aws_cdk import aws_budgets as budgets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from constructs import Construct

from govcloud import naming
from govcloud.compliance.packs import acknowledge
from govcloud.config import Config
from govcloud.constructs.account_guards import AccountGuards
from govcloud.constructs.account_services import AccountTrail, ConfigRecorder, GuardDuty, SecurityHub
from govcloud.constructs.keys import SERVICES_OF, DataKey, service_statement
from govcloud.constructs.principals import roles_matching
from govcloud.constructs.security_alarms import SecurityAlarms
from govcloud.ops.permissions import READ_ONLY_ACTIONS
from govcloud.stacks.base import GovCloudStack

KEY_CONSTRUCT_IDS = {
    "logs": "LogsKey",
    "resident-data": "ResidentDataKey",
    "data-lake": "DataLakeKey",
    "linkage": "LinkageKey",
}


class SecurityBaselineStack(GovCloudStack):
    """One per account of the environment and region: in Tokyo with the account services and the budget, in Osaka
    (``region``) the same keys, guards and alarms, so that the recovery region is as strict as the primary one."""

    def __init__(
        self, scope: Construct, construct_id: str, *, cfg: Config, account: str, region: str | None = None
    ) -> None:
        home = region in (None, cfg.regions.primary.name)
        super().__init__(
            scope,
            construct_id,
            cfg=cfg,
            account=account,
            region=region,
            summary=f"security baseline of the '{account}' account"
            + (
                " (KMS keys, account guards, alarms, budget)"
                if home
                else " in Osaka (KMS keys, account guards, alarms)"
            ),
            system="baseline",
            classification="internal",
        )
        self.account_name = account
        settings = cfg.accounts[account]
        ebs_class = settings.data_classes[0] if settings.data_classes else "logs"
        self._keys(ebs_class)
        self._guards(ebs_class, account_wide=home)
        self._alarms()
        if home:
            self._account_services()
            self._budget()
            self._operations_role()

    def _keys(self, ebs_class: str) -> None:
        """The logs key, and one key per data class the account holds."""
        cfg, name = self.cfg, self.account_name
        account = cfg.accounts[name]
        region = self.region
        self.keys = {
            "logs": DataKey(
                self,
                KEY_CONSTRUCT_IDS["logs"],
                alias=naming.key_alias(cfg, "logs"),
                data_class="logs",
                description=f"{cfg.name} {name}: CloudWatch Logs and the security alarm topic",
                via_services=[*SERVICES_OF["logs"], "ec2"] if ebs_class == "logs" else None,
                service_statements=[
                    service_statement(
                        "CloudWatchLogsOfThisAccount",
                        f"logs.{region}.amazonaws.com",
                        ["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"],
                        {
                            "ArnLike": {
                                "kms:EncryptionContext:aws:logs:arn": f"arn:aws:logs:{region}:{account.id}:log-group:*"
                            }
                        },
                    ),
                    # Publishers to the encrypted alarm topic. CDK grants EventBridge itself (through the rule
                    # targets) but not these; an alarm or budget that cannot use the key fails to publish silently.
                    *(
                        service_statement(
                            f"Publish{name}ToEncryptedTopic",
                            f"{svc}.amazonaws.com",
                            ["kms:Decrypt", "kms:GenerateDataKey*"],
                            {"StringEquals": {"aws:SourceAccount": account.id}},
                        )
                        for name, svc in (("CloudWatchAlarms", "cloudwatch"), ("Budgets", "budgets"))
                    ),
                ],
            ).key
        }
        for data_class in account.data_classes:
            self.keys[data_class] = DataKey(
                self,
                KEY_CONSTRUCT_IDS[data_class],
                alias=naming.key_alias(cfg, data_class),
                data_class=data_class,
                description=f"{cfg.name} {name}: {data_class} data",
            ).key

    def _guards(self, ebs_class: str, *, account_wide: bool) -> None:
        cfg, name = self.cfg, self.account_name
        AccountGuards(
            self,
            "AccountGuards",
            ebs_key=self.keys[ebs_class],
            analyzer_name=f"{cfg.name}-{name}",
            log_key=self.keys["logs"],
            log_retention_days=cfg.logging.retention_days,
            account_wide=account_wide,
        )

    def _alarms(self) -> None:
        cfg = self.cfg
        self.alarms = SecurityAlarms(
            self,
            "SecurityAlarms",
            topic_key=self.keys["logs"],
            emails=cfg.alarms.emails,
            topic_name=naming.security_topic(cfg),
        )

    def _operations_role(self) -> None:
        """The role ``python -m govcloud.ops preflight`` and ``verify`` assume: the reads they make and nothing more,
        trusted only by the configured operations principals (IAM is global: created once, in Tokyo)."""
        cfg = self.cfg
        role = iam.Role(
            self,
            "OperationsReadOnlyRole",
            role_name=naming.operations_role(cfg),
            assumed_by=roles_matching(cfg.operations.principals),
            description="Read-only checks of the operations tools (preflight, verify); no data reads, no writes",
        )
        policy = iam.ManagedPolicy(
            self,
            "OperationsReadOnlyPolicy",
            roles=[role],
            statements=[
                iam.PolicyStatement(sid="OperationsReads", actions=list(READ_ONLY_ACTIONS), resources=["*"]),
            ],
        )
        acknowledge(
            policy,
            "AwsSolutions-IAM5[Resource::*]",
            "Describe, Get and List calls over every resource of the account are what a verification reads; IAM "
            "authorizes most of them only on Resource '*'. No action writes or reads data (a test checks the list).",
        )

    def _account_services(self) -> None:
        """The services the Government Cloud may already provide, each behind its switch."""
        cfg = self.cfg
        log_bucket = s3.Bucket.from_bucket_name(self, "CentralLogBucket", naming.log_bucket(cfg))
        services = cfg.account_services
        if services.guardduty:
            GuardDuty(self, "GuardDuty")
        if services.security_hub:
            SecurityHub(self, "SecurityHub")
        if services.config_recorder:
            ConfigRecorder(
                self,
                "Config",
                log_bucket=log_bucket,
                archive_key_arn=naming.log_archive_key_arn(cfg),
                prefix=naming.CONFIG_PREFIX,
            )
        if services.cloudtrail:
            trail = AccountTrail(
                self,
                "CloudTrail",
                trail_name=naming.trail(cfg, "management"),
                log_bucket=log_bucket,
                prefix=naming.CLOUDTRAIL_PREFIX,
                archive_key_arn=naming.log_archive_key_arn(cfg),
                log_key=self.keys["logs"],
                log_retention_days=cfg.logging.retention_days,
            )
            self.alarms.add_trail_alarms(trail.log_group)

    def _budget(self) -> None:
        cfg, name = self.cfg, self.account_name
        account = cfg.accounts[name]
        budgets.CfnBudget(
            self,
            "MonthlyBudget",
            budget=budgets.CfnBudget.BudgetDataProperty(
                budget_name=f"{cfg.name}-{name}-monthly",
                budget_type="COST",
                time_unit="MONTHLY",
                budget_limit=budgets.CfnBudget.SpendProperty(amount=account.monthly_budget_usd, unit="USD"),
            ),
            notifications_with_subscribers=[
                budgets.CfnBudget.NotificationWithSubscribersProperty(
                    notification=budgets.CfnBudget.NotificationProperty(
                        notification_type=kind,
                        comparison_operator="GREATER_THAN",
                        threshold=threshold,
                        threshold_type="PERCENTAGE",
                    ),
                    subscribers=[
                        budgets.CfnBudget.SubscriberProperty(
                            subscription_type="SNS", address=self.alarms.topic.topic_arn
                        )
                    ],
                )
                for kind, threshold in (("ACTUAL", 80), ("FORECASTED", 100))
            ],
        )
