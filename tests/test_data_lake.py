"""Data lake: zoned buckets, replication to Osaka, catalog and query engine, narrow access, an audit trail."""

from __future__ import annotations

import json
from typing import Any

from tests.support import props

LAKE = "KobeStg-DataLake"
CATALOG = "KobeStg-DataLakeCatalog"
DR = "KobeStg-DR-DataLake"
ZONES = {
    "raw": "RawBucket42DDDB31",
    "curated": "CuratedBucket293EA00E",
    "analytics": "AnalyticsBucket22B5943E",
    "results": "ResultsBucketA2E42622",
}


def policy_of(s, stack: str, bucket_id: str) -> list[dict[str, Any]]:
    for r in s.resources(stack, "AWS::S3::BucketPolicy").values():
        if props(r)["Bucket"] == {"Ref": bucket_id}:
            return props(r)["PolicyDocument"]["Statement"]
    raise AssertionError(bucket_id)


def test_zone_buckets(stg) -> None:
    buckets = stg.resources(LAKE, "AWS::S3::Bucket")
    for zone, lid in ZONES.items():
        p = props(buckets[lid])
        assert p["BucketName"] == f"kobe-stg-dl-{zone}-111100000005-ap-northeast-1"
        sse = p["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]
        assert sse["ServerSideEncryptionByDefault"]["SSEAlgorithm"] == "aws:kms" and sse["BucketKeyEnabled"] is True
        assert "DataLakeKey" in json.dumps(sse["ServerSideEncryptionByDefault"]["KMSMasterKeyID"])
        assert p["LoggingConfiguration"] == {
            "DestinationBucketName": {"Ref": "AccessLogBucket99AA64AA"},
            "LogFilePrefix": f"{zone}/",
        }
        assert buckets[lid]["DeletionPolicy"] == "Retain"
    assert props(buckets[ZONES["raw"]]).get("ObjectLockEnabled") in (None, False)  # staging: no lock
    rules = {z: props(buckets[lid])["LifecycleConfiguration"]["Rules"][0] for z, lid in ZONES.items()}
    assert rules["raw"]["Transitions"] == [{"StorageClass": "GLACIER", "TransitionInDays": 180}]
    assert rules["analytics"]["ExpirationInDays"] == 730
    assert rules["results"]["ExpirationInDays"] == 30


def test_production_locks_the_raw_zone_and_its_replica(prod) -> None:
    raw = props(prod.resources("KobeProd-DataLake", "AWS::S3::Bucket")["RawBucket42DDDB31"])
    replica = props(prod.resources("KobeProd-DR-DataLake", "AWS::S3::Bucket")["RawReplica0B5738A4"])
    for p in (raw, replica):
        assert p["ObjectLockEnabled"] is True
        assert p["ObjectLockConfiguration"]["Rule"]["DefaultRetention"] == {"Mode": "COMPLIANCE", "Days": 365}


def test_replication_covers_exactly_the_configured_zones_into_osaka(stg) -> None:
    buckets = stg.resources(LAKE, "AWS::S3::Bucket")
    replicated = {z for z, lid in ZONES.items() if "ReplicationConfiguration" in props(buckets[lid])}
    assert replicated == {"raw", "curated"}
    for zone in replicated:
        (rule,) = props(buckets[ZONES[zone]])["ReplicationConfiguration"]["Rules"]
        assert rule["Destination"]["Bucket"] == f"arn:aws:s3:::kobe-stg-dl-{zone}-111100000005-ap-northeast-3"
        assert rule["Destination"]["EncryptionConfiguration"] == {
            "ReplicaKmsKeyID": "arn:aws:kms:ap-northeast-3:111100000005:alias/kobe-stg/data-lake-dr"
        }
    replicas = {props(r)["BucketName"] for r in stg.resources(DR, "AWS::S3::Bucket").values()}
    assert replicas == {
        "kobe-stg-dl-raw-111100000005-ap-northeast-3",
        "kobe-stg-dl-curated-111100000005-ap-northeast-3",
        "kobe-stg-access-logs-111100000005-ap-northeast-3",
    }
    assert stg.artifacts[DR]["environment"] == "aws://111100000005/ap-northeast-3"
    alias = next(iter(stg.resources(DR, "AWS::KMS::Alias").values()))
    assert props(alias)["AliasName"] == "alias/kobe-stg/data-lake-dr"


def test_replication_role_can_do_nothing_else(stg) -> None:
    role = props(stg.resources(LAKE, "AWS::IAM::Role")[next(iter(stg.resources(LAKE, "AWS::IAM::Role")))])
    assert role["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] == {"Service": "s3.amazonaws.com"}
    (policy,) = stg.resources(LAKE, "AWS::IAM::ManagedPolicy").values()
    actions = {
        a
        for s in props(policy)["PolicyDocument"]["Statement"]
        for a in (s["Action"] if isinstance(s["Action"], list) else [s["Action"]])
    }
    assert actions == {
        "s3:GetReplicationConfiguration", "s3:ListBucket", "s3:GetObjectVersionForReplication", "s3:GetObjectVersionAcl",
        "s3:GetObjectVersionTagging", "s3:GetObjectRetention", "s3:GetObjectLegalHold", "s3:ReplicateObject",
        "s3:ReplicateDelete", "s3:ReplicateTags", "s3:ObjectOwnerOverrideToBucketOwner", "kms:Decrypt", "kms:Encrypt",
        "kms:GenerateDataKey",
    }  # fmt: skip
    resources = json.dumps(props(policy)["PolicyDocument"])
    assert "analytics" not in resources and "results" not in resources


def test_analyst_cannot_read_the_raw_zone(stg) -> None:
    # IAM: the analyst's policy names no raw resource.
    analyst = props(
        stg.resources(CATALOG, "AWS::IAM::ManagedPolicy")[
            next(k for k in stg.resources(CATALOG, "AWS::IAM::ManagedPolicy") if k.startswith("AnalystPolicy"))
        ]
    )
    text = json.dumps(analyst["PolicyDocument"])
    assert "kobe_stg_raw" not in text and "dl-raw" not in text
    assert "kobe_stg_curated" in text
    # Lake Formation: no grant to the analyst on the raw database or its tables.
    analyst_grants = [
        props(r)["Resource"]
        for r in stg.resources(CATALOG, "AWS::LakeFormation::PrincipalPermissions").values()
        if "dl-analyst" in json.dumps(props(r)["Principal"]) or "AnalystRole" in json.dumps(props(r)["Principal"])
    ]
    assert len(analyst_grants) == 4
    assert not any("kobe_stg_raw" in json.dumps(g) for g in analyst_grants)
    # S3: the raw bucket's policy denies object reads to everyone but the steward, Lake Formation and replication.
    deny = next(s for s in policy_of(stg, LAKE, ZONES["raw"]) if s.get("Sid") == "OnlyDataLakeRolesRead")
    assert deny["Effect"] == "Deny"
    assert deny["Condition"]["ArnNotLike"]["aws:PrincipalArn"] == [
        "arn:aws:iam::111100000005:role/kobe-stg-dl-lake-formation",
        "arn:aws:iam::111100000005:role/kobe-stg-dl-replication",
        "arn:aws:iam::111100000005:role/kobe-stg-dl-steward",
    ]


def test_only_ingestion_writes_raw_and_trusts_the_linkage_handlers(stg) -> None:
    deny = next(s for s in policy_of(stg, LAKE, ZONES["raw"]) if s.get("Sid") == "OnlyIngestionWritesRaw")
    assert deny["Action"] == "s3:PutObject"
    assert "arn:aws:iam::111100000005:role/kobe-stg-dl-ingestion" in deny["Condition"]["ArnNotLike"]["aws:PrincipalArn"]
    roles = {props(r)["RoleName"]: props(r) for r in stg.resources(CATALOG, "AWS::IAM::Role").values()}
    trust = roles["kobe-stg-dl-ingestion"]["AssumeRolePolicyDocument"]["Statement"][0]
    assert trust["Principal"] == {"AWS": "arn:aws:iam::111100000004:root"}
    # Finding: it trusted any role/<env>-linkage-*; now the two function roles, exactly
    assert trust["Condition"] == {
        "ArnEquals": {
            "aws:PrincipalArn": [
                "arn:aws:iam::111100000004:role/kobe-stg-linkage-api",
                "arn:aws:iam::111100000004:role/kobe-stg-linkage-files",
            ]
        }
    }


def test_analysts_and_stewards_are_the_configured_peoples_roles_only(stg, stg_cfg) -> None:
    """Finding: the analyst and steward roles trusted the data-lake account root with no condition."""
    roles = {props(r)["RoleName"]: props(r) for r in stg.resources(CATALOG, "AWS::IAM::Role").values()}
    for role, patterns in (("analyst", stg_cfg.data_lake.analysts), ("steward", stg_cfg.data_lake.stewards)):
        (trust,) = roles[f"kobe-stg-dl-{role}"]["AssumeRolePolicyDocument"]["Statement"]
        assert trust["Principal"] == {"AWS": "arn:aws:iam::111100000005:root"}
        assert trust["Condition"] == {"ArnLike": {"aws:PrincipalArn": list(patterns)}}
        assert all("AWSReservedSSO_" in p for p in patterns)


def test_osaka_replicas_deny_like_tokyo_and_their_reads_are_recorded(stg) -> None:
    """Finding: the Osaka replicas carried only the TLS deny, and the data-event trail covered Tokyo only."""
    dr = "KobeStg-DR-DataLake"
    buckets = {props(b)["BucketName"]: lid for lid, b in stg.resources(dr, "AWS::S3::Bucket").items()}
    for zone in ("raw", "curated"):
        tokyo = {s.get("Sid"): s for s in policy_of(stg, LAKE, ZONES[zone])}
        replica_id = buckets[f"kobe-stg-dl-{zone}-111100000005-ap-northeast-3"]
        osaka = {s.get("Sid"): s for s in policy_of(stg, dr, replica_id)}
        for sid in ("OnlyDataLakeRolesRead", *(["OnlyIngestionWritesRaw"] if zone == "raw" else [])):
            assert osaka[sid]["Condition"] == tokyo[sid]["Condition"] and osaka[sid]["Effect"] == "Deny", (zone, sid)
    (trail,) = stg.resources(dr, "AWS::CloudTrail::Trail").values()
    p = props(trail)
    assert p["S3BucketName"] == "kobe-stg-log-archive-111100000001-ap-northeast-1"
    assert p["KMSKeyId"] == "arn:aws:kms:ap-northeast-1:111100000001:alias/kobe-stg/log-archive"
    (selector,) = p["EventSelectors"]
    assert selector["ReadWriteType"] == "All" and selector["IncludeManagementEvents"] is False
    assert {v["Fn::Join"][1][0]["Fn::GetAtt"][0] for v in selector["DataResources"][0]["Values"]} == set(
        buckets.values()
    ) - {lid for lid in buckets.values() if lid.startswith("AccessLog")}


def test_lake_formation_settings_locations_and_grants(stg) -> None:
    (settings,) = stg.resources(CATALOG, "AWS::LakeFormation::DataLakeSettings").values()
    p = props(settings)
    assert [a["DataLakePrincipalIdentifier"] for a in p["Admins"]] == [
        "arn:aws:iam::111100000005:role/cdk-hnb659fds-cfn-exec-role-111100000005-ap-northeast-1",
        "arn:aws:iam::111100000005:role/kobe-stg-datalake-admin",
    ]
    assert p["CreateDatabaseDefaultPermissions"] == [] and p["CreateTableDefaultPermissions"] == []
    locations = stg.resources(CATALOG, "AWS::LakeFormation::Resource")
    assert len(locations) == 3 and all(props(r)["UseServiceLinkedRole"] is False for r in locations.values())
    wildcard = [
        props(r)
        for r in stg.resources(CATALOG, "AWS::LakeFormation::PrincipalPermissions").values()
        if "Table" in props(r)["Resource"]
    ]
    assert all(g["Resource"]["Table"]["TableWildcard"] == {} for g in wildcard) and len(wildcard) == 2 + 3 + 2


def test_catalog_crawlers_and_workgroup(stg) -> None:
    crawlers = {props(r)["Name"]: props(r) for r in stg.resources(CATALOG, "AWS::Glue::Crawler").values()}
    assert set(crawlers) == {"kobe-stg-dl-curated", "kobe-stg-dl-analytics"}
    assert all(c["Schedule"] == {"ScheduleExpression": "cron(0 18 * * ? *)"} for c in crawlers.values())
    (security,) = stg.resources(CATALOG, "AWS::Glue::SecurityConfiguration").values()
    enc = props(security)["EncryptionConfiguration"]
    assert enc["S3Encryptions"][0]["S3EncryptionMode"] == "SSE-KMS"
    assert enc["CloudWatchEncryption"]["CloudWatchEncryptionMode"] == "SSE-KMS"
    (workgroup,) = stg.resources(CATALOG, "AWS::Athena::WorkGroup").values()
    conf = props(workgroup)["WorkGroupConfiguration"]
    assert conf["EnforceWorkGroupConfiguration"] is True
    assert conf["BytesScannedCutoffPerQuery"] == 107374182400
    assert conf["ResultConfiguration"]["OutputLocation"] == "s3://kobe-stg-dl-results-111100000005-ap-northeast-1/"
    assert conf["ResultConfiguration"]["EncryptionConfiguration"]["EncryptionOption"] == "SSE_KMS"
    databases = {props(r)["DatabaseInput"]["Name"] for r in stg.resources(CATALOG, "AWS::Glue::Database").values()}
    assert databases == {"kobe_stg_raw", "kobe_stg_curated", "kobe_stg_analytics"}


def test_data_event_trail_of_every_bucket(stg) -> None:
    (trail,) = stg.resources(CATALOG, "AWS::CloudTrail::Trail").values()
    p = props(trail)
    assert p["TrailName"] == "kobe-stg-data-lake-events"
    assert p["S3BucketName"] == "kobe-stg-log-archive-111100000001-ap-northeast-1"
    assert p["KMSKeyId"] == "arn:aws:kms:ap-northeast-1:111100000001:alias/kobe-stg/log-archive"
    (selector,) = p["EventSelectors"]
    assert selector["IncludeManagementEvents"] is False and selector["ReadWriteType"] == "All"
    values = json.dumps(selector["DataResources"])
    for zone in ZONES:
        assert f"kobe-stg-dl-{zone}-111100000005-ap-northeast-1" in values


def test_stateful_and_stateless_are_split(stg) -> None:
    assert stg.resources(CATALOG, "AWS::S3::Bucket") == {} and stg.resources(CATALOG, "AWS::KMS::Key") == {}
    assert stg.resources(LAKE, "AWS::Glue::Crawler") == {} and stg.resources(LAKE, "AWS::Athena::WorkGroup") == {}


def test_every_bucket_in_the_app_is_secure(stg, prod, services_on) -> None:
    """Versioned, TLS-only, public access blocked, KMS with a customer-managed key (log buckets aside), retained."""
    count = 0
    for synth in (stg, prod, services_on):
        for stack, lid, bucket in synth.all_resources("AWS::S3::Bucket"):
            p = props(bucket)
            assert p["VersioningConfiguration"] == {"Status": "Enabled"}, (stack, lid)
            assert all(p["PublicAccessBlockConfiguration"].values()), (stack, lid)
            assert bucket["DeletionPolicy"] == "Retain", (stack, lid)
            statements = policy_of(synth, stack, lid)
            assert any(
                s["Effect"] == "Deny" and s.get("Condition") == {"Bool": {"aws:SecureTransport": "false"}}
                for s in statements
            )
            sse = p["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"]
            if lid.startswith("AccessLogBucket"):
                assert sse == {"SSEAlgorithm": "AES256"}
            else:
                assert sse["SSEAlgorithm"] == "aws:kms" and "alias/aws" not in json.dumps(sse["KMSMasterKeyID"]), (
                    stack,
                    lid,
                )
            count += 1
    # each: log archive 2, data lake 5, Osaka 3, linkage 2, resident registry 1 (also ELB logs); production's pilot
    # light adds the resident registry's Osaka access-log bucket (its Osaka load balancer's logs) and the Osaka
    # workgroup's results bucket
    assert count == 13 + 15 + 13
