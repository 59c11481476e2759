"""App JWT verification, installation tokens, and reading credentials out of headers."""

from __future__ import annotations

import base64
import binascii
import secrets
import string
from datetime import UTC, datetime, timedelta

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from .state import HubState, IssuedToken

TOKEN_LIFETIME = timedelta(hours=1)
MAX_JWT_LIFETIME = timedelta(minutes=10)
CLOCK_DRIFT = 60  # seconds GitHub tolerates between the app's clock and its own


def generate_key() -> tuple[str, rsa.RSAPublicKey]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    ).decode()
    return pem, key.public_key()


def check_app_jwt(token: str, public_key: rsa.RSAPublicKey, app_id: int) -> str | None:
    """None when `token` is a valid app JWT, else GitHub's message saying why not."""
    try:
        claims = jwt.decode(
            token,
            public_key,
            algorithms=["RS256"],
            options={"require": ["iat", "exp", "iss"]},
            leeway=CLOCK_DRIFT,
        )
    except jwt.ExpiredSignatureError:
        return (
            "'Expiration time' claim ('exp') must be a numeric value representing the future"
            " time at which the assertion expires"
        )
    except jwt.InvalidTokenError:
        return "A JSON web token could not be decoded"
    if str(claims["iss"]) != str(app_id):
        return "'Issuer' claim ('iss') must be an Integer"
    if int(claims["exp"]) - int(claims["iat"]) > MAX_JWT_LIFETIME.total_seconds():
        return "'Expiration time' claim ('exp') is too far in the future"
    return None


def new_token_value() -> str:
    alphabet = string.ascii_letters + string.digits
    return "ghs_" + "".join(secrets.choice(alphabet) for _ in range(36))


def issue_token(
    state: HubState,
    installation_id: int,
    lifetime: timedelta = TOKEN_LIFETIME,
    repository_ids: frozenset[int] | None = None,
) -> IssuedToken:
    # GitHub truncates expiry to the second; githubkit parses "%Y-%m-%dT%H:%M:%SZ".
    expires = (datetime.now(UTC) + lifetime).replace(microsecond=0)
    issued = IssuedToken(new_token_value(), installation_id, expires, repository_ids)
    with state.lock:
        state.issued_tokens[issued.token] = issued
    return issued


def valid_token(state: HubState, token: str | None) -> IssuedToken | None:
    if not token:
        return None
    with state.lock:
        issued = state.issued_tokens.get(token)
    if issued is None or issued.expired:
        return None
    return issued


def bearer(authorization: str | None) -> str | None:
    """The credential of `Authorization: token X` or `Authorization: Bearer X`."""
    if not authorization:
        return None
    scheme, _, value = authorization.partition(" ")
    if scheme.lower() in ("token", "bearer") and value.strip():
        return value.strip()
    return None


def basic(authorization: str | None) -> tuple[str, str] | None:
    """(username, password) of `Authorization: Basic …`."""
    if not authorization:
        return None
    scheme, _, value = authorization.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        user, sep, password = base64.b64decode(value.strip(), validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return None
    return (user, password) if sep else None
