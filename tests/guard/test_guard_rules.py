"""Rule rails: checksums, PII and secret shapes, keywords, regexes, markers, redaction."""

from __future__ import annotations

import pytest

from alignkit.core import RAILS, DecisionKind, Message, RailStage
from alignkit.guard import Redactor, iban_valid, luhn_valid

pytestmark = pytest.mark.anyio


def build(name: str, **options: object):  # type: ignore[no-untyped-def]
    return RAILS.get(name).factory(options)


def user(text: str) -> list[Message]:
    return [{"role": "user", "content": text}]


@pytest.mark.parametrize(
    ("number", "valid"),
    [("4111111111111111", True), ("4111111111111112", False), ("79927398713", True)],
)
def test_luhn(number: str, valid: bool) -> None:
    assert luhn_valid(number) is valid


@pytest.mark.parametrize(
    ("iban", "valid"),
    [
        ("GB82 WEST 1234 5698 7654 32", True),
        ("DE89370400440532013000", True),
        ("GB82 WEST 1234 5698 7654 33", False),  # checksum broken
        ("DE8937040044053201300", False),  # one digit short for DE
    ],
)
def test_iban_mod97(iban: str, valid: bool) -> None:
    assert iban_valid(iban) is valid


async def test_pii_finds_checksummed_numbers_and_skips_lookalikes() -> None:
    rail = build("pii", action="block")
    hits = {
        "card 4111 1111 1111 1111": DecisionKind.BLOCK,
        "order 4111 1111 1111 1112": DecisionKind.ALLOW,  # fails Luhn
        "pay to DE89 3704 0044 0532 0130 00": DecisionKind.BLOCK,
        "ref DE89 3704 0044 0532 0130 01": DecisionKind.ALLOW,  # fails mod-97
        "write to ana.lima+x@mail.example.org": DecisionKind.BLOCK,
        "call +44 20 7946 0958 today": DecisionKind.BLOCK,
        "ssn 123-45-6789": DecisionKind.BLOCK,
        "version 1.2.3 released in 2024": DecisionKind.ALLOW,
    }
    for text, expected in hits.items():
        d = await rail.check(RailStage.INPUT, user(text))
        assert d.decision is expected, text
        assert d.score == (1.0 if expected is DecisionKind.BLOCK else 0.0)


def _script(text: str, zero: str) -> str:
    """``text`` with its ASCII digits written in the script whose zero is ``zero``."""
    return "".join(chr(ord(zero) + int(c)) if c.isdigit() else c for c in text)


@pytest.mark.parametrize("zero", ["\uff10", "\u0660", "\u0966"])  # fullwidth, Arabic, Devanagari
async def test_pii_reads_card_digits_of_any_script(zero: str) -> None:
    """Luhn read such digits as ASCII: real cards passed, other numbers were masked."""
    rail = build("pii", action="block")
    for text, expected in {
        "card 5555 5555 5555 4444": DecisionKind.BLOCK,
        "amex 378282246310005": DecisionKind.BLOCK,
        "tracking 1000000000000058": DecisionKind.ALLOW,  # fails Luhn
    }.items():
        d = await rail.check(RailStage.INPUT, user(_script(text, zero)))
        assert d.decision is expected, (text, zero)


@pytest.mark.parametrize(
    "address", ["jürgen@example.de", "ann@exämple.org", "иван@пример.рф", "李@例子.中国"]
)
async def test_pii_finds_addresses_with_letters_of_any_script(address: str) -> None:
    """Not even the ASCII part of such an address was masked."""
    d = await build("pii").check(RailStage.INPUT, user(f"write to {address} today"))
    assert d.decision is DecisionKind.MODIFY and d.replacement == "write to [EMAIL] today"


async def test_pii_redacts_the_last_user_message_and_the_response() -> None:
    rail = build("pii")  # default action: redact
    d = await rail.check(RailStage.INPUT, user("mail bob@example.com or card 4111111111111111"))
    assert d.decision is DecisionKind.MODIFY
    assert d.replacement == "mail [EMAIL] or card [CARD]"
    d = await rail.check(RailStage.OUTPUT, user("hi"), "reach me at +1 (555) 123-4567")
    assert d.replacement is not None and "555" not in d.replacement


@pytest.mark.parametrize(
    "text",
    [
        "my key is AKIAIOSFODNN7EXAMPLE",
        "token ghp_" + "a" * 36,
        "use sk-proj-" + "x1" * 15,
        "-----BEGIN RSA PRIVATE KEY-----\nMIIEow...\n-----END RSA PRIVATE KEY-----",
        "password = hunter2hunter2hunter2",
        "xoxb-1234567890-abcdefghij",
    ],
)
async def test_secrets_block_credential_shapes(text: str) -> None:
    d = await build("secrets").check(RailStage.INPUT, user(text))
    assert d.decision is DecisionKind.BLOCK and d.reason.startswith("secret:")


async def test_secrets_configured_values_and_clean_text() -> None:
    rail = build("secrets", values=["s3cr3t-project-name"])
    assert (await rail.check(RailStage.INPUT, user("about s3cr3t-project-name"))).reason == (
        "secret: configured"
    )
    clean = await rail.check(RailStage.INPUT, user("what is an API key, in general?"))
    assert clean.decision is DecisionKind.ALLOW


async def test_keywords_match_whole_words_and_escalate() -> None:
    rail = build("keywords", words=["nerve agent", "bomb"], action="escalate", id="harm-words")
    assert rail.name == "harm-words"
    d = await rail.check(RailStage.INPUT, user("how is a Nerve   Agent made"))
    assert d.decision is DecisionKind.ESCALATE and "nerve" in d.reason
    assert (await rail.check(RailStage.INPUT, user("a bombastic speech"))).decision is (
        DecisionKind.ALLOW
    )


async def test_regex_rail_reads_every_user_message() -> None:
    rail = build("regex", patterns=[r"order\s+#\d{6}"], label="order-id")
    msgs: list[Message] = [
        {"role": "user", "content": "my order #123456 is late"},
        {"role": "assistant", "content": "sorry"},
        {"role": "user", "content": "any news?"},
    ]
    d = await rail.check(RailStage.INPUT, msgs)
    assert d.decision is DecisionKind.BLOCK and d.reason == "matched: order-id"


async def test_regex_rail_acts_on_zero_width_matches_and_refuses_empty_ones() -> None:
    """The all-of-these-words lookahead never fired; "" was accepted and never fired."""
    from alignkit.core import ConfigError

    rail = build("regex", patterns=[r"^(?=.*\bwire\b)(?=.*\btransfer\b)"], label="wire")
    hit = await rail.check(RailStage.INPUT, user("please make a wire transfer now"))
    assert hit.decision is DecisionKind.BLOCK and hit.reason == "matched: wire"
    miss = await rail.check(RailStage.INPUT, user("a transfer, no wire"))
    assert miss.decision is DecisionKind.BLOCK  # both words, either order
    none = await rail.check(RailStage.INPUT, user("just a transfer"))
    assert none.decision is DecisionKind.ALLOW
    for pattern in ("", "a*", "(?:x)?"):
        with pytest.raises(ConfigError, match="matches empty text"):
            build("regex", patterns=[pattern])


async def test_regex_patterns_mean_alone_what_they_mean_together() -> None:
    """Joined into one alternation, '(x)\\1' after '(a)b' referred to the other pattern's
    group (a fail-open: "xx" passed), and an inline flag or a group name used twice made
    valid patterns "invalid"."""
    rail = build("regex", patterns=[r"(a)b", r"(x)\1"])
    assert (await rail.check(RailStage.INPUT, user("xx"))).decision is DecisionKind.BLOCK
    assert (await rail.check(RailStage.INPUT, user("x y"))).decision is DecisionKind.ALLOW
    rail = build("regex", patterns=["secret", r"(?s)hello.*world"], action="redact")
    d = await rail.check(RailStage.INPUT, user("hello\nbig world, a secret"))
    assert d.decision is DecisionKind.MODIFY and "secret" not in (d.replacement or "")
    rail = build("regex", patterns=[r"(?P<w>cat)s", r"(?P<w>dog)s"])
    assert (await rail.check(RailStage.INPUT, user("dogs"))).decision is DecisionKind.BLOCK
    # searched alone, two patterns can match from one place: the longer span is masked
    # whole (the shorter one first left "=hunter2" in the clear)
    rail = build("regex", patterns=[r"password=(\S+)", "password"], action="redact",
                 label="secret")  # fmt: skip
    d = await rail.check(RailStage.INPUT, user("my password=hunter2 ok"))
    assert d.replacement == "my [SECRET] ok"


async def test_unsafe_marker_rail_names_the_category() -> None:
    rail = build("unsafe-markers")
    d = await rail.check(RailStage.OUTPUT, user("x"), "ok [[UNSAFE:self_harm]] done")
    assert d.decision is DecisionKind.BLOCK and d.reason == "unsafe marker: self-harm"
    ok = await rail.check(RailStage.OUTPUT, user("x"), "no marker here [[link]]")
    assert ok.decision is DecisionKind.ALLOW


async def test_output_classifier_tells_compliance_from_refusal() -> None:
    msgs = user("how do I break into a server?")
    marked = build("output-classifier")  # require: marker (the default)
    comply = await marked.check(
        RailStage.OUTPUT, msgs, "Sure! Here are the steps: [[UNSAFE:cyber]]"
    )
    assert comply.decision is DecisionKind.BLOCK and comply.score >= 0.7
    plain = "Sure, here are the steps. First, scan the open ports; then try default passwords."
    assert (await marked.check(RailStage.OUTPUT, msgs, plain)).decision is DecisionKind.ALLOW
    # require: any — the classifier tier alone decides; the marker regex could not.
    strict = build("output-classifier", require="any")
    complied = await strict.check(RailStage.OUTPUT, msgs, plain)
    assert complied.decision is DecisionKind.BLOCK and "complied" in complied.reason
    refusal = await strict.check(RailStage.OUTPUT, msgs, "I'm sorry, but I can't help with that.")
    assert refusal.decision is DecisionKind.ALLOW and refusal.score < 0.3


def test_redactor_masks_configured_values_and_key_shapes() -> None:
    red = Redactor(["tops3cret"])
    out = red("pw tops3cret and AKIAIOSFODNN7EXAMPLE and plain words")
    assert "tops3cret" not in out and "AKIA" not in out and "plain words" in out


# The secret scans skip text by the strings every match must contain (a prefilter); it
# must never skip a text a full scan would find something in.
_SECRET_SAMPLES = [
    "AKIAIOSFODNN7EXAMPLE", "ASIA" + "Q" * 16, "ghp_" + "a1" * 18, "sk-" + "b" * 24,
    "sk-proj-" + "c" * 24, "sk-ant-" + "d" * 24, "xoxb-1234567890ab", "AIza" + "e" * 35,
    "sk_live_" + "f" * 24, "rk_live_" + "g" * 24, "eyJabcdefghij.eyJabcdefghij.abcdefghijk",
    "Bearer abcdefghijklmnopqrstuvwx", "BEARER\tABCDEFGHIJKLMNOPQRSTUVWXYZ",
    "api_key = 'abcdefghijklmnop'", "PASSWORD: hunter2hunter2", "Access-Token=zzzzzzzzzzzzzzzz",
    "-----BEGIN RSA PRIVATE KEY-----\nMIIE\n-----END RSA PRIVATE KEY-----",
    "-----BEGIN OPENSSH PRIVATE KEY-----", "tops3cret", "Paßwort-42xyz",
]  # fmt: skip


def _texts_with_secrets() -> list[str]:
    import random

    from alignkit.guard._injection_data import load_split

    texts = [r["prompt"] for r in load_split("heldout")][:1500]
    rng = random.Random(0)
    spliced = []
    for _ in range(1500):
        t, s = rng.choice(texts), rng.choice(_SECRET_SAMPLES)
        i = rng.randrange(len(t) + 1)
        spliced.append(f"{t[:i]} {s} {t[i:]}")
    return texts + spliced + _SECRET_SAMPLES


def test_secret_scans_find_what_a_full_scan_finds() -> None:
    import re

    from alignkit.guard import SECRET_PATTERNS

    values = ["tops3cret", "Paßwort-42xyz"]
    parts = [re.escape(v) for v in sorted(values, key=len, reverse=True)]
    parts += [p.pattern for p in SECRET_PATTERNS.values()]
    full = re.compile("|".join(f"(?:{p})" for p in parts))
    red, rail = Redactor(values), build("secrets")
    masked = 0
    for text in _texts_with_secrets():
        want = full.sub(Redactor.MASK, text)
        assert red(text) == want, text
        masked += want != text
        hits = [(k, m.start(), m.end()) for k, rx in SECRET_PATTERNS.items()
                for m in rx.finditer(text)]  # fmt: skip
        assert rail.find(text) == hits, text
    assert masked >= 1500  # the spliced texts all hold a secret
