-- spcs-llm render-custom, part "upgrade": replaces the running service's specification (restarts instances).
ALTER SERVICE IF EXISTS AI.QWEN.QWEN_7B
  FROM SPECIFICATION $$
spec:
  containers:
  - name: vllm
    image: "/ai/qwen/spcs_llm_images/spcs-llm-vllm:v0.20.2-cu129-spcs-llm-0.1.0"
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
      WEIGHTS_LOCAL_COPY_DIR: "/tmp/spcs-llm-model"
      SERVED_MODEL_NAME: "Qwen/Qwen2.5-7B-Instruct-AWQ"
      TENSOR_PARALLEL_SIZE: "1"
      MAX_MODEL_LEN: "16384"
      GPU_MEMORY_UTILIZATION: "0.9"
      PROXY_HOST: "0.0.0.0"
      PROXY_PORT: "8080"
      PROXY_CONCURRENCY: "16"
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
  endpoints:
  - name: api
    port: 8080
    public: false
    protocol: HTTP
  volumes:
  - name: weights
    source: stage
    stageConfig:
      name: "@AI.QWEN.SPCS_LLM_WEIGHTS"
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
