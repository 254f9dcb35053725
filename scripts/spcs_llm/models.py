"""Model facts for sizing, from one parser: a catalog entry's `config` block and a user's
config.json use the same Hugging Face keys.

`resolve_model(ref)` accepts a catalog id, a local config.json (or a folder holding one), or any
other Hugging Face id, whose config.json is fetched from the hub or a mirror (HF_ENDPOINT).
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path

from . import catalog
from .errors import EXIT_ENVIRONMENT, SpcsLlmError

DEFAULT_HF_ENDPOINT = "https://huggingface.co"
HUB_TIMEOUT_S = 10

# config.json spellings of the same fact, in the order vLLM and transformers try them
_MAX_LEN_KEYS = ("max_position_embeddings", "n_positions", "max_seq_len", "seq_length", "max_sequence_length",
                 "model_max_length")
_EXPERT_KEYS = ("num_local_experts", "num_experts", "n_routed_experts", "moe_num_experts")
_DTYPE_NAMES = {"bfloat16": "bfloat16", "bf16": "bfloat16", "float16": "float16", "fp16": "float16",
                "half": "float16", "float32": "float32", "fp32": "float32"}
SLIDING = "sliding_attention"
FULL = "full_attention"


@dataclass(frozen=True)
class ModelSpec:
    id: str
    source: str  # catalog | config | hub
    architecture: str
    num_layers: int
    hidden_size: int
    intermediate_size: int
    num_heads: int
    num_kv_heads: int
    head_dim: int
    vocab_size: int
    max_position_embeddings: int
    dtype: str  # bfloat16 | float16 | float32 (the checkpoint's)
    tie_word_embeddings: bool
    layer_types: tuple[str, ...]  # one per layer: full_attention | sliding_attention
    sliding_window: int | None
    num_experts: int = 0
    experts_per_token: int = 0
    moe_intermediate_size: int = 0
    shared_expert_intermediate_size: int = 0
    mla_kv_dim: int = 0  # kv_lora_rank + qk_rope_head_dim for MLA models (DeepSeek-V2/V3)
    checkpoint_quantization: str | None = None  # awq | gptq | fp8 | mxfp4 | bitsandbytes ...
    checkpoint_bits: float | None = None
    quant_group_size: int | None = None  # AWQ/GPTQ: weights per scale group (TP must keep groups whole)
    base_model: str | None = None  # a pre-quantized checkpoint: the catalog model it was made from
    modelscope_id: str | None = None  # the same checkpoint on ModelScope, when published there
    params_b: float | None = None  # published total; None: counted from the shapes
    active_params_b: float | None = None
    trust_remote_code: bool = False
    gated: bool = False
    licence: str | None = None
    config_path: str | None = None
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def is_moe(self) -> bool:
        return self.num_experts > 0

    @property
    def is_mla(self) -> bool:
        return self.mla_kv_dim > 0

    @property
    def full_layers(self) -> int:
        return sum(1 for t in self.layer_types if t != SLIDING)

    @property
    def sliding_layers(self) -> int:
        return sum(1 for t in self.layer_types if t == SLIDING)

    # -- parameter counts (billions); published figures win, shapes are the fallback -------------
    def counted_params(self, active: bool = False) -> float:
        h, hd = self.hidden_size, self.head_dim
        attn = h * self.num_heads * hd * 2 + h * self.num_kv_heads * hd * 2
        if self.is_moe:
            experts = self.experts_per_token if active else self.num_experts
            moe_ffn = self.moe_intermediate_size or self.intermediate_size
            mlp = experts * 3 * h * moe_ffn + h * self.num_experts
            mlp += 3 * h * self.shared_expert_intermediate_size
        else:
            mlp = 3 * h * self.intermediate_size
        embeddings = self.vocab_size * h * (1 if self.tie_word_embeddings else 2)
        return (self.num_layers * (attn + mlp) + embeddings) / 1e9

    @property
    def total_params_b(self) -> float:
        return self.params_b if self.params_b else self.counted_params()

    @property
    def active_b(self) -> float:
        if not self.is_moe:
            return self.total_params_b
        return self.active_params_b if self.active_params_b else self.counted_params(active=True)

    @property
    def embedding_params_b(self) -> float:
        return self.vocab_size * self.hidden_size * (1 if self.tie_word_embeddings else 2) / 1e9


def from_config(config: dict, *, model_id: str, source: str, meta: dict | None = None,
                config_path: str | None = None) -> ModelSpec:
    """Build a ModelSpec from config.json keys (multimodal configs: the text_config part)."""
    meta = meta or {}
    validate_config(config, model_id)
    outer = config
    cfg = config.get("text_config") or config
    cfg = {**{k: v for k, v in outer.items() if k != "text_config"}, **cfg}
    notes: list[str] = []

    layers = _first(cfg, "num_hidden_layers", "num_layers", "n_layer")
    hidden = _first(cfg, "hidden_size", "n_embd", "d_model")
    heads = _first(cfg, "num_attention_heads", "n_head")
    vocab = _first(cfg, "vocab_size", "padded_vocab_size")
    missing = [name for name, value in (("num_hidden_layers", layers), ("hidden_size", hidden),
                                        ("num_attention_heads", heads), ("vocab_size", vocab)) if not value]
    if missing:
        raise SpcsLlmError(f"config for {model_id!r} lacks {', '.join(missing)}",
                           hint="pass the model's config.json from the Hugging Face repo")
    kv_heads = _first(cfg, "num_key_value_heads", "multi_query_group_num", "num_kv_heads") or heads
    if cfg.get("multi_query_attention") is False:
        kv_heads = heads  # ChatGLM configs carry multi_query_group_num even when MQA is off
    head_dim = cfg.get("head_dim") or cfg.get("kv_channels") or hidden // heads
    intermediate = _first(cfg, "intermediate_size", "ffn_hidden_size", "n_inner") or 4 * hidden
    max_len = _first(cfg, *_MAX_LEN_KEYS)
    if not max_len:
        max_len = 2048
        notes.append("config has no max_position_embeddings; assumed 2048")
    dtype = _DTYPE_NAMES.get(str(outer.get("torch_dtype") or outer.get("dtype") or cfg.get("torch_dtype")
                                 or "bfloat16").lower(), "bfloat16")

    layer_types, window = _layer_types(cfg, layers)
    mla = 0
    if cfg.get("kv_lora_rank"):
        mla = int(cfg["kv_lora_rank"]) + int(cfg.get("qk_rope_head_dim") or 0)

    quant = outer.get("quantization_config") or cfg.get("quantization_config") or {}
    method, bits = _checkpoint_quantization(quant)
    method = meta.get("checkpoint_quantization") or method

    architectures = outer.get("architectures") or cfg.get("architectures") or ["unknown"]
    remote = bool(meta.get("trust_remote_code", "auto_map" in outer and architectures[0] not in _NATIVE_HINT))
    return ModelSpec(
        id=model_id,
        source=source,
        architecture=architectures[0],
        num_layers=int(layers),
        hidden_size=int(hidden),
        intermediate_size=int(intermediate),
        num_heads=int(heads),
        num_kv_heads=int(kv_heads),
        head_dim=int(head_dim),
        vocab_size=int(vocab),
        max_position_embeddings=int(max_len),
        dtype=dtype,
        tie_word_embeddings=bool(outer.get("tie_word_embeddings", cfg.get("tie_word_embeddings", False))),
        layer_types=layer_types,
        sliding_window=window,
        num_experts=int(_first(cfg, *_EXPERT_KEYS) or 0),
        experts_per_token=int(_first(cfg, "num_experts_per_tok", "experts_per_token", "moe_topk") or 0),
        moe_intermediate_size=int(cfg.get("moe_intermediate_size") or 0),
        shared_expert_intermediate_size=int(cfg.get("shared_expert_intermediate_size") or 0),
        mla_kv_dim=mla,
        checkpoint_quantization=method,
        checkpoint_bits=bits,
        quant_group_size=_group_size(quant),
        base_model=meta.get("base_model"),
        modelscope_id=meta.get("modelscope_id"),
        params_b=meta.get("params_b"),
        active_params_b=meta.get("active_params_b"),
        trust_remote_code=remote,
        gated=bool(meta.get("gated", False)),
        licence=meta.get("licence"),
        config_path=config_path,
        notes=tuple(notes),
    )


# Shape keys must be positive whole numbers when present; counts that may legitimately be 0 (no experts,
# no windowed layers) may also be 0. Anything else (text, NaN, negative) would size nonsense.
_POSITIVE_KEYS = ("num_hidden_layers", "num_layers", "n_layer", "hidden_size", "n_embd", "d_model",
                  "num_attention_heads", "n_head", "vocab_size", "padded_vocab_size", "num_key_value_heads",
                  "multi_query_group_num", "num_kv_heads", "head_dim", "kv_channels", "intermediate_size",
                  "ffn_hidden_size", "n_inner", *_MAX_LEN_KEYS)
_COUNT_KEYS = (*_EXPERT_KEYS, "num_experts_per_tok", "experts_per_token", "moe_topk", "moe_intermediate_size",
               "shared_expert_intermediate_size", "kv_lora_rank", "qk_rope_head_dim", "sliding_window",
               "sliding_window_pattern", "max_window_layers")


def validate_config(config: dict, model_id: str) -> None:
    """Refuse a config.json whose sizing fields have the wrong type, sign or value (exit 2), naming the
    field and what is allowed, instead of a traceback or a silently wrong size."""
    if not isinstance(config, dict):
        raise SpcsLlmError(f"config for {model_id!r} must be a JSON object (a Hugging Face config.json)")
    problems: list[str] = []
    text = config.get("text_config")
    if text is not None and not isinstance(text, dict):
        problems.append(f"'text_config' must be an object, got {_shown(text)}")
    for part in (config, text if isinstance(text, dict) else {}):
        for key in _POSITIVE_KEYS + _COUNT_KEYS:
            value = part.get(key)
            if value is None or (value is False and key == "sliding_window"):
                continue
            minimum = 1 if key in _POSITIVE_KEYS else 0
            if not _whole(value) or value < minimum:
                problems.append(f"'{key}' must be a whole number >= {minimum}, got {_shown(value)}")
        for key in ("torch_dtype", "dtype"):
            value = part.get(key)
            if value is not None and str(value).lower() not in _DTYPE_NAMES:
                problems.append(f"'{key}' {_shown(value)} is not a checkpoint dtype spcs-llm sizes "
                                f"({', '.join(sorted(set(_DTYPE_NAMES.values())))}); a quantized checkpoint "
                                "says so in quantization_config")
        quant = part.get("quantization_config")
        if quant is not None and not isinstance(quant, dict):
            problems.append(f"'quantization_config' must be an object, got {_shown(quant)}")
        for key in ("architectures", "layer_types"):
            value = part.get(key)
            if value is not None and not (isinstance(value, list) and all(isinstance(v, str) for v in value)):
                problems.append(f"'{key}' must be a list of names, got {_shown(value)}")
        tie = part.get("tie_word_embeddings")
        if tie is not None and not isinstance(tie, bool):
            problems.append(f"'tie_word_embeddings' must be true or false, got {_shown(tie)}")
    if problems:
        raise SpcsLlmError(f"config for {model_id!r} is not usable:\n  - " + "\n  - ".join(dict.fromkeys(problems)),
                           hint="pass the model's unmodified config.json from its Hugging Face repo")


def _whole(value) -> bool:
    """An int, or a float with a whole finite value (some configs write 4096.0); never a bool."""
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return True
    return isinstance(value, float) and math.isfinite(value) and value.is_integer()


def _shown(value) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


# Architectures vLLM implements natively even when the repo also ships remote code (auto_map).
_NATIVE_HINT = {"Phi3ForCausalLM", "LlamaForCausalLM", "Qwen2ForCausalLM", "MistralForCausalLM"}


def _first(cfg: dict, *keys):
    for key in keys:
        if cfg.get(key):
            return cfg[key]
    return None


def _layer_types(cfg: dict, layers: int) -> tuple[tuple[str, ...], int | None]:
    """Which layers use a sliding window, in the ways configs say it."""
    window = cfg.get("sliding_window")
    types = cfg.get("layer_types")
    if types:
        if len(types) != layers:
            raise SpcsLlmError(f"config layer_types has {len(types)} entries for {layers} layers")
        norm = tuple(SLIDING if "sliding" in str(t) or "local" in str(t) else FULL for t in types)
        return norm, (int(window) if window and SLIDING in norm else None)
    if not window:
        return (FULL,) * layers, None
    window = int(window)
    pattern = cfg.get("sliding_window_pattern")
    if pattern:  # Gemma-3: every pattern-th layer is global
        return tuple(FULL if (i + 1) % int(pattern) == 0 else SLIDING for i in range(layers)), window
    model_type = str(cfg.get("model_type", ""))
    if model_type.startswith("gemma2") or model_type == "gemma2":  # Gemma-2 alternates, local first
        return tuple(SLIDING if i % 2 == 0 else FULL for i in range(layers)), window
    if "use_sliding_window" in cfg:  # Qwen2 family: off by default
        if not cfg["use_sliding_window"]:
            return (FULL,) * layers, None
        first_sliding = int(cfg.get("max_window_layers") or 0)
        return tuple(FULL if i < first_sliding else SLIDING for i in range(layers)), window
    if window >= int(_first(cfg, *_MAX_LEN_KEYS) or 0):
        return (FULL,) * layers, None  # a window as long as the context is full attention
    return (SLIDING,) * layers, window  # Mistral-7B v0.1 style: every layer windowed


def _checkpoint_quantization(quant: dict) -> tuple[str | None, float | None]:
    if not quant:
        return None, None
    method = str(quant.get("quant_method") or quant.get("quantization_method") or "").lower() or None
    bits = quant.get("bits") or quant.get("num_bits") or quant.get("w_bit")
    if method == "compressed-tensors":
        groups = quant.get("config_groups") or {}
        first = next(iter(groups.values()), {}) if isinstance(groups, dict) else {}
        weights = first.get("weights") or {}
        bits = weights.get("num_bits", bits)
        kind = str(weights.get("type", "")).lower()
        method = "fp8" if kind == "float" and bits == 8 else ("int8" if bits == 8 else "gptq")
    if method == "bitsandbytes" or quant.get("load_in_4bit"):
        method, bits = "bitsandbytes", 4
    return method, (float(bits) if bits else None)


def _group_size(quant: dict) -> int | None:
    size = quant.get("group_size") or quant.get("q_group_size")
    return int(size) if isinstance(size, int) and size > 0 else None


def group_split_ok(model: ModelSpec, tp: int) -> bool:
    """vLLM shards the input dimension of the down projection over TP ranks; a group-quantized
    checkpoint (AWQ/GPTQ) loads only when every rank holds whole groups of quant_group_size."""
    if not model.quant_group_size or model.checkpoint_quantization not in ("awq", "gptq"):
        return True
    width = model.moe_intermediate_size or model.intermediate_size
    return width % tp == 0 and (width // tp) % model.quant_group_size == 0


def spec_for_catalog_id(model_id: str) -> ModelSpec | None:
    """A catalog entry (base model or pre-quantized checkpoint) as a ModelSpec; None when not in the catalog."""
    entry = catalog.model_entry(model_id)
    if entry is None:
        return None
    return from_config(entry["config"], model_id=entry["id"], source="catalog", meta=entry)


# -- resolving what the user typed ----------------------------------------------------------------

def resolve_model(ref: str) -> ModelSpec:
    """A catalog id, a local config.json / model folder, or a Hugging Face id fetched from the hub."""
    entry = catalog.model_entry(ref)
    if entry is not None:
        return from_config(entry["config"], model_id=entry["id"], source="catalog", meta=entry)
    path = Path(ref).expanduser()
    if path.is_dir():
        path = path / "config.json"
    if path.suffix == ".json" or path.exists():
        return _from_file(path)
    if ref.count("/") == 1 and not ref.startswith((".", "/")):
        return _from_hub(ref)
    raise SpcsLlmError(f"model {ref!r} is not in the catalog, not a config.json path and not a Hugging Face id",
                       hint="list catalog models with: spcs-llm models; or pass path/to/config.json")


def _from_file(path: Path) -> ModelSpec:
    if not path.exists():
        raise SpcsLlmError(f"config file {str(path)!r} does not exist")
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise SpcsLlmError(f"{str(path)!r} is not valid JSON: {err}") from err
    if not isinstance(config, dict):
        raise SpcsLlmError(f"{str(path)!r} must hold a JSON object (a Hugging Face config.json)")
    model_id = config.get("_name_or_path") or path.parent.name or str(path)
    return from_config(config, model_id=str(model_id), source="config", config_path=str(path.resolve()))


def _from_hub(repo_id: str) -> ModelSpec:
    import requests

    endpoint = os.environ.get("HF_ENDPOINT", DEFAULT_HF_ENDPOINT).rstrip("/")
    url = f"{endpoint}/{repo_id}/resolve/main/config.json"
    headers = {}
    token = _hf_token()
    if token:
        headers["Authorization"] = f"Bearer {token}"
    try:
        response = requests.get(url, headers=headers, timeout=HUB_TIMEOUT_S)
    except requests.RequestException as err:
        raise SpcsLlmError(
            f"model {repo_id!r} is not in the catalog and its config.json could not be fetched from {endpoint}",
            hint="offline? download config.json elsewhere and pass its path with --model; "
                 "in China set HF_ENDPOINT to a mirror", exit_code=EXIT_ENVIRONMENT) from err
    if response.status_code in (401, 403):
        raise SpcsLlmError(f"{endpoint} refused config.json of {repo_id!r} (HTTP {response.status_code}): "
                           "the repo is gated or private",
                           hint="accept the licence on the hub and set HF_TOKEN (or HF_TOKEN_PATH to a file)",
                           exit_code=EXIT_ENVIRONMENT)
    if response.status_code == 404:
        raise SpcsLlmError(f"{endpoint} has no model {repo_id!r} (HTTP 404)",
                           hint="check the spelling; list catalog models with: spcs-llm models")
    if response.status_code != 200:
        raise SpcsLlmError(f"{endpoint} answered HTTP {response.status_code} for {url}",
                           exit_code=EXIT_ENVIRONMENT)
    try:
        config = response.json()
    except ValueError as err:
        raise SpcsLlmError(f"{url} did not return JSON", exit_code=EXIT_ENVIRONMENT) from err
    return from_config(config, model_id=repo_id, source="hub")


def _hf_token() -> str | None:
    from .redact import register_secret

    token = os.environ.get("HF_TOKEN")
    token_path = os.environ.get("HF_TOKEN_PATH")
    if not token and token_path and Path(token_path).exists():
        token = Path(token_path).read_text(encoding="utf-8").strip()
    register_secret(token)
    return token or None
