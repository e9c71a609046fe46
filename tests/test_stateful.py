"""Logical IDs of stateful resources are a contract: a rename replaces the resource and loses its data.

If this test fails, a change would replace a key or a bucket. Do not update the list to make it pass unless
the replacement is planned (data moved, keys re-wrapped) and said so in the pull request.
"""

from __future__ import annotations

STATEFUL_TYPES = (
    "AWS::KMS::Key",
    "AWS::S3::Bucket",
    "AWS::Logs::LogGroup",
    "AWS::Glue::Database",
    "AWS::SQS::Queue",
    "AWS::EC2::Volume",
    "AWS::Backup::BackupVault",
    "AWS::Backup::LogicallyAirGappedBackupVault",
)
# Resources whose physical IDs other accounts read from config: replacing one breaks every spoke that uses it.
REFERENCED_BY_ID = (
    "AWS::EC2::TransitGateway",
    "AWS::EC2::VPC",
    "AWS::EC2::TransitGatewayVpcAttachment",
    "AWS::Route53::HostedZone",
    "AWS::Route53Resolver::ResolverRule",
    "AWS::Route53Resolver::FirewallRuleGroup",
    "AWS::Route53Profiles::Profile",
)
HUB_ZONES = (
    "ZoneSsmE896AEE9", "ZoneSsmmessagesA6F7E890", "ZoneEc2messages19C2D0B3", "ZoneEc27A911B9A", "ZoneKms5E197A44",
    "ZoneLogsAEFBA3B6", "ZoneMonitoring34382B27", "ZoneSts773608DE", "ZoneSecretsmanager71EAFA47", "ZoneSqs882569C2",
    "ZoneSnsE776DF9F", "ZoneEventsE21091E3", "ZoneGlue8831B35A", "ZoneAthenaA9464BF5", "ZoneLakeformation0558AD97",
    "ZoneBackupC79B9F78",
)  # fmt: skip
SPOKE = {"Vpc49347EA9": "AWS::EC2::VPC", "TransitGatewayAttachment": "AWS::EC2::TransitGatewayVpcAttachment"}
SPOKE_ZONES = {"EndpointZonesLogs9CE3CBE6": "AWS::Logs::LogGroup"}

PINNED = {
    "KobeStg-LogArchive": {
        "ArchiveKey69F03933": "AWS::KMS::Key",
        "AccessLogBucket99AA64AA": "AWS::S3::Bucket",
        "LogBucket27CEF49F": "AWS::S3::Bucket",
    },
    **{
        f"KobeStg-Baseline-{role}": {
            "LogsKey195F8DFC": "AWS::KMS::Key",
            "AccountGuardsGuardFunctionLogsAD0403E6": "AWS::Logs::LogGroup",
            **extra,
        }
        for role, extra in (
            ("LogArchive", {}),
            ("Network", {}),
            ("ResidentRegistry", {"ResidentDataKeyA7BD66F4": "AWS::KMS::Key"}),
            ("Linkage", {"LinkageKeyA6540845": "AWS::KMS::Key"}),
            ("DataLake", {"DataLakeKeyCEB7BCCC": "AWS::KMS::Key"}),
        )
    },
    "KobeStg-NetworkHub": {
        "TransitGateway": "AWS::EC2::TransitGateway",
        "HubVpc85493B83": "AWS::EC2::VPC",
        "HubAttachment": "AWS::EC2::TransitGatewayVpcAttachment",
        "AttachmentLookupLogs0DD04D99": "AWS::Logs::LogGroup",
        **dict.fromkeys(HUB_ZONES, "AWS::Route53::HostedZone"),
        # Each segment's own DNS VPC, attachment and forwarding rule (one resolver for every segment answered one
        # segment's queries with the other's servers; nothing had been deployed when this moved).
        "MynumberDnsVpcEE634649": "AWS::EC2::VPC",
        "MynumberDnsAttachmentCEA3D482": "AWS::EC2::TransitGatewayVpcAttachment",
        "MynumberDnsForwardCityKobeLgJpB3FA0D06": "AWS::Route53Resolver::ResolverRule",
        "LgwanDnsVpc52FCF281": "AWS::EC2::VPC",
        "LgwanDnsAttachment4BF5D857": "AWS::EC2::TransitGatewayVpcAttachment",
        "LgwanDnsForwardCityKobeLgJp80704C77": "AWS::Route53Resolver::ResolverRule",
        "DnsFirewall": "AWS::Route53Resolver::FirewallRuleGroup",
    },
    "KobeStg-Spoke-ResidentRegistry": SPOKE,
    "KobeStg-Spoke-Linkage": SPOKE,
    "KobeStg-SpokeZones-ResidentRegistry": SPOKE_ZONES,
    "KobeStg-SpokeZones-Linkage": SPOKE_ZONES,
    "KobeStg-LinkageData": {
        "AccessLogBucket99AA64AA": "AWS::S3::Bucket",
        "ExchangeBucketE8B1A42A": "AWS::S3::Bucket",
        "PseudonymizationKeyBFF150DB": "AWS::KMS::Key",
        "QueueKey9E389019": "AWS::KMS::Key",
    },
    "KobeStg-Linkage": {
        "ApiLogs3D05D88B": "AWS::Logs::LogGroup",
        "FilesLogs23B7861C": "AWS::Logs::LogGroup",
        "ApiAccessLogsE9DF007D": "AWS::Logs::LogGroup",
        "FilesDeadLettersBA147B1F": "AWS::SQS::Queue",
        "TaxDeadLetters2190FAD9": "AWS::SQS::Queue",
        "TaxQueueA166132B": "AWS::SQS::Queue",
        "ResidentRegistryDeadLetters18C3DDC6": "AWS::SQS::Queue",
        "ResidentRegistryQueueE70D7C85": "AWS::SQS::Queue",
    },
    "KobeStg-NetworkAttachments": {"EndpointZonesLogs9CE3CBE6": "AWS::Logs::LogGroup"},
    "KobeStg-DataLake": {
        "AccessLogBucket99AA64AA": "AWS::S3::Bucket",
        "RawBucket42DDDB31": "AWS::S3::Bucket",
        "CuratedBucket293EA00E": "AWS::S3::Bucket",
        "AnalyticsBucket22B5943E": "AWS::S3::Bucket",
        "ResultsBucketA2E42622": "AWS::S3::Bucket",
    },
    "KobeStg-DR-DataLake": {
        "DataLakeKeyCEB7BCCC": "AWS::KMS::Key",
        "AccessLogBucket99AA64AA": "AWS::S3::Bucket",
        "RawReplica0B5738A4": "AWS::S3::Bucket",
        "CuratedReplica3D318C26": "AWS::S3::Bucket",
    },
    "KobeStg-DataLakeCatalog": {
        "RawDatabase": "AWS::Glue::Database",
        "CuratedDatabase": "AWS::Glue::Database",
        "AnalyticsDatabase": "AWS::Glue::Database",
    },
    "KobeStg-System-ResidentRegistry": {
        # Data volumes and the vault: a new logical ID would leave the data behind (retained) and start empty.
        "Web1DataVolumeF152D12C": "AWS::EC2::Volume",
        "Web2DataVolume7610F059": "AWS::EC2::Volume",
        "Db1DataVolume167541C1": "AWS::EC2::Volume",
        "Db2DataVolume687D091D": "AWS::EC2::Volume",
        "Batch1DataVolumeEB212609": "AWS::EC2::Volume",
        "BackupVaultD1FD0DC4": "AWS::Backup::BackupVault",
        "SessionsKey46625E21": "AWS::KMS::Key",
        "AccessLogBucket99AA64AA": "AWS::S3::Bucket",
        "SessionsLogsBE1067F1": "AWS::Logs::LogGroup",
        "AgentSyslogLogs9F0DEA4C": "AWS::Logs::LogGroup",
        "AgentWindowsEventsLogs087CDD45": "AWS::Logs::LogGroup",
        "PatchingLogs9889888D": "AWS::Logs::LogGroup",
    },
    # The Osaka copies of a system's backups sit in a logically air-gapped vault (its key is AWS's). The earlier
    # vault and its key were retained: their copies stay readable until their retention ends.
    "KobeStg-DR-ResidentRegistry": {
        "ResidentRegistryAirGappedVault": "AWS::Backup::LogicallyAirGappedBackupVault",
    },
}
OSAKA_GUARD_LOGS = {"AccountGuardsGuardFunctionLogsAD0403E6": "AWS::Logs::LogGroup", "LogsKey195F8DFC": "AWS::KMS::Key"}
PINNED |= {
    "KobeStg-Baseline-DataLake-Osaka": {**OSAKA_GUARD_LOGS, "DataLakeKeyCEB7BCCC": "AWS::KMS::Key"},
    "KobeStg-Baseline-Linkage-Osaka": {**OSAKA_GUARD_LOGS, "LinkageKeyA6540845": "AWS::KMS::Key"},
    "KobeStg-Baseline-LogArchive-Osaka": OSAKA_GUARD_LOGS,
    "KobeStg-Baseline-Network-Osaka": OSAKA_GUARD_LOGS,
    "KobeStg-Baseline-ResidentRegistry-Osaka": {**OSAKA_GUARD_LOGS, "ResidentDataKeyA7BD66F4": "AWS::KMS::Key"},
}


def test_stateful_logical_ids_are_pinned(stg) -> None:
    found = {
        stack: {
            lid: r["Type"] for lid, r in stg.resources(stack).items() if r["Type"] in STATEFUL_TYPES + REFERENCED_BY_ID
        }
        for stack in stg.templates
    }
    assert found == PINNED


def test_stateful_resources_are_retained(stg, services_on) -> None:
    for synth in (stg, services_on):
        for stack, lid, resource in synth.all_resources():
            if resource["Type"] in STATEFUL_TYPES:
                assert resource.get("DeletionPolicy") == "Retain", (stack, lid)
                assert resource.get("UpdateReplacePolicy") == "Retain", (stack, lid)
