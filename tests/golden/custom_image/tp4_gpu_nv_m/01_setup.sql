-- spcs-llm render-custom, part "setup": run as the deploying role LLM_DEPLOYER.
CREATE IMAGE REPOSITORY IF NOT EXISTS LLM_DB.SERVING.SPCS_LLM_IMAGES
  COMMENT = 'spcs-llm: vLLM custom image';

CREATE STAGE IF NOT EXISTS LLM_DB.SERVING.SPCS_LLM_WEIGHTS
  ENCRYPTION = (TYPE = 'SNOWFLAKE_SSE')
  COMMENT = 'spcs-llm: model weight cache, mounted by services as a stage volume';
