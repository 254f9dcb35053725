-- spcs-llm render-custom, part "upgrade": replaces the running service's specification (restarts instances).
ALTER SERVICE IF EXISTS LLM_DB.SERVING.LLM_LLAMA_3_1_8B_INSTRUCT
  FROM SPECIFICATION $$
spec:
  containers:
  - name: vllm
    image: "/llm_db/serving/spcs_llm_images/spcs-llm-vllm:v0.20.2-cu129-spcs-llm-0.1.0"
    env:
      MODEL_ID: "meta-llama/Llama-3.1-8B-Instruct"
      MODEL_REVISION: "main"
      WEIGHT_SOURCES: "huggingface"
      WEIGHTS_CACHE_DIR: "/weights"
      WEIGHTS_ALLOWED_HOSTS: "huggingface.co,cas-server.xethub.hf.co,cas-server.xethub-eu.hf.co,transfer.xethub.hf.co,transfer.xethub-eu.hf.co,us.aws.cdn.hf.co,us.gcp.cdn.hf.co,cdn-lfs-us-1.hf.co,cdn-lfs-eu-1.hf.co,cas-bridge.xethub.hf.co"
      WEIGHTS_ON_MISSING: "download"
      WEIGHTS_LOCAL_COPY_DIR: "/tmp/spcs-llm-model"
      SERVED_MODEL_NAME: "meta-llama/Llama-3.1-8B-Instruct"
      TENSOR_PARALLEL_SIZE: "1"
      MAX_MODEL_LEN: "8192"
      GPU_MEMORY_UTILIZATION: "0.9"
      DTYPE: "bfloat16"
      PROXY_HOST: "0.0.0.0"
      PROXY_PORT: "8080"
      PROXY_CONCURRENCY: "32"
    resources:
      requests:
        memory: "25Gi"
        cpu: 6
        nvidia.com/gpu: 1
      limits:
        memory: "25Gi"
        nvidia.com/gpu: 1
    readinessProbe:
      port: 8080
      path: "/health"
      periodSeconds: 10
      failureThreshold: 3
    volumeMounts:
    - name: weights
      mountPath: "/weights"
    - name: dshm
      mountPath: /dev/shm
    secrets:
    - snowflakeSecret:
        objectName: "LLM_DB.SERVING.HF_TOKEN"
      envVarName: HF_TOKEN
      secretKeyRef: secret_string
  endpoints:
  - name: api
    port: 8080
    public: false
    protocol: HTTP
  volumes:
  - name: weights
    source: stage
    stageConfig:
      name: "@LLM_DB.SERVING.SPCS_LLM_WEIGHTS"
  - name: dshm
    source: memory
    size: "1Gi"
  logExporters:
    eventTableConfig:
      logLevel: INFO
  platformMonitor:
    metricConfig:
      groups:
      - system
      - system_limits
      - status
      - network
$$;
