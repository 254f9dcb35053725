"""Open a connection to Snowflake for a resolved connection: the only place that imports the
Snowflake libraries, and only when a step really talks to Snowflake.

One login serves both uses: SQL goes through the connector connection, and a Snowpark Session
(needed by snowflake-ml-python's Registry) wraps that same connection, so a browser-SSO user is
asked to log in once.
"""

from __future__ import annotations

from ..errors import EXIT_ENVIRONMENT, SpcsLlmError
from ..redact import redact
from .config import ResolvedConnection

QUERY_TAG = "spcs-llm"


def connect(resolved: ResolvedConnection):
    """A snowflake.connector connection for the resolved parameters (tests replace this)."""
    try:
        import snowflake.connector
    except ImportError as err:
        raise SpcsLlmError("snowflake-connector-python is not installed",
                           hint="pip install snowflake-snowpark-python (see README)",
                           exit_code=EXIT_ENVIRONMENT) from err
    params = dict(resolved.params)
    # Tag our statements so the user can find them in QUERY_HISTORY, unless they set a tag.
    session_parameters = dict(params.get("session_parameters") or {})
    session_parameters.setdefault("QUERY_TAG", QUERY_TAG)
    params["session_parameters"] = session_parameters
    try:
        return snowflake.connector.connect(**params)
    except snowflake.connector.errors.Error as err:
        account = resolved.params.get("account") or resolved.host or "?"
        raise SpcsLlmError(
            f"could not log in with Snowflake connection {resolved.name!r} (account {account}): "
            + redact(str(getattr(err, "msg", None) or err)),
            hint="check the connection's account, user and authenticator; see docs/account.md#connection",
            exit_code=EXIT_ENVIRONMENT,
        ) from err


def snowpark_session(connection):
    """A Snowpark Session over an existing connector connection (no second login)."""
    from snowflake.snowpark import Session

    return Session.builder.configs({"connection": connection}).create()


def create_session(resolved: ResolvedConnection):
    """A new Snowpark Session for the resolved connection (for scripts that need only Snowpark)."""
    return snowpark_session(connect(resolved))
