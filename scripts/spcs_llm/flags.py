"""Checks every step's flags get, applied once to the parser (cli.build_parser), so a step added
later inherits them: float flags must be finite numbers (argparse's float() accepts nan and inf),
--max-model-len has a sane minimum, and --region must be a region the catalog or a cloud's own
region-id spelling knows. A bad value is an argparse error: a one-line message and exit 2."""

from __future__ import annotations

import argparse
import math

# vLLM accepts any length, but a chat template and a short answer alone take a few hundred tokens:
# below this nothing useful fits, and the sizing would recommend a node for an unusable service.
MIN_MAX_MODEL_LEN = 256


def harden(parser: argparse.ArgumentParser) -> None:
    """Wrap the type of each option this module knows how to check (in place)."""
    for action in parser._actions:
        if action.type is float:
            action.type = finite_float
        if "--max-model-len" in action.option_strings and action.type is int:
            action.type = max_model_len
        if "--region" in action.option_strings and action.type is None:
            action.type = known_region


def finite_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"{text!r} is not a finite number")
    return value


def max_model_len(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of tokens") from None
    if value < MIN_MAX_MODEL_LEN:
        raise argparse.ArgumentTypeError(f"{value} tokens is too short to serve a chat request; "
                                         f"use at least {MIN_MAX_MODEL_LEN}")
    return value


def known_region(text: str) -> str:
    """A region id the catalog names (regions_only / regions_excluded of a family), or a well-formed
    AWS/GCP region id, or a CURRENT_REGION() spelling (AWS_US_WEST_2, AZURE_EASTUS2)."""
    from . import catalog

    value = text.strip()
    known = _catalog_regions()
    key = catalog.region_key(value) if value else ""
    bare = value.split(".")[-1].lower()
    if key and (key in {catalog.region_key(r) for r in known} or catalog.cloud_of_region(value)
                or bare.startswith(("aws_", "azure_", "gcp_"))):
        return value
    raise argparse.ArgumentTypeError(
        f"region {text!r} is not known; use a cloud region id such as us-west-2, cn-northwest-1 or "
        f"us-central1 (regions the catalog names: {', '.join(sorted(known))})")


def _catalog_regions() -> set[str]:
    from . import catalog

    regions: set[str] = set()
    for family in catalog.instance_families():
        regions.update(family.regions_only)
        regions.update(family.regions_excluded)
    return regions
