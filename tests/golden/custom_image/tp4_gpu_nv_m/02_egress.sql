-- spcs-llm render-custom, part "egress": needs CREATE INTEGRATION on the account
-- (ACCOUNTADMIN by default). Sources, in order: huggingface.
CREATE OR ALTER NETWORK RULE LLM_DB.SERVING.QWEN32B_WEIGHTS_EGRESS
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
    'cdn-lfs-eu-1.hf.co:443'
  )
  MODE = EGRESS
  COMMENT = 'spcs-llm: weight download for Qwen/Qwen2.5-32B-Instruct';

CREATE OR REPLACE EXTERNAL ACCESS INTEGRATION QWEN32B_WEIGHTS_EAI
  ALLOWED_NETWORK_RULES = (LLM_DB.SERVING.QWEN32B_WEIGHTS_EGRESS)
  ENABLED = TRUE
  COMMENT = 'spcs-llm: weight download for QWEN32B';

GRANT USAGE ON INTEGRATION QWEN32B_WEIGHTS_EAI TO ROLE LLM_DEPLOYER;
