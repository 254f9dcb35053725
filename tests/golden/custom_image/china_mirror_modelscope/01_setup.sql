-- spcs-llm render-custom, part "setup": run as the deploying role QWEN_ROLE.
CREATE IMAGE REPOSITORY IF NOT EXISTS AI.QWEN.SPCS_LLM_IMAGES
  COMMENT = 'spcs-llm: vLLM custom image';

CREATE STAGE IF NOT EXISTS AI.QWEN.SPCS_LLM_WEIGHTS
  ENCRYPTION = (TYPE = 'SNOWFLAKE_SSE')
  COMMENT = 'spcs-llm: model weight cache, mounted by services as a stage volume';

-- Weight sources, in order: hf-mirror, modelscope.
CREATE OR ALTER NETWORK RULE AI.QWEN.QWEN_7B_WEIGHTS_EGRESS
  TYPE = HOST_PORT
  VALUE_LIST = (
    'hf-mirror.com:443',
    'cdn-lfs.hf-mirror.com:443',
    'www.modelscope.cn:443',
    'modelscope.cn:443',
    'cdn-lfs-cn-1.modelscope.cn:443',
    'cdn-lfs-cn-2.modelscope.cn:443',
    'cdn.modelscope.cn:443',
    'cdn-lfs-cn-3.example-mirror.cn:443'
  )
  MODE = EGRESS
  COMMENT = 'spcs-llm: weight download for Qwen/Qwen2.5-7B-Instruct-AWQ';
