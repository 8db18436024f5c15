"""Target URIs and the URI-scheme registry (DESIGN §6).

A scheme maps ``scheme:body[?query][#fragment]`` to a factory that opens a
:class:`~alignkit.core.Target`. alignkit's own schemes register at import; a scheme
owned by a higher package (``organism:``, ``policy:``, ``classifier:``) registers
itself through the ``alignkit`` entry-point group, so this module never imports upward.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from urllib.parse import parse_qs, parse_qsl, quote, unquote, urlencode, urlsplit, urlunsplit

from alignkit.core import (
    AlignkitError,
    ChatModel,
    ConfigError,
    HttpConfig,
    Registry,
    Target,
    TargetError,
    TargetKind,
    UnknownIdError,
    caller_module,
)

__all__ = [
    "SCHEMES",
    "ParsedURI",
    "SchemeFactory",
    "SpendMeter",
    "TargetOptions",
    "connect",
    "open_target",
    "parse_uri",
    "public_uri",
    "public_url",
    "register_scheme",
    "uri_secrets",
    "with_query",
]

_SCHEME_NAME = re.compile(r"[a-z][a-z0-9+.-]*")
_SCHEME_RE = re.compile(rf"^({_SCHEME_NAME.pattern}):(.+)$")
_SECRET_PARAMS = ("key", "token", "secret", "sig", "password", "auth")


def _userinfo_end(rest: str) -> int:
    """Where the user info of ``rest`` (a URL after ``://``) ends: its last ``@``, or -1.

    A password with an unencoded ``/ ? #`` moves the ``@`` out of what ``urlsplit`` reads
    as the host part. An ``@`` before the query counts when only the host part comes
    before it, or that part is ``user:password`` (not ``host:port``): ``user:pa/ss@host``,
    not ``host:8443/@scope/v1``. One in the query counts only when no ``=`` or ``&`` comes
    between the ``?`` and it (``user:12?34@host``, not ``?email=a@b.com``). Correct hosts
    for well-formed URLs come first: a stored target is compared on resume.
    """
    path, q, query = rest.partition("?")
    if "@" in path:
        before = path[: path.rindex("@")]
        first = before.split("/")[0]
        password_like = ":" in first and not first.rpartition(":")[2].isdigit()
        return path.rindex("@") if "/" not in before or password_like else -1
    if q and "@" in query and not re.search(r"[=&]", query[: query.rindex("@")]):
        return len(path) + 1 + query.rindex("@")
    return -1


def http_url(host: str, port: int, path: str = "/v1") -> str:
    """``http://HOST:PORT/v1`` of a socket address; an IPv6 host goes in brackets.

    ``http://::1:8000/v1`` was printed by ``serve --host ::1``: no client could use it.
    """
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}{path}"


def public_url(url: str) -> str:
    """``url`` with its user info and secret-looking query values shown as ``***``.

    The marks stay so that a stored URL says it needed secrets (a resumed run asks for
    them again) without saying what they were.
    """
    scheme, sep, rest = url.partition("://")
    if not sep:  # not an URL; maybe one that lost its http:// (bob:pw@host/v1)
        return _bare_userinfo(url)
    end = _userinfo_end(rest)
    if end >= 0:
        # user:password@, also with an unencoded / ? # in the password (which moves the @
        # out of what urlsplit reads as the host part): all of it is masked
        url = f"{scheme}://***@{rest[end + 1 :]}"
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - a "port" that is not a number: the rest of a password?
    except ValueError:  # not parseable (an unclosed IPv6 bracket): show no more than the host
        _, at, host = url.partition("://")[2].rpartition("@")
        host = host.partition("?")[0]
        name = host.partition("/")[0]
        if ":" in name and not name.startswith("[") and not name.rpartition(":")[2].isdigit():
            host = "***"  # user:pa (a password cut at an unencoded '#'), not host:port
        return f"{scheme}://{'***@' if at else ''}{host}"
    _, at, host = parts.netloc.rpartition("@")
    netloc = f"***@{host}" if at else host
    query = parts.query
    if query:
        pairs = [p.partition("=") for p in query.split("&")]
        query = "&".join(
            f"{k}{eq}{'***' if any(s in k.lower() for s in _SECRET_PARAMS) else v}"
            for k, eq, v in pairs
        )
    return urlunsplit((parts.scheme, netloc, parts.path, query, ""))


def _url_body(uri: str) -> tuple[str, str, str, str] | None:
    """``(scheme, url, "#", fragment)`` of a target URI with an URL body, else ``None``.

    The scheme may be mistyped or upper-case and the URI padded with spaces: such a URI is
    refused, and the refusal must not show its password. A ``#`` inside a password
    (``user:pa#ss@host:8000#m``) stays in the URL, not in the model name.
    """
    m = re.match(r"\s*([A-Za-z][A-Za-z0-9+.-]*):(.+?)\s*$", uri, re.DOTALL)
    if m is None or "://" not in m.group(2):
        return None
    body, hash_, fragment = m.group(2).partition("#")
    authority = body.partition("://")[2]
    secret, at, host = fragment.partition("@")
    host = host.partition("#")[0]
    hostlike = host == "localhost" or any(c in host for c in ".:/[")
    if at and secret and ":" in authority and "/" not in authority and hostlike:
        # that '#' is inside a password (user:pa#ss@host:8000#m), not before a model name
        # (http://localhost:4000#claude@20240620, https://h/v1#@cf/meta/llama)
        body = f"{body}#{secret}@{host}"
        _, hash_, fragment = fragment.partition("@")[2].partition("#")
    return m.group(1), body, hash_, fragment


_BARE_USERINFO = re.compile(r"(^|/)([^/@?#\s]*:[^/@?#\s]*)@")


def _bare_userinfo(body: str) -> str:
    """``body`` with ``user:password@`` shown as ``***@`` where no ``://`` marks an URL.

    ``bob:pw@host/v1`` (no ``http://``), ``//bob:pw@host`` (``openai://``) and
    ``http:/bob:pw@host`` (one slash) are refused, and the refusal quotes them.
    """
    return _BARE_USERINFO.sub(r"\1***@", body, count=1)


def uri_secrets(uri: str) -> list[str]:
    """The credentials a target URI carries, as an upstream might echo them back.

    The password (as written and percent-decoded), ``user:password`` and its base64 form
    (an HTTP Basic ``Authorization`` header), and the values of secret-looking query
    parameters; nothing under 6 characters (masking "pw" or a user name such as "me"
    everywhere would garble ordinary words).
    """
    split = _url_body(uri)
    if split is None:
        return []
    rest = split[1].partition("://")[2]
    end = _userinfo_end(rest)
    userinfo, after = (rest[:end], rest[end + 1 :]) if end >= 0 else ("", rest)
    found: set[str] = set()
    user, _, password = userinfo.partition(":")
    if password:  # a user name alone is no secret (and masking "me" would garble text)
        for pw in {password, unquote(password)}:
            for pair in {f"{user}:{pw}", f"{unquote(user)}:{pw}"}:
                found |= {pair, base64.b64encode(pair.encode()).decode("ascii")}
            found |= {pw} if len(pw) >= 6 else set()
    for key, value in parse_qsl(after.partition("?")[2]):
        if len(value) >= 6 and any(s in key.lower() for s in _SECRET_PARAMS):
            found.add(value)
    return sorted(s for s in found if len(s) >= 6)


def public_uri(uri: str) -> str:
    """A target URI as it may be shown and stored: an URL body loses its credentials.

    ``openai:http://user:pw@host:8000/v1?api-key=s#m`` →
    ``openai:http://***@host:8000/v1?api-key=***#m``;
    URIs without an URL body (``organism:flawed``, ``hf:/path``) are returned unchanged,
    but for user info written without ``http://`` (``openai:bob:pw@host/v1``).
    """
    split = _url_body(uri)
    if split is None:
        scheme, colon, body = uri.partition(":")
        return f"{scheme}{colon}{_bare_userinfo(body)}" if colon else uri
    scheme, body, hash_, fragment = split
    return f"{scheme}:{public_url(body)}{hash_}{fragment}"


@dataclass(frozen=True)
class ParsedURI:
    """A target URI split into its parts.

    ``organism:flawed?steer=v.npz&scale=2`` → ``scheme="organism"``, ``body="flawed"``,
    ``query={"steer": "v.npz", "scale": "2"}``; ``openai:http://h:8000/v1#m`` →
    ``body="http://h:8000/v1"``, ``fragment="m"``.
    """

    raw: str
    scheme: str
    body: str
    query: dict[str, str] = field(default_factory=dict)
    fragment: str = ""

    def refuse_fragment(self) -> None:
        """Raise :class:`ConfigError` if the URI has a ``#fragment`` its scheme ignores.

        ``organism:flawed#x`` ran the flawed organism and said nothing of the ``#x``.
        """
        if self.fragment:
            raise ConfigError(
                f"{self.scheme}: '#{self.fragment}' means nothing in '{public_uri(self.raw)}';"
                f" {self.scheme}: targets take no '#' part"
            )


@dataclass
class SpendMeter:
    """What a run's models have spent, counted together against its spend caps.

    The caps are ``max_requests`` and ``max_tokens_total`` of :class:`HttpConfig`.

    Attributes:
        requests: Requests admitted (retries of one count once).
        tokens: Prompt plus completion tokens the servers reported.
        reserved: Tokens the requests in flight may still use.
    """

    requests: int = 0
    tokens: int = 0
    reserved: int = 0


@dataclass(frozen=True)
class TargetOptions:
    """Options that apply when opening any target.

    Targets opened with one ``spend`` meter share the caps of ``http``: a red-team
    campaign's target, attacker, judge and translator each got the whole cap.
    """

    http: HttpConfig = field(default_factory=HttpConfig)
    api_key: str | None = None
    spend: SpendMeter | None = None

    def shared(self) -> TargetOptions:
        """These options with a spend meter that every target opened with them shares."""
        return self if self.spend is not None else replace(self, spend=SpendMeter())


SchemeFactory = Callable[[ParsedURI, TargetOptions], Target]


@dataclass(frozen=True)
class _Scheme:
    factory: SchemeFactory
    kind: TargetKind
    example: str


SCHEMES: Registry[_Scheme] = Registry("target scheme")


def register_scheme(
    name: str, factory: SchemeFactory, *, kind: TargetKind | str, example: str
) -> None:
    """Register URI scheme ``name`` (without the colon) opening targets of ``kind``.

    Raises:
        ConfigError: ``name`` is not a URI scheme (``Acme``, ``my scheme!``: no URI
            could reach it).
    """
    if not _SCHEME_NAME.fullmatch(name):
        raise ConfigError(f"target scheme {name!r} must be a URI scheme: a-z, then a-z 0-9 + . -")
    origin = caller_module()  # a partial has no module
    SCHEMES.register(name, _Scheme(factory, TargetKind(kind), example), origin=origin)


def with_query(uri: str, **options: str) -> str:
    """``uri`` with query options set (replacing any it has), values percent-encoded.

    ``with_query("hf:/m?gguf=a.gguf", steer="/tmp/my v.npz", scale="2")`` →
    ``"hf:/m?gguf=a.gguf&steer=/tmp/my%20v.npz&scale=2"`` — what :func:`parse_uri` reads back.
    """
    parsed = parse_uri(uri)
    query = {**parsed.query, **options}
    text = urlencode(query, quote_via=quote, safe="/:")
    fragment = f"#{parsed.fragment}" if parsed.fragment else ""
    return f"{parsed.scheme}:{parsed.body}?{text}{fragment}"


def parse_uri(uri: str) -> ParsedURI:
    """Split a target URI; :class:`ConfigError` when it has no ``scheme:`` part."""
    m = _SCHEME_RE.match(uri.strip())
    if not m:
        raise ConfigError(
            f"malformed target URI '{public_uri(uri)}': expected scheme:..., e.g. organism:flawed,"
            " openai:http://127.0.0.1:8000/v1#model, hf:/path, python:module:function"
        )
    scheme, rest = m.group(1), m.group(2)
    fragment = ""
    if "#" in rest:
        rest, fragment = rest.rsplit("#", 1)
    query: dict[str, str] = {}
    if "?" in rest:
        rest, qs = rest.rsplit("?", 1)
        parsed = parse_qs(qs, keep_blank_values=True)
        twice = sorted(k for k, v in parsed.items() if len(v) > 1)
        if twice:  # `?scale=1&scale=2` ran with 2 and said nothing
            raise ConfigError(f"target URI gives '{twice[0]}=' more than once; give it once")
        query = {k: v[0] for k, v in parsed.items()}
    if not rest:
        raise ConfigError(f"malformed target URI '{public_uri(uri)}': nothing after '{scheme}:'")
    return ParsedURI(raw=uri, scheme=scheme, body=rest, query=query, fragment=fragment)


def open_target(uri: str, options: TargetOptions | None = None) -> Target:
    """Open the target ``uri`` names, whatever its kind."""
    parsed = parse_uri(uri)
    try:
        scheme = SCHEMES.get(parsed.scheme)
    except UnknownIdError:
        known = ", ".join(f"{s}:" for s in SCHEMES.ids())
        raise ConfigError(
            f"unknown target scheme '{parsed.scheme}:' in '{public_uri(uri)}' (known: {known})"
        ) from None
    try:
        target = scheme.factory(parsed, options or TargetOptions())
    except AlignkitError:
        raise
    except Exception as exc:  # a plugin's factory: one line naming it, not an internal error
        raise TargetError(f"target scheme '{parsed.scheme}:' could not open it: {exc!r}") from exc
    if not isinstance(getattr(target, "kind", None), TargetKind) or not callable(
        getattr(target, "aclose", None)
    ):
        raise TargetError(
            f"target scheme '{parsed.scheme}:' returned {type(target).__name__}, not a target"
        )
    return target


def connect(uri: str, options: TargetOptions | None = None) -> ChatModel:
    """Open a chat target; :class:`ConfigError` if ``uri`` names another kind."""
    target = open_target(uri, options)
    if target.kind is not TargetKind.CHAT or not isinstance(target, ChatModel):
        raise ConfigError(f"target '{uri}' is a {target.kind} target, not a chat model")
    return target
