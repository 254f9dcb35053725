-- spcs-llm render-custom, part "upgrade": replaces the running service's specification (restarts instances).
ALTER SERVICE IF EXISTS LLM_DB.SERVING.QWEN32B
  FROM SPECIFICATION $$
spec:
  containers:
  - name: vllm
    image: "/llm_db/serving/spcs_llm_images/spcs-llm-vllm:v0.20.2-cu129-spcs-llm-0.1.0"
    env:
      MODEL_ID: "Qwen/Qwen2.5-32B-Instruct"
      MODEL_REVISION: "main"
      WEIGHT_SOURCES: "huggingface"
      WEIGHTS_CACHE_DIR: "/weights"
      WEIGHTS_ALLOWED_HOSTS: "huggingface.co,cas-server.xethub.hf.co,cas-server.xethub-eu.hf.co,transfer.xethub.hf.co,transfer.xethub-eu.hf.co,us.aws.cdn.hf.co,us.gcp.cdn.hf.co,cdn-lfs-us-1.hf.co,cdn-lfs-eu-1.hf.co,cas-bridge.xethub.hf.co"
      WEIGHTS_ON_MISSING: "wait"
      WEIGHTS_LOCAL_COPY_DIR: "/tmp/spcs-llm-model"
      SERVED_MODEL_NAME: "Qwen/Qwen2.5-32B-Instruct"
      TENSOR_PARALLEL_SIZE: "4"
      MAX_MODEL_LEN: "16384"
      GPU_MEMORY_UTILIZATION: "0.92"
      DTYPE: "bfloat16"
      KV_CACHE_DTYPE: "fp8"
      TRUST_REMOTE_CODE: "true"
      VLLM_EXTRA_ARGS: "[\"--enable-prefix-caching\", \"--max-num-seqs=128\"]"
      PROXY_HOST: "0.0.0.0"
      PROXY_PORT: "8080"
      PROXY_CONCURRENCY: "64"
    resources:
      requests:
        memory: "164Gi"
        cpu: 44
        nvidia.com/gpu: 4
      limits:
        memory: "164Gi"
        nvidia.com/gpu: 4
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
  endpoints:
  - name: api
    port: 8080
    public: true
    protocol: HTTP
  volumes:
  - name: weights
    source: stage
    stageConfig:
      name: "@LLM_DB.SERVING.SPCS_LLM_WEIGHTS"
  - name: dshm
    source: memory
    size: "10Gi"
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
serviceRoles:
- name: api_user
  endpoints:
  - api
$$;
