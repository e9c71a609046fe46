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
    datasets = {d["name"]: d for d in json.loads(env["DATASETS"])}
    assert set(datasets) == set(stg_cfg.linkage.datasets)
    assert datasets["resident-list"]["encoding"] == "cp932" and datasets["resident-list"]["identifiers"] == ["氏名"]
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


def test_every_subscriber_queue_has_a_dead_letter_queue_with_an_alarm(stg) -> None:
    queues = stg.resources(LINK, "AWS::SQS::Queue")
    alarms = [props(a) for a in stg.resources(LINK, "AWS::CloudWatch::Alarm").values()]
    watched = {d["Value"]["Fn::GetAtt"][0] for a in alarms for d in a["Dimensions"]}
    subscriber_queues = [q for q in queues.values() if "RedrivePolicy" in props(q)]
    assert len(subscriber_queues) == 1
    for queue in subscriber_queues:
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
    forward = link_rules["S3 inbox events to the linkage bus"]
    assert forward["EventPattern"]["source"] == ["aws.s3"] and "EventBusName" not in forward  # on the default bus


def test_exchange_bucket_and_keys(stg) -> None:
    bucket = props(stg.resources(DATA, "AWS::S3::Bucket")["ExchangeBucketE8B1A42A"])
    assert bucket["NotificationConfiguration"] == {"EventBridgeConfiguration": {"EventBridgeEnabled": True}}
    assert "LinkageKey" in json.dumps(bucket["BucketEncryption"])
    mac = props(stg.resources(DATA, "AWS::KMS::Key")["PseudonymizationKeyBFF150DB"])
    assert mac["KeySpec"] == "HMAC_256" and mac["KeyUsage"] == "GENERATE_VERIFY_MAC"
    actions = {
        a
        for st in mac["KeyPolicy"]["Statement"]
        for a in (st["Action"] if isinstance(st["Action"], list) else [st["Action"]])
    }
    assert "kms:*" not in actions and "kms:Decrypt" not in actions and "kms:GenerateMac" in actions
    policy = next(
        props(p) for lid, p in stg.resources(DATA, "AWS::S3::BucketPolicy").items() if lid.startswith("ExchangeBucket")
    )
    uploads = {s["Sid"]: s for s in policy["PolicyDocument"]["Statement"] if s.get("Sid", "").startswith("Upload")}
    assert uploads["UploadResidentRegistry"]["Resource"]["Fn::Join"][1][1] == "/inbox/*/resident-registry/*"


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
    assert "linkage.datasets.resident-moves.identifiers = 'mynumber': not a column of the dataset" in _bad(
        lambda d: datasets(d).update(identifiers=["mynumber"])
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


def test_other_accounts_can_use_the_keys_they_need_and_only_through_their_service(stg) -> None:
    linkage_key = props(stg.resources("KobeStg-Baseline-Linkage", "AWS::KMS::Key")["LinkageKeyA6540845"])
    statements = {s.get("Sid"): s for s in linkage_key["KeyPolicy"]["Statement"]}
    upload = statements["ProducersUploadThroughS3"]
    # The caller role is created later (by the business system), so the key policy names it by condition only.
    assert upload["Principal"] == {"AWS": "arn:aws:iam::111100000003:root"}
    assert admitted_roles(upload) == {"arn:aws:iam::111100000003:role/kobe-stg-rr-linkage"}
    assert upload["Action"] == "kms:GenerateDataKey"
    assert upload["Condition"]["StringEquals"] == {"kms:ViaService": "s3.ap-northeast-1.amazonaws.com"}
    queue_key = props(stg.resources(DATA, "AWS::KMS::Key")["QueueKey9E389019"])
    read = {s.get("Sid"): s for s in queue_key["KeyPolicy"]["Statement"]}["SubscribersReadTheirQueues"]
    assert admitted_roles(read) == {"arn:aws:iam::111100000006:role/kobe-stg-tax-linkage"}
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
    assert expected and expected in packaged, (expected, packaged)
