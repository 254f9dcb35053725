"""The custom-image deployment path: a vLLM image with the pack's entrypoint and proxy.

- sources.py: where weights come from (Hugging Face, an HF mirror, ModelScope) and the hosts
  each needs in the external access integration.
- fetch.py, hubs.py, weights.py: the download into the stage-mounted weight cache (stdlib only,
  runs inside the image).
- supervisor.py, vllm_command.py, entrypoint.py: the container's process: weights, then vLLM and
  the proxy, supervised.
- settings.py, spec_schema.py, render.py: the service spec and SQL rendered from the plan.
- docker.py: the `spcs-llm image build|push` commands.

Modules used inside the image (sources, fetch, hubs, weights, supervisor, vllm_command,
entrypoint) import only the standard library and spcs_llm.errors/redact.
"""
