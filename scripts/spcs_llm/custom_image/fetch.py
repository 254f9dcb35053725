"""One HTTP GET with the rules a weight download needs (stdlib only; runs inside the image).

- Redirects are followed by hand, so every hop's host can be checked against the hosts the
  external access integration allows; a redirect elsewhere fails at once with the host named.
- The token goes only to the source's own API host, never to the storage/CDN host a redirect
  points at (those URLs are pre-signed, and a second credential makes some stores refuse).
- Headers such as Range survive redirects, so a resumed download stays resumed.
"""

from __future__ import annotations

import http.client
import json
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

from .. import __version__

USER_AGENT = f"spcs-llm-weights/{__version__}"
REDIRECTS = (301, 302, 303, 307, 308)
RETRYABLE_STATUS = frozenset({408, 425, 429, 500, 502, 503, 504})
MAX_JSON_BYTES = 64 * 1024 * 1024


class FetchError(Exception):
    """A failed request. retryable: a later attempt may succeed (network, 429, 5xx)."""

    def __init__(self, message: str, *, status: int | None = None, retryable: bool = True):
        super().__init__(message)
        self.status = status
        self.retryable = retryable


class HostNotAllowed(FetchError):
    def __init__(self, host: str, url_host: str):
        super().__init__(
            f"{url_host} redirected the download to {host}, which is not in the allowed hosts "
            f"(WEIGHTS_ALLOWED_HOSTS, the external access integration); add it with "
            f"`spcs-llm render-custom --extra-egress-host {host}`, then re-run its part setup (the network rule)",
            retryable=False,
        )
        self.host = host


@dataclass
class Response:
    status: int
    url: str  # the final URL, after redirects
    raw: http.client.HTTPResponse
    connection: http.client.HTTPConnection

    def header(self, name: str) -> str | None:
        return self.raw.getheader(name)

    def read(self, size: int = -1) -> bytes:
        return self.raw.read(size)

    def close(self) -> None:
        try:
            self.raw.close()
        finally:
            self.connection.close()


def open_url(url: str, *, headers: dict[str, str] | None = None, token: str | None = None,
             token_host: str | None = None, allowed_hosts: frozenset[str] | None = None,
             timeout: float = 60.0, max_redirects: int = 10) -> Response:
    """GET url and follow redirects; the caller closes the returned response."""
    first_host = (urlsplit(url).hostname or "").lower()
    for _ in range(max_redirects + 1):
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
        if parts.scheme not in ("http", "https") or not host:
            raise FetchError(f"cannot fetch {url!r}: only http(s) URLs with a host", retryable=False)
        if allowed_hosts is not None and host not in allowed_hosts:
            raise HostNotAllowed(host, first_host)
        send = {"User-Agent": USER_AGENT, "Accept-Encoding": "identity", **(headers or {})}
        if token and host == (token_host or "").lower():
            send["Authorization"] = f"Bearer {token}"
        connection_class = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
        connection = connection_class(parts.hostname, parts.port, timeout=timeout)
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        try:
            connection.request("GET", target, headers=send)
            raw = connection.getresponse()
        except (OSError, http.client.HTTPException) as err:
            connection.close()
            raise FetchError(f"{host}: {type(err).__name__}: {err}") from None
        if raw.status in REDIRECTS:
            location = raw.getheader("Location")
            raw.read()
            connection.close()
            if not location:
                raise FetchError(f"{host} answered {raw.status} without a Location header", status=raw.status)
            url = urljoin(url, location)
            continue
        return Response(status=raw.status, url=url, raw=raw, connection=connection)
    raise FetchError(f"more than {max_redirects} redirects starting from {first_host}", retryable=False)


def status_error(response: Response, what: str) -> FetchError:
    """A FetchError for an unexpected status, with the hint that status usually needs."""
    status = response.status
    body = b""
    try:
        body = response.read(2048)
    except (OSError, http.client.HTTPException):
        pass
    finally:
        response.close()
    detail = body.decode("utf-8", "replace").strip().splitlines()[0][:200] if body.strip() else ""
    hints = {
        401: "the repository is gated or private: create the HF token secret (custom_image.hf_secret)",
        403: "access denied: accept the model's licence on the hub with the token's account",
        404: "repository, revision or file not found on this source",
    }
    message = f"{what}: HTTP {status}" + (f" ({detail})" if detail else "")
    if status in hints:
        message += f"; {hints[status]}"
    return FetchError(message, status=status, retryable=status in RETRYABLE_STATUS)


def get_json(url: str, **kwargs) -> object:
    response = open_url(url, **kwargs)
    if response.status != 200:
        raise status_error(response, f"GET {url}")
    try:
        body = response.read(MAX_JSON_BYTES + 1)
    except (OSError, http.client.HTTPException) as err:
        raise FetchError(f"reading {url}: {err}") from None
    finally:
        response.close()
    if len(body) > MAX_JSON_BYTES:
        raise FetchError(f"{url}: listing larger than {MAX_JSON_BYTES} bytes", retryable=False)
    try:
        return json.loads(body)
    except ValueError as err:
        raise FetchError(f"{url}: not JSON ({err})", retryable=False) from None
