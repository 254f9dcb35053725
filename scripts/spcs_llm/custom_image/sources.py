"""Where model weights come from, and which hosts each source needs in the egress rule.

SPCS containers have no internet access until an external access integration lists the hosts
(spcs_facts.md §7.4: full host names, no wildcards, ports 443/80/1024+). Hub downloads
redirect from the API host to storage/CDN hosts, so a source is a list of hosts, not one URL.
The entrypoint refuses a redirect to a host that is not in its allowed list and names that
host in its log, so a missing entry shows up as one clear line instead of a stalled download.

Stdlib only: this module runs inside the image.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

HF_PROTOCOL = "hf"  # /api/models/<repo>/revision/<rev> and /<repo>/resolve/<rev>/<path>
MODELSCOPE_PROTOCOL = "modelscope"  # /api/v1/models/<id>/repo/files and /repo?FilePath=


@dataclass(frozen=True)
class WeightSource:
    name: str
    protocol: str
    default_endpoint: str
    hosts: tuple[str, ...]  # egress hosts when the default endpoint is used (all on port 443)
    evidence: str  # where the host list comes from


SOURCES: dict[str, WeightSource] = {
    "huggingface": WeightSource(
        name="huggingface",
        protocol=HF_PROTOCOL,
        default_endpoint="https://huggingface.co",
        hosts=(
            "huggingface.co",
            "cas-server.xethub.hf.co",
            "cas-server.xethub-eu.hf.co",
            "transfer.xethub.hf.co",
            "transfer.xethub-eu.hf.co",
            "us.aws.cdn.hf.co",
            "us.gcp.cdn.hf.co",
            "cdn-lfs-us-1.hf.co",
            "cdn-lfs-eu-1.hf.co",
            "cas-bridge.xethub.hf.co",
        ),
        evidence="Hugging Face Hub docs, 'Downloading behind a proxy or firewall' "
        "(huggingface/hub-docs docs/hub/models-downloading.md, 2026); the docs warn the list changes. "
        "cas-bridge.xethub.hf.co: where /resolve/ redirects a plain-HTTP client (no hf_xet, like the "
        "entrypoint) for Xet-stored files, in firewall allowlists of 2026 (e.g. MicrosoftDocs/azure-ai-docs "
        "PR 748 lists *.xethub.hf.co); hub-docs PR 2647 calls it legacy, so it stays until it is gone",
    ),
    "hf-mirror": WeightSource(
        name="hf-mirror",
        protocol=HF_PROTOCOL,
        default_endpoint="https://hf-mirror.com",
        hosts=("hf-mirror.com", "cdn-lfs.hf-mirror.com"),
        evidence="the endpoint itself; cdn-lfs.hf-mirror.com as listed by the spcs_china kit "
        "(yuhenghub/snowflake-china-intelligence setup_sql/02_create_external_access.sql), unverified",
    ),
    "modelscope": WeightSource(
        name="modelscope",
        protocol=MODELSCOPE_PROTOCOL,
        default_endpoint="https://www.modelscope.cn",
        hosts=(
            "www.modelscope.cn",
            "modelscope.cn",
            "cdn-lfs-cn-1.modelscope.cn",
            "cdn-lfs-cn-2.modelscope.cn",
            "cdn.modelscope.cn",
        ),
        evidence="www.modelscope.cn is the ModelScope SDK's default endpoint (modelscope/hub/constants.py); "
        "the other hosts as listed by the spcs_china kit (deploy_model.sh), unverified",
    ),
}
SOURCE_NAMES = tuple(SOURCES)


def host_of(url: str) -> str:
    return (urlsplit(url).hostname or "").lower()


def endpoint_for(name: str, hf_mirror_endpoint: str | None = None,
                 modelscope_endpoint: str | None = None) -> str:
    """The base URL a source is fetched from (the HF mirror and ModelScope can be overridden)."""
    if name == "hf-mirror" and hf_mirror_endpoint:
        return hf_mirror_endpoint.rstrip("/")
    if name == "modelscope" and modelscope_endpoint:
        return modelscope_endpoint.rstrip("/")
    return SOURCES[name].default_endpoint


def source_hosts(name: str, endpoint: str) -> tuple[str, ...]:
    """The hosts one source needs: its catalog list when it uses its default endpoint, else only
    the endpoint's host (a private mirror's redirect hosts are unknown: add them as extra hosts)."""
    source = SOURCES[name]
    if host_of(endpoint) == host_of(source.default_endpoint):
        return source.hosts
    return (host_of(endpoint),)


def egress_hosts(names: list[str] | tuple[str, ...], *, hf_mirror_endpoint: str | None = None,
                 modelscope_endpoint: str | None = None, extra: tuple[str, ...] | list[str] = ()) -> list[str]:
    """Exactly the hosts of the chosen sources (in source order) plus extra hosts, without repeats."""
    out: list[str] = []
    for name in names:
        endpoint = endpoint_for(name, hf_mirror_endpoint, modelscope_endpoint)
        for host in source_hosts(name, endpoint):
            if host not in out:
                out.append(host)
    for host in extra:
        host = host.lower()
        if host not in out:
            out.append(host)
    return out
