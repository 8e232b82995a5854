"""Keeping secrets out of ledgers, logs, reports and the terminal.

Two tools live here. `without_password` and `masked_password` rewrite one DSN that the harness
itself stores or shows. `Redactor` is the net under everything else: it learns the secrets of
this run (the password of every DSN the profile resolves, the tokens, passwords and client keys
of its kubeconfig, AWS secret keys other than the sandbox's public dummy `testing`) and every
sink passes its text through `redact()` before it is written: the journal, timeline and report
writers, the plugin's scrub of the report directory (junit.xml, allure-results), pytest's failure
reports and the CLI's terminal streams. It also masks, whoever's they are, the password of any
`scheme://user:PASSWORD@` URL, libpq's `password=...` and `Bearer ...` credentials.

`REDACTOR` is the process's one instance: secrets are learnt where they are resolved
(`resolve_endpoints`) and masked where text leaves the process, which are far apart.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from urllib.parse import SplitResult, quote, unquote, urlsplit, urlunsplit

__all__ = [
    "MASK",
    "REDACTOR",
    "Redactor",
    "learn_secrets",
    "masked_password",
    "redact",
    "without_password",
]

MASK = "***"
# Shorter values would mask ordinary words; a secret this short is no secret anyway.
_MIN_SECRET_LEN = 4
# Public values that are not secrets: moto's documented dummy credentials.
_PUBLIC = frozenset({"testing", "test", "foobar_secret"})
_AWS_VARIABLES = ("AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN")
_PATTERNS = (
    # scheme://user:PASSWORD@host (postgresql, redis, http ...)
    (re.compile(r"(\b[a-z][a-z0-9+.-]*://[^\s:/@'\"]*:)[^\s@/'\"]+(@)", re.I), rf"\1{MASK}\2"),
    # libpq key=value strings and similar `password=...` settings
    (re.compile(r"(\bpassword\s*=\s*)('[^']*'|[^\s'\";&]+)", re.I), rf"\1{MASK}"),
    # HTTP credentials: "Authorization: Basic xxx" and any "Bearer xxx" (capitalised, as sent)
    (
        re.compile(r"(\bAuthorization['\"]?\s*:?\s*['\"]?\s*Basic\s+)[A-Za-z0-9+/=]{4,}", re.I),
        rf"\1{MASK}",
    ),
    (re.compile(r"(\bBearer\s+)[A-Za-z0-9._~+/=-]{6,}"), rf"\1{MASK}"),
)
# Kubeconfig fields (YAML or JSON) whose values are credentials.
_KUBECONFIG_SECRET = re.compile(
    r"""["']?\b(token|password|client-key-data|id-token|refresh-token|access-token|"""
    r"""client-secret)["']?\s*:\s*["']?([^\s"',}]+)"""
)


def _with_userinfo(parts: SplitResult, userinfo: str) -> str:
    host = parts.hostname or ""
    netloc = f"{userinfo}@{host}" if userinfo else host
    if parts.port:
        netloc += f":{parts.port}"
    return urlunsplit(parts._replace(netloc=netloc))


def without_password(url: str) -> str:
    """The URL with its password removed, for files replayed later.

    Whoever replays it gives the password the libpq way (PGPASSWORD or ~/.pgpass).
    """
    parts = urlsplit(url)
    if parts.password is None:
        return url
    return _with_userinfo(parts, parts.username or "")


def masked_password(url: str | None) -> str:
    """The URL with any password shown as `***`, for logs and reports."""
    if url is None:
        return "(none set)"
    parts = urlsplit(url)
    if parts.password is None:
        return url
    return _with_userinfo(parts, f"{parts.username or ''}:***")


def _dsn_passwords(dsn: str) -> list[str]:
    """The password of a URI DSN or of a libpq `key=value` DSN (none found: empty)."""
    found = [m.group(2).strip("'") for m in re.finditer(r"(\bpassword\s*=\s*)('[^']*'|\S+)", dsn)]
    if "://" in dsn:
        try:
            password = urlsplit(dsn.strip()).password
        except ValueError:
            password = None
        if password:  # as written and as libpq reads it (percent-decoded)
            found += [password, unquote(password)]
    return found


class Redactor:
    """Masks the secrets it was told about, in every spelling a sink may write them."""

    def __init__(self) -> None:
        self._variants: set[str] = set()

    def add(self, secret: str | None) -> None:
        """Remember one secret (too short or public ones are ignored: see module docstring)."""
        if not secret or len(secret) < _MIN_SECRET_LEN or secret in _PUBLIC:
            return
        spellings = {
            secret,
            json.dumps(secret)[1:-1],
            html.escape(secret),
            html.escape(secret, quote=False),
            quote(secret, safe=""),
        }
        self._variants.update(s for s in spellings if s)

    def add_dsn(self, dsn: str | None) -> None:
        """Remember the password of a DSN (URI or libpq key=value form)."""
        for password in _dsn_passwords(dsn or ""):
            self.add(password)

    def add_kubeconfig(self, path: Path | None) -> None:
        """Remember the tokens, passwords and client keys of a kubeconfig (unreadable: nothing)."""
        if path is None:
            return
        try:
            text = path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return
        for match in _KUBECONFIG_SECRET.finditer(text):
            self.add(match.group(2))

    def add_environment(
        self, environ: Mapping[str, str], dsn_variables: Iterable[str] = ()
    ) -> None:
        """Remember AWS secret keys and the DSNs in the named variables (and any `*_DSN`)."""
        for name in _AWS_VARIABLES:
            self.add(environ.get(name))
        for name, value in environ.items():
            if name.endswith(("_DSN", "_DATABASE_URL")) or name in dsn_variables:
                self.add_dsn(value)

    @property
    def known(self) -> int:
        """How many spellings of secrets are masked (for tests and diagnostics)."""
        return len(self._variants)

    def redact(self, text: str) -> str:
        """`text` with every known secret and every credential-shaped substring masked."""
        for variant in sorted(self._variants, key=len, reverse=True):
            if variant in text:
                text = text.replace(variant, MASK)
        for pattern, replacement in _PATTERNS:
            text = pattern.sub(replacement, text)
        return text

    def redact_file(self, path: Path) -> bool:
        """Rewrite a UTF-8 text file with its secrets masked; True when it changed.

        Binary files (images) are left alone; the rewrite keeps the file's mode.
        """
        try:
            text = path.read_bytes().decode("utf-8")
        except (OSError, UnicodeDecodeError):
            return False
        clean = self.redact(text)
        if clean == text:
            return False
        path.write_text(clean, encoding="utf-8")
        return True

    def redact_tree(self, root: Path) -> list[Path]:
        """Redact every text file under `root` (recursively); the files that changed."""
        if not root.is_dir():
            return []
        return [p for p in sorted(root.rglob("*")) if p.is_file() and self.redact_file(p)]


REDACTOR = Redactor()


def redact(text: str) -> str:
    """`REDACTOR.redact(text)`: what every sink calls before writing."""
    return REDACTOR.redact(text)


def learn_secrets(
    environ: Mapping[str, str],
    *,
    dsns: Iterable[str | None] = (),
    kubeconfig: Path | None = None,
    dsn_variables: Iterable[str] = (),
) -> None:
    """Teach `REDACTOR` this run's secrets: DSN passwords, kubeconfig credentials, AWS keys."""
    REDACTOR.add_environment(environ, dsn_variables)
    for dsn in dsns:
        REDACTOR.add_dsn(dsn)
    REDACTOR.add_kubeconfig(kubeconfig)
