"""Security alarms of one account: an encrypted SNS topic and the rules and alarms that publish to it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import aws_cdk as cdk
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subs
from constructs import Construct

from govcloud.compliance.packs import acknowledge


@dataclass(frozen=True)
class ApiCallAlarm:
    """An EventBridge rule on management events recorded by CloudTrail (ours or the organisation's)."""

    construct_id: str
    title: str
    source: str
    event_names: tuple[str, ...]


API_CALL_ALARMS = (
    ApiCallAlarm(
        "SecurityGroupChanges",
        "Security group changed",
        "aws.ec2",
        (
            "AuthorizeSecurityGroupIngress",
            "AuthorizeSecurityGroupEgress",
            "RevokeSecurityGroupIngress",
            "RevokeSecurityGroupEgress",
            "CreateSecurityGroup",
            "DeleteSecurityGroup",
            "ModifySecurityGroupRules",
        ),
    ),
    ApiCallAlarm(
        "NetworkAclChanges",
        "Network ACL changed",
        "aws.ec2",
        (
            "CreateNetworkAcl",
            "CreateNetworkAclEntry",
            "DeleteNetworkAcl",
            "DeleteNetworkAclEntry",
            "ReplaceNetworkAclEntry",
            "ReplaceNetworkAclAssociation",
        ),
    ),
    ApiCallAlarm(
        "RouteTableChanges",
        "Route table changed",
        "aws.ec2",
        (
            "CreateRoute",
            "CreateRouteTable",
            "ReplaceRoute",
            "ReplaceRouteTableAssociation",
            "DeleteRouteTable",
            "DeleteRoute",
            "AssociateRouteTable",
            "DisassociateRouteTable",
        ),
    ),
    ApiCallAlarm(
        "InternetPathChanges",
        "Internet path created or public access opened",
        "aws.ec2",
        (
            "CreateInternetGateway",
            "AttachInternetGateway",
            "CreateEgressOnlyInternetGateway",
            "CreateNatGateway",
            "AllocateAddress",
            "ModifyVpcBlockPublicAccessOptions",
            "CreateVpcBlockPublicAccessExclusion",
        ),
    ),
    ApiCallAlarm(
        "TrailChanges",
        "CloudTrail trail changed or stopped",
        "aws.cloudtrail",
        ("CreateTrail", "UpdateTrail", "DeleteTrail", "StartLogging", "StopLogging", "PutEventSelectors"),
    ),
    # Tampering with segment isolation, locks, keys and logs: every attempt, denied ones included (CloudTrail
    # records a refused call with its error code), by anyone, CloudFormation deployments too.
    ApiCallAlarm(
        "TransitGatewayChanges",
        "Transit Gateway route, attachment or route table changed",
        "aws.ec2",
        (
            "CreateTransitGatewayRoute",
            "DeleteTransitGatewayRoute",
            "ReplaceTransitGatewayRoute",
            "AssociateTransitGatewayRouteTable",
            "DisassociateTransitGatewayRouteTable",
            "EnableTransitGatewayRouteTablePropagation",
            "DisableTransitGatewayRouteTablePropagation",
            "CreateTransitGatewayVpcAttachment",
            "AcceptTransitGatewayVpcAttachment",
            "ModifyTransitGatewayVpcAttachment",
            "DeleteTransitGatewayVpcAttachment",
            "CreateTransitGatewayRouteTable",
            "DeleteTransitGatewayRouteTable",
            "ModifyTransitGateway",
        ),
    ),
    ApiCallAlarm(
        "EndpointPolicyChanges",
        "VPC endpoint or its policy changed",
        "aws.ec2",
        ("CreateVpcEndpoint", "ModifyVpcEndpoint", "DeleteVpcEndpoints", "ResetVpcEndpointPolicy"),
    ),
    ApiCallAlarm(
        "KeyDeletionOrPolicyChanges",
        "KMS key scheduled for deletion, disabled, or its policy changed",
        "aws.kms",
        (
            "ScheduleKeyDeletion",
            "DisableKey",
            "DisableKeyRotation",
            "PutKeyPolicy",
            "DeleteImportedKeyMaterial",
            "ImportKeyMaterial",
            "CancelKeyDeletion",
        ),
    ),
    ApiCallAlarm(
        "BackupVaultLockChanges",
        "Backup vault, its lock or access policy, or a backup plan changed, or a recovery point deleted",
        "aws.backup",
        (
            "PutBackupVaultLockConfiguration",
            "DeleteBackupVaultLockConfiguration",
            "DeleteBackupVault",
            "PutBackupVaultAccessPolicy",
            "DeleteBackupVaultAccessPolicy",
            "DeleteRecoveryPoint",
            "UpdateRecoveryPointLifecycle",
            "DisassociateRecoveryPoint",
            # A plan that stops backing up or copying to Osaka destroys nothing at once, but no new copy arrives.
            "UpdateBackupPlan",
            "DeleteBackupPlan",
            "DeleteBackupSelection",
        ),
    ),
    ApiCallAlarm(
        "BucketPolicyChanges",
        "S3 bucket policy, access block, lock, replication or encryption changed",
        "aws.s3",
        (
            "PutBucketPolicy",
            "DeleteBucketPolicy",
            "PutBucketAcl",
            "PutBucketPublicAccessBlock",
            "DeleteBucketPublicAccessBlock",
            "PutBucketObjectLockConfiguration",
            "PutBucketReplication",
            "DeleteBucketReplication",
            "PutBucketVersioning",
            "PutBucketEncryption",
            "DeleteBucketEncryption",
            "PutBucketLifecycle",
            "DeleteBucketLifecycle",
        ),
    ),
    ApiCallAlarm(
        "DnsFirewallChanges",
        "Route 53 Resolver DNS Firewall or forwarding changed",
        "aws.route53resolver",
        (
            "CreateFirewallRule",
            "UpdateFirewallRule",
            "DeleteFirewallRule",
            "UpdateFirewallDomains",
            "DeleteFirewallDomainList",
            "DeleteFirewallRuleGroup",
            "AssociateFirewallRuleGroup",
            "DisassociateFirewallRuleGroup",
            "UpdateFirewallRuleGroupAssociation",
            "UpdateFirewallConfig",
            "UpdateResolverRule",
            "AssociateResolverRule",
            "DisassociateResolverRule",
            "UpdateResolverEndpoint",
        ),
    ),
)


@dataclass(frozen=True)
class TrailMetricAlarm:
    """A metric filter on the trail's home-region log group: the only place global-service events reach
    inside Tokyo (EventBridge receives them only in us-east-1)."""

    construct_id: str
    title: str
    pattern: str


IAM_CHANGE_EVENTS = (
    "DeleteGroupPolicy", "DeleteRolePolicy", "DeleteUserPolicy", "PutGroupPolicy", "PutRolePolicy", "PutUserPolicy",
    "CreatePolicy", "DeletePolicy", "CreatePolicyVersion", "DeletePolicyVersion", "AttachRolePolicy",
    "DetachRolePolicy", "AttachUserPolicy", "DetachUserPolicy", "AttachGroupPolicy", "DetachGroupPolicy",
    "CreateRole", "DeleteRole", "UpdateAssumeRolePolicy", "CreateUser", "DeleteUser", "CreateAccessKey",
)  # fmt: skip

TRAIL_METRIC_ALARMS = (
    TrailMetricAlarm(
        "RootUse",
        "Root user activity",
        '{ $.userIdentity.type = "Root" && $.userIdentity.invokedBy NOT EXISTS && $.eventType != "AwsServiceEvent" }',
    ),
    TrailMetricAlarm(
        "ConsoleSignInWithoutMfa",
        "Console sign-in without MFA",
        '{ ($.eventName = "ConsoleLogin") && ($.additionalEventData.MFAUsed != "Yes") '
        '&& ($.userIdentity.type = "IAMUser") && ($.responseElements.ConsoleLogin = "Success") }',
    ),
    TrailMetricAlarm(
        "IamChanges",
        "IAM policy, role, user or group changed",
        "{ ($.eventSource = iam.amazonaws.com) && ("
        + " || ".join(f"($.eventName = {name})" for name in IAM_CHANGE_EVENTS)
        + ") }",
    ),
    TrailMetricAlarm(
        "UnauthorizedApiCalls",
        "Unauthorized API calls",
        '{ ($.errorCode = "*UnauthorizedOperation") || ($.errorCode = "AccessDenied*") }',
    ),
)

SECURITY_HUB_SEVERITIES = ("HIGH", "CRITICAL")

# GuardDuty severities: 4.0-6.9 medium, 7.0-8.9 high, 9.0-10.0 critical. Everything from 7 up is "high" here.
GUARDDUTY_BANDS = (
    ("GuardDutyMediumFindings", "MEDIUM", [">=", 4, "<", 7]),
    ("GuardDutyHighFindings", "HIGH", [">=", 7]),
)


class SecurityAlarms(Construct):
    """The account's security alarm topic in one region (KMS-encrypted, e-mail subscriptions) and what publishes to
    it: EventBridge rules on network, trail, key, vault, bucket-policy and DNS Firewall changes, GuardDuty findings
    of severity 4 and above, Security Hub findings of high and critical severity, AWS Health events, and, when the
    account has its own trail, metric-filter alarms on that trail's log group."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        topic_key: kms.IKey,
        emails: Sequence[str],
        topic_name: str,
    ) -> None:
        super().__init__(scope, construct_id)
        stack = cdk.Stack.of(self)
        self.topic = sns.Topic(
            self, "Topic", topic_name=topic_name, display_name="Security alarms", master_key=topic_key, enforce_ssl=True
        )
        for address in emails:
            self.topic.add_subscription(subs.EmailSubscription(address))
        # EventBridge publishes as a role of this account, so that neither the topic's policy nor its key's admits
        # the EventBridge service itself (which would serve any account's rules: a confused deputy).
        self.publisher = iam.Role(
            self,
            "PublisherRole",
            assumed_by=iam.ServicePrincipal("events.amazonaws.com").with_conditions(
                {"StringEquals": {"aws:SourceAccount": stack.account}}
            ),
            description="EventBridge rules publishing security alarms to the encrypted topic",
        )
        for service in ("cloudwatch.amazonaws.com", "budgets.amazonaws.com"):
            self.topic.add_to_resource_policy(
                iam.PolicyStatement(
                    sid=f"Publish{service.split('.')[0].title()}",
                    principals=[iam.ServicePrincipal(service)],
                    actions=["sns:Publish"],
                    resources=[self.topic.topic_arn],
                    conditions={"StringEquals": {"aws:SourceAccount": stack.account}},
                )
            )

        rules = Construct(self, "Rules")
        field = {
            path: events.EventField.from_path(path)
            for path in (  # built once: each is a jsii round trip
                "$.detail.eventName",
                "$.detail.userIdentity.arn",
                "$.region",
                "$.detail.type",
                "$.detail.severity",
                "$.detail.title",
                "$.detail.findings[0].Title",
                "$.detail.findings[0].Severity.Label",
                "$.detail.service",
                "$.detail.eventTypeCode",
            )
        }

        def alarm_rule(rule_id: str, description: str, pattern: events.EventPattern, message: str) -> None:
            """An EventBridge rule that publishes ``message`` to the topic as the account's publisher role."""
            rule = events.Rule(rules, rule_id, description=f"Security alarm: {description}", event_pattern=pattern)
            rule.add_target(
                targets.SnsTopic(
                    self.topic,
                    role=self.publisher,
                    message=events.RuleTargetInput.from_text(f"[{stack.account}] {message}"),
                )
            )

        for alarm in API_CALL_ALARMS:
            alarm_rule(
                alarm.construct_id,
                alarm.title,
                events.EventPattern(
                    source=[alarm.source],
                    detail_type=["AWS API Call via CloudTrail"],
                    detail={"eventName": list(alarm.event_names)},
                ),
                f"{alarm.title}: {field['$.detail.eventName']} by {field['$.detail.userIdentity.arn']} in "
                f"{field['$.region']}",
            )
        for rule_id, band, severity in GUARDDUTY_BANDS:
            alarm_rule(
                rule_id,
                f"GuardDuty finding, {band} severity",
                events.EventPattern(
                    source=["aws.guardduty"],
                    detail_type=["GuardDuty Finding"],
                    detail={"severity": [{"numeric": severity}]},
                ),
                f"GuardDuty {band}: {field['$.detail.type']} (severity {field['$.detail.severity']}): "
                f"{field['$.detail.title']}",
            )
        alarm_rule(
            "SecurityHubFindings",
            "Security Hub finding of high or critical severity",
            events.EventPattern(
                source=["aws.securityhub"],
                detail_type=["Security Hub Findings - Imported"],
                detail={
                    "findings": {
                        "Severity": {"Label": list(SECURITY_HUB_SEVERITIES)},
                        "Workflow": {"Status": ["NEW"]},
                        "RecordState": ["ACTIVE"],
                    }
                },
            ),
            f"Security Hub {field['$.detail.findings[0].Severity.Label']}: {field['$.detail.findings[0].Title']}",
        )
        alarm_rule(
            "HealthEvents",
            "AWS Health event for this account",
            events.EventPattern(source=["aws.health"], detail_type=["AWS Health Event"]),
            f"AWS Health: {field['$.detail.service']} {field['$.detail.eventTypeCode']} in {field['$.region']}",
        )
        default_policy = self.publisher.node.find_child("DefaultPolicy")
        acknowledge(
            default_policy,
            "NIST.800.53.R5-IAMNoInlinePolicy",
            "CDK's SNS target grants the publishing role, as an inline policy, sns:Publish on this one topic and the "
            "use of its key, and nothing else.",
        )
        acknowledge(
            default_policy,
            "AwsSolutions-IAM5[Action::kms:GenerateDataKey*]",
            "CDK's grant on the topic's key (one key, named by ARN), which the key policy admits only through SNS.",
        )

    def add_trail_alarms(self, log_group: logs.ILogGroup) -> None:
        """Metric filters and alarms on the home-region log group of the account's own trail."""
        namespace = "GovCloud/Security"
        scope = Construct(self, "TrailAlarms")
        for alarm in TRAIL_METRIC_ALARMS:
            metric_filter = logs.MetricFilter(
                scope,
                f"{alarm.construct_id}Filter",
                log_group=log_group,
                filter_pattern=logs.FilterPattern.literal(alarm.pattern),
                metric_namespace=namespace,
                metric_name=alarm.construct_id,
                metric_value="1",
            )
            cw_alarm = cloudwatch.Alarm(
                scope,
                alarm.construct_id,
                alarm_description=f"Security alarm: {alarm.title}",
                metric=metric_filter.metric(statistic="Sum", period=cdk.Duration.minutes(5)),
                threshold=1,
                evaluation_periods=1,
                comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
                treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            )
            cw_alarm.add_alarm_action(cw_actions.SnsAction(self.topic))
