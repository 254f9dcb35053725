"""spcs-llm: plan, deploy, expose and debug open-weights LLMs on Snowpark Container Services."""

from pathlib import Path

__version__ = "0.1.0"

# The pack is used from a checkout (or an editable install of one): skills/, prompts/ and
# model_image/ live beside scripts/, two levels above this package.
PACK_ROOT = Path(__file__).resolve().parents[2]
