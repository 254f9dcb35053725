"""Checks every step's parsed flags get, applied once in cli.main, so a step added later inherits
them: float flags must be finite numbers (argparse's float() accepts nan and inf), --max-model-len
has a sane minimum, and --region must be a region the catalog or a cloud's own region-id spelling
knows. A bad value is a clear SpcsLlmError naming the flag and what is allowed (exit 2)."""

from __future__ import annotations

import argparse
import math
import re

from .errors import SpcsLlmError

# vLLM accepts any length, but a chat template and a short answer alone take a few hundred tokens:
# below this nothing useful fits, and the sizing would recommend a node for an unusable service.
MIN_MAX_MODEL_LEN = 256


def check_values(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Refuse the first flag value that no step can use (after argparse converted the types)."""
    for action in parser._actions:
        if not action.option_strings:
            continue
        flag = action.option_strings[0]
        value = getattr(args, action.dest, None)
        values = value if isinstance(value, list) else [value]
        if action.type is float:
            for item in values:
                if isinstance(item, float) and not math.isfinite(item):
                    raise SpcsLlmError(f"{flag} {item} must be a finite number")
        if "--max-model-len" in action.option_strings and isinstance(value, int) and value < MIN_MAX_MODEL_LEN:
            raise SpcsLlmError(f"--max-model-len {value} must be at least {MIN_MAX_MODEL_LEN} tokens: a chat "
                               "template and a short answer alone take a few hundred")
        if "--region" in action.option_strings and isinstance(value, str):
            check_region(value)


def check_region(text: str) -> str:
    """A region id the catalog names (regions_only / regions_excluded of a family), a well-formed
    AWS/GCP region id or a CURRENT_REGION() spelling (AWS_US_WEST_2, AZURE_EASTUS2: both are
    catalog.cloud_of_region's), or an Azure display name or id."""
    from . import catalog

    value = text.strip()
    known = _catalog_regions()
    key = catalog.region_key(value) if value else ""
    if key and (key in {catalog.region_key(r) for r in known} or catalog.cloud_of_region(value)
                or _AZURE_NAME.match(value)
                or _AZURE_ID.match(value)):
        return value
    raise SpcsLlmError(f"--region {text!r} is not a known region",
                       hint="use a cloud region id such as us-west-2, cn-northwest-1 or us-central1, an Azure region "
                       "name such as 'East US 2' or 'West Europe' (or Azure's id: eastus2, westeurope), or the "
                       "account's SELECT CURRENT_REGION() (AZURE_EASTUS2); regions the catalog names (any other "
                       f"well-formed region is one where every family is offered): {', '.join(sorted(known))}")


# Azure regions go by display names ("East US 2", "UK South"); the catalog lists only the ones a family
# excludes, so any other well-formed name is a region where every Azure family is offered.
_AZURE_NAME = re.compile(r"^[A-Z][A-Za-z]*( [A-Z0-9][A-Za-z0-9]*)+$")
# Azure's own region ids (`az account list-locations`: westeurope, eastus2, switzerlandnorth) are the display
# names without spaces; catalog.region_key spells both the same, so exclusions still match.
_AZURE_ID = re.compile(r"^[a-z]*(east|west|north|south|central)[a-z]*[0-9]?$")


def _catalog_regions() -> set[str]:
    from . import catalog

    regions: set[str] = set()
    for family in catalog.instance_families():
        regions.update(family.regions_only)
        regions.update(family.regions_excluded)
    return regions
