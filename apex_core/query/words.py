"""The parser's own words: measures, dimensions (with their synonyms), kinds and levers.

Every table here is matched against the *masked* message (names and dates
replaced by placeholders, typos corrected), so a feature called
``nightly-report`` never reads as "a report". One home for each word list:
the parser, the typo corrector and the suggestions all read these.
"""

from __future__ import annotations

import re
from typing import Final

from apex_core.query.model import Dimension, Lever, Measure


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


NAME_MARK: Final = "<{}>"
"""Placeholder of a matched name in the masked message: ``<model>``."""
DATE_MARK: Final = "<date>"

DIMENSION_WORDS: Final[dict[str, Dimension]] = {
    **dict.fromkeys(("day", "days", "daily", "date", "dates", "per-day"), "day"),
    **dict.fromkeys(("week", "weeks", "weekly"), "week"),
    **dict.fromkeys(("month", "months", "monthly"), "month"),
    **dict.fromkeys(("provider", "providers", "vendor", "vendors"), "provider"),
    **dict.fromkeys(("model", "models", "llm", "llms"), "model"),
    **dict.fromkeys(
        (
            "feature", "features", "team", "teams", "project", "projects", "app", "apps",
            "application", "applications", "product", "products", "workspace", "workspaces",
            "service", "services", "workload", "workloads", "endpoint", "endpoints",
            "department", "departments", "usecase", "usecases",
        ),
        "feature",
    ),
    **dict.fromkeys(
        (
            "user", "users", "customer", "customers", "tenant", "tenants", "account", "accounts",
            "client", "clients", "enduser", "endusers", "end-user", "end-users", "person", "people",
        ),
        "end_user",
    ),
}  # fmt: skip
"""A word naming a dimension ("team" is a feature: usage exports put projects and
workspaces there; "customer" is an end user)."""

BREAKDOWN_PHRASES: Final[tuple[tuple[re.Pattern[str], Dimension], ...]] = (
    (re.compile(r"\bend\s+users?\b"), "end_user"),
    (re.compile(r"\buse\s+cases?\b"), "feature"),
    (re.compile(r"\bbatch(?:ed)?\s+(?:or|vs\.?|versus|and)\s+(?:not|non[\s-]?batch|interactive|real[\s-]?time|online|sync)\b|\bbatch\s+or\s+not\b"), "batch"),
    (re.compile(r"\bwho\b"), "end_user"),
    (re.compile(r"\bover\s+time\b|\btrend\b|\btimeline\b|\bday\s+by\s+day\b"), "day"),
)  # fmt: skip

MEASURE_PHRASES: Final[tuple[tuple[re.Pattern[str], tuple[Measure, ...]], ...]] = (
    (re.compile(r"\b(?:cost|spend|price|dollars?|\$)\s+(?:per|a|each|for\s+each|of\s+a|of\s+each)\s+(?:requests?|calls?|query)\b|\bper[\s-](?:requests?|calls?)\b|\baverage\s+(?:cost|spend|price)\b"), ("cost_per_request",)),
    (re.compile(r"\binput\s+(?:and|&)\s+output\s+tokens?\b"), ("input_tokens", "output_tokens")),
    (re.compile(r"\b(?:(?:cost|spend|price)\s+)?(?:per\s*(?:1k|1,000|1000|thousand|k|1\s+thousand)\s+tokens?|per\s+token)\b"), ("cost_per_1k_tokens",)),
    (re.compile(r"\b(?:cached|cache[\s-]?(?:read|hit)s?)\s+(?:input\s+)?tokens?\b"), ("cached_input_tokens",)),
    (re.compile(r"\b(?:input|prompt)\s+tokens?\b"), ("input_tokens",)),
    (re.compile(r"\b(?:output|completion|generated|response)\s+tokens?\b"), ("output_tokens",)),
    (re.compile(r"\btokens?\b"), ("input_tokens", "cached_input_tokens", "output_tokens")),
    (re.compile(r"\b(?:requests?|calls?|queries|api\s+calls|volume|how\s+many\s+times)\b"), ("requests",)),
    (re.compile(r"(?:\b(?:share|percent(?:age)?|proportion|fraction)\b|%)(?:\s+of\s+(?:(?:the|our|my|total|all)\s+)*(?:spend|spending|costs?|bill|money))?"), ("share_of_spend",)),
)  # fmt: skip
"""First match wins for each phrase; several phrases give several measures."""

COST_WORDS: Final = frozenset(
    {
        "cost", "costs", "costed", "spend", "spends", "spent", "spending", "bill", "billed",
        "billing", "invoice", "money", "dollars", "usd", "expensive", "costly", "costliest",
        "pay", "paid", "paying", "charges", "charged", "price", "priced", "budget",
        "expense", "expenses", "cheap", "cheapest", "cheaper",
    }
)  # fmt: skip

ANALYSIS: Final = re.compile(
    r"\b(?:analy[sz]e|analy[sz]is|audit|report|overview|summary|summari[sz]e|recommendations?|"
    r"optimi[sz]e|optimi[sz]ation|how\s+(?:can|do|could|should)\s+(?:we|i)\s+(?:save|cut|reduce|spend\s+less)|"
    r"save\s+money|cut\s+(?:our\s+|my\s+)?costs|reduce\s+(?:our\s+|my\s+)?(?:costs|spend|bill))\b"
)
WHY: Final = re.compile(
    r"\bwhy\b|\bwhat\s+(?:caused|drove|drives|happened|changed|is\s+behind|was\s+behind)\b|"
    r"\bexplain\b|\breasons?\b|\broot\s+cause\b|\bwhat'?s\s+behind\b|\bhow\s+come\b"
)
WHAT_IF: Final = re.compile(
    r"\bwhat\s+if\b|\bwhat\s+would\b|\bhow\s+much\s+(?:would|could|will|can)\b|\bwould\b.*\bsave\b|"
    r"\bcould\b.*\bsave\b|\bif\s+(?:we|i)\s+(?:used|use|switched|switch|moved|move|ran|run|went)\b|"
    r"\bsavings?\s+(?:from|of|with|by)\b|\bsave\s+(?:with|by|if)\b"
)
LEVERS: Final[tuple[tuple[re.Pattern[str], Lever], ...]] = (
    (re.compile(r"\b(?:response|answer|semantic|result)\s+cach|\bcach(?:e|ing)\s+(?:the\s+)?(?:responses|answers|results)\b|\bdedup|\bduplicates?\b"), "response_cache"),
    (re.compile(r"\bcach(?:e|ed|es|ing)\b|\bprefix\s+reuse\b"), "prompt_caching"),
    (re.compile(r"\bbatch(?:es|ed|ing)?\b|\basync(?:hronous(?:ly)?)?\b|\boffline\b|\bovernight\b"), "batch"),
    (re.compile(r"\bcheaper\s+models?\b|\bsmaller\s+models?\b|\bdowngrad|\bswitch|\bused?\b|\busing\b|\bmoved?\b|\binstead\b|\breplac"), "switch_model"),
)  # fmt: skip
"""In a what-if, the first lever whose words appear is the one the user named."""
TARGET_VERB: Final = re.compile(
    r"\b(?:used|use|using|switched\s+to|switch\s+to|switching\s+to|moved\s+to|move\s+to|moving\s+to|"
    r"ran\s+on|run\s+on|runs\s+on|went\s+to|go\s+to|downgraded\s+to|replaced\s+(?:it\s+|them\s+)?with|"
    r"with|to|on)\s*$"
)
"""Words right before a model that make it the what-if's target (matched on the text before it)."""

TOP: Final = re.compile(
    r"\b(?:top|first|largest|biggest|highest|most\s+expensive|costliest|priciest|heaviest)\s+(?P<n>\d{1,3}|one|two|three|four|five|six|seven|eight|nine|ten|twenty)\b"
)
BOTTOM: Final = re.compile(
    r"\b(?:bottom|last|smallest|lowest|least\s+expensive|cheapest|lightest)\s+(?P<n>\d{1,3}|one|two|three|four|five|six|seven|eight|nine|ten|twenty)\b"
)
MOST: Final = re.compile(
    r"\b(?:most|biggest|largest|highest|top|max(?:imum)?|costliest|priciest|heaviest|leading|main)\b"
)
LEAST: Final = re.compile(r"\b(?:least|smallest|lowest|cheapest|min(?:imum)?|fewest)\b")
RANK_NUMBERS: Final = {
    "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
    "nine": 9, "ten": 10, "twenty": 20,
}  # fmt: skip

FOLLOW_UP_START: Final = re.compile(
    r"^\s*(?:and|what\s+about|how\s+about|only|just|same|now|then|but|also|ok(?:ay)?|so|"
    r"break\s+(?:it|that|this)\s+down|split\s+(?:it|that)|why\b|for\s+<|what\s+of)"
)
"""A message starting like this refines the thread's previous question."""
COMPARE: Final = re.compile(r"\b(?:compared?|comparing|comparison|vs\.?|versus|against)\b")
"""With two names of one dimension: break down by that dimension, one row each."""
ONLY: Final = re.compile(r"\b(?:only|just|instead)\b")
"""Names in a follow-up with these words replace the previous question's names."""
BATCH_FILTER: Final = re.compile(
    r"\b(?:only\s+|just\s+)?(?:for\s+|on\s+)?(?:the\s+)?(?P<value>batch(?:ed)?|non[\s-]?batch|interactive|real[\s-]?time)\s+(?:api\s+)?(?:requests?|calls?|usage|traffic|jobs?|work)\b"
)
STOP_WORDS: Final = _words(
    """a an the of on in at for to by per and or vs versus than with from into over under
    how much many what which who whom whose when where is are was were be been do does did done
    we i our my us me you your it its this that these those there their they them
    show tell give list get me please can could would should will let see break down split
    each every all any only just also same now then but so ok okay about between compared
    against vs. not no more most less least top bottom up spike spiked jump jumped rise rose
    change changed increase increased drop dropped go went use used using switch switched
    save saving savings if why explain reason new like real time non end had has have
    spike spikes go going up down high low big uses use one two three four five six seven
    eight nine ten twelve twenty thirty call compare comparing comparison"""
)
KEYWORDS: Final = (
    frozenset(DIMENSION_WORDS)
    | COST_WORDS
    | _words(
        """analyze analyse analysis audit report overview summary breakdown tokens token requests
        request calls input output cached cache caching prompt batch batched interactive share
        percent percentage average cheaper model models provider week month day daily weekly
        monthly yesterday today last past previous trend between january february march april
        june july august september october november december"""
    )
)
"""Words a typo is corrected to (only words of 4+ letters are corrected)."""
KNOWN_WORDS: Final = KEYWORDS | STOP_WORDS
ON_TOPIC: Final = re.compile(r"\bhow\s+(?:much|many)\b|\$")
PROVIDER_WORDS: Final = frozenset(
    {
        "openai", "anthropic", "google", "azure", "aws", "bedrock", "vertex", "mistral", "cohere",
        "groq", "deepseek", "xai", "together", "fireworks", "perplexity", "meta", "gemini",
    }
)  # fmt: skip
"""Providers people name; one the usage does not have is reported, not ignored."""
