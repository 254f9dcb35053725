#!/usr/bin/env bash
# Write the plan files the evals start from (deployment.yaml states mid-conversation), with the
# pack's own steps so they always match the current plan schema. Usage: bash make.sh [OUT_DIR]
set -euo pipefail
out="${1:-$(dirname "$0")}"
mkdir -p "$out"
cd "$out"
rm -f unconfirmed.yaml hardware-confirmed.yaml vllm-confirmed.yaml
run() { spcs-llm "$@" >/dev/null; }

# a gated model, planned, nothing confirmed yet
run plan --model google/gemma-2-9b-it --cloud aws --region us-west-2 --max-model-len 8192 --out unconfirmed.yaml
# hardware confirmed (GPU_NV_M, TP=1: four replicas per node), num_workers not answered yet
run plan --model Qwen/Qwen2.5-7B-Instruct --cloud aws --region us-west-2 --max-model-len 8192 --concurrency 4 \
  --out hardware-confirmed.yaml
run select --family GPU_NV_M --tp 1 --plan hardware-confirmed.yaml
# hardware and workers confirmed (registry path, vLLM, up to 2 instances): ready to deploy
run plan --model Qwen/Qwen2.5-7B-Instruct --cloud aws --region us-west-2 --max-model-len 8192 --concurrency 4 \
  --out vllm-confirmed.yaml
run select --family GPU_NV_S --plan vllm-confirmed.yaml
run workers --engine registry --max-instances 2 --confirm --plan vllm-confirmed.yaml
echo "wrote unconfirmed.yaml hardware-confirmed.yaml vllm-confirmed.yaml in $out"
