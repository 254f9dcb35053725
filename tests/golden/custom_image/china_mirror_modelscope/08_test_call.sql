SELECT AI.QWEN.QWEN_COMPLETE('Reply with one word: ready') AS answer;
