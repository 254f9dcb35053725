"""Load the hardware and model catalogs (data files beside this module, each entry with sources).

- gpus.yaml: GPUs as vLLM sees them (torch-visible memory, bandwidth, compute capability,
  supported dtypes and quantization methods).
- instance_families.yaml: SPCS compute pool instance families per cloud.
- models.yaml: popular open models; their `config` block uses Hugging Face config.json keys, so
  catalog entries and a user's own config.json go through the same parser (spcs_llm.models).

`validate_catalogs()` returns every problem as a sentence; the test suite runs it.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from ..errors import SpcsLlmError
from ..fileio import write_atomic

CATALOG_DIR = Path(__file__).parent
CLOUDS = ("aws", "azure", "gcp")
QUANT_SUPPORT = ("native", "weight_only")  # how vLLM runs a quantization method on a GPU
DTYPES = ("float16", "bfloat16", "float32")


@dataclass(frozen=True)
class Gpu:
    name: str
    memory_gb: float  # marketing capacity
    torch_total_gib: float  # total memory as torch.cuda.mem_get_info reports it; gmu applies to this
    bandwidth_gb_s: float
    dense_fp16_tflops: float
    dense_bf16_tflops: float | None
    compute_capability: float
    dtypes: tuple[str, ...]
    quantization: dict[str, str]  # method -> "native" | "weight_only"; absent: unsupported
    sources: tuple[str, ...] = ()
    notes: str = ""


@dataclass(frozen=True)
class InstanceFamily:
    name: str
    cloud: str
    vcpu: float  # available to containers (after SPCS system components)
    memory_gib: float  # available to containers
    storage_gb: float | None
    gpu: str | None  # key into gpus.yaml
    gpu_count: int
    gpu_memory_gib: float | None  # per GPU, as SHOW COMPUTE POOL INSTANCE FAMILIES reports it
    node_limit: int | None  # None: on request
    credits_per_hour: float
    generation: str  # current | previous
    regions_only: tuple[str, ...] = ()
    regions_excluded: tuple[str, ...] = ()
    china: str = "no"  # yes | no | unverified
    sources: tuple[str, ...] = ()
    notes: str = ""

    @property
    def is_gpu(self) -> bool:
        return self.gpu is not None and self.gpu_count > 0

    def available_in(self, region: str | None) -> bool:
        """Whether the catalog allows this family in a region (None: any region)."""
        if region is None:
            return True
        key = region_key(region)
        if is_china(region) and self.china == "no":
            return False
        if self.regions_only and key not in {region_key(r) for r in self.regions_only}:
            return False
        return key not in {region_key(r) for r in self.regions_excluded}


_CLOUD_PREFIXES = ("aws_", "azure_", "gcp_")


def region_key(region: str) -> str:
    """One spelling for a region: 'us-west-2', 'AWS_US_WEST_2' (CURRENT_REGION()) and 'US West 2'
    all become 'uswest2'; Azure names such as 'Central US' become 'centralus'."""
    text = _bare(region)
    for prefix in _CLOUD_PREFIXES:
        if text.startswith(prefix):
            text = text[len(prefix):]
    return "".join(ch for ch in text if ch.isalnum())


def _bare(region: str) -> str:
    """Drop a region group ('PUBLIC.AWS_US_WEST_2', as CURRENT_REGION() may print it) and case."""
    return region.strip().split(".")[-1].lower()


_AWS_REGION = re.compile(r"^[a-z]{2}(-gov)?-[a-z]+-\d+$")
_GCP_REGION = re.compile(r"^[a-z]+-[a-z]+\d+$")


def cloud_of_region(region: str) -> str | None:
    """The cloud a region id belongs to: 'AWS_US_WEST_2' or 'us-west-2' -> aws, 'us-central1' -> gcp,
    'AZURE_EASTUS2' -> azure. None when the spelling does not say (e.g. an Azure display name)."""
    text = _bare(region)
    for prefix in _CLOUD_PREFIXES:
        if text.startswith(prefix):
            return prefix[:-1]
    if _AWS_REGION.match(text):
        return "aws"
    if _GCP_REGION.match(text):
        return "gcp"
    return None


def is_china(region: str | None) -> bool:
    """China (Ningxia) is AWS cn-northwest-1, in any spelling (CURRENT_REGION(): AWS_CN_NORTHWEST_1)."""
    return bool(region) and region_key(region).startswith("cn")


@cache
def _read(name: str) -> dict:
    path = CATALOG_DIR / name
    if not path.exists():
        raise SpcsLlmError(f"catalog file {path} is missing", exit_code=3)
    data = _cached(path)
    if data is None:
        import yaml

        loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=loader)  # a safe loader
        _store(path, data)
    if not isinstance(data, dict):
        raise SpcsLlmError(f"catalog file {path} must be a mapping", exit_code=3)
    return data


# Parsing the YAML catalogs costs ~0.1 s per run; offline steps must start fast
# (benchmarks/bench_cli.py), so a JSON copy keyed by the file's size and mtime is kept in the
# user's cache directory. Any problem with the cache just falls back to the YAML.
def _cache_path(path: Path) -> Path:
    stat = path.stat()
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "spcs-llm"
    return base / f"{path.stem}-{stat.st_size}-{stat.st_mtime_ns}.json"


def _cached(path: Path):
    try:
        return json.loads(_cache_path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _store(path: Path, data) -> None:
    try:
        write_atomic(_cache_path(path), json.dumps(data))
    except (OSError, TypeError, ValueError):
        pass


@cache
def gpus() -> dict[str, Gpu]:
    out = {}
    for name, entry in _read("gpus.yaml")["gpus"].items():
        entry = dict(entry)
        out[name] = Gpu(
            name=name,
            memory_gb=entry["memory_gb"],
            torch_total_gib=entry["torch_total_gib"],
            bandwidth_gb_s=entry["bandwidth_gb_s"],
            dense_fp16_tflops=entry["dense_fp16_tflops"],
            dense_bf16_tflops=entry.get("dense_bf16_tflops"),
            compute_capability=float(entry["compute_capability"]),
            dtypes=tuple(entry["dtypes"]),
            quantization=dict(entry.get("quantization") or {}),
            sources=tuple(entry.get("sources") or ()),
            notes=entry.get("notes", ""),
        )
    return out


def gpu(name: str) -> Gpu:
    table = gpus()
    for key, value in table.items():
        if key.lower() == name.lower():
            return value
    raise SpcsLlmError(f"GPU {name!r} is not in the catalog; allowed: {', '.join(table)}",
                       hint="for another GPU pass --gpu-memory-gib with its torch-visible total memory")


@cache
def instance_families() -> tuple[InstanceFamily, ...]:
    out = []
    for entry in _read("instance_families.yaml")["families"]:
        out.append(InstanceFamily(
            name=entry["name"],
            cloud=entry["cloud"],
            vcpu=entry["vcpu"],
            memory_gib=entry["memory_gib"],
            storage_gb=entry.get("storage_gb"),
            gpu=entry.get("gpu"),
            gpu_count=entry.get("gpu_count", 0),
            gpu_memory_gib=entry.get("gpu_memory_gib"),
            node_limit=entry.get("node_limit"),
            credits_per_hour=entry["credits_per_hour"],
            generation=entry.get("generation", "current"),
            regions_only=tuple(entry.get("regions_only") or ()),
            regions_excluded=tuple(entry.get("regions_excluded") or ()),
            china=entry.get("china", "no"),
            sources=tuple(entry.get("sources") or ()),
            notes=entry.get("notes", ""),
        ))
    return tuple(out)


def families_for(cloud: str | None = None, region: str | None = None, gpu_only: bool = True):
    return [f for f in instance_families()
            if (cloud is None or f.cloud == cloud) and (not gpu_only or f.is_gpu) and f.available_in(region)]


def same_gpu(live: str, catalog_name: str) -> bool:
    """Whether SHOW output's GPU name and a catalog GPU key name the same card ("NVIDIA A10G" ~ A10G,
    "NVIDIA A100" ~ A100-40GB, but A10 is not A10G)."""
    def norm(text: str) -> str:
        text = re.sub(r"NVIDIA|\d+\s*GB\b", "", text.upper())
        return re.sub(r"[^A-Z0-9]", "", text)

    a, b = norm(live), norm(catalog_name)
    if a == b:
        return True
    short, long = sorted((a, b), key=len)
    return bool(short) and long.startswith(short) and len(long) - len(short) > 1 and not long[len(short)].isdigit()


def gpu_for_live(name: str | None, memory_gib: float | None) -> Gpu | None:
    """The catalog GPU that SHOW COMPUTE POOL INSTANCE FAMILIES names ("NVIDIA A100" with 80 GiB per GPU
    -> A100-80GB); None when the catalog has no such card."""
    if not name:
        return None
    matches = [g for g in gpus().values() if same_gpu(name, g.name)]
    if not matches:
        return None
    return min(matches, key=lambda g: abs(g.memory_gb - (memory_gib or g.memory_gb)))


def with_live_facts(fam: InstanceFamily, live: dict) -> InstanceFamily | None:
    """A family as the account reports it (GPU model, count, memory, vCPU); None if its GPU is unknown."""
    from dataclasses import replace

    gpu_name = fam.gpu
    if live.get("gpu"):
        card = gpu_for_live(str(live["gpu"]), live.get("gpu_memory_gib"))
        if card is None:
            return None
        gpu_name = card.name
    return replace(fam, gpu=gpu_name, gpu_count=int(live.get("gpu_count") or fam.gpu_count),
                   gpu_memory_gib=live.get("gpu_memory_gib") or fam.gpu_memory_gib,
                   vcpu=live.get("vcpu") or fam.vcpu, memory_gib=live.get("memory_gib") or fam.memory_gib,
                   notes="live values from SHOW COMPUTE POOL INSTANCE FAMILIES")


def family(name: str, cloud: str | None = None) -> InstanceFamily:
    matches = [f for f in instance_families() if f.name == name.upper() and (cloud is None or f.cloud == cloud)]
    if not matches:
        names = sorted({f.name for f in instance_families() if cloud is None or f.cloud == cloud})
        raise SpcsLlmError(f"instance family {name!r} is not in the catalog"
                           + (f" for {cloud}" if cloud else "") + f"; allowed: {', '.join(names)}")
    return matches[0]


# What a pre-quantized checkpoint shares with its base model unless it says otherwise.
_INHERITED = ("family", "tasks", "params_b", "active_params_b", "licence", "languages", "trust_remote_code")


@cache
def models() -> dict[str, dict]:
    """Catalog entries by id; a checkpoint with `base_model` is completed from its base (metadata, and
    the base config under its own config keys)."""
    raw = {entry["id"]: entry for entry in _read("models.yaml")["models"]}
    return {key: _with_base(entry, raw) for key, entry in raw.items()}


def _with_base(entry: dict, raw: dict[str, dict]) -> dict:
    base = raw.get(entry.get("base_model") or "")
    if base is None:
        return entry
    merged = {k: base[k] for k in _INHERITED if k in base}
    merged.update(entry)
    merged["config"] = {**(base.get("config") or {}), **(entry.get("config") or {})}
    return merged


def variants_of(model_id: str) -> list[dict]:
    """The published pre-quantized checkpoints of a catalog model (entries whose base_model it is)."""
    entry = model_entry(model_id)
    if entry is None:
        return []
    return [e for e in models().values() if e.get("base_model") == entry["id"]]


def model_entry(model_id: str) -> dict | None:
    table = models()
    if model_id in table:
        return table[model_id]
    lowered = model_id.lower()
    for key, value in table.items():
        if key.lower() == lowered:
            return value
    return None


# --- validation of the data files -------------------------------------------------------------

_GPU_KEYS = {"memory_gb", "torch_total_gib", "bandwidth_gb_s", "dense_fp16_tflops", "dense_bf16_tflops",
             "compute_capability", "dtypes", "quantization", "sources", "notes"}
_FAMILY_KEYS = {"name", "cloud", "vcpu", "memory_gib", "storage_gb", "gpu", "gpu_count", "gpu_memory_gib",
                "node_limit", "credits_per_hour", "generation", "regions_only", "regions_excluded", "china",
                "sources", "notes", "network_gbps"}
_MODEL_KEYS = {"id", "family", "tasks", "params_b", "active_params_b", "licence", "gated",
               "trust_remote_code", "languages", "checkpoint_quantization", "config", "sources",
               "confidence", "notes", "snowflake_models", "base_model", "modelscope_id"}
_CONFIG_REQUIRED = ("num_hidden_layers", "hidden_size", "num_attention_heads", "vocab_size",
                    "max_position_embeddings")


def validate_catalogs() -> list[str]:
    errors: list[str] = []
    gpu_table = _read("gpus.yaml").get("gpus", {})
    for name, entry in gpu_table.items():
        where = f"gpus.yaml:{name}"
        errors += [f"{where}: unknown key {k!r}" for k in set(entry) - _GPU_KEYS]
        errors += [f"{where}: missing {k!r}" for k in ("torch_total_gib", "bandwidth_gb_s", "compute_capability",
                                                        "dtypes", "sources") if k not in entry]
        errors += [f"{where}: dtype {d!r} not in {DTYPES}" for d in entry.get("dtypes", []) if d not in DTYPES]
        for method, how in (entry.get("quantization") or {}).items():
            if how not in QUANT_SUPPORT:
                errors.append(f"{where}: quantization {method}: {how!r} not in {QUANT_SUPPORT}")
        # datasheet "GB" for GPU memory are binary (an A100 80GB has 80 GiB; torch sees ~79.2 GiB)
        if entry.get("torch_total_gib", 0) > entry.get("memory_gb", 0):
            errors.append(f"{where}: torch_total_gib exceeds the card's capacity")
    for entry in _read("instance_families.yaml").get("families", []):
        where = f"instance_families.yaml:{entry.get('cloud')}/{entry.get('name')}"
        errors += [f"{where}: unknown key {k!r}" for k in set(entry) - _FAMILY_KEYS]
        errors += [f"{where}: missing {k!r}" for k in ("name", "cloud", "vcpu", "memory_gib",
                                                        "credits_per_hour", "sources") if k not in entry]
        if entry.get("cloud") not in CLOUDS:
            errors.append(f"{where}: cloud must be one of {CLOUDS}")
        if entry.get("gpu") and entry["gpu"] not in gpu_table:
            errors.append(f"{where}: gpu {entry['gpu']!r} is not in gpus.yaml")
        if entry.get("gpu") and not entry.get("gpu_count"):
            errors.append(f"{where}: a GPU family needs gpu_count")
        if entry.get("china", "no") not in ("yes", "no", "unverified"):
            errors.append(f"{where}: china must be yes, no or unverified")
    seen = set()
    raw = {e.get("id"): e for e in _read("models.yaml").get("models", [])}
    for entry in _read("models.yaml").get("models", []):
        where = f"models.yaml:{entry.get('id')}"
        errors += _variant_errors(where, entry, raw)
        entry = _with_base(entry, raw)
        if entry.get("id") in seen:
            errors.append(f"{where}: duplicate id")
        seen.add(entry.get("id"))
        errors += [f"{where}: unknown key {k!r}" for k in set(entry) - _MODEL_KEYS]
        errors += [f"{where}: missing {k!r}" for k in ("id", "params_b", "licence", "gated", "config", "sources")
                   if k not in entry]
        config = entry.get("config") or {}
        text = config.get("text_config", config)
        errors += [f"{where}: config lacks {k!r}" for k in _CONFIG_REQUIRED
                   if k not in text and not (k == "max_position_embeddings" and "seq_length" in text)]
    return errors


def _variant_errors(where: str, entry: dict, raw: dict) -> list[str]:
    """A pre-quantized checkpoint names an existing, non-quantized base and says its method in its config."""
    base_id = entry.get("base_model")
    if base_id is None:
        return [f"{where}: modelscope_id without base_model"] if entry.get("modelscope_id") and \
            not entry.get("checkpoint_quantization") else []
    base = raw.get(base_id)
    if base is None:
        return [f"{where}: base_model {base_id!r} is not a catalog id"]
    errors = []
    if base.get("base_model") or base.get("checkpoint_quantization"):
        errors.append(f"{where}: base_model {base_id!r} must be an unquantized model")
    if not entry.get("checkpoint_quantization"):
        errors.append(f"{where}: a checkpoint with base_model needs checkpoint_quantization")
    if not (entry.get("config") or {}).get("quantization_config"):
        errors.append(f"{where}: its config needs the checkpoint's quantization_config")
    if str(entry.get("modelscope_id", "a/b")).count("/") != 1:
        errors.append(f"{where}: modelscope_id must be owner/name")
    return errors
