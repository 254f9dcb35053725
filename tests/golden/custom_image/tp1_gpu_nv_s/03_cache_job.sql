-- spcs-llm render-custom, part "cache-job": fills @LLM_DB.SERVING.SPCS_LLM_WEIGHTS on CPU_X64_S (CPU credits).
CREATE COMPUTE POOL IF NOT EXISTS SPCS_LLM_CPU_POOL
  MIN_NODES = 1
  MAX_NODES = 1
  INSTANCE_FAMILY = CPU_X64_S
  AUTO_RESUME = TRUE
  AUTO_SUSPEND_SECS = 300
  COMMENT = 'spcs-llm: CPU pool for the weight-cache job';

DROP SERVICE IF EXISTS LLM_DB.SERVING.LLM_LLAMA_3_1_8B_INSTRUCT_WEIGHTS_JOB;

EXECUTE JOB SERVICE
  IN COMPUTE POOL SPCS_LLM_CPU_POOL
  NAME = LLM_DB.SERVING.LLM_LLAMA_3_1_8B_INSTRUCT_WEIGHTS_JOB
  ASYNC = TRUE
  EXTERNAL_ACCESS_INTEGRATIONS = (LLM_LLAMA_3_1_8B_INSTRUCT_WEIGHTS_EAI)
  FROM SPECIFICATION $$
spec:
  containers:
  - name: weights-cache
    image: "/llm_db/serving/spcs_llm_images/spcs-llm-vllm:v0.20.2-cu129-spcs-llm-0.1.0"
    args:
    - fetch-weights
    env:
      MODEL_ID: "meta-llama/Llama-3.1-8B-Instruct"
      MODEL_REVISION: "main"
      WEIGHT_SOURCES: "huggingface"
      WEIGHTS_CACHE_DIR: "/weights"
      WEIGHTS_ALLOWED_HOSTS: "huggingface.co,cas-server.xethub.hf.co,cas-server.xethub-eu.hf.co,transfer.xethub.hf.co,transfer.xethub-eu.hf.co,us.aws.cdn.hf.co,us.gcp.cdn.hf.co,cdn-lfs-us-1.hf.co,cdn-lfs-eu-1.hf.co,cas-bridge.xethub.hf.co"
      WEIGHTS_ON_MISSING: "download"
    resources:
      requests:
        memory: "11Gi"
        cpu: 2.5
      limits:
        memory: "11Gi"
    volumeMounts:
    - name: weights
      mountPath: "/weights"
    secrets:
    - snowflakeSecret:
        objectName: "LLM_DB.SERVING.HF_TOKEN"
      envVarName: HF_TOKEN
      secretKeyRef: secret_string
  volumes:
  - name: weights
    source: stage
    stageConfig:
      name: "@LLM_DB.SERVING.SPCS_LLM_WEIGHTS"
  logExporters:
    eventTableConfig:
      logLevel: INFO
$$;
