"""Keep credentials out of everything lkpolicy prints, logs or stores in a report.

Two public functions, for the two kinds of text a message is built from:

* `redact_url(url)`: a value known to be a URL (a mirror, a notary server, a TUF repository, a
  redirect target): `user:password@` becomes `***@` (also when the URL is malformed or has no
  scheme), and the values of secret query parameters (`token=`, `sig=`, ...) become `***`.
* `redact_secrets(text, known=())`: free text, such as a message a server sent back or a finished
  error message: userinfo in any `scheme://` URL, Authorization header values, `Basic`/`Bearer`
  credentials, secret fields in JSON, Python reprs, query strings and forms (`token`,
  `access_token`, `password`, `client_secret`, ...), and every string of `known` (the secrets the
  caller itself sent, which a server may echo in a form no pattern recognises).

Redaction errs on the side of hiding: a URL whose path contains `@` loses what comes before it.
Image references (`name:tag@sha256:...`) have no scheme and are left alone.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

REDACTED = "***"

# A field whose value is a secret: names ending in password/secret/token/signature/credential(s)
# (access_token, client_secret, x-amz-signature...), and a few short names in common use.
_SECRET_NAME = (r"(?:[A-Za-z0-9_.\-]*(?:password|passwd|passphrase|secret|token|signature|"
                r"credentials?)|auth|pwd|pass|sig|api[_\-]?key|apikey)")
_UNAMBIGUOUS_NAME = (r"(?:[A-Za-z0-9_.\-]*(?:password|passwd|passphrase|secret|_token|-token)|"
                     r"identitytoken|api[_\-]?key|apikey)")

# Userinfo: anything up to the last `@` once a `:` comes before the first `/` (a password may
# hold `/` or `@`, written carelessly), else a `/`-free run (a bare token). Without a `:` before
# the first `/`, an `@` after it is in the path: `https://github.com/o/r/x.yml@refs/heads/main`,
# a Sigstore identity or SLSA builder ID, holds no credential and stays readable.
_URL_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.\-]*:(?://|\\/\\/))"
                           r"((?:[^\s'\"<>`/:]*:[^\s'\"<>`]*)|[^\s'\"<>`/]*)@")
# The value is a scheme and a credential (`Basic dXNl...`), or a credential alone.
_AUTHORIZATION = re.compile(r"(?i)\b((?:proxy-)?authorization|x-registry-auth)"
                            r"(\\?[\"']?\s*[:=]\s*\\?[\"']?)"
                            r"((?:[A-Za-z]+[ \t]+)?[^\s\"'\\,;}]+)")
_SCHEME_CREDENTIAL = re.compile(r"(?i)\b(basic|bearer|token|digest)(\s+)([A-Za-z0-9._~+/\-]+=*)")
_QUOTED_FIELD = re.compile(rf"(?i)(\\?[\"'])({_SECRET_NAME})(\\?[\"']\s*:\s*)(\\?[\"'])"
                           rf"((?:(?!\4).)*)(\4)")
_QUERY_FIELD = re.compile(rf"(?i)(?<![A-Za-z0-9_.\-])({_SECRET_NAME})=([^&\s'\"<>#;,]*)")
_BARE_FIELD = re.compile(rf"(?i)(?<![A-Za-z0-9_.\-\"'])({_UNAMBIGUOUS_NAME})(\s*:\s*)"
                         rf"(?![\"'\s])(\S+)")


def _looks_like_credential(word: str) -> bool:
    """Base64, a JWT or a hex token, not a word of prose ("Basic authentication")."""
    if len(word) < 8:
        return False
    return (any(c.isdigit() or c in "+/=._~-" for c in word)
            or any(c.isupper() for c in word[1:]))


def _scheme_credential(match: re.Match[str]) -> str:
    if not _looks_like_credential(match.group(3)):
        return match.group(0)
    return f"{match.group(1)}{match.group(2)}{REDACTED}"


def redact_url(url: str) -> str:
    """The URL without credentials: `https://user:pw@host/x?token=t` -> `https://***@host/x?token=***`."""
    scheme, separator, rest = url.partition("://")
    if not separator:
        scheme, rest = "", url
    if "@" in rest:
        # The last `@` of the value: a password may hold `/`, `?` or `@` unencoded when someone
        # typed it by hand, and then the parser's idea of the host is not the point.
        rest = f"{REDACTED}@{rest.rpartition('@')[2]}"
    rest = _QUERY_FIELD.sub(lambda m: f"{m.group(1)}={REDACTED}", rest)
    return f"{scheme}{separator}{rest}"


def redact_secrets(text: str, known: Iterable[str] = ()) -> str:
    """`text` with every credential it may carry replaced by `***` (see the module docstring)."""
    for secret in sorted({s for s in known if len(s) >= 4}, key=len, reverse=True):
        text = text.replace(secret, REDACTED)
    text = _URL_USERINFO.sub(lambda m: f"{m.group(1)}{REDACTED}@", text)
    text = _AUTHORIZATION.sub(lambda m: f"{m.group(1)}{m.group(2)}{REDACTED}", text)
    text = _SCHEME_CREDENTIAL.sub(_scheme_credential, text)
    text = _QUOTED_FIELD.sub(
        lambda m: f"{m.group(1)}{m.group(2)}{m.group(3)}{m.group(4)}{REDACTED}{m.group(6)}", text)
    text = _QUERY_FIELD.sub(lambda m: f"{m.group(1)}={REDACTED}", text)
    return _BARE_FIELD.sub(lambda m: f"{m.group(1)}{m.group(2)}{REDACTED}", text)
