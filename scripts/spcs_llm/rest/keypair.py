"""A key-pair token for the ingress, refreshed before it expires (for the long-running gateway).

Snowflake's route (spcs_facts.md §7.2; snowflake_ml_api.md §1.7): sign a JWT with the user's
private key (iss ACCOUNT.USER.SHA256:<public key fingerprint>, sub ACCOUNT.USER, 59-minute
lifetime), POST it to https://<account>.snowflakecomputing.com/oauth/token with
grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer and scope "session:role:<ROLE> <ingress
host>"; the response body is the token, sent as `Snowflake Token="<token>"`. The JWT comes from
snowflake-ml-python's public get_jwt_token_generator (snowflake.ml.utils.authentication); the
exchange is the same form POST as its SnowflakeJWTTokenAuth, minus that class's process-wide cache
(it would answer a refresh with the refused token).

The lifetime of the exchanged token is not documented: it is renewed every REFRESH_S (inside the
JWT's own 59 minutes) and whenever the ingress refuses it (the gateway asks for a refresh on a 404).
"""

from __future__ import annotations

import asyncio
import os
import time
from datetime import timedelta
from pathlib import Path

import requests

from ..errors import EXIT_ENVIRONMENT, SpcsLlmError
from ..redact import register_secret

GRANT_TYPE = "urn:ietf:params:oauth:grant-type:jwt-bearer"
EXCHANGE_TIMEOUT_S = 30
REFRESH_S = 45 * 60
JWT_LIFETIME = timedelta(minutes=59)
JWT_RENEWAL = timedelta(minutes=50)

_clock = time.monotonic  # injection point for tests


def load_private_key(path: str, passphrase_env: str | None = None):
    """The PEM (PKCS#8) private key; encrypted keys need their passphrase in an env var."""
    from cryptography.hazmat.primitives import serialization

    file = Path(path).expanduser()
    if not file.is_file():
        raise SpcsLlmError(f"--private-key-file {path!r} does not exist or is not a file")
    data = file.read_bytes()
    # the key's body lines, not its armor (-----BEGIN ...): masking those would hide every PEM's framing
    register_secret("\n".join(line for line in data.decode("ascii", errors="ignore").splitlines()
                              if line.strip() and not line.startswith("-----")))
    password = None
    if passphrase_env:
        value = os.environ.get(passphrase_env, "")
        if not value:
            raise SpcsLlmError(f"${passphrase_env} is not set (or empty)", hint="export the key's passphrase into it")
        register_secret(value)
        password = value.encode()
    try:
        return serialization.load_pem_private_key(data, password=password)
    except (ValueError, TypeError) as err:
        hint = "pass --private-key-passphrase-env VAR for an encrypted key" if password is None else None
        raise SpcsLlmError(f"--private-key-file {path!r} is not a readable PEM private key ({type(err).__name__})",
                           hint=hint) from None


class KeyPairToken:
    """Token source for the gateway: token() exchanges a JWT when none is fresh; refresh() forces it."""

    def __init__(self, *, account: str, user: str, role: str | None, private_key, ingress_host: str,
                 account_url: str | None = None):
        from snowflake.ml.utils.authentication import get_jwt_token_generator

        self.account, self.role, self.host, self.account_url = account, role, ingress_host, account_url
        self._generator = get_jwt_token_generator(account, user, private_key, lifetime=JWT_LIFETIME,
                                                  renewal_delay=JWT_RENEWAL)
        self._token: str | None = None
        self._at = 0.0
        self._lock = asyncio.Lock()

    async def token(self) -> str:
        async with self._lock:
            if self._token is None or _clock() - self._at >= REFRESH_S:
                await asyncio.to_thread(self._exchange)
            return self._token

    async def refresh(self) -> bool:
        async with self._lock:
            self._generator.token = None  # a new JWT, so the exchange is not answered from snowflake-ml's cache
            await asyncio.to_thread(self._exchange)
        return True

    def _exchange(self) -> None:
        """POST the JWT to /oauth/token (the form of snowflake.ml.utils.authentication, without its
        cache, so a refresh really asks again)."""
        scope = " ".join(part for part in (f"session:role:{self.role}" if self.role else None, self.host) if part)
        base = self.account_url or f"https://{self.account}.snowflakecomputing.com"
        data = {"grant_type": GRANT_TYPE, "scope": scope, "assertion": self._generator.get_token()}
        try:
            response = requests.post(f"{base}/oauth/token", data=data, timeout=EXCHANGE_TIMEOUT_S)
        except requests.RequestException as err:
            raise SpcsLlmError(f"the key-pair token exchange at {base}/oauth/token failed: {type(err).__name__}",
                               exit_code=EXIT_ENVIRONMENT) from None
        if response.status_code != 200:
            raise SpcsLlmError(f"the key-pair token exchange at {base}/oauth/token answered HTTP "
                               f"{response.status_code}: {str(response.text)[:300]}", exit_code=EXIT_ENVIRONMENT,
                               hint="check the account, user and role, and that the user's RSA_PUBLIC_KEY matches "
                                    "the private key (spcs-llm access token --method keypair)")
        self._token = str(response.text).strip()
        register_secret(self._token)
        self._at = _clock()


def keypair_file(args, plan: dict | None) -> str | None:
    """--private-key-file, else the key `spcs-llm access token --method keypair` recorded (unless a
    PAT flag was given)."""
    from .. import plan_file

    if getattr(args, "private_key_file", None):
        return args.private_key_file
    if args.pat_env or args.pat_file or plan_file.get(plan or {}, "rest.token_method") != "keypair":
        return None
    return plan_file.get(plan or {}, "rest.private_key_file")


def keypair_source(args, plan: dict | None, key_file: str, upstream: str) -> tuple[KeyPairToken, str]:
    """A refreshing key-pair token source and its description; nothing is exchanged until the first
    request. Account, user and role: the flags, else the plan's snowflake.account, rest.caller_user
    and rest.caller_role."""
    from urllib.parse import urlsplit

    from .. import plan_file

    get = plan_file.get
    account = args.account or get(plan or {}, "snowflake.account")
    user = args.user or get(plan or {}, "rest.caller_user")
    role = args.role or get(plan or {}, "rest.caller_role")
    missing = [flag for flag, value in (("--account", account), ("--user", user)) if not value]
    if missing:
        raise SpcsLlmError(f"a key-pair token needs {' and '.join(missing)}",
                           hint="pass them, or record them with spcs-llm preflight / spcs-llm access")
    key = load_private_key(key_file, args.private_key_passphrase_env)
    tokens = KeyPairToken(account=account, user=user, role=role, private_key=key,
                          ingress_host=urlsplit(upstream).netloc)
    return tokens, f"key pair {key_file} (user {user}, role {role or 'default'}, refreshed before expiry)"
