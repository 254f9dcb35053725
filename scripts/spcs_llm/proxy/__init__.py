"""Concurrent service-function proxy in front of vLLM (asyncio + aiohttp only).

Runs inside the vLLM image (``python -m spcs_llm.proxy``) and locally
(``spcs-llm proxy --backend URL``). Needs only the standard library, aiohttp (which vLLM ships)
and the stdlib-only modules spcs_llm.errors and spcs_llm.redact; never the Snowflake libraries.

Routes
  POST /complete     Snowflake service-function batches: {"data": [[i, request, params?], ...]}
  GET  /complete     Snowflake's poll for a batch answered 202 (by sf-external-function-query-batch-id)
  GET  /health       readiness: 200 only if vLLM /health is 200 and the model is listed
  GET|POST /v1/*     OpenAI-compatible pass-through to vLLM, streaming chunk by chunk

Environment (each has a flag of the same meaning; the flag wins)
  PROXY_BACKEND_URL       vLLM base URL, e.g. http://127.0.0.1:8000 (required)    --backend
  PROXY_HOST              listen address (default 127.0.0.1; set 0.0.0.0 in SPCS)  --host
  PROXY_PORT              listen port (default 8080)                               --port
  PROXY_CONCURRENCY       rows in flight to vLLM at once (default 32)              --concurrency
  SERVED_MODEL_NAME       model sent to vLLM and required by /health               --model
  PROXY_REQUEST_TIMEOUT   seconds for one vLLM call (default 300)                  --request-timeout
  PROXY_ROW_TIMEOUT       seconds for a row, retries included (default 600)        --row-timeout
  PROXY_ROW_RETRIES       retries of a row after a retryable failure (default 4)   --row-retries
  PROXY_RETRY_BACKOFF     seconds before a row's first retry (default 0.1)         --retry-backoff
  PROXY_SYNC_BUDGET       seconds before a POST answers 202 (default 25)           --sync-budget
  PROXY_MAX_PENDING_ROWS  unfinished rows before 429 (default 32 x concurrency)    --max-pending-rows
  PROXY_MAX_BATCH_ROWS    rows in one batch before 413 (default 4096)              --max-batch-rows
  PROXY_MAX_BODY_MB       MiB of one batch body before 413 (default 64)            --max-body-mb
  PROXY_ABANDON_AFTER     seconds unpolled before a batch stops (default 300)      --abandon-after
  PROXY_RESULT_TTL        seconds finished batches are kept (default 900)          --result-ttl
  PROXY_RESULT_CACHE_MB   memory cap of kept results (default 256)                 --result-cache-mb
  PROXY_SHUTDOWN_GRACE    seconds to drain after SIGTERM (default 20)              --shutdown-grace
  PROXY_LOG_LEVEL         DEBUG, INFO, WARNING or ERROR (default INFO)             --log-level
  PROXY_BACKEND_API_KEY or PROXY_BACKEND_API_KEY_FILE: bearer token when vLLM runs with --api-key
  (never logged).

Row formats, error values, the fault table and the asynchronous protocol: docs/proxy.md,
rows.py and retry.py.
"""
