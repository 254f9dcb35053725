-- spcs-llm render-custom, part "egress": needs CREATE INTEGRATION on the account
-- (ACCOUNTADMIN by default). Sources, in order: hf-mirror, modelscope.
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

CREATE OR REPLACE EXTERNAL ACCESS INTEGRATION QWEN_7B_WEIGHTS_EAI
  ALLOWED_NETWORK_RULES = (AI.QWEN.QWEN_7B_WEIGHTS_EGRESS)
  ENABLED = TRUE
  COMMENT = 'spcs-llm: weight download for QWEN_7B';

GRANT USAGE ON INTEGRATION QWEN_7B_WEIGHTS_EAI TO ROLE QWEN_ROLE;
