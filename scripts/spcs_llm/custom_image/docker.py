"""The commands of `spcs-llm image build|push`, as argument lists (printed in a dry run).

- build: docker build --platform linux/amd64 (SPCS runs linux/amd64 images, spcs_facts.md §8)
  from the pack root with model_image/Dockerfile; the base image and a PyPI mirror are build
  arguments, so a China build can use registry and PyPI mirrors.
- push: `snow spcs image-registry login` logs Docker in with the connection's session token, so
  SSO/MFA users need no PAT (peers.md §2); then docker tag/push to repository_url from SHOW IMAGE
  REPOSITORIES. Registry hosts are used in lower case: Docker treats them case-sensitively
  (spcs_facts.md §8).
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urlsplit

from .. import PACK_ROOT
from ..errors import SpcsLlmError
from ..render import render
from .settings import CustomImage

DOCKERFILE = PACK_ROOT / "model_image" / "Dockerfile"
DEFAULT_BASE_REGISTRY = "docker.io"
_REGISTRY = re.compile(r"^[a-z0-9]([a-z0-9.-]*[a-z0-9])?(:\d{1,5})?(/[a-z0-9._-]+)*$")


def local_image(d: CustomImage) -> str:
    return f"{d.image_name}:{d.image_tag}"


def check_registry(value: str) -> str:
    if not _REGISTRY.match(value):
        raise SpcsLlmError(f"--base-registry {value!r} is not a registry host",
                           hint="e.g. docker.io, or a mirror such as docker.m.daocloud.io (host[:port][/path])")
    return value


def check_index_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise SpcsLlmError(f"--pip-index-url {value!r} is not an http(s) URL",
                           hint="e.g. https://pypi.tuna.tsinghua.edu.cn/simple")
    if parts.username or parts.password:
        raise SpcsLlmError("--pip-index-url must not carry credentials: build arguments stay in the image history",
                           hint="use a public mirror, or install private packages another way")
    return value


def build_argv(d: CustomImage, *, base_registry: str = DEFAULT_BASE_REGISTRY, pip_index_url: str | None = None,
               context: Path = PACK_ROOT) -> list[str]:
    argv = ["docker", "build", "--platform", "linux/amd64", "-f", str(DOCKERFILE),
            "--build-arg", f"BASE_REGISTRY={check_registry(base_registry)}",
            "--build-arg", f"VLLM_IMAGE={d.vllm_base_image}"]
    if pip_index_url:
        argv += ["--build-arg", f"PIP_INDEX_URL={check_index_url(pip_index_url)}"]
    return argv + ["-t", local_image(d), str(context)]


def show_repository_sql(d: CustomImage) -> str:
    return render("custom_image/show_image_repositories.sql.j2", d=d).strip().rstrip(";")


def remote_image(repository_url: str | None, d: CustomImage) -> str:
    """<repository_url>/<image>:<tag>; a placeholder (for a dry run) when the URL is not known yet."""
    if repository_url is None:
        return f"<repository_url of {d.database}.{d.schema}.{d.image_repository}>/{d.image_name}:{d.image_tag}"
    url = repository_url.strip().rstrip("/").lower()
    if not url or "/" not in url or any(c.isspace() for c in url):
        raise SpcsLlmError(f"repository_url {repository_url!r} from SHOW IMAGE REPOSITORIES is not a registry path",
                           exit_code=3)
    return f"{url}/{d.image_name}:{d.image_tag}"


def push_argvs(d: CustomImage, repository_url: str | None, connection: str | None) -> list[list[str]]:
    login = ["snow", "spcs", "image-registry", "login"] + (["--connection", connection] if connection else [])
    remote = remote_image(repository_url, d)
    return [login, ["docker", "tag", local_image(d), remote], ["docker", "push", remote]]
