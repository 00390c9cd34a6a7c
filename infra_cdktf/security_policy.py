"""Cloud Armor policy attached to every backend service of the load balancer.

* Per-client-IP rate limit with a ban (``rate_based_ban``): a client over
  ``RATE_LIMIT_COUNT`` requests a minute gets 429; one that keeps at
  ``BAN_COUNT`` requests in ten minutes is banned for ``BAN_SECONDS``. A
  WebSocket is one request for its whole life, so this bounds connection
  attempts and uploads, not chat traffic.
* The Log4j (CVE-2021-44228) canary signature is denied; cheap and the
  checkov baseline asks for it.
* Everything else is allowed (the apps authenticate).
"""

from __future__ import annotations

from cdktf_cdktf_provider_google.compute_security_policy import (
    ComputeSecurityPolicy,
    ComputeSecurityPolicyRule,
    ComputeSecurityPolicyRuleMatch,
    ComputeSecurityPolicyRuleMatchConfig,
    ComputeSecurityPolicyRuleMatchExpr,
    ComputeSecurityPolicyRuleRateLimitOptions,
    ComputeSecurityPolicyRuleRateLimitOptionsBanThreshold,
    ComputeSecurityPolicyRuleRateLimitOptionsRateLimitThreshold,
)
from constructs import Construct

RATE_LIMIT_COUNT = 300
BAN_COUNT = 1500
BAN_SECONDS = 600
DEFAULT_RULE_PRIORITY = 2147483647


def _all_ips() -> ComputeSecurityPolicyRuleMatch:
    return ComputeSecurityPolicyRuleMatch(
        versioned_expr="SRC_IPS_V1",
        config=ComputeSecurityPolicyRuleMatchConfig(src_ip_ranges=["*"]),
    )


def rate_limited_policy(
    scope: Construct, construct_id: str, *, project_id: str, name: str
) -> ComputeSecurityPolicy:
    return ComputeSecurityPolicy(
        scope,
        construct_id,
        name=name,
        project=project_id,
        description="Per-IP rate limiting and a Log4j canary block for the Apex load balancer.",
        type="CLOUD_ARMOR",
        rule=[
            ComputeSecurityPolicyRule(
                priority=900,
                action="deny(403)",
                description="Block Log4j (CVE-2021-44228) exploit attempts.",
                match=ComputeSecurityPolicyRuleMatch(
                    expr=ComputeSecurityPolicyRuleMatchExpr(
                        expression="evaluatePreconfiguredWaf('cve-canary')"
                    )
                ),
            ),
            ComputeSecurityPolicyRule(
                priority=1000,
                action="rate_based_ban",
                description="Per-IP rate limit; persistent offenders are banned for a while.",
                match=_all_ips(),
                rate_limit_options=ComputeSecurityPolicyRuleRateLimitOptions(
                    conform_action="allow",
                    exceed_action="deny(429)",
                    enforce_on_key="IP",
                    rate_limit_threshold=(
                        ComputeSecurityPolicyRuleRateLimitOptionsRateLimitThreshold(
                            count=RATE_LIMIT_COUNT, interval_sec=60
                        )
                    ),
                    ban_threshold=ComputeSecurityPolicyRuleRateLimitOptionsBanThreshold(
                        count=BAN_COUNT, interval_sec=600
                    ),
                    ban_duration_sec=BAN_SECONDS,
                ),
            ),
            ComputeSecurityPolicyRule(
                priority=DEFAULT_RULE_PRIORITY,
                action="allow",
                description="Default: allow.",
                match=_all_ips(),
            ),
        ],
    )
