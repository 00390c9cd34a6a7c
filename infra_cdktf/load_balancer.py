"""Global external Application Load Balancer (``EXTERNAL_MANAGED``) in front of Cloud Run.

``EXTERNAL_MANAGED`` (backend services and forwarding rules) is what allows
URL-map header actions. Every request goes through a route rule:

* ``/ws`` and ``/ws/`` → edge, marker ``X-Apex-Route: ws``;
* ``/api/usage`` and ``/api/usage/…`` → ``ingest_usage``, marker ``usage``;
* everything else → edge (the web page), marker ``web``.

Each rule removes the trust headers a client could forge (``SPOOFABLE_HEADERS``)
and sets the marker with ``replace: true``, so a client-sent ``X-Apex-Route``
is overwritten, never passed on. The marker is deliberately not also in the
remove list: the API does not document whether removal runs before or after
addition, and removing it afterwards would drop the marker. ``Authorization``,
``Cookie`` and ``Sec-WebSocket-*`` are never removed (the WebSocket handshake
and the app's JWT check need them); ``Upgrade``/``Connection`` are handled by
the load balancer. No IAP anywhere: the apps verify JWTs. Serverless NEG
backends reject ``timeout_sec``: the Cloud Run request timeout governs.

The managed certificate's name ends in a hash of the domain and is created
before the old one is destroyed, so changing ``domain`` swaps certificates
instead of failing on a certificate still in use. Request logs are sampled at
``lb_log_sample_rate`` (default 0.1). The outputs have fixed names
(``load_balancer_ip``, ``websocket_url``).
"""

from __future__ import annotations

from cdktf import Fn, TerraformOutput, TerraformResourceLifecycle
from cdktf_cdktf_provider_google.cloud_run_v2_service import CloudRunV2Service
from cdktf_cdktf_provider_google.compute_backend_service import (
    ComputeBackendService,
    ComputeBackendServiceBackend,
    ComputeBackendServiceLogConfig,
)
from cdktf_cdktf_provider_google.compute_global_address import ComputeGlobalAddress
from cdktf_cdktf_provider_google.compute_global_forwarding_rule import (
    ComputeGlobalForwardingRule,
)
from cdktf_cdktf_provider_google.compute_managed_ssl_certificate import (
    ComputeManagedSslCertificate,
    ComputeManagedSslCertificateManaged,
)
from cdktf_cdktf_provider_google.compute_region_network_endpoint_group import (
    ComputeRegionNetworkEndpointGroup,
    ComputeRegionNetworkEndpointGroupCloudRun,
)
from cdktf_cdktf_provider_google.compute_ssl_policy import ComputeSslPolicy
from cdktf_cdktf_provider_google.compute_target_http_proxy import ComputeTargetHttpProxy
from cdktf_cdktf_provider_google.compute_target_https_proxy import ComputeTargetHttpsProxy
from cdktf_cdktf_provider_google.compute_url_map import (
    ComputeUrlMap,
    ComputeUrlMapDefaultUrlRedirect,
    ComputeUrlMapHostRule,
    ComputeUrlMapPathMatcher,
    ComputeUrlMapPathMatcherRouteRules,
    ComputeUrlMapPathMatcherRouteRulesHeaderAction,
    ComputeUrlMapPathMatcherRouteRulesHeaderActionRequestHeadersToAdd,
    ComputeUrlMapPathMatcherRouteRulesMatchRules,
)
from constructs import Construct

from infra_cdktf.config import ROUTE_HEADER, SPOOFABLE_HEADERS, AppSettings
from infra_cdktf.security_policy import rate_limited_policy

SCHEME = "EXTERNAL_MANAGED"


def route_header_action(route: str) -> ComputeUrlMapPathMatcherRouteRulesHeaderAction:
    return ComputeUrlMapPathMatcherRouteRulesHeaderAction(
        request_headers_to_add=[
            ComputeUrlMapPathMatcherRouteRulesHeaderActionRequestHeadersToAdd(
                header_name=ROUTE_HEADER, header_value=route, replace=True
            )
        ],
        request_headers_to_remove=list(SPOOFABLE_HEADERS),
    )


class LoadBalancer(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        settings: AppSettings,
        edge: CloudRunV2Service,
        ingest: CloudRunV2Service,
    ) -> None:
        super().__init__(scope, construct_id)
        project, region = settings.project.project_id, settings.project.region
        named = settings.named
        policy = rate_limited_policy(
            self, "armor", project_id=project, name=named("apex-edge-armor")
        )

        def backend(key: str, service: CloudRunV2Service) -> ComputeBackendService:
            neg = ComputeRegionNetworkEndpointGroup(
                self,
                f"{key}_neg",
                name=named(f"apex-{key}-neg"),
                project=project,
                region=region,
                network_endpoint_type="SERVERLESS",
                cloud_run=ComputeRegionNetworkEndpointGroupCloudRun(service=service.name),
            )
            # No timeout_sec: a serverless NEG backend rejects it.
            return ComputeBackendService(
                self,
                f"{key}_backend",
                name=named(f"apex-{key}-backend"),
                project=project,
                load_balancing_scheme=SCHEME,
                protocol="HTTPS",
                backend=[ComputeBackendServiceBackend(group=neg.id)],
                security_policy=policy.id,
                log_config=ComputeBackendServiceLogConfig(
                    enable=True, sample_rate=settings.lb_log_sample_rate
                ),
            )

        edge_backend = backend("edge", edge)
        ingest_backend = backend("ingest", ingest)

        def route(
            priority: int,
            service: ComputeBackendService,
            marker: str,
            matches: list[ComputeUrlMapPathMatcherRouteRulesMatchRules],
        ) -> ComputeUrlMapPathMatcherRouteRules:
            return ComputeUrlMapPathMatcherRouteRules(
                priority=priority,
                service=service.id,
                match_rules=matches,
                header_action=route_header_action(marker),
            )

        url_map = ComputeUrlMap(
            self,
            "https_map",
            name=named("apex-https"),
            project=project,
            default_service=edge_backend.id,
            host_rule=[ComputeUrlMapHostRule(hosts=["*"], path_matcher="apex")],
            path_matcher=[
                ComputeUrlMapPathMatcher(
                    name="apex",
                    default_service=edge_backend.id,
                    route_rules=[
                        route(
                            1,
                            edge_backend,
                            "ws",
                            [
                                ComputeUrlMapPathMatcherRouteRulesMatchRules(full_path_match="/ws"),
                                ComputeUrlMapPathMatcherRouteRulesMatchRules(
                                    full_path_match="/ws/"
                                ),
                            ],
                        ),
                        route(
                            2,
                            ingest_backend,
                            "usage",
                            [
                                ComputeUrlMapPathMatcherRouteRulesMatchRules(
                                    full_path_match="/api/usage"
                                ),
                                ComputeUrlMapPathMatcherRouteRulesMatchRules(
                                    prefix_match="/api/usage/"
                                ),
                            ],
                        ),
                        route(
                            3,
                            edge_backend,
                            "web",
                            [ComputeUrlMapPathMatcherRouteRulesMatchRules(prefix_match="/")],
                        ),
                    ],
                )
            ],
        )

        address = ComputeGlobalAddress(
            self, "address", name=named("apex-lb-ip"), project=project, ip_version="IPV4"
        )
        certificate = ComputeManagedSslCertificate(
            self,
            "certificate",
            name=named(f"apex-cert-{Fn.substr(Fn.sha256(settings.domain), 0, 8)}"),
            project=project,
            managed=ComputeManagedSslCertificateManaged(domains=[settings.domain]),
            lifecycle=TerraformResourceLifecycle(create_before_destroy=True),
        )
        ssl_policy = ComputeSslPolicy(
            self,
            "tls",
            name=named("apex-tls"),
            project=project,
            profile="MODERN",
            min_tls_version="TLS_1_2",
        )
        https_proxy = ComputeTargetHttpsProxy(
            self,
            "https_proxy",
            name=named("apex-https"),
            project=project,
            url_map=url_map.id,
            ssl_certificates=[certificate.id],
            ssl_policy=ssl_policy.id,
        )
        ComputeGlobalForwardingRule(
            self,
            "https_rule",
            name=named("apex-https"),
            project=project,
            load_balancing_scheme=SCHEME,
            ip_protocol="TCP",
            port_range="443",
            ip_address=address.id,
            target=https_proxy.id,
        )

        redirect_map = ComputeUrlMap(
            self,
            "http_redirect_map",
            name=named("apex-http-redirect"),
            project=project,
            default_url_redirect=ComputeUrlMapDefaultUrlRedirect(
                https_redirect=True,
                redirect_response_code="MOVED_PERMANENTLY_DEFAULT",
                strip_query=False,
            ),
        )
        http_proxy = ComputeTargetHttpProxy(
            self, "http_proxy", name=named("apex-http"), project=project, url_map=redirect_map.id
        )
        ComputeGlobalForwardingRule(
            self,
            "http_rule",
            name=named("apex-http"),
            project=project,
            load_balancing_scheme=SCHEME,
            ip_protocol="TCP",
            port_range="80",
            ip_address=address.id,
            target=http_proxy.id,
        )

        for output_id, value, description in (
            (
                "load_balancer_ip",
                address.address,
                "Point the domain's DNS A record here; the certificate waits for it.",
            ),
            ("websocket_url", f"wss://{settings.domain}/ws", "The chat's WebSocket URL."),
            (
                "certificate_name",
                certificate.name,
                "The managed certificate (its status: DEPLOY.md).",
            ),
        ):
            output = TerraformOutput(self, output_id, value=value, description=description)
            output.override_logical_id(output_id)
