"""One environment (staging, production, ...) as one CDK Stage, composed from its config."""

from __future__ import annotations

import aws_cdk as cdk
from constructs import Construct

from govcloud.config import MANAGED_BY, Config, pascal
from govcloud.config.disaster_recovery import osaka_network
from govcloud.stacks.baseline import SecurityBaselineStack
from govcloud.stacks.business_system import BusinessSystemStack
from govcloud.stacks.data_lake import DataLakeStack
from govcloud.stacks.data_lake_catalog import DataLakeCatalogStack
from govcloud.stacks.disaster_recovery import DisasterRecoveryStack
from govcloud.stacks.linkage import LinkageDataStack, LinkageStack
from govcloud.stacks.log_archive import LogArchiveStack
from govcloud.stacks.network_attachments import NetworkAttachmentsStack
from govcloud.stacks.network_hub import NetworkHubStack
from govcloud.stacks.recovery import RecoveryStack
from govcloud.stacks.spoke import SpokeNetworkStack, SpokeZonesStack


def after(stack: cdk.Stack, *producers: cdk.Stack) -> None:
    """Deploy ``stack`` after ``producers``. Same-account references become Fn::GetStackOutput (weak references,
    cdk.json): no export locks, but also no dependency in the manifest, so each stack names the stacks it reads."""
    for producer in producers:
        stack.add_stack_dependency(producer)


class GovCloudStage(cdk.Stage):
    """All stacks of one environment. On the CDK command line a stack is ``<Env>/<Part>[-<suffix>]``
    (``KobeStg/LogArchive``); CloudFormation names it ``<Env>-<Part>[-<suffix>]`` (``KobeStg-LogArchive``)."""

    def __init__(self, scope: Construct, cfg: Config) -> None:
        super().__init__(scope, cfg.prefix)
        self.cfg = cfg
        tags = cdk.Tags.of(self)
        tags.add("Municipality", cfg.municipality_tag)
        tags.add("Environment", cfg.name)
        tags.add("ManagedBy", MANAGED_BY)
        for key, value in sorted(cfg.tags.items()):
            tags.add(key, value)
        self._foundation()
        self._network()
        self._data_lake()
        self._linkage()
        self._systems()

    def _foundation(self) -> None:
        """The log archive, then a security baseline in every account (its trail and Config recorder write into the
        archive)."""
        cfg = self.cfg
        self.log_archive = LogArchiveStack(self, "LogArchive", cfg=cfg)
        self.baselines: dict[str, SecurityBaselineStack] = {}
        self.osaka_baselines: dict[str, SecurityBaselineStack] = {}
        for account in cfg.accounts:
            baseline = SecurityBaselineStack(self, f"Baseline-{pascal(account)}", cfg=cfg, account=account)
            after(baseline, self.log_archive)
            self.baselines[account] = baseline
            self.osaka_baselines[account] = SecurityBaselineStack(
                self, f"Baseline-{pascal(account)}-Osaka", cfg=cfg, account=account, region=cfg.regions.dr.name
            )

    def _network(self) -> None:
        """The hub first, then the spokes (other accounts), then the hub-side half of their attachments, then each
        spoke's association with the hub's endpoint zones. With a pilot light, the same in Osaka, with Osaka's
        addresses and a spoke for each business system."""
        cfg = self.cfg
        self.hub, self.spokes, self.network_of = self._network_in(cfg, None, "", self.baselines)
        if cfg.disaster_recovery.mode == "pilot-light":
            osaka = cfg.model_copy(update={"network": osaka_network(cfg)})
            self.osaka_hub, self.osaka_spokes, osaka_network_of = self._network_in(
                osaka, cfg.regions.dr.name, "-Osaka", self.osaka_baselines
            )
            for name, system in cfg.systems.items():
                recovery = RecoveryStack(
                    self,
                    f"Recovery-{pascal(name)}",
                    cfg=osaka,
                    system=name,
                    vpc=self.osaka_spokes[system.spoke].network.vpc,
                    region=cfg.regions.dr.name,
                )
                after(recovery, *osaka_network_of[system.spoke])

    def _network_in(
        self, cfg: Config, region: str | None, suffix: str, baselines: dict[str, SecurityBaselineStack]
    ) -> tuple[NetworkHubStack, dict[str, SpokeNetworkStack], dict[str, list[cdk.Stack]]]:
        net = cfg.network
        hub = NetworkHubStack(
            self, f"NetworkHub{suffix}", cfg=cfg, logs_key=baselines[net.account].keys["logs"], region=region
        )
        after(hub, baselines[net.account])
        if region is not None:
            # Osaka's baselines do not wait for the log archive (Tokyo's do); its flow and query logs go there.
            after(hub, self.log_archive)
        spokes: dict[str, SpokeNetworkStack] = {}
        for name, spoke in net.spokes.items():
            stack = SpokeNetworkStack(
                self,
                f"Spoke-{pascal(name)}{suffix}",
                cfg=cfg,
                spoke=name,
                hub=hub.shares,
                logs_key=baselines[spoke.account].keys["logs"],
                region=region,
            )
            after(stack, hub, baselines[spoke.account])  # the Transit Gateway and DNS shares first
            if region is not None:
                after(stack, self.log_archive)
            spokes[name] = stack
        # What completes a spoke's network: the hub side of its attachment, and its endpoint zones.
        network_of: dict[str, list[cdk.Stack]] = {name: [stack] for name, stack in spokes.items()}
        if net.spokes:
            attachments = NetworkAttachmentsStack(
                self,
                f"NetworkAttachments{suffix}",
                cfg=cfg,
                hub=hub,
                spokes=spokes,
                logs_key=baselines[net.account].keys["logs"],
                region=region,
            )
            after(attachments, hub, *spokes.values())
            for stacks in network_of.values():
                stacks.append(attachments)
            if net.dns_delivery == "ram":
                # Last: a spoke VPC can be associated with the hub's zones only once the hub has authorized it.
                for name, spoke in net.spokes.items():
                    zones = SpokeZonesStack(
                        self,
                        f"SpokeZones-{pascal(name)}{suffix}",
                        cfg=cfg,
                        spoke=name,
                        vpc=spokes[name].network.vpc,
                        hub=hub.shares,
                        logs_key=baselines[spoke.account].keys["logs"],
                        region=region,
                    )
                    after(zones, spokes[name], attachments, baselines[spoke.account])
                    network_of[name].append(zones)
        return hub, spokes, network_of

    def _data_lake(self) -> None:
        """Osaka replicas first (replication needs its destination), then storage, then the catalog."""
        cfg = self.cfg
        lake = cfg.data_lake
        lake_baseline = self.baselines[lake.account]
        # One Osaka stack per account with data to protect: the data lake's and each business system's (an account
        # may be both; its stack then holds the replicas and the vault).
        protected = dict.fromkeys([lake.account, *(system.account for system in cfg.systems.values())])
        self.disaster_recovery = {
            account: DisasterRecoveryStack(self, f"DR-{pascal(account)}", cfg=cfg, account=account)
            for account in protected
        }
        for account, stack in self.disaster_recovery.items():
            # The region's guards first; the replicas' data-event trail writes into the log archive.
            after(stack, self.osaka_baselines[account], self.log_archive)
        self.data_lake = DataLakeStack(self, "DataLake", cfg=cfg, key=lake_baseline.keys["data-lake"])
        after(self.data_lake, lake_baseline, self.disaster_recovery[lake.account])
        self.data_lake_catalog = DataLakeCatalogStack(
            self,
            "DataLakeCatalog",
            cfg=cfg,
            key=lake_baseline.keys["data-lake"],
            logs_key=lake_baseline.keys["logs"],
        )
        after(self.data_lake_catalog, self.data_lake, lake_baseline)
        if cfg.disaster_recovery.mode == "pilot-light":
            osaka = self.disaster_recovery[lake.account]
            assert osaka.key is not None  # the data lake's account holds the replicas
            self.data_lake_catalog_osaka = DataLakeCatalogStack(
                self,
                "DataLakeCatalog-Osaka",
                cfg=cfg,
                key=osaka.key,
                logs_key=self.osaka_baselines[lake.account].keys["logs"],
                region=cfg.regions.dr.name,
            )
            # Tokyo's catalog creates the roles it attaches its Osaka policies to.
            after(self.data_lake_catalog_osaka, osaka, self.osaka_baselines[lake.account], self.data_lake_catalog)

    def _linkage(self) -> None:
        """Storage and keys, then the functions, API and exchange in its spoke."""
        cfg = self.cfg
        link = cfg.linkage
        link_baseline = self.baselines[link.account]
        # Uploads come through each calling spoke's S3 endpoint, and the API admits each caller's own execute-api
        # endpoint: a spoke's are read from its stack at deploy time, a vendor's comes from config.
        caller_spokes = sorted({s.spoke for s in link.systems.values() if s.spoke})
        self.linkage_data = LinkageDataStack(
            self,
            "LinkageData",
            cfg=cfg,
            key=link_baseline.keys["linkage"],
            upload_endpoints={
                name: self.spokes[s.spoke].s3_endpoint.vpc_endpoint_id for name, s in link.systems.items() if s.spoke
            },
        )
        after(self.linkage_data, link_baseline, *(self.spokes[s] for s in caller_spokes))
        endpoints = {name: s.api_endpoint_id for name, s in link.systems.items() if s.api_endpoint_id}
        for name, s in link.systems.items():
            if s.spoke:
                endpoints[name] = self.spokes[s.spoke].own_endpoints["execute-api"].vpc_endpoint_id
        self.linkage = LinkageStack(
            self,
            "Linkage",
            cfg=cfg,
            data=self.linkage_data,
            vpc=self.spokes[link.spoke].network.vpc,
            key=link_baseline.keys["linkage"],
            logs_key=link_baseline.keys["logs"],
            alarm_topic=link_baseline.alarms.topic,
            api_endpoints=endpoints,
        )
        # Its functions start in a complete network; the ingestion role it passes data to lives in the catalog.
        after(
            self.linkage,
            self.linkage_data,
            *self.network_of[link.spoke],
            *(self.spokes[s] for s in caller_spokes),
            link_baseline,
            self.data_lake_catalog,
        )

    def _systems(self) -> None:
        """Each in its own account and spoke, after its Osaka vault (the plan copies into it) and its network."""
        cfg = self.cfg
        self.systems: dict[str, BusinessSystemStack] = {}
        for name, system in cfg.systems.items():
            baseline = self.baselines[system.account]
            dr = self.disaster_recovery[system.account]
            system_stack = BusinessSystemStack(
                self,
                f"System-{pascal(name)}",
                cfg=cfg,
                system=name,
                vpc=self.spokes[system.spoke].network.vpc,
                data_key=baseline.keys["resident-data"],
                logs_key=baseline.keys["logs"],
            )
            # Hosts boot into a complete network: routes through the hub, and the endpoint zones resolving.
            after(system_stack, baseline, *self.network_of[system.spoke], dr)
            self.systems[name] = system_stack
