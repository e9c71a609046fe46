"""Security baseline stack: keys, account guards, switches, alarms and budget."""

from __future__ import annotations

import json
from typing import Any

import pytest

from govcloud.config import pascal

RR = "KobeStg-Baseline-ResidentRegistry"
NET = "KobeStg-Baseline-Network"


def one(resources: dict[str, dict[str, Any]]) -> dict[str, Any]:
    assert len(resources) == 1, list(resources)
    return next(iter(resources.values()))


def statements(policy: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Statements by Sid; those CDK adds without a Sid are keyed by their service principal."""
    return {s.get("Sid") or s["Principal"]["Service"]: s for s in policy["Statement"]}


def test_one_key_per_data_class_with_rotation_and_retained(stg) -> None:
    keys = stg.resources(RR, "AWS::KMS::Key")
    assert len(keys) == 2  # logs and resident data
    for key in keys.values():
        assert key["Properties"]["EnableKeyRotation"] is True
        assert key["Properties"]["RotationPeriodInDays"] == 365
        assert key["DeletionPolicy"] == "Retain" and key["UpdateReplacePolicy"] == "Retain"
    aliases = sorted(a["Properties"]["AliasName"] for a in stg.resources(RR, "AWS::KMS::Alias").values())
    assert aliases == ["alias/kobe-stg/logs", "alias/kobe-stg/resident-data"]
    assert len(stg.resources(NET, "AWS::KMS::Key")) == 1  # an account without data classes: logs only


def test_data_keys_are_usable_only_through_their_services(stg) -> None:
    key = stg.resources(RR, "AWS::KMS::Key")["ResidentDataKeyA7BD66F4"]
    sts = statements(key["Properties"]["KeyPolicy"])
    admin = sts["KeyAdministration"]
    assert not any(a in admin["Action"] for a in ("kms:Decrypt", "kms:Encrypt", "kms:*"))
    use = sts["UseThroughServicesOfThisDataClass"]
    assert use["Condition"]["StringEquals"]["kms:ViaService"] == [
        "backup.ap-northeast-1.amazonaws.com",
        "ec2.ap-northeast-1.amazonaws.com",
        "ssm.ap-northeast-1.amazonaws.com",
    ]
    # A grant gives the use of a key: no administrator may create one, and its users only for an AWS resource.
    assert "kms:CreateGrant" not in use["Action"] and not any(a.startswith("kms:Create") and a != "kms:CreateAlias"
                                                               for a in admin["Action"])  # fmt: skip
    grants = sts["GrantsOnlyForAwsResources"]
    assert grants["Action"] == "kms:CreateGrant"
    assert grants["Condition"] == {
        "StringEquals": {"kms:ViaService": use["Condition"]["StringEquals"]["kms:ViaService"]},
        "Bool": {"kms:GrantIsForAWSResource": "true"},
    }
    locks = {"OnlyBreakGlassDeletesOrDisables", "BreakGlassNeedsMfa", "PolicyOnlyByBreakGlassOrCloudFormation"}
    assert set(sts) == {"KeyAdministration", "UseThroughServicesOfThisDataClass", "GrantsOnlyForAwsResources", *locks}


def test_logs_key_admits_alarms_and_budgets_for_the_encrypted_topic(stg) -> None:
    """An alarm or budget that cannot use the key fails silently. EventBridge publishes as a role of the account,
    so the key admits no EventBridge service principal (which serves every account's rules)."""
    key = stg.resources(RR, "AWS::KMS::Key")["LogsKey195F8DFC"]
    sts = statements(key["Properties"]["KeyPolicy"])
    for sid, service in (
        ("PublishCloudWatchAlarmsToEncryptedTopic", "cloudwatch.amazonaws.com"),
        ("PublishBudgetsToEncryptedTopic", "budgets.amazonaws.com"),
    ):
        st = sts[sid]
        assert st["Principal"] == {"Service": service}
        assert set(st["Action"]) == {"kms:Decrypt", "kms:GenerateDataKey*"}
        assert st["Condition"] == {"StringEquals": {"aws:SourceAccount": "111100000003"}}
    assert "events.amazonaws.com" not in json.dumps(key["Properties"]["KeyPolicy"])
    logs = sts["CloudWatchLogsOfThisAccount"]
    assert logs["Principal"] == {"Service": "logs.ap-northeast-1.amazonaws.com"}
    assert logs["Condition"]["ArnLike"]["kms:EncryptionContext:aws:logs:arn"] == (
        "arn:aws:logs:ap-northeast-1:111100000003:log-group:*"
    )
    topic = one(stg.resources(RR, "AWS::SNS::Topic"))
    assert topic["Properties"]["KmsMasterKeyId"] == {"Fn::GetAtt": ["LogsKey195F8DFC", "Arn"]}


def test_topic_policy_lets_alarms_and_budgets_publish(stg) -> None:
    policy = one(stg.resources(RR, "AWS::SNS::TopicPolicy"))["Properties"]["PolicyDocument"]
    principals = {json.dumps(s.get("Principal")) for s in policy["Statement"] if s["Effect"] == "Allow"}
    assert principals == {json.dumps({"Service": f"{s}.amazonaws.com"}) for s in ("cloudwatch", "budgets")}
    roles = stg.resources(RR, "AWS::IAM::Role")
    publisher = next(props for lid, props in roles.items() if lid.startswith("SecurityAlarmsPublisherRole"))
    (trust,) = publisher["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"Service": "events.amazonaws.com"}
    assert trust["Condition"] == {"StringEquals": {"aws:SourceAccount": "111100000003"}}
    deny = [s for s in policy["Statement"] if s["Effect"] == "Deny"]
    assert deny and deny[0]["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


def test_alarm_emails_subscribed(stg) -> None:
    subs = stg.resources(RR, "AWS::SNS::Subscription")
    assert [s["Properties"]["Endpoint"] for s in subs.values()] == ["gc-security-stg@example.jp"]


def _sdk_calls(synth, stack: str) -> dict[str, dict[str, Any]]:
    calls = {}
    for resource in synth.resources(stack, "Custom::AWS").values():
        create = resource["Properties"]["Create"]
        parts = create["Fn::Join"][1] if isinstance(create, dict) else [create]
        text = "".join(p if isinstance(p, str) else f"<{p.get('Ref') or p['Fn::GetAtt'][0]}>" for p in parts)
        call = json.loads(text)
        calls[call["action"]] = call
    return calls


def test_ebs_default_encryption_uses_the_accounts_data_key(stg) -> None:
    calls = _sdk_calls(stg, RR)
    assert set(calls) == {"enableEbsEncryptionByDefault", "modifyEbsDefaultKmsKeyId", "putPublicAccessBlock"}
    assert calls["modifyEbsDefaultKmsKeyId"]["parameters"] == {"KmsKeyId": "<ResidentDataKeyA7BD66F4>"}
    # An account without data classes encrypts EBS with its logs key, which then admits EC2.
    assert _sdk_calls(stg, NET)["modifyEbsDefaultKmsKeyId"]["parameters"] == {"KmsKeyId": "<LogsKey195F8DFC>"}
    net_key = one(stg.resources(NET, "AWS::KMS::Key"))
    via = statements(net_key["Properties"]["KeyPolicy"])["UseThroughServicesOfThisDataClass"]
    assert "ec2.ap-northeast-1.amazonaws.com" in via["Condition"]["StringEquals"]["kms:ViaService"]


def test_account_public_access_block_blocks_everything(stg) -> None:
    call = _sdk_calls(stg, RR)["putPublicAccessBlock"]
    assert call["service"] == "S3Control"
    assert call["parameters"] == {
        "AccountId": "111100000003",
        "PublicAccessBlockConfiguration": {
            "BlockPublicAcls": True,
            "IgnorePublicAcls": True,
            "BlockPublicPolicy": True,
            "RestrictPublicBuckets": True,
        },
    }


def test_guard_function_has_a_managed_policy_with_only_the_guard_calls(stg) -> None:
    (policy,) = [p["Properties"]["PolicyDocument"] for lid, p in stg.resources(RR, "AWS::IAM::ManagedPolicy").items()
                 if lid.startswith("AccountGuards")]  # fmt: skip
    guards = statements(policy)["AccountLevelGuards"]
    assert sorted(guards["Action"]) == [
        "ec2:EnableEbsEncryptionByDefault",
        "ec2:ModifyEbsDefaultKmsKeyId",
        "s3:PutAccountPublicAccessBlock",
    ]
    # no inline policy but CDK's for the alarm publisher (acknowledged)
    inline = list(stg.resources(RR, "AWS::IAM::Policy"))
    assert len(inline) == 1 and inline[0].startswith("SecurityAlarmsPublisherRole")
    function = one(stg.resources(RR, "AWS::Lambda::Function"))
    assert "LoggingConfig" in function["Properties"]


def test_vpc_block_public_access_and_access_analyzer(stg) -> None:
    for stack in stg.templates:
        if "-Baseline-" not in stack:
            continue
        bpa = one(stg.resources(stack, "AWS::EC2::VPCBlockPublicAccessOptions"))
        assert bpa["Properties"] == {"InternetGatewayBlockMode": "block-bidirectional"}
        analyzer = one(stg.resources(stack, "AWS::AccessAnalyzer::Analyzer"))
        assert analyzer["Properties"]["Type"] == "ACCOUNT"


ACCOUNT_SERVICE_TYPES = (
    "AWS::GuardDuty::Detector",
    "AWS::SecurityHub::Hub",
    "AWS::Config::ConfigurationRecorder",
    "AWS::CloudTrail::Trail",
)


def test_switches_off_creates_no_account_services(stg) -> None:
    for type_ in ACCOUNT_SERVICE_TYPES:
        assert not [r for s, _, r in stg.all_resources(type_) if "-Baseline-" in s], type_
    assert not stg.all_resources("AWS::Logs::MetricFilter")


def test_switches_on_creates_each_service_in_every_account(services_on) -> None:
    baselines = [s for s in services_on.templates if "-Baseline-" in s and not s.endswith("-Osaka")]
    for stack in baselines:
        for type_ in ACCOUNT_SERVICE_TYPES:
            assert len(services_on.resources(stack, type_)) == 1, (stack, type_)


def test_security_hub_standards(services_on) -> None:
    standards = services_on.resources(RR, "AWS::SecurityHub::Standard")
    arns = sorted(s["Properties"]["StandardsArn"] for s in standards.values())
    assert arns == [
        "arn:aws:securityhub:ap-northeast-1::standards/aws-foundational-security-best-practices/v/1.0.0",
        "arn:aws:securityhub:ap-northeast-1::standards/nist-800-53/v/5.0.0",
    ]
    hub = one(services_on.resources(RR, "AWS::SecurityHub::Hub"))
    assert hub["Properties"]["EnableDefaultStandards"] is False


def test_trail_writes_to_the_central_archive_with_validation(services_on) -> None:
    trail = one(services_on.resources(RR, "AWS::CloudTrail::Trail"))["Properties"]
    assert trail["TrailName"] == "kobe-stg-management"
    assert trail["S3BucketName"] == "kobe-stg-log-archive-111100000001-ap-northeast-1"
    assert trail["S3KeyPrefix"] == "cloudtrail"
    assert trail["KMSKeyId"] == "arn:aws:kms:ap-northeast-1:111100000001:alias/kobe-stg/log-archive"
    assert trail["EnableLogFileValidation"] is True
    assert trail["IsMultiRegionTrail"] is True and trail["IncludeGlobalServiceEvents"] is True
    log_group = services_on.resources(RR, "AWS::Logs::LogGroup")[trail["CloudWatchLogsLogGroupArn"]["Fn::GetAtt"][0]]
    assert "KmsKeyId" in log_group["Properties"]


def test_config_delivers_under_its_own_prefix(services_on) -> None:
    channel = one(services_on.resources(RR, "AWS::Config::DeliveryChannel"))["Properties"]
    assert channel["S3BucketName"] == "kobe-stg-log-archive-111100000001-ap-northeast-1"
    assert channel["S3KeyPrefix"] == "config"
    recorder = one(services_on.resources(RR, "AWS::Config::ConfigurationRecorder"))["Properties"]
    assert recorder["RecordingGroup"] == {"AllSupported": True, "IncludeGlobalResourceTypes": True}


def test_network_and_trail_change_rules(stg) -> None:
    rules = stg.resources(RR, "AWS::Events::Rule")
    api_rules = {
        r["Properties"]["Description"]: r["Properties"]["EventPattern"]
        for r in rules.values()
        if r["Properties"]["EventPattern"].get("detail-type") == ["AWS API Call via CloudTrail"]
    }
    assert len(api_rules) == 11
    names = {n for p in api_rules.values() for n in p["detail"]["eventName"]}
    for event in (
        "AuthorizeSecurityGroupIngress",
        "CreateNetworkAclEntry",
        "CreateRoute",
        "StopLogging",
        "CreateInternetGateway",
    ):
        assert event in names
    for rule in rules.values():
        targets = rule["Properties"]["Targets"]
        assert len(targets) == 1 and targets[0]["Arn"] == {"Ref": "SecurityAlarmsTopicAF65CDDE"}


# Finding: no alarm watched Transit Gateway routes, endpoint policies, key deletion or policy changes, vault locks,
# bucket policies or the DNS Firewall; Security Hub findings and AWS Health events reached no one.
TAMPERING = {
    "Transit Gateway route, attachment or route table changed": (
        "aws.ec2",
        ["CreateTransitGatewayRoute", "EnableTransitGatewayRouteTablePropagation", "AssociateTransitGatewayRouteTable"],
    ),
    "VPC endpoint or its policy changed": ("aws.ec2", ["ModifyVpcEndpoint"]),
    "KMS key scheduled for deletion, disabled, or its policy changed": (
        "aws.kms",
        ["ScheduleKeyDeletion", "DisableKey", "PutKeyPolicy"],
    ),
    "Backup vault, its lock or access policy, or a backup plan changed, or a recovery point deleted": (
        "aws.backup",
        [
            "DeleteBackupVaultLockConfiguration",
            "PutBackupVaultLockConfiguration",
            "DeleteRecoveryPoint",
            "UpdateBackupPlan",
        ],
    ),
    "S3 bucket policy, access block, lock, replication or encryption changed": (
        "aws.s3",
        ["PutBucketPolicy", "DeleteBucketPolicy", "PutBucketObjectLockConfiguration"],
    ),
    "Route 53 Resolver DNS Firewall or forwarding changed": (
        "aws.route53resolver",
        ["UpdateFirewallRuleGroupAssociation", "DisassociateFirewallRuleGroup", "UpdateFirewallDomains"],
    ),
}


@pytest.mark.parametrize("region", ["Tokyo", "Osaka"])
def test_every_account_alarms_on_tampering_in_both_regions(stg, stg_cfg, region) -> None:
    for account in stg_cfg.accounts:
        stack = f"KobeStg-Baseline-{pascal(account)}" + ("-Osaka" if region == "Osaka" else "")
        rules = {
            r["Properties"]["Description"]: r["Properties"] for r in stg.resources(stack, "AWS::Events::Rule").values()
        }
        for title, (source, events) in TAMPERING.items():
            pattern = rules[f"Security alarm: {title}"]["EventPattern"]
            assert pattern["source"] == [source] and set(events) <= set(pattern["detail"]["eventName"]), title
        hub = rules["Security alarm: Security Hub finding of high or critical severity"]["EventPattern"]
        assert hub["detail"]["findings"]["Severity"]["Label"] == ["HIGH", "CRITICAL"]
        assert rules["Security alarm: AWS Health event for this account"]["EventPattern"]["source"] == ["aws.health"]
        topic = next(lid for lid in stg.resources(stack, "AWS::SNS::Topic"))
        for rule in rules.values():
            (target,) = rule["Targets"]
            assert target["Arn"] == {"Ref": topic}
            assert "RoleArn" in target  # published as the account's role, not by the EventBridge service


def test_osaka_is_as_strict_as_tokyo(stg, stg_cfg) -> None:
    """Finding: Osaka had keys, VPC Block Public Access and vaults, but no EBS default encryption, Access Analyzer
    or alarms."""
    for account, settings in stg_cfg.accounts.items():
        stack = f"KobeStg-Baseline-{pascal(account)}-Osaka"
        assert stg.artifacts[stack]["environment"] == f"aws://{settings.id}/ap-northeast-3"
        calls = _sdk_calls(stg, stack)
        assert set(calls) == {"enableEbsEncryptionByDefault", "modifyEbsDefaultKmsKeyId"}  # the S3 block is global
        ebs_class = settings.data_classes[0] if settings.data_classes else "logs"
        key_id = calls["modifyEbsDefaultKmsKeyId"]["parameters"]["KmsKeyId"].strip("<>")
        aliases = {props["Properties"]["TargetKeyId"]["Fn::GetAtt"][0]: props["Properties"]["AliasName"]
                   for props in stg.resources(stack, "AWS::KMS::Alias").values()}  # fmt: skip
        assert aliases[key_id] == f"alias/kobe-stg/{ebs_class}"
        assert one(stg.resources(stack, "AWS::AccessAnalyzer::Analyzer"))["Properties"]["Type"] == "ACCOUNT"
        assert one(stg.resources(stack, "AWS::EC2::VPCBlockPublicAccessOptions"))
        subscriptions = stg.resources(stack, "AWS::SNS::Subscription").values()
        assert [s["Properties"]["Endpoint"] for s in subscriptions] == ["gc-security-stg@example.jp"]
    assert not [s for s, _, _ in stg.all_resources("AWS::EC2::VPCBlockPublicAccessOptions") if "-DR-" in s]


def test_no_administrator_alone_can_delete_disable_or_repolicy_a_key(stg, prod) -> None:
    """Finding: every key policy gave the account root ScheduleKeyDeletion, Disable* and Put* with no condition."""
    for synthesized, env in ((stg, "kobe-stg"), (prod, "kobe-prod")):
        keys = synthesized.all_resources("AWS::KMS::Key")
        assert len(keys) > 20
        for stack, lid, key in keys:
            account, region = synthesized.artifacts[stack]["environment"].removeprefix("aws://").split("/")
            sts = statements(key["Properties"]["KeyPolicy"])
            break_glass = f"arn:aws:iam::{account}:role/{env}-break-glass"
            deployer = f"arn:aws:iam::{account}:role/cdk-hnb659fds-cfn-exec-role-{account}-{region}"
            deny = sts["OnlyBreakGlassDeletesOrDisables"]
            assert deny["Effect"] == "Deny" and deny["Principal"] == {"AWS": "*"}, (stack, lid)
            assert {"kms:ScheduleKeyDeletion", "kms:DisableKey"} <= set(deny["Action"])
            assert deny["Condition"] == {"ArnNotEquals": {"aws:PrincipalArn": break_glass}}
            mfa = sts["BreakGlassNeedsMfa"]
            assert mfa["Condition"] == {
                "ArnEquals": {"aws:PrincipalArn": break_glass},
                "BoolIfExists": {"aws:MultiFactorAuthPresent": "false"},
            }
            assert "kms:PutKeyPolicy" in mfa["Action"]
            policy = sts["PolicyOnlyByBreakGlassOrCloudFormation"]
            assert policy["Action"] == "kms:PutKeyPolicy"
            assert policy["Condition"] == {"ArnNotEquals": {"aws:PrincipalArn": [break_glass, deployer]}}
            admin = sts.get("KeyAdministration", {}).get("Action", [])
            assert "kms:Create*" not in admin and "kms:CreateGrant" not in admin


def _numeric_match(spec: list[Any], value: float) -> bool:
    ops = {">=": value.__ge__, ">": value.__gt__, "<": value.__lt__, "<=": value.__le__, "=": value.__eq__}
    return all(ops[op](bound) for op, bound in zip(spec[::2], spec[1::2], strict=True))


@pytest.mark.parametrize(
    ("severity", "band"),
    [
        (1.0, None),
        (3.9, None),
        (4.0, "MEDIUM"),
        (6.9, "MEDIUM"),
        (7.0, "HIGH"),
        (8.9, "HIGH"),
        (9.0, "HIGH"),
        (10.0, "HIGH"),
    ],
)
def test_guardduty_findings_from_severity_4_reach_the_topic(stg, severity: float, band: str | None) -> None:
    matched = []
    for rule in stg.resources(RR, "AWS::Events::Rule").values():
        pattern = rule["Properties"]["EventPattern"]
        if pattern.get("source") != ["aws.guardduty"]:
            continue
        if any(_numeric_match(m["numeric"], severity) for m in pattern["detail"]["severity"]):
            matched.append(rule["Properties"]["Description"].rsplit(", ", 1)[1])
    assert matched == ([f"{band} severity"] if band else [])


def test_trail_metric_alarms_only_with_our_trail(services_on) -> None:
    filters = services_on.resources(RR, "AWS::Logs::MetricFilter")
    assert sorted(f["Properties"]["MetricTransformations"][0]["MetricName"] for f in filters.values()) == [
        "ConsoleSignInWithoutMfa",
        "IamChanges",
        "RootUse",
        "UnauthorizedApiCalls",
    ]
    alarms = services_on.resources(RR, "AWS::CloudWatch::Alarm")
    assert len(alarms) == 4
    for alarm in alarms.values():
        assert alarm["Properties"]["AlarmActions"] == [{"Ref": "SecurityAlarmsTopicAF65CDDE"}]
        assert alarm["Properties"]["TreatMissingData"] == "notBreaching"


def test_budget_from_config_alerts_the_topic(stg, stg_cfg) -> None:
    budget = one(stg.resources(RR, "AWS::Budgets::Budget"))["Properties"]
    assert budget["Budget"]["BudgetLimit"] == {"Amount": 3000, "Unit": "USD"}
    assert budget["Budget"]["TimeUnit"] == "MONTHLY"
    kinds = sorted(n["Notification"]["NotificationType"] for n in budget["NotificationsWithSubscribers"])
    assert kinds == ["ACTUAL", "FORECASTED"]
    for n in budget["NotificationsWithSubscribers"]:
        assert n["Subscribers"] == [{"Address": {"Ref": "SecurityAlarmsTopicAF65CDDE"}, "SubscriptionType": "SNS"}]


def test_log_groups_are_encrypted_with_configured_retention(stg, services_on) -> None:
    for synth, retention in ((stg, 365), (services_on, 365)):
        groups = synth.all_resources("AWS::Logs::LogGroup")
        assert groups
        for stack, logical_id, group in groups:
            assert "KmsKeyId" in group["Properties"], (stack, logical_id)
            assert group["Properties"]["RetentionInDays"] == retention
            assert group["DeletionPolicy"] == "Retain"
