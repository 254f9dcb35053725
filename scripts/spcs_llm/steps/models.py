"""List the model catalog, filtered, with each model's weight size and the cheapest instance
family that serves it (offline). Used to build a shortlist at the model-selection checkpoint."""

from __future__ import annotations

from .. import catalog
from ..catalog import CLOUDS
from ..errors import EXIT_NEGATIVE
from ..models import from_config
from ..output import StepResult, table
from ..planner import PlanRequest, cheapest_fit

DEFAULT_SHORTLIST_CONTEXT = 8192


def add_arguments(parser) -> None:
    parser.add_argument("--task", help="e.g. chat, vision")
    parser.add_argument("--max-params-b", type=float, help="at most this many billion parameters (total)")
    parser.add_argument("--licence", help="licence contains this text, e.g. apache; several, comma-separated, "
                        "match any: apache,mit for permissive only")
    parser.add_argument("--open", action="store_true", help="only models without a gated download")
    parser.add_argument("--language", help="supports this language, e.g. zh (models tagged multilingual-N match "
                        "too, marked: check their card)")
    parser.add_argument("--family", help="model family or its prefix, e.g. qwen3, or llama for every llama3.x")
    parser.add_argument("--cloud", choices=CLOUDS, default="aws", help="cloud for the cheapest-fit column")
    parser.add_argument("--region", help="region for the cheapest-fit column")
    parser.add_argument("--max-model-len", type=int, default=DEFAULT_SHORTLIST_CONTEXT,
                        help=f"context for the cheapest-fit column (default {DEFAULT_SHORTLIST_CONTEXT})")


def run(args) -> StepResult:
    rows = []
    for entry in catalog.models().values():
        if not _matches(entry, args):
            continue
        spec = from_config(entry["config"], model_id=entry["id"], source="catalog", meta=entry)
        max_len = min(args.max_model_len, spec.max_position_embeddings)
        # each catalog entry (a pre-quantized checkpoint is its own row) on its own, cheapest layout first
        best, first = cheapest_fit(PlanRequest(model=spec, cloud=args.cloud, region=args.region,
                                               max_model_len=max_len, priority="cheapest", offer_checkpoints=False))
        rows.append({
            "id": entry["id"], "family": entry.get("family"), "tasks": entry.get("tasks", []),
            "params_b": entry["params_b"], "active_params_b": entry.get("active_params_b"),
            "licence": entry["licence"], "gated": entry["gated"],
            "trust_remote_code": entry.get("trust_remote_code", False),
            "languages": entry.get("languages", []), "max_context": spec.max_position_embeddings,
            "checkpoint_quantization": entry.get("checkpoint_quantization"),
            "base_model": entry.get("base_model"),
            "weights_gib": _weights_gib(first),
            "cheapest_family": best["instance_family"] if best else None,
            "cheapest_tp": best["tensor_parallel_size"] if best else None,
            "cheapest_credits_per_hour": best["credits_per_hour_for_layout"] if best else None,
            "cheapest_tokens_per_s": best["est_decode_tokens_per_s_single_stream"] if best else None,
            "cheapest_credits_per_million_output_tokens": best["credits_per_million_output_tokens"] if best else None,
            "sized_context": max_len,
            "language_unlisted": bool(args.language) and _language_match(entry, args.language) == "multilingual",
        })
    data = {"cloud": args.cloud, "region": args.region, "language": args.language, "models": rows}
    text = table(rows, [("id", "model"), ("params_b", "params(B)"), ("active_params_b", "active(B)"),
                        ("licence", "licence"), ("gated", "gated"), ("max_context", "context"),
                        ("weights_gib", "weights GiB"), ("cheapest_family", f"cheapest {args.cloud} family"),
                        ("cheapest_tp", "tp"), ("cheapest_credits_per_hour", "credits/h")])
    text += f"\n(cheapest family sized at min(model context, {args.max_model_len}) tokens, 1 request)"
    return StepResult(data=data, text=text if rows else "no catalog model matches these filters",
                      prompt="model_shortlist", exit_code=0 if rows else EXIT_NEGATIVE)


def _language_match(entry: dict, language: str) -> str | None:
    """'listed' when the catalog names the language; 'multilingual' when the entry only says
    multilingual-N (its card claims N languages; Qwen2.5's lists German, the catalog does not), so a
    --language filter does not silently drop the most capable multilingual models (walk pick1)."""
    languages = [str(lang).lower() for lang in entry.get("languages", [])]
    if language.lower() in languages:
        return "listed"
    return "multilingual" if any(lang.startswith("multilingual") for lang in languages) else None


def _weights_gib(candidate: dict | None) -> float | None:
    """The whole checkpoint's weights, from any sizing of it (weights per GPU x TP)."""
    if not candidate or not candidate["options"]:
        return None
    option = candidate["options"][0]
    return round(option["weights_gib_per_gpu"] * option["tensor_parallel_size"], 1)


def _matches(entry: dict, args) -> bool:
    if args.task and args.task not in entry.get("tasks", []):
        return False
    if args.max_params_b is not None and entry["params_b"] > args.max_params_b:
        return False
    # "apache,mit": permissive-only in one shortlist (walk pick1 needed two runs)
    wanted = [part.strip().lower() for part in (args.licence or "").split(",") if part.strip()]
    if wanted and not any(part in str(entry["licence"]).lower() for part in wanted):
        return False
    if args.open and entry["gated"]:
        return False
    if args.language and not _language_match(entry, args.language):
        return False
    # a prefix matches the generations too: "llama" is llama3.1, llama3.2 and llama3.3
    return not (args.family and not str(entry.get("family", "")).lower().startswith(args.family.lower()))
