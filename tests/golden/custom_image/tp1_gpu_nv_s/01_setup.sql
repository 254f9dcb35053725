-- spcs-llm render-custom, part "setup": run as the deploying role LLM_DEPLOYER.
CREATE IMAGE REPOSITORY IF NOT EXISTS LLM_DB.SERVING.SPCS_LLM_IMAGES
  COMMENT = 'spcs-llm: vLLM custom image';

CREATE STAGE IF NOT EXISTS LLM_DB.SERVING.SPCS_LLM_WEIGHTS
  ENCRYPTION = (TYPE = 'SNOWFLAKE_SSE')
  COMMENT = 'spcs-llm: model weight cache, mounted by services as a stage volume';

-- Weight sources, in order: huggingface.
CREATE OR ALTER NETWORK RULE LLM_DB.SERVING.LLM_LLAMA_3_1_8B_INSTRUCT_WEIGHTS_EGRESS
  TYPE = HOST_PORT
  VALUE_LIST = (
    'huggingface.co:443',
    'cas-server.xethub.hf.co:443',
    'cas-server.xethub-eu.hf.co:443',
    'transfer.xethub.hf.co:443',
    'transfer.xethub-eu.hf.co:443',
    'us.aws.cdn.hf.co:443',
    'us.gcp.cdn.hf.co:443',
    'cdn-lfs-us-1.hf.co:443',
    'cdn-lfs-eu-1.hf.co:443',
    'cas-bridge.xethub.hf.co:443'
  )
  MODE = EGRESS
  COMMENT = 'spcs-llm: weight download for meta-llama/Llama-3.1-8B-Instruct';
