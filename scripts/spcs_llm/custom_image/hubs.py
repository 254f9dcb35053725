"""File listings and download URLs of the two hub protocols (stdlib only; runs in the image).

Hugging Face (and mirrors that serve the same paths, such as hf-mirror.com via HF_ENDPOINT):
  list:     GET {endpoint}/api/models/{repo}/revision/{rev}?blobs=true
            -> {"siblings": [{"rfilename", "size", "lfs": {"sha256", "size"}}]}
            (huggingface_hub's model_info(files_metadata=True) sends the same request)
  download: GET {endpoint}/{repo}/resolve/{rev}/{path}  (redirects to storage for large files)
ModelScope (modelscope SDK hub/api.py and file_download.py):
  list:     GET {endpoint}/api/v1/models/{id}/repo/files?Revision={rev}&Recursive=true
            -> {"Code": 200, "Data": {"Files": [{"Path", "Type": "blob"|"tree", "Size", "Sha256"}]}}
  download: GET {endpoint}/api/v1/models/{id}/repo?Revision={rev}&FilePath={path}
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote, quote_plus

from .fetch import FetchError, get_json
from .sources import HF_PROTOCOL, MODELSCOPE_PROTOCOL, host_of


@dataclass(frozen=True)
class RemoteFile:
    path: str  # repository-relative, '/'-separated
    size: int | None
    sha256: str | None


def safe_relative(path: object) -> str:
    """A repository path that cannot escape the model directory, or FetchError."""
    if not isinstance(path, str) or not path or path.startswith("/") or "\\" in path or "\x00" in path:
        raise FetchError(f"the source listed an unsafe file path {path!r}", retryable=False)
    if any(part in ("", ".", "..") for part in path.split("/")):
        raise FetchError(f"the source listed an unsafe file path {path!r}", retryable=False)
    return path


def _int_or_none(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def _sha_or_none(value: object) -> str | None:
    if isinstance(value, str) and len(value) == 64 and all(c in "0123456789abcdef" for c in value.lower()):
        return value.lower()
    return None


@dataclass
class Hub:
    source: str  # the source name, e.g. "huggingface"
    protocol: str
    endpoint: str
    repo_id: str
    revision: str
    token: str | None = None  # sent only to the endpoint's own host
    allowed_hosts: frozenset[str] | None = None
    timeout: float = 60.0

    @property
    def request_options(self) -> dict:
        return {"token": self.token, "token_host": host_of(self.endpoint), "allowed_hosts": self.allowed_hosts,
                "timeout": self.timeout}

    def list_files(self) -> list[RemoteFile]:
        if self.protocol == HF_PROTOCOL:
            return self._list_hf()
        if self.protocol == MODELSCOPE_PROTOCOL:
            return self._list_modelscope()
        raise FetchError(f"unknown hub protocol {self.protocol!r}", retryable=False)

    def file_url(self, path: str) -> str:
        if self.protocol == HF_PROTOCOL:
            return (f"{self.endpoint}/{quote(self.repo_id, safe='/')}/resolve/{quote(self.revision, safe='')}/"
                    f"{quote(path, safe='/')}")
        return (f"{self.endpoint}/api/v1/models/{quote(self.repo_id, safe='/')}/repo?"
                f"Revision={quote_plus(self.revision)}&FilePath={quote_plus(path)}")

    def _list_hf(self) -> list[RemoteFile]:
        url = (f"{self.endpoint}/api/models/{quote(self.repo_id, safe='/')}/revision/"
               f"{quote(self.revision, safe='')}?blobs=true")
        data = get_json(url, **self.request_options)
        siblings = data.get("siblings") if isinstance(data, dict) else None
        if not isinstance(siblings, list):
            raise FetchError(f"{url}: the answer has no 'siblings' list", retryable=False)
        out = []
        for entry in siblings:
            if not isinstance(entry, dict):
                continue
            lfs = entry.get("lfs") if isinstance(entry.get("lfs"), dict) else {}
            out.append(RemoteFile(path=safe_relative(entry.get("rfilename")),
                                  size=_int_or_none(entry.get("size", lfs.get("size"))),
                                  sha256=_sha_or_none(lfs.get("sha256"))))
        return out

    def _list_modelscope(self) -> list[RemoteFile]:
        url = (f"{self.endpoint}/api/v1/models/{quote(self.repo_id, safe='/')}/repo/files?"
               f"Revision={quote_plus(self.revision)}&Recursive=true")
        data = get_json(url, **self.request_options)
        if not isinstance(data, dict) or data.get("Code") not in (200, "200", None):
            message = data.get("Message") if isinstance(data, dict) else None
            raise FetchError(f"{url}: ModelScope answered {message or data!r:.200}", retryable=False)
        files = (data.get("Data") or {}).get("Files") if isinstance(data.get("Data"), dict) else None
        if not isinstance(files, list):
            raise FetchError(f"{url}: the answer has no Data.Files list", retryable=False)
        out = []
        for entry in files:
            if not isinstance(entry, dict) or entry.get("Type") == "tree":
                continue
            out.append(RemoteFile(path=safe_relative(entry.get("Path")), size=_int_or_none(entry.get("Size")),
                                  sha256=_sha_or_none(entry.get("Sha256"))))
        return out
