-- spcs-llm render-custom, part "cache-job": fills @AI.QWEN.SPCS_LLM_WEIGHTS on CPU_X64_S (CPU credits).
CREATE COMPUTE POOL IF NOT EXISTS SPCS_LLM_CPU_POOL
  MIN_NODES = 1
  MAX_NODES = 1
  INSTANCE_FAMILY = CPU_X64_S
  AUTO_RESUME = TRUE
  AUTO_SUSPEND_SECS = 300
  COMMENT = 'spcs-llm: CPU pool for the weight-cache job';

DROP SERVICE IF EXISTS AI.QWEN.QWEN_7B_WEIGHTS_JOB;

EXECUTE JOB SERVICE
  IN COMPUTE POOL SPCS_LLM_CPU_POOL
  NAME = AI.QWEN.QWEN_7B_WEIGHTS_JOB
  ASYNC = TRUE
  EXTERNAL_ACCESS_INTEGRATIONS = (QWEN_7B_WEIGHTS_EAI)
  FROM SPECIFICATION $$
spec:
  containers:
  - name: weights-cache
    image: "/ai/qwen/spcs_llm_images/spcs-llm-vllm:v0.20.2-cu129-spcs-llm-0.1.0"
    args:
    - fetch-weights
    env:
      MODEL_ID: "Qwen/Qwen2.5-7B-Instruct-AWQ"
      MODEL_REVISION: "main"
      WEIGHT_SOURCES: "hf-mirror,modelscope"
      WEIGHTS_CACHE_DIR: "/weights"
      WEIGHTS_ALLOWED_HOSTS: "hf-mirror.com,cdn-lfs.hf-mirror.com,www.modelscope.cn,modelscope.cn,cdn-lfs-cn-1.modelscope.cn,cdn-lfs-cn-2.modelscope.cn,cdn.modelscope.cn,cdn-lfs-cn-3.example-mirror.cn"
      WEIGHTS_ON_MISSING: "download"
      HF_ENDPOINT: "https://hf-mirror.com"
      MODELSCOPE_MODEL_ID: "qwen/Qwen2.5-7B-Instruct-AWQ"
      MODELSCOPE_REVISION: "master"
    resources:
      requests:
        memory: "11Gi"
        cpu: 2.5
      limits:
        memory: "11Gi"
    volumeMounts:
    - name: weights
      mountPath: "/weights"
  volumes:
  - name: weights
    source: stage
    stageConfig:
      name: "@AI.QWEN.SPCS_LLM_WEIGHTS"
  logExporters:
    eventTableConfig:
      logLevel: INFO
$$;
