"""Hub-side half of each spoke's attachment (network account, deployed after the spokes).

A spoke's attachment lives in the spoke account, but only the Transit Gateway's owner can associate it with a
route table and propagate its routes. The attachment IDs (and, for zone sharing, the VPC IDs) are read from the
spoke stacks at deploy time.
"""

from __future__ import annotations

from aws_cdk import aws_kms as kms
from constructs import Construct

from govcloud.config import Config, pascal
from govcloud.constructs.transit import associate, propagate
from govcloud.constructs.zone_sharing import ZoneSharing
from govcloud.stacks.base import GovCloudStack
from govcloud.stacks.network_hub import HUB_TABLE, NetworkHubStack
from govcloud.stacks.spoke import SpokeNetworkStack


class NetworkAttachmentsStack(GovCloudStack):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        cfg: Config,
        hub: NetworkHubStack,
        spokes: dict[str, SpokeNetworkStack],
        logs_key: kms.IKey,
        region: str | None = None,
    ) -> None:
        net = cfg.network
        super().__init__(
            scope,
            construct_id,
            cfg=cfg,
            account=net.account,
            region=region,
            summary="spoke attachments: route-table association and propagation per segment, zone authorizations",
            system="network",
            classification="internal",
        )
        sharing = None
        if net.dns_delivery == "ram" and net.spokes:
            sharing = ZoneSharing(
                self,
                "EndpointZones",
                mode="authorize",
                zone_ids=[zone.hosted_zone_id for zone in hub.zones.values()],
                log_key=logs_key,
                log_retention_days=cfg.logging.retention_days,
            )
        for name, spoke in net.spokes.items():
            scope_ = Construct(self, pascal(name))
            attachment = spokes[name].attachment.ref
            associate(
                scope_, "Association", attachment_id=attachment, route_table_id=hub.route_tables[spoke.segment].ref
            )
            for target in [spoke.segment, HUB_TABLE, *cfg.allowed_peers(spoke.segment)]:
                propagate(
                    scope_,
                    f"Into{pascal(target)}",
                    attachment_id=attachment,
                    route_table_id=hub.route_tables[target].ref,
                )
            if sharing is not None:
                sharing.share(scope_, "ZoneAuthorization", vpc_id=spokes[name].network.vpc.vpc_id, region=self.region)
