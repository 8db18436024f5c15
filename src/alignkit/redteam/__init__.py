"""Automated red teaming: attack library, converters, strategies, campaigns that resume.

Attacks are data (YAML under ``redteam/data``, alignkit's own text); converters and
strategies are registries; every attempt is scored by the shared response classifier
and stored as it completes, so a campaign killed midway resumes without repeating one::

    from alignkit.redteam import CampaignOptions, run_campaign

    result = run_campaign(CampaignOptions(target="organism:flawed", strategy="search",
                                          max_queries=20, concurrency=8))
    print(result.report.attack_success_rate)

Importing the package registers the converters, the strategies (``static``, ``search``,
``crescendo``, ``pair``, ``tap``) and the audit checks ``jailbreak`` and
``prompt-injection``.
"""

from alignkit.redteam import _crescendo, _pair, _search  # noqa: F401  (register strategies)
from alignkit.redteam._behaviours import Behaviour, load_behaviours, sample_behaviours
from alignkit.redteam._campaign import (
    CampaignOptions,
    CampaignResult,
    new_campaign_id,
    run_campaign,
)
from alignkit.redteam._checks import (
    INJECTION_SUCCESS_RATE,
    JAILBREAK_BEHAVIOURS,
    JAILBREAK_QUERY_BUDGET,
    injection_cases,
    jailbreak,
    prompt_injection,
)
from alignkit.redteam._converters import (
    CONVERTERS,
    ConvertContext,
    Converted,
    ConverterFn,
    ConverterSpec,
    Helper,
    apply_converters,
    converter,
)
from alignkit.redteam._library import (
    ANY_CATEGORY,
    Attack,
    AttackLibrary,
    Carrier,
    ConverterTexts,
    InjectionDocument,
    InjectionLibrary,
    Ladder,
    Payload,
    Shot,
    builtin_data_dir,
    load_converter_texts,
    load_injections,
    load_ladders,
    load_library,
)
from alignkit.redteam._pair import ATTACKER_SYSTEM, parse_attacker_reply
from alignkit.redteam._prior import Prior, run_windowed
from alignkit.redteam._report import (
    ATTACK_SUCCESS_RATE,
    BehaviourRow,
    CellRow,
    EvidenceRow,
    GroupRow,
    RedteamReport,
    build_report,
    load_report,
)
from alignkit.redteam._rewrites import REWRITES, apply_rewrites, topic_of
from alignkit.redteam._scorepool import ScorePool
from alignkit.redteam._scoring import (
    AttemptOutcome,
    CanaryScorer,
    MarkerPolicy,
    Score,
    Scorer,
    canary_for,
)
from alignkit.redteam._search import SearchSettings, run_search
from alignkit.redteam._session import (
    Attempt,
    AuxChannel,
    Channel,
    CheckChannel,
    Query,
    Session,
    StoreChannel,
)
from alignkit.redteam._strategies import (
    STRATEGIES,
    Arsenal,
    Genome,
    StrategyFn,
    StrategySpec,
    default_converters,
    render,
    strategy,
)

__all__ = [
    "ScorePool",
    "ANY_CATEGORY",
    "ATTACKER_SYSTEM",
    "ATTACK_SUCCESS_RATE",
    "CONVERTERS",
    "INJECTION_SUCCESS_RATE",
    "JAILBREAK_BEHAVIOURS",
    "JAILBREAK_QUERY_BUDGET",
    "REWRITES",
    "STRATEGIES",
    "Arsenal",
    "Attack",
    "AttackLibrary",
    "Attempt",
    "AttemptOutcome",
    "AuxChannel",
    "Behaviour",
    "BehaviourRow",
    "CampaignOptions",
    "CampaignResult",
    "CanaryScorer",
    "Carrier",
    "CellRow",
    "Channel",
    "CheckChannel",
    "ConvertContext",
    "Converted",
    "ConverterFn",
    "ConverterSpec",
    "ConverterTexts",
    "EvidenceRow",
    "Genome",
    "GroupRow",
    "Helper",
    "InjectionDocument",
    "InjectionLibrary",
    "Ladder",
    "MarkerPolicy",
    "Payload",
    "Prior",
    "Query",
    "RedteamReport",
    "Score",
    "Scorer",
    "SearchSettings",
    "Session",
    "Shot",
    "StoreChannel",
    "StrategyFn",
    "StrategySpec",
    "apply_converters",
    "apply_rewrites",
    "build_report",
    "builtin_data_dir",
    "canary_for",
    "converter",
    "default_converters",
    "injection_cases",
    "jailbreak",
    "load_behaviours",
    "load_converter_texts",
    "load_injections",
    "load_ladders",
    "load_library",
    "load_report",
    "new_campaign_id",
    "parse_attacker_reply",
    "prompt_injection",
    "render",
    "run_campaign",
    "run_search",
    "run_windowed",
    "sample_behaviours",
    "strategy",
    "topic_of",
]
