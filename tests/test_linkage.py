"""Data linkage platform infrastructure: private API, exchange, subscriber queues, functions without internet."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.support import admitted_roles, props

LINK = "KobeStg-Linkage"
DATA = "KobeStg-LinkageData"


def one(resources: dict[str, Any]) -> dict[str, Any]:
    assert len(resources) == 1, list(resources)
    return props(next(iter(resources.values())))


def rr_endpoint(stg) -> dict:
    """The resident registry spoke's execute-api endpoint, as the linkage stack reads it at deploy time."""
    spoke = "KobeStg-Spoke-ResidentRegistry"
    endpoint = next(
        lid for lid in stg.resources(spoke, "AWS::EC2::VPCEndpoint") if lid.startswith("EndpointExecuteApi")
    )
    output = next(n for n, o in stg.template(spoke)["Outputs"].items() if o["Value"] == {"Ref": endpoint})
    reader = next(
        props(r)["RoleName"] for lid, r in stg.resources(spoke, "AWS::IAM::Role").items() if "GetStackOutputRole" in lid
    )
    return {
        "Fn::GetStackOutput": {
            "StackName": spoke,
            "OutputName": output,
            "Region": "ap-northeast-1",
            "RoleArn": f"arn:aws:iam::111100000003:role/{reader}",
        }
    }


def test_api_is_private_and_admits_only_the_callers_endpoints(stg) -> None:
    """The resident registry's endpoint comes from its spoke stack at deploy time; the vendor's from config."""
    api = one(stg.resources(LINK, "AWS::ApiGateway::RestApi"))
    assert api["EndpointConfiguration"]["Types"] == ["PRIVATE"]
    endpoints = [rr_endpoint(stg), "vpce-0100000000000e2"]
    assert api["EndpointConfiguration"]["VpcEndpointIds"] == endpoints
    statements = {s["Sid"]: s for s in api["Policy"]["Statement"]}
    deny = statements["OnlyThroughTheCallersEndpoints"]
    assert deny["Effect"] == "Deny" and deny["Resource"] == "execute-api:/*"
    assert deny["Condition"] == {"StringNotEquals": {"aws:SourceVpce": endpoints}}


def test_each_dataset_route_is_open_only_to_its_producer_and_subscribers(stg) -> None:
    statements = {s["Sid"]: s for s in one(stg.resources(LINK, "AWS::ApiGateway::RestApi"))["Policy"]["Statement"]}
    post = statements["PostResidentMoves"]
    assert post["Principal"] == {"AWS": "arn:aws:iam::111100000003:root"}
    assert admitted_roles(post) == {"arn:aws:iam::111100000003:role/kobe-stg-rr-linkage"}
    assert post["Resource"] == "execute-api:/*/POST/v1/datasets/resident-moves/records"
    assert post["Condition"]["StringEquals"] == {"aws:SourceVpce": [rr_endpoint(stg)]}
    get = statements["GetResidentMoves"]
    assert admitted_roles(get) == {"arn:aws:iam::111100000006:role/kobe-stg-tax-linkage"}
    assert get["Resource"] == "execute-api:/*/GET/v1/datasets/resident-moves/records/*"
    assert len(statements) == 1 + 2 * 2


def test_iam_authorization_access_logs_and_throttling(stg) -> None:
    methods = stg.resources(LINK, "AWS::ApiGateway::Method")
    assert sorted(props(m)["HttpMethod"] for m in methods.values()) == ["GET", "POST"]
    assert all(props(m)["AuthorizationType"] == "AWS_IAM" for m in methods.values())
    stage = one(stg.resources(LINK, "AWS::ApiGateway::Stage"))
    assert (
        stage["MethodSettings"][0]["ThrottlingRateLimit"] == 50
        and stage["MethodSettings"][0]["ThrottlingBurstLimit"] == 100
    )
    log_group = stg.resources(LINK, "AWS::Logs::LogGroup")[
        stage["AccessLogSetting"]["DestinationArn"]["Fn::Join"][1][1]["Ref"]
    ]
    assert "KmsKeyId" in props(log_group)


def test_no_lambda_has_an_internet_path(stg, stg_cfg) -> None:
    spoke_subnets = {
        lid for lid, r in stg.resources("KobeStg-Spoke-Linkage", "AWS::EC2::Subnet").items() if "Application" in lid
    }
    for stack, lid, function in stg.all_resources("AWS::Lambda::Function"):
        if stack != LINK:
            continue
        p = props(function)
        subnets = {s["Fn::GetStackOutput"]["OutputName"] for s in p["VpcConfig"]["SubnetIds"]}
        assert len(subnets) == 2 and all(any(sub in out for sub in spoke_subnets) for out in subnets), lid
        assert p["ReservedConcurrentExecutions"] == stg_cfg.linkage.reserved_concurrency
        assert p["Runtime"] == "python3.14"
        assert "KmsKeyArn" in p
    group = one(stg.resources(LINK, "AWS::EC2::SecurityGroup"))
    assert "SecurityGroupIngress" not in group
    egress = [
        *group["SecurityGroupEgress"],
        *(props(e) for e in stg.resources(LINK, "AWS::EC2::SecurityGroupEgress").values()),
    ]
    peers = sorted(e.get("CidrIp") or e.get("DestinationPrefixListId") for e in egress)
    assert peers == ["10.100.0.0/22", "10.101.16.0/20", "pl-61a54008"]
    assert all(e["FromPort"] == 443 and e["ToPort"] == 443 for e in egress)


def test_handlers_and_their_configuration(stg, stg_cfg) -> None:
    functions = {props(f)["Handler"]: props(f) for f in stg.resources(LINK, "AWS::Lambda::Function").values()}
    assert set(functions) == {"linkage.api_handler", "linkage.file_handler"}
    env = functions["linkage.api_handler"]["Environment"]["Variables"]
    # The datasets travel in the code (datasets.json beside the handlers): Lambda's environment is 4 KB at most.
    asset = stg.outdir / f"asset.{functions['linkage.api_handler']['Code']['S3Key'].removesuffix('.zip')}"
    datasets = {d["name"]: d for d in json.loads((asset / "datasets.json").read_text(encoding="utf-8"))}
    assert "DATASETS" not in env
    assert set(datasets) == set(stg_cfg.linkage.datasets)
    assert datasets["resident-list"]["encoding"] == "cp932"
    lake = {c["name"]: c["lake"] for c in datasets["resident-list"]["columns"]}
    assert [c for c, action in lake.items() if action == "pseudonymize"] == ["住民票コード", "氏名"]
    assert lake["住所"] == "drop"  # the address never reaches the data lake
    assert env["API_MAX_BYTES"] == "1048576" and env["MALWARE_SCAN"] == "on"
    assert env["RAW_BUCKET"] == "kobe-stg-dl-raw-111100000005-ap-northeast-1"
    assert env["INGESTION_ROLE_ARN"] == "arn:aws:iam::111100000005:role/kobe-stg-dl-ingestion"
    roles = {props(r).get("RoleName") for r in stg.resources(LINK, "AWS::IAM::Role").values()}
    assert {"kobe-stg-linkage-api", "kobe-stg-linkage-files"} <= roles  # the names the ingestion role trusts
    # Each function writes to its own KMS-encrypted log group, which its policy names.
    groups = {props(g).get("LogGroupName"): lid for lid, g in stg.resources(LINK, "AWS::Logs::LogGroup").items()}
    for purpose, handler in (("api", "linkage.api_handler"), ("files", "linkage.file_handler")):
        name = f"/kobe-stg/linkage/{purpose}"
        assert functions[handler]["LoggingConfig"]["LogGroup"] == {"Ref": groups[name]}
        policy = next(
            props(p)
            for lid, p in stg.resources(LINK, "AWS::IAM::ManagedPolicy").items()
            if lid.startswith(purpose.title())
        )
        logs = {s["Sid"]: s for s in policy["PolicyDocument"]["Statement"]}["WriteOwnLogs"]
        assert logs["Resource"] == f"arn:aws:logs:ap-northeast-1:111100000004:log-group:{name}:*"
    files = functions["linkage.file_handler"]
    assert "DeadLetterConfig" in files  # asynchronously invoked: failures go to a dead-letter queue
    # A resident list takes one vCPU for seconds (make bench): a full vCPU and Lambda's longest time.
    assert files["MemorySize"] == 2048 and files["Timeout"] == 900


def test_every_system_queue_has_a_dead_letter_queue_with_an_alarm(stg) -> None:
    """The subscriber's (tax) and the producer's (resident registry: notices of its refused batches)."""
    queues = stg.resources(LINK, "AWS::SQS::Queue")
    alarms = [props(a) for a in stg.resources(LINK, "AWS::CloudWatch::Alarm").values()]
    watched = {d["Value"]["Fn::GetAtt"][0] for a in alarms for d in a["Dimensions"]}
    system_queues = [q for q in queues.values() if "RedrivePolicy" in props(q)]
    assert sorted(props(q)["QueueName"] for q in system_queues) == [
        "kobe-stg-linkage-resident-registry",
        "kobe-stg-linkage-tax",
    ]
    for queue in system_queues:
        dead = props(queue)["RedrivePolicy"]["deadLetterTargetArn"]["Fn::GetAtt"][0]
        assert dead in watched
    for queue in queues.values():
        assert props(queue)["KmsMasterKeyId"]


def test_no_rule_has_more_than_five_targets(stg) -> None:
    rules = stg.all_resources("AWS::Events::Rule")
    assert rules
    assert max(len(props(r).get("Targets", [])) for _, _, r in rules) <= 5
    link_rules = {props(r)["Description"]: props(r) for r in stg.resources(LINK, "AWS::Events::Rule").values()}
    assert {"resident-moves to tax", "resident-list to tax"} <= set(link_rules)
    # With malware protection on, the file handler hears of an upload only through its scan result.
    forward = link_rules["malware scan results of inbox uploads to the linkage bus"]
    assert forward["EventPattern"]["source"] == ["aws.guardduty"] and "EventBusName" not in forward  # default bus
    assert forward["EventPattern"]["detail"]["s3ObjectDetails"]["objectKey"] == [{"prefix": "inbox/"}]
    handler = link_rules["malware scan results of inbox uploads to the file handler"]
    assert handler["EventPattern"] == forward["EventPattern"] and "EventBusName" in handler
    notices = link_rules["batches of resident-registry that were refused, with their reason, to resident-registry"]
    assert notices["EventPattern"]["detail-type"] == ["DatasetBatchQuarantined"]
    assert notices["EventPattern"]["detail"] == {"producer": ["resident-registry"]}


def _exchange_policy(stg) -> dict[str, dict[str, Any]]:
    policy = next(
        props(p) for lid, p in stg.resources(DATA, "AWS::S3::BucketPolicy").items() if lid.startswith("ExchangeBucket")
    )
    return {s.get("Sid", ""): s for s in policy["PolicyDocument"]["Statement"]}


def _tail(resource: Any) -> str:
    """The literal end of an ARN that CloudFormation joins from the bucket's ARN and a path."""
    return resource["Fn::Join"][1][1]


def test_exchange_bucket_lifecycle_keeps_each_kind_of_object_only_as_long_as_needed(stg, stg_cfg) -> None:
    bucket = props(stg.resources(DATA, "AWS::S3::Bucket")["ExchangeBucketE8B1A42A"])
    assert bucket["NotificationConfiguration"] == {"EventBridgeConfiguration": {"EventBridgeEnabled": True}}
    assert "LinkageKey" in json.dumps(bucket["BucketEncryption"])
    rules = {r["Id"]: r for r in bucket["LifecycleConfiguration"]["Rules"]}
    exchange = stg_cfg.linkage.exchange
    expected = {
        "inbox/": exchange.delivery_days,
        "outbox/": exchange.delivery_days,
        "records/": exchange.delivery_days,
        "quarantine/": exchange.quarantine_days,
        "batches/": exchange.manifest_days,
    }
    assert {r["Prefix"]: r["ExpirationInDays"] for r in rules.values() if "Prefix" in r} == expected
    assert max(d for p, d in expected.items() if p != "batches/") <= 30  # personal data: days, not 400
    versions = rules["ReplacedVersionsAndUnfinishedUploads"]
    assert versions["NoncurrentVersionExpiration"] == {"NoncurrentDays": 1}
    assert versions["AbortIncompleteMultipartUpload"] == {"DaysAfterInitiation": 1}


def test_only_a_datasets_producer_uploads_into_its_folder_through_its_endpoint_with_the_linkage_key(stg) -> None:
    statements = _exchange_policy(stg)
    uploads = {sid: st for sid, st in statements.items() if st["Effect"] == "Allow" and st["Action"] == "s3:PutObject"}
    assert {sid: _tail(st["Resource"]) for sid, st in uploads.items()} == {
        "UploadResidentList": "/inbox/resident-list/resident-registry/*",
        "UploadResidentMoves": "/inbox/resident-moves/resident-registry/*",
    }  # the tax system produces nothing: it may upload nothing
    assert all(admitted_roles(st) == {"arn:aws:iam::111100000003:role/kobe-stg-rr-linkage"} for st in uploads.values())
    endpoints = statements["UploadsOnlyThroughTheCallersEndpoints"]
    assert endpoints["Effect"] == "Deny" and _tail(endpoints["Resource"]) == "/inbox/*"
    (spoke_endpoint,) = endpoints["Condition"]["StringNotEquals"]["aws:SourceVpce"]
    output = spoke_endpoint["Fn::GetStackOutput"]
    assert output["StackName"] == "KobeStg-Spoke-ResidentRegistry" and "S3Endpoint" in output["OutputName"]
    # The tax system runs at its vendor's: its account's caller roles upload from there.
    assert endpoints["Condition"]["StringNotEquals"]["aws:PrincipalAccount"] == ["111100000006"]
    key = statements["UploadsOnlyWithTheLinkageKey"]
    assert key["Effect"] == "Deny" and _tail(key["Resource"]) == "/inbox/*"
    allowed_keys = key["Condition"]["StringNotEquals"]["s3:x-amz-server-side-encryption-aws-kms-key-id"]
    assert allowed_keys[1] == "arn:aws:kms:ap-northeast-1:111100000004:alias/kobe-stg/linkage"
    assert "LinkageKey" in allowed_keys[0]["Fn::GetStackOutput"]["OutputName"]


def test_objects_are_read_only_by_the_named_roles_and_subscribers_only_committed_batches(stg) -> None:
    statements = _exchange_policy(stg)
    deny = statements["ReadsOnlyByTheNamedRoles"]
    assert deny["Effect"] == "Deny" and deny["Principal"] == {"AWS": "*"} and _tail(deny["Resource"]) == "/*"
    assert sorted(deny["Action"]) == ["s3:GetObject", "s3:GetObjectVersion"]
    assert deny["Condition"]["ArnNotEquals"]["aws:PrincipalArn"] == [
        "arn:aws:iam::111100000004:role/kobe-stg-linkage-api",
        "arn:aws:iam::111100000004:role/kobe-stg-linkage-files",
        "arn:aws:iam::111100000004:role/kobe-stg-linkage-malware-scan",
        "arn:aws:iam::111100000006:role/kobe-stg-tax-linkage",
    ]
    reads = {sid: st for sid, st in statements.items() if st["Effect"] == "Allow" and st["Action"] == "s3:GetObject"}
    assert {sid: _tail(st["Resource"]) for sid, st in reads.items()} == {
        "ReadResidentList": "/outbox/resident-list/*",
        "ReadResidentMoves": "/outbox/resident-moves/*",
    }
    for st in reads.values():
        assert admitted_roles(st) == {"arn:aws:iam::111100000006:role/kobe-stg-tax-linkage"}
        assert st["Condition"]["StringEquals"] == {"s3:ExistingObjectTag/state": "committed"}


def test_data_events_of_the_exchange_are_recorded_in_the_log_archive(stg) -> None:
    trail = one(stg.resources(DATA, "AWS::CloudTrail::Trail"))
    assert trail["S3BucketName"] == "kobe-stg-log-archive-111100000001-ap-northeast-1"
    assert trail["KMSKeyId"] == "arn:aws:kms:ap-northeast-1:111100000001:alias/kobe-stg/log-archive"
    assert trail["EnableLogFileValidation"] is True and trail["IsLogging"] is True
    (selector,) = trail["EventSelectors"]
    assert selector["ReadWriteType"] == "All" and selector["IncludeManagementEvents"] is False
    (data,) = selector["DataResources"]
    assert data["Type"] == "AWS::S3::Object"
    assert data["Values"] == [{"Fn::Join": ["", [{"Fn::GetAtt": ["ExchangeBucketE8B1A42A", "Arn"]}, "/"]]}]
    # The log archive admits trails of this account with this name.
    archive = stg.resources("KobeStg-LogArchive", "AWS::S3::BucketPolicy")
    write = {s.get("Sid"): s for p in archive.values() for s in props(p)["PolicyDocument"]["Statement"]}
    pattern = write["CloudTrailWrite111100000004"]["Condition"]["StringLike"]["aws:SourceArn"]
    assert "arn:aws:cloudtrail:ap-northeast-1:111100000004:trail/kobe-stg-*" in pattern
    assert trail["TrailName"].startswith("kobe-stg-")


def test_inbox_uploads_are_scanned_for_malware_before_they_are_read(stg) -> None:
    plan = one(stg.resources(DATA, "AWS::GuardDuty::MalwareProtectionPlan"))
    assert plan["ProtectedResource"]["S3Bucket"] == {
        "BucketName": {"Ref": "ExchangeBucketE8B1A42A"},
        "ObjectPrefixes": ["inbox/"],
    }
    assert plan["Actions"] == {"Tagging": {"Status": "ENABLED"}}  # the file handler checks the tag
    roles = stg.resources(DATA, "AWS::IAM::Role")
    role = props(roles[plan["Role"]["Fn::GetAtt"][0]])
    assert role["RoleName"] == "kobe-stg-linkage-malware-scan"
    (trust,) = role["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"Service": "malware-protection-plan.guardduty.amazonaws.com"}
    assert trust["Condition"] == {"StringEquals": {"aws:SourceAccount": "111100000004"}}
    # GuardDuty checks its access when the plan is created: the role's policy and the bucket policy come first.
    depends = next(r for r in stg.resources(DATA, "AWS::GuardDuty::MalwareProtectionPlan").values())["DependsOn"]
    assert any(d.startswith("MalwareScanPolicy") for d in depends)
    assert any(d.startswith("ExchangeBucketPolicy") for d in depends)


def test_without_malware_protection_uploads_reach_the_handler_as_s3_events(variant) -> None:
    """The variant switches malware protection off."""
    assert not variant.resources(DATA, "AWS::GuardDuty::MalwareProtectionPlan")
    rules = variant.resources(LINK, "AWS::Events::Rule")
    forward = {props(r)["Description"]: props(r) for r in rules.values()}["S3 inbox events to the linkage bus"]
    assert forward["EventPattern"]["source"] == ["aws.s3"]
    function = next(
        props(f) for f in variant.resources(LINK, "AWS::Lambda::Function").values()
        if props(f).get("Handler") == "linkage.file_handler"
    )  # fmt: skip
    assert function["Environment"]["Variables"]["MALWARE_SCAN"] == "off"


def test_the_pseudonymization_key_computes_macs_for_the_function_roles_only(stg) -> None:
    mac = props(stg.resources(DATA, "AWS::KMS::Key")["PseudonymizationKeyBFF150DB"])
    assert mac["KeySpec"] == "HMAC_256" and mac["KeyUsage"] == "GENERATE_VERIFY_MAC"
    statements = {s["Sid"]: s for s in mac["KeyPolicy"]["Statement"]}
    functions = [
        "arn:aws:iam::111100000004:role/kobe-stg-linkage-api",
        "arn:aws:iam::111100000004:role/kobe-stg-linkage-files",
    ]
    allow = statements["FunctionsGenerateMac"]
    assert allow["Action"] == "kms:GenerateMac"  # one call per batch derives the batch key
    assert allow["Condition"] == {
        "ArnEquals": {"aws:PrincipalArn": functions},
        "StringEquals": {"kms:MacAlgorithm": "HMAC_SHA_256"},
    }
    others = statements["NobodyElseGeneratesMacs"]
    assert others["Effect"] == "Deny" and others["Condition"] == {"ArnNotEquals": {"aws:PrincipalArn": functions}}
    assert statements["NobodyVerifiesMacs"]["Effect"] == "Deny"
    assert statements["NobodyVerifiesMacs"]["Action"] == "kms:VerifyMac"
    assert statements["NoGrants"] == {**statements["NoGrants"], "Effect": "Deny", "Action": "kms:CreateGrant"}
    allowed = {
        a
        for st in mac["KeyPolicy"]["Statement"]
        if st["Effect"] == "Allow"
        for a in (st["Action"] if isinstance(st["Action"], list) else [st["Action"]])
    }
    assert allowed & {"kms:*", "kms:Decrypt", "kms:VerifyMac", "kms:CreateGrant", "kms:Create*"} == set()
    # The functions' own policy says the same.
    policy = next(p for lid, p in stg.resources(LINK, "AWS::IAM::ManagedPolicy").items() if lid.startswith("Files"))
    mac_use = {s["Sid"]: s for s in props(policy)["PolicyDocument"]["Statement"]}["Pseudonymize"]
    assert mac_use["Action"] == "kms:GenerateMac"
    assert mac_use["Condition"] == {"StringEquals": {"kms:MacAlgorithm": "HMAC_SHA_256"}}


def _bad(edit) -> str:
    import copy

    import pytest

    from govcloud.config import ConfigError, parse
    from tests.conftest import config_data

    data = copy.deepcopy(config_data())
    edit(data)
    with pytest.raises(ConfigError) as caught:
        parse(data, "linkage.toml")
    return str(caught.value)


def test_bad_linkage_configs() -> None:
    datasets = lambda d: d["linkage"]["datasets"]["resident-moves"]  # noqa: E731
    assert "linkage.datasets.resident-moves.subscribers = 'welfare': not a linkage system" in _bad(
        lambda d: datasets(d).update(subscribers=["welfare"])
    )
    assert "the producer cannot subscribe to its own dataset" in _bad(
        lambda d: datasets(d).update(subscribers=["resident-registry"])
    )
    assert "linkage.datasets.resident-moves.key_column = 'mynumber': not a column of the dataset" in _bad(
        lambda d: datasets(d).update(key_column="mynumber")
    )
    message = _bad(lambda d: d["linkage"]["systems"]["tax"].pop("api_endpoint_id"))
    assert "linkage.systems.tax.api_endpoint_id: required for a system run outside this landing zone" in message
    assert "aws ec2 describe-vpc-endpoints" in message
    assert "add 'execute-api' to network.spokes.resident-registry.endpoints_in_spoke" in _bad(
        lambda d: d["network"]["spokes"]["resident-registry"].update(endpoints_in_spoke=[])
    )
    assert (
        "linkage.systems.resident-registry.account = '111100000006': the spoke 'resident-registry' lives in another account"
        in _bad(lambda d: d["linkage"]["systems"]["resident-registry"].update(account="111100000006"))
    )
    assert "its spoke must be in the mynumber segment" in _bad(
        lambda d: d["network"]["spokes"]["linkage"].update(segment="lgwan")
    )


def test_each_column_says_what_reaches_the_data_lake_and_personal_data_needs_a_reason_to_be_kept() -> None:
    columns = lambda d: d["linkage"]["datasets"]["resident-moves"]["columns"]  # noqa: E731
    message = _bad(lambda d: columns(d)["address"].update(lake="keep"))
    assert "linkage.datasets.resident-moves.columns.address.keep_reason: personal data reaches the data lake only " in (
        message
    )
    assert "pseudonymized or not at all" in message
    assert "only a personal column kept as sent takes a reason; remove it" in _bad(
        lambda d: columns(d)["household_size"].update(keep_reason="counts")
    )
    assert "the key column names objects and appears in access logs: it must not be personal data" in _bad(
        lambda d: columns(d)["record_id"].pop("personal")
    )
    message = _bad(lambda d: columns(d).update(mynumber="string"))
    assert 'columns mynumber: write each column as a table, e.g. mynumber = { type = "string", lake = ' in message
    message = _bad(lambda d: d["linkage"]["datasets"]["resident-moves"].update(identifiers=["name"]))
    assert "linkage.datasets.resident-moves.identifiers: delete this key: each column now says what reaches" in message
    message = _bad(lambda d: d["linkage"]["exchange"].update(expire_after_days=400))
    assert "linkage.exchange.expire_after_days: delete this key: the exchange now keeps each kind" in message
    assert "must be at least delivery_days (14)" in _bad(lambda d: d["linkage"]["exchange"].update(manifest_days=7))
    assert "linkage.datasets.resident-moves.columns.address.lake = 'publish'" in _bad(
        lambda d: columns(d)["address"].update(lake="publish")
    )


def test_other_accounts_can_use_the_keys_they_need_and_only_through_their_service(stg) -> None:
    linkage_key = props(stg.resources("KobeStg-Baseline-Linkage", "AWS::KMS::Key")["LinkageKeyA6540845"])
    statements = {s.get("Sid"): s for s in linkage_key["KeyPolicy"]["Statement"]}
    upload = statements["ProducersUploadThroughS3"]
    # The caller role is created later (by the business system), so the key policy names it by condition only.
    assert upload["Principal"] == {"AWS": "arn:aws:iam::111100000003:root"}
    assert admitted_roles(upload) == {"arn:aws:iam::111100000003:role/kobe-stg-rr-linkage"}
    assert upload["Action"] == ["kms:Decrypt", "kms:GenerateDataKey"]  # a multipart upload decrypts its parts' keys
    assert upload["Condition"]["StringEquals"] == {"kms:ViaService": "s3.ap-northeast-1.amazonaws.com"}
    read_files = statements["SubscribersReadThroughS3"]
    assert admitted_roles(read_files) == {"arn:aws:iam::111100000006:role/kobe-stg-tax-linkage"}
    assert read_files["Action"] == "kms:Decrypt"
    assert read_files["Condition"]["StringEquals"] == {"kms:ViaService": "s3.ap-northeast-1.amazonaws.com"}
    queue_key = props(stg.resources(DATA, "AWS::KMS::Key")["QueueKey9E389019"])
    read = {s.get("Sid"): s for s in queue_key["KeyPolicy"]["Statement"]}["SystemsReadTheirQueues"]
    assert admitted_roles(read) == {
        "arn:aws:iam::111100000003:role/kobe-stg-rr-linkage",
        "arn:aws:iam::111100000006:role/kobe-stg-tax-linkage",
    }
    assert read["Condition"]["StringEquals"] == {"kms:ViaService": "sqs.ap-northeast-1.amazonaws.com"}


@pytest.mark.parametrize(
    ("stack", "folder"), [(LINK, "linkage"), ("KobeStg-SpokeZones-ResidentRegistry", "zone_association")]
)
def test_each_function_is_its_runtime_folder_packaged_whole(stg, stack, folder) -> None:
    """A new module in a function's folder ships with it: the asset is the folder, not a list of files."""
    from govcloud.config import PROJECT_ROOT

    keys = {
        props(r)["Code"]["S3Key"].removesuffix(".zip")
        for r in stg.resources(stack, "AWS::Lambda::Function").values()
        if "S3Key" in props(r).get("Code", {}) and "Handler" in props(r) and "." in props(r)["Handler"]
    }
    source = PROJECT_ROOT / "govcloud" / "runtime" / folder
    expected = sorted(
        p.relative_to(source).as_posix() for p in source.rglob("*") if p.is_file() and "__pycache__" not in p.parts
    )
    packaged = [
        sorted(p.relative_to(d).as_posix() for p in d.rglob("*") if p.is_file())
        for d in (stg.outdir / f"asset.{key}" for key in keys)
        if d.is_dir()
    ]
    if folder == "linkage":  # the datasets, written from the config beside the handlers
        expected = sorted([*expected, "datasets.json"])
    assert expected and expected in packaged, (expected, packaged)
