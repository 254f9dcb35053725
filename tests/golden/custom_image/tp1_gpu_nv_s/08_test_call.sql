SELECT LLM_DB.SERVING.LLM_LLAMA_3_1_8B_INSTRUCT_COMPLETE('Reply with one word: ready') AS answer;
