SELECT LLM_DB.SERVING.QWEN32B_COMPLETE('Reply with one word: ready') AS answer;
