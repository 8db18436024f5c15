"""Short descriptions of NIST AI RMF 1.0 functions and subcategories, in our own words.

The governance view of the HTML report names each subcategory it lists; a
subcategory missing here is shown by its code alone.
"""

from __future__ import annotations

__all__ = ["FUNCTION_TEXT", "SUBCATEGORY_TEXT", "subcategory_key"]

FUNCTION_TEXT: dict[str, str] = {
    "GOVERN": "Culture, policies and accountability for managing AI risk.",
    "MAP": "Context: intended use, limits and potential impacts of the system.",
    "MEASURE": "Testing, evaluation and tracking of the identified risks.",
    "MANAGE": "Prioritising, responding to and monitoring risks after measurement.",
}

SUBCATEGORY_TEXT: dict[str, str] = {
    "GOVERN 1.1": "Legal and regulatory requirements for AI are known and managed.",
    "GOVERN 1.2": "Trustworthy-AI characteristics are built into organisational policy.",
    "GOVERN 1.3": "The depth of risk management matches the organisation's risk tolerance.",
    "GOVERN 1.4": "Risk management runs through transparent policies and controls.",
    "GOVERN 1.5": "Risk management is monitored and reviewed periodically.",
    "GOVERN 1.6": "AI systems are inventoried.",
    "GOVERN 1.7": "Systems can be decommissioned safely.",
    "GOVERN 2.1": "Roles and responsibilities for AI risk are documented and clear.",
    "GOVERN 3.1": "Decisions draw on a diverse team.",
    "GOVERN 3.2": "Roles for human oversight of AI systems are defined.",
    "GOVERN 4.1": "Policies foster critical thinking and a safety-first mindset.",
    "GOVERN 4.2": "Teams document and communicate risks and impacts.",
    "GOVERN 4.3": "Practices support testing, incident discovery and information sharing.",
    "GOVERN 5.1": "Feedback from people outside the team is collected and used.",
    "GOVERN 6.1": "Risks from third-party data, models and software are addressed.",
    "GOVERN 6.2": "Contingency plans exist for failures in third-party components.",
    "MAP 1.1": "Intended purpose, context of use and foreseeable settings are documented.",
    "MAP 1.5": "Organisational risk tolerances are determined and documented.",
    "MAP 1.6": "System requirements, including trustworthiness, are elicited.",
    "MAP 2.1": "The tasks and methods the system implements are defined.",
    "MAP 2.2": "Knowledge limits and how outputs are overseen by people are documented.",
    "MAP 2.3": "Scientific integrity and TEVV considerations, incl. construct validity.",
    "MAP 3.1": "Benefits of the intended functionality are examined.",
    "MAP 3.2": "Potential costs of errors and untrustworthy behaviour are examined.",
    "MAP 3.3": "The application's scope is set by what the system can do.",
    "MAP 3.5": "Processes for human oversight are defined and documented.",
    "MAP 4.1": "Legal and technology risks of components are mapped.",
    "MAP 4.2": "Internal risk controls for components, incl. third-party ones, exist.",
    "MAP 5.1": "Likelihood and magnitude of each impact are identified.",
    "MAP 5.2": "Practices engage affected parties about impacts.",
    "MEASURE 1.1": "Metrics for the most significant mapped risks are selected.",
    "MEASURE 1.2": "Metrics and controls are reassessed for appropriateness.",
    "MEASURE 1.3": "Independent assessors take part in evaluations.",
    "MEASURE 2.1": "Test sets, metrics and tools used in TEVV are documented.",
    "MEASURE 2.3": "Performance is measured under conditions like deployment.",
    "MEASURE 2.4": "The system's behaviour is monitored in production.",
    "MEASURE 2.5": "The system is shown to be valid and reliable; limits are documented.",
    "MEASURE 2.6": "The system is evaluated regularly for safety risks and fails safely.",
    "MEASURE 2.7": "Security and resilience are evaluated and documented.",
    "MEASURE 2.8": "Transparency and accountability risks are examined.",
    "MEASURE 2.9": "The model is explained and its output interpreted in context.",
    "MEASURE 2.10": "Privacy risk is examined.",
    "MEASURE 2.11": "Fairness and bias are evaluated.",
    "MEASURE 2.12": "Environmental impact is assessed.",
    "MEASURE 2.13": "The effectiveness of the TEVV metrics themselves is evaluated.",
    "MEASURE 3.1": "Existing, unanticipated and emergent risks are tracked.",
    "MEASURE 3.2": "Risks that are hard to measure are tracked in other ways.",
    "MEASURE 3.3": "Users can report problems and appeal outcomes.",
    "MEASURE 4.1": "Measurement is informed by domain experts and the deployment context.",
    "MEASURE 4.3": "Performance gains and losses in the field are documented.",
    "MANAGE 1.1": "Whether the system meets its purpose, and should proceed, is decided.",
    "MANAGE 1.2": "Treatment of risks is prioritised by impact and likelihood.",
    "MANAGE 1.3": "Responses to high-priority risks are planned and documented.",
    "MANAGE 1.4": "Residual risks are documented.",
    "MANAGE 2.2": "Mechanisms sustain the value of the deployed system.",
    "MANAGE 2.3": "Procedures respond to newly identified risks.",
    "MANAGE 2.4": "Mechanisms exist to supersede, disengage or deactivate the system.",
    "MANAGE 3.1": "Risks from third-party resources are monitored and controlled.",
    "MANAGE 3.2": "Pre-trained models in use are monitored.",
    "MANAGE 4.1": "Post-deployment monitoring, incident response and override are in place.",
    "MANAGE 4.2": "Continual improvement is built into system updates.",
    "MANAGE 4.3": "Incidents and errors are communicated and tracked.",
}


def subcategory_key(code: str) -> tuple[int, tuple[int, ...]]:
    """Sort key: function order (GOVERN, MAP, MEASURE, MANAGE), then numeric parts."""
    function, _, number = code.partition(" ")
    order = ("GOVERN", "MAP", "MEASURE", "MANAGE")
    rank = order.index(function) if function in order else len(order)
    parts = tuple(int(p) for p in number.split(".") if p.isdigit())
    return rank, parts
