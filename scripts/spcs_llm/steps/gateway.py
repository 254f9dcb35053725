"""Serve a local OpenAI-compatible API in front of the service's SPCS endpoint, so OpenAI clients
(the OpenAI SDK, LangChain, LiteLLM, Dify) work unchanged: point them at http://127.0.0.1:PORT/v1
with any API key. The gateway sends the token from --pat-file/--pat-env as the Snowflake header the
ingress needs, forwards /v1/* (streaming included), maps the "model" to the served name and turns
the ingress's 404-on-authorization into a readable 401. Runs until Ctrl-C or SIGTERM.

Listening beyond 127.0.0.1 (--host 0.0.0.0) exposes your token's rights to the network: it needs
--allow-remote and a local API key of its own (--api-key-env/--api-key-file) that clients send as
their Bearer key. The PAT and the local key are never printed.
Exit codes: 0 stopped cleanly, 2 bad input, 3 cannot listen."""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import signal
import sys

from .. import plan_file
from ..errors import EXIT_ENVIRONMENT, SpcsLlmError
from ..output import StepResult
from ..redact import redact
from ..rest.credentials import DEFAULT_PAT_ENV, add_token_arguments

DEFAULT_PORT = 8088
LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")


def add_arguments(parser) -> None:
    parser.add_argument("--endpoint", metavar="HOST_OR_URL",
                        help="ingress host or URL of the service (default: the plan's recorded ingress URL; "
                             "http://127.0.0.1:PORT is accepted for local tests)")
    keypair = parser.add_argument_group("key pair (with --private-key-file)")
    add_token_arguments(parser, keypair)
    keypair.add_argument("--user", help="the key's user (default: the plan's rest.caller_user)")
    keypair.add_argument("--role", help="role of the token's session (default: the plan's rest.caller_role)")
    parser.add_argument("--host", default="127.0.0.1", help="interface to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"port (default {DEFAULT_PORT}; 0 = any free)")
    parser.add_argument("--model", help="served model name requests are mapped to (default: the registry model "
                        "name in upper case, or the custom image's model id)")
    parser.add_argument("--allow-remote", action="store_true",
                        help="allow a --host other than 127.0.0.1/localhost (needs a local API key)")
    key = parser.add_mutually_exclusive_group()
    key.add_argument("--api-key-env", metavar="VAR", help="env var holding the gateway's own API key (remote binds)")
    key.add_argument("--api-key-file", metavar="PATH", help="file holding the gateway's own API key (remote binds)")
    parser.add_argument("--request-timeout", type=float, default=600, metavar="S",
                        help="longest silence from the endpoint while forwarding (default 600)")
    parser.add_argument("--plan", metavar="PATH", default=plan_file.DEFAULT_PLAN_PATH,
                        help=f"deployment plan file (default: {plan_file.DEFAULT_PLAN_PATH})")
    parser.add_argument("--check", action="store_true",
                        help="validate the settings and print what would be served, then exit (no listening)")


def run(args) -> StepResult:
    from ..rest.credentials import loose_permissions, read_token, source_from_plan
    from ..rest.keypair import keypair_file, keypair_source
    from ..rest.target import base_url, recorded_ingress, served_model
    from ..snowflake.targets import load_plan_optional

    if not 0 <= args.port <= 65535:
        raise SpcsLlmError(f"--port {args.port} is not a port number (0-65535)")
    if args.request_timeout <= 0:
        raise SpcsLlmError(f"--request-timeout {args.request_timeout:g} must be positive")
    local_key = _local_key(args)
    plan = load_plan_optional(args.plan)
    endpoint = args.endpoint or recorded_ingress(plan)
    if not endpoint:
        raise SpcsLlmError("no --endpoint given and no ingress URL recorded in the plan",
                           hint="run spcs-llm endpoint url (it records it), or pass --endpoint HOST")
    upstream = base_url(endpoint)
    model = args.model or served_model(plan)
    aliases = tuple(a for a in (plan_file.get(plan or {}, "model.id"), plan_file.get(plan or {}, "registry.model_name"))
                    if a)
    key_file = keypair_file(args, plan)
    if key_file:
        tokens, source = keypair_source(args, plan, key_file, upstream)
    else:
        from ..rest.gateway import StaticToken

        args.pat_env, args.pat_file = source_from_plan(args.pat_env, args.pat_file, plan)
        tokens = StaticToken(read_token(args.pat_env, args.pat_file))
        source = f"file {args.pat_file}" if args.pat_file else f"${args.pat_env or DEFAULT_PAT_ENV}"
    warning = loose_permissions(key_file or args.pat_file) or loose_permissions(args.api_key_file)
    if warning:
        sys.stderr.write(f"warning: {warning}\n")
    settings = {"listen": f"http://{_url_host(args.host)}:{args.port}/v1", "upstream": upstream, "model": model,
                "model_aliases": list(aliases), "local_api_key": local_key is not None, "token_source": source}
    if args.check:
        return StepResult(data={"checked": True, **settings}, text=_settings_text(settings, checked=True))

    from ..rest.gateway import Gateway

    gateway = Gateway(upstream, tokens, served_model=model, aliases=aliases, local_key=local_key,
                      timeout_s=args.request_timeout)
    _logging()
    stats = asyncio.run(_serve(gateway, args.host, args.port, settings))
    return StepResult(data={"checked": False, **settings, "stats": stats},
                      text=f"gateway stopped: {stats['requests']} requests, {stats['auth_404']} refused by the "
                           f"ingress (404 -> 401), {stats['upstream_errors']} upstream errors")


def _local_key(args) -> str | None:
    """Remote binds need --allow-remote and the gateway's own key; local binds need neither."""
    from ..rest.credentials import read_token

    local = args.host in LOCAL_HOSTS or _is_loopback(args.host)
    if local and not (args.api_key_env or args.api_key_file):
        return None
    if not local and not args.allow_remote:
        raise SpcsLlmError(f"--host {args.host} would let other machines use your Snowflake token",
                           hint="add --allow-remote and a local API key (--api-key-env VAR or --api-key-file PATH), "
                                "or keep the default 127.0.0.1")
    if not (args.api_key_env or args.api_key_file):
        raise SpcsLlmError(f"--host {args.host} needs a local API key of its own",
                           hint="--api-key-env VAR or --api-key-file PATH: clients send it as their Bearer key "
                                "(never the Snowflake PAT)")
    return read_token(args.api_key_env, args.api_key_file, what="local API key")


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def _logging() -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s gateway %(message)s"))
    logger = logging.getLogger("spcs_llm.gateway")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)


async def _serve(gateway, host: str, port: int, settings: dict) -> dict:
    from ..proxy.server import bind_socket

    try:
        sock = bind_socket(host, port)
    except OSError as err:
        raise SpcsLlmError(f"cannot listen on {host}:{port}: {err.strerror}",
                           hint="choose another --port (0 = any free port) or stop the process using it",
                           exit_code=EXIT_ENVIRONMENT) from None
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    bound = await gateway.start(sock=sock)
    settings["listen"] = f"http://{_url_host(host)}:{bound}/v1"
    sys.stderr.write(redact(_settings_text(settings, checked=False)) + "\n")
    sys.stderr.flush()
    try:
        await stop.wait()
    finally:
        await gateway.stop()
    return dict(gateway.stats)


def _settings_text(s: dict, *, checked: bool) -> str:
    head = "gateway settings are valid; it would serve" if checked else "gateway listening (Ctrl-C stops it)"
    return "\n".join([
        f"{head}: {s['listen']}",
        f"  forwards to {s['upstream']} with the Snowflake token from {s['token_source']}",
        f"  model: {s['model'] or '(as sent by the client)'}" + (
            f" (also accepts {', '.join(s['model_aliases'])})" if s["model_aliases"] else ""),
        "  clients: base_url=" + _client_urls(s["listen"]) + (", api_key=<the local API key>" if s["local_api_key"]
                                                              else ", any api_key"),
    ])


def _client_urls(listen: str) -> str:
    """A wildcard bind is no address a client can use (walk gw1: "base_url=http://0.0.0.0:8088/v1")."""
    for wildcard in ("//0.0.0.0:", "//[::]:"):
        if wildcard in listen:
            local = listen.replace(wildcard, "//127.0.0.1:")
            other = listen.replace(wildcard, "//<this machine's address>:")
            return (f"{local} on this machine, {other} from containers and other machines (Docker: "
                    "host.docker.internal, which Linux Docker Engine resolves only with extra_hosts "
                    "host.docker.internal:host-gateway)")
    return listen
