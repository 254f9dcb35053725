"""Failure signatures: each reads the Evidence and returns a Finding (or None).

The texts matched are vLLM's, PyTorch's, NCCL's, huggingface_hub's and Snowflake's own messages, as
they appear in real logs (see docs/debug.md for the source of each). Every finding carries the
lines that prove it, a confidence, and a fix that the pack's own steps apply. `diagnose` sorts
them, most likely first; a healthy service matches none.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from .evidence import Evidence, Line

CRASH_LOOP_RESTARTS = 3  # restarts that make a crash loop (one or two can be a node replacement)


@dataclass
class Finding:
    cause: str
    title: str
    confidence: float
    evidence: list[str]
    fix: str
    commands: list[str] = field(default_factory=list)
    facts: dict = field(default_factory=dict)  # numbers read from the evidence (e.g. the logged KV tokens)

    def as_dict(self) -> dict:
        return {"cause": self.cause, "title": self.title, "confidence": round(self.confidence, 2),
                "evidence": self.evidence, "fix": self.fix, "commands": self.commands, "facts": self.facts}


def _grep(ev: Evidence, *patterns: str, limit: int = 4) -> list[Line]:
    regexes = [re.compile(p, re.IGNORECASE) for p in patterns]
    hits = [line for line in ev.texts() if any(r.search(line.text) for r in regexes)]
    unique = list({str(line): line for line in hits}.values())  # instances of one container log the same line
    return unique[-limit:]


def _show(lines: list[Line]) -> list[str]:
    return [str(line)[:400] for line in lines]


def _plan(ev: Evidence, dotted: str):
    node = ev.plan or {}
    for part in dotted.split("."):
        node = node.get(part) if isinstance(node, dict) else None
    return node


def _connection_flag(ev: Evidence) -> str:
    return f" --connection {ev.connection}" if ev.connection else ""


def _service_flag(ev: Evidence) -> str:
    return (f" --service {ev.service}" if ev.service else "") + _connection_flag(ev)


def _status_flags(ev: Evidence) -> str:
    """status names a service with --database/--schema/--name (the plan's when none is given)."""
    if not ev.service:
        return _connection_flag(ev)
    database, schema, name = ev.service.split(".")
    return f" --database {database} --schema {schema} --name {name}" + _connection_flag(ev)


# -- vLLM engine start-up ------------------------------------------------------------------------

_KV_V0 = re.compile(r"max seq len \((\d+)\) is larger than the maximum number of tokens that can be stored in KV "
                    r"cache \((\d+)\)", re.IGNORECASE)
_KV_V1 = re.compile(r"To serve at least one request with the models?'s max seq len \((\d+)\).*?estimated maximum "
                    r"model length is (\d+)", re.IGNORECASE | re.DOTALL)
_KV_NONE = re.compile(r"No available memory for the cache blocks", re.IGNORECASE)


def _round_down(tokens: int) -> int:
    """A max_model_len at or below the logged limit: a multiple of 1024 when there is room, else the limit."""
    return tokens // 1024 * 1024 if tokens >= 2048 else tokens


def kv_cache_too_small(ev: Evidence) -> Finding | None:
    from .. import observed

    lines = _grep(ev, _KV_V0.pattern, r"To serve at least one request with the models?'s max seq len",
                  _KV_NONE.pattern)
    if not lines:
        return None
    text = "\n".join(line.text for line in ev.lines + lines)
    facts: dict = {}
    for match in _KV_V0.finditer(text):
        facts.update(max_seq_len=int(match.group(1)), kv_cache_tokens=int(match.group(2)))
    for match in _KV_V1.finditer(text):
        facts.update(max_seq_len=int(match.group(1)), estimated_max_model_len=int(match.group(2)))
    logged = observed.kv_tokens_from_log(text)
    if logged is not None:
        facts["kv_cache_tokens"] = logged
    limit = facts.get("kv_cache_tokens") or facts.get("estimated_max_model_len")
    commands, fix = [], ("vLLM cannot hold one request of the configured max_model_len in the KV cache it has on this "
                         "GPU, so the engine exits at start-up and the container restarts.")
    if limit:
        facts["proposed_max_model_len"] = _round_down(limit)
        replan = "spcs-llm plan --replan"
        if facts.get("kv_cache_tokens"):
            replan += f" --observed-kv-tokens {facts['kv_cache_tokens']}"
        commands.append(f"{replan} --max-model-len {facts['proposed_max_model_len']}")
        fix += (f" The logged limit ({limit} tokens) is the truth for this model, GPU, TP and utilisation: re-plan "
                f"with --max-model-len {facts['proposed_max_model_len']} (at or below it), then upgrade the service "
                "with the new plan. To keep the longer context instead: --kv-cache-dtype fp8 (twice the tokens), a "
                "higher --gpu-memory-utilization, a higher TP or a larger instance family (choose-hardware).")
        planned = _plan(ev, "selection.max_model_len")
        if ev.plan is None:
            fix += (" This folder has no plan (deployment.yaml): re-plan from the folder that has it, or for a "
                    f"service deployed by hand set vLLM's --max-model-len {facts['proposed_max_model_len']} in its "
                    "specification and upgrade it (spcs-llm manage upgrade --spec-file).")
        if planned and planned > limit:
            fix += (f" The plan still asks for {planned} tokens, above what vLLM logged: deploying it unchanged would "
                    "crash again.")
        commands.append("spcs-llm plan --replan --kv-cache-dtype fp8")
    else:
        commands.append("spcs-llm plan --replan --gpu-memory-utilization 0.95")
        fix += " No KV cache is left after the weights: raise gpu_memory_utilization or use a larger family."
    return Finding("kv_cache_too_small", "KV cache too small for max_model_len", 0.97, _show(lines), fix, commands,
                   facts)


def _option(candidate: dict, tp) -> dict | None:
    return next((o for o in candidate.get("options") or [] if o.get("tensor_parallel_size") == tp), None)


def _higher_tp_layout(ev: Evidence) -> tuple[dict, dict, dict] | None:
    """The plan's family, its deployed option, and the smallest higher TP the plan found fitting on that family
    (the same checkpoint, no substitute): after a CUDA OOM at load the cheapest working change is often here."""
    family, tp = _plan(ev, "selection.instance_family"), _plan(ev, "selection.tensor_parallel_size")
    if not family or not tp:
        return None
    for candidate in (ev.plan or {}).get("candidates") or []:
        if candidate.get("instance_family") != family:
            continue
        higher = sorted((o for o in candidate.get("options") or [] if int(o.get("tensor_parallel_size") or 0) > int(tp)
                         and o.get("fits") and o.get("valid", True) is not False and not o.get("substitute")
                         and not o.get("needs_checkpoint")), key=lambda o: o["tensor_parallel_size"])
        if higher:
            return candidate, _option(candidate, tp) or {}, higher[0]
    return None


def _pre_quantized(ev: Evidence) -> bool:
    return bool(_plan(ev, "model.checkpoint_quantization") or _plan(ev, "selection.quantization"))


def cuda_oom(ev: Evidence) -> Finding | None:
    lines = _grep(ev, r"CUDA out of memory", r"OutOfMemoryError", r"Free memory on device .* is less than desired GPU "
                  r"memory utilization")
    if not lines:
        return None
    shared = any("Free memory on device" in line.text for line in lines)
    facts: dict = {}
    if shared:
        fix = ("Another process holds memory on this GPU when vLLM starts (gpu_memory_utilization applies to the whole "
               "GPU): run one engine per GPU (spcs-llm workers) or lower --gpu-memory-utilization.")
        commands = ["spcs-llm plan --replan --gpu-memory-utilization 0.85", "spcs-llm workers --help"]
        return Finding("cuda_oom", "CUDA out of memory", 0.9, _show(lines), fix, commands)
    fix = ("The GPU ran out of memory while loading or profiling the model: the weights plus activations do not fit at "
           "this tensor-parallel size.")
    if _plan(ev, "selection.tensor_parallel_size"):
        fix += " The plan's estimate said this layout fits, so a plain re-plan proposes it again: change the layout."
    commands = []
    layout = _higher_tp_layout(ev)
    if layout:
        candidate, now, better = layout
        family, tp = candidate["instance_family"], better["tensor_parallel_size"]
        per_gpu = (f" ({now['weights_gib_per_gpu']} GiB of weights per GPU now, {better['weights_gib_per_gpu']} at "
                   f"TP={tp})") if now.get("weights_gib_per_gpu") and better.get("weights_gib_per_gpu") else ""
        rate_now, rate = now.get("credits_per_hour_for_layout"), better.get("credits_per_hour_for_layout")
        cost = (" at the same cost" if rate_now == rate else f" at {rate} credits/h (now {rate_now})") if rate else ""
        fix += (f" On the same family {family}, the plan found TP={tp} x {better.get('replicas_per_node')} "
                f"instance(s) per node fitting{cost}{per_gpu}: select it, confirm the workers (the instance count "
                "changes with the TP), render the specification and upgrade the service (manage upgrade also sets the "
                "service's instance count to the plan's).")
        commands += [f"spcs-llm select --family {family} --tp {tp}", "spcs-llm workers --engine custom-image --confirm"
                     if _plan(ev, "engine_path") == "custom-image" else "spcs-llm workers --help"]
        facts.update(family=family, tensor_parallel_size=tp, credits_per_hour=rate)
    fix += " Otherwise a larger family (choose-hardware)"
    if _pre_quantized(ev):
        fix += "; the checkpoint is already quantized, so a quantized variant saves nothing."
    else:
        fix += " or a quantized variant (plan --replan --quantization awq)."
        commands.append("spcs-llm plan --replan --quantization awq")
    commands.append("spcs-llm plan --replan --format prompt")
    return Finding("cuda_oom", "CUDA out of memory", 0.9, _show(lines), fix, commands, facts)


def oom_killed(ev: Evidence) -> Finding | None:
    lines = _grep(ev, r"OOMKilled", r"FailedWithOOM")
    reasons = [c for c in ev.metrics.get("containers", []) if c.get("last_finished_reason") == "FailedWithOOM"]
    exits = [c for c in ev.containers if c.get("last_exit_code") == 137]
    if not (lines or reasons or exits):
        return None
    proof = _show(lines) + [f"metrics: {c['container_name']} last finished FailedWithOOM" for c in reasons] + \
        [f"container {c['container_name']}: last exit code 137 (killed)" for c in exits]
    fix = ("The container used more host memory than its limit (loading the weights goes through host RAM). Give the "
           "vLLM container more memory: on the custom-image path raise custom_image.memory_gib in deployment.yaml "
           "(render-custom reads it) and render the upgrade; on the registry path run fewer instances per node "
           "(spcs-llm workers) or choose a family with more memory.")
    return Finding("oom_killed", "container OOMKilled (host memory)", 0.92 if lines or reasons else 0.6, proof, fix,
                   ["spcs-llm render-custom --part upgrade --dry-run", "spcs-llm workers --help"])


def shm_nccl(ev: Evidence) -> Finding | None:
    lines = _grep(ev, r"/dev/shm", r"ncclSystemError", r"NCCL error.*unhandled system error", r"ncclShmOpen",
                  r"Bus error")
    if not lines:
        return None
    tp = _plan(ev, "selection.tensor_parallel_size")
    fix = ("NCCL could not allocate shared memory: with tensor parallelism (TP > 1) the GPUs exchange data through "
           "/dev/shm, and the container's default is small. Mount a memory volume at /dev/shm: on the custom-image "
           "path set custom_image.shm_gib in deployment.yaml (render-custom mounts it) and render the upgrade; on the "
           "registry path use TP=1 on a GPU that fits, or the custom-image path.")
    if tp:
        fix += f" The plan uses TP={tp}."
    return Finding("shm_nccl", "/dev/shm or NCCL failure with tensor parallelism", 0.85, _show(lines), fix,
                   ["spcs-llm render-custom --part upgrade --dry-run"])


_TP_HEADS = re.compile(r"Total number of attention heads \((\d+)\) must be divisible by tensor parallel size \((\d+)\)")


def tp_heads(ev: Evidence) -> Finding | None:
    lines = _grep(ev, _TP_HEADS.pattern)
    if not lines:
        return None
    match = _TP_HEADS.search(lines[-1].text)
    heads, tp = int(match.group(1)), int(match.group(2))
    gpus = _plan(ev, "selection.gpu_count") or tp
    valid = [n for n in range(1, max(gpus, 1) + 1) if heads % n == 0]
    fix = (f"The model has {heads} attention heads, which TP={tp} does not divide. Valid TP sizes on this node: "
           f"{', '.join(map(str, valid))}. Record one with spcs-llm select, then upgrade the service.")
    family = _plan(ev, "selection.instance_family") or "<family>"
    return Finding("tp_heads", "tensor parallel size does not divide the attention heads", 0.95, _show(lines), fix,
                   [f"spcs-llm select --family {family} --tp {max(valid)}"], {"heads": heads, "tp": tp,
                                                                               "valid_tp": valid})


def dtype_unsupported(ev: Evidence) -> Finding | None:
    lines = _grep(ev, r"Bfloat16 is only supported on GPUs with compute capability of at least 8\.0")
    if not lines:
        return None
    fix = ("The GPU (compute capability below 8.0, e.g. a T4) has no bfloat16: vLLM needs --dtype half. Record the "
           "account's real GPUs with spcs-llm pools and re-plan: sizing on a T4 family adds --dtype half to the "
           "vLLM arguments. Or choose an A10G/L4/A100 family.")
    return Finding("dtype_unsupported", "bfloat16 on a GPU without it", 0.95, _show(lines), fix,
                   ["spcs-llm pools --dry-run", "spcs-llm plan --replan --format prompt"])


_QUANT = re.compile(r"quantization method (\w+) is not supported for the current GPU\. Minimum capability: (\d+)\. "
                    r"Current capability: (\d+)", re.IGNORECASE)


def quantization_unsupported(ev: Evidence) -> Finding | None:
    lines = _grep(ev, _QUANT.pattern, r"Quantization scheme is not supported for", r"FP8 MoE models only on")
    if not lines:
        return None
    facts = {}
    match = _QUANT.search(lines[-1].text)
    if match:
        facts = {"method": match.group(1), "minimum_capability": int(match.group(2)),
                 "current_capability": int(match.group(3))}
    fix = ("This GPU cannot run the model's quantization kernels. Use a quantization the GPU supports (AWQ or GPTQ "
           "on T4; FP8 needs Ada/Hopper for full speed) or a family with a newer GPU; re-plan and upgrade.")
    return Finding("quantization_unsupported", "quantization not supported on this GPU", 0.93, _show(lines), fix,
                   ["spcs-llm plan --replan --quantization awq", "spcs-llm plan --replan --format prompt"], facts)


# -- image, network, Hugging Face ---------------------------------------------------------------

def image_pull(ev: Evidence) -> Finding | None:
    lines = _grep(ev, r"Failed to pull image", r"FailedToPullImage", r"image name uses an invalid format")
    pending = [c for c in ev.metrics.get("containers", []) if c.get("pending_reason") == "FailedToPullImage"]
    if not lines and not pending:
        return None
    lines = _show(lines) + [f"metrics: {c['container_name']} pending: FailedToPullImage" for c in pending]
    fix = ("SPCS cannot pull the container image: the path in the spec does not match an image in the repository "
           "(SHOW IMAGES IN IMAGE REPOSITORY), or the service owner role lacks READ on the repository. Push the image "
           "again (deploy-custom-image playbook, image step) and check the image path the spec names.")
    return Finding("image_pull", "image pull failed", 0.93, lines, fix,
                   ["spcs-llm image --help", "spcs-llm render-custom --part upgrade --dry-run"])


# host='huggingface.co' (repr'd inside another message it reads host=\'huggingface.co\')
_HOST = re.compile(r"host=\\?'([^'\\]+)|Failed to resolve \\?'([^'\\]+)|connect to '?https?://([^/'\s]+)",
                   re.IGNORECASE)


def egress_blocked(ev: Evidence) -> Finding | None:
    lines = _grep(ev, r"Max retries exceeded", r"Failed to establish a new connection",
                  r"Temporary failure in name resolution", r"Failed to resolve \\?'", r"couldn't connect to 'https?://",
                  r"Network is unreachable")
    denied = ev.metrics.get("egress_denied_packets") or {}
    if not (lines or denied) or _grep(ev, r"401 Client Error", r"403 Client Error", r"gated repo"):
        return None  # a 401/403 from the hub means the network reached it
    hosts = sorted({next(g for g in m.groups() if g) for line in lines for m in _HOST.finditer(line.text)})
    where = ", ".join(hosts) or "the weight host"
    fix = (f"The container cannot reach {where}: SPCS has no internet access unless the service has an external "
           "access integration whose network rule lists the host. On the custom-image path add it with "
           f"render-custom --extra-egress-host {hosts[0] if hosts else '<host>'} and run its egress part; on the "
           "registry path log the model from a downloaded folder (deploy-registry --snapshot-dir) or use "
           "the custom-image path.")
    proof = _show(lines) + [f"metrics: instance {i} had {n} egress packets denied by network policy"
                            for i, n in denied.items()]
    return Finding("egress_blocked", f"egress blocked to {where}", 0.88 if lines else 0.6, proof, fix,
                   [f"spcs-llm render-custom --extra-egress-host {hosts[0] if hosts else '<host>'} --part egress "
                    "--dry-run"], {"hosts": hosts})


def gated_no_token(ev: Evidence) -> Finding | None:
    lines = _grep(ev, r"GatedRepoError", r"Cannot access gated repo", r"You are trying to access a gated repo",
                  r"Access to model \S+ is restricted")
    if not lines:
        return None
    fix = ("The model is gated on Hugging Face and the download had no token (401) or the token's account was not "
           "granted access (403). Accept the model's licence on huggingface.co, keep the token in a Snowflake SECRET "
           "(never in chat) and pass its name: deploy-registry --hf-secret <secret> or render-custom --hf-secret "
           "<secret>.")
    return Finding("gated_no_token", "gated model without a (valid) Hugging Face token", 0.93, _show(lines), fix,
                   ["spcs-llm deploy-registry --hf-secret HF_TOKEN", "spcs-llm render-custom --hf-secret HF_TOKEN"])


# -- Snowflake: capacity, probes, states -------------------------------------------------------

def no_capacity(ev: Evidence) -> Finding | None:
    pool = ev.pool or {}
    code = str(pool.get("error_code") or "")
    lines = _grep(ev, r"CAPACITY_ERROR", r"maximum node limit", r"\b39250[78]\b")
    if not (lines or code in ("392507", "392508")):
        return None
    proof = _show(lines) + ([f"compute pool {pool.get('name')}: error_code {code}: {pool.get('status_message')}"]
                            if code else [])
    max_nodes = code == "392508" or any("maximum node limit" in line.text for line in lines)
    if max_nodes:
        fix = ("The compute pool is at MAX_NODES and the service's instances do not fit on its nodes: raise the "
               "pool's MAX_NODES (ALTER COMPUTE POOL ... SET MAX_NODES), or lower the service's instances.")
    else:
        fix = ("The cloud has no capacity for this GPU family right now (CAPACITY_ERROR). Wait and let the pool retry, "
               "or choose another family the account offers (spcs-llm pools, then choose-hardware).")
    return Finding("no_capacity", "no GPU capacity, or the pool is at MAX_NODES", 0.9, proof, fix,
                   ["spcs-llm pools --dry-run", "spcs-llm plan --replan --format prompt"], {"max_nodes": max_nodes})


def readiness_failing(ev: Evidence) -> Finding | None:
    lines = _grep(ev, r"Readiness probe is failing")
    if not lines:
        return None
    loading = bool(_loading_lines(ev))
    fix = ("The readiness probe gets no HTTP 200 yet. While the model loads this is expected (see 'loading'); if it "
           "lasts after the logs say the server started, the probe path or port in the spec does not match the "
           "server (the custom image serves its health route on the proxy port).")
    return Finding("readiness_failing", "readiness probe failing", 0.45 if loading else 0.7, _show(lines), fix,
                   [f"spcs-llm logs{_service_flag(ev)} --grep 'startup|health|error'"])


def suspended(ev: Evidence) -> Finding | None:
    status = str(ev.service_status or "").upper()
    lines = _grep(ev, r"Service has suspended", r"Service is suspending")
    if status not in ("SUSPENDED", "SUSPENDING") and not (lines and not status):
        return None
    proof = ([f"service status {status}"] if status else []) + _show(lines)
    fix = ("The service is suspended (by hand, or by its AUTO_SUSPEND_SECS): it bills nothing and answers nothing. "
           "Resume it (ALTER SERVICE ... RESUME, or with AUTO_RESUME a call wakes it); the model loads again, which "
           "takes minutes.")
    return Finding("suspended", "service suspended", 0.95 if status else 0.6, proof, fix,
                   [f"spcs-llm status{_status_flags(ev)} --wait"])


def crash_loop(ev: Evidence) -> Finding | None:
    looping = [c for c in ev.containers if int(c.get("restart_count") or 0) >= CRASH_LOOP_RESTARTS
               and (str(c.get("status")).upper() == "FAILED" or c.get("last_exit_code") not in (None, 0))]
    failed_events = [e for e in ev.events if str(e.get("status")).upper() == "FAILED"
                     and "container" in str(e.get("event_name") or "container").lower()]
    restarts = [c for c in ev.metrics.get("containers", []) if (c.get("restarts") or 0) >= CRASH_LOOP_RESTARTS]
    if not (looping or len(failed_events) >= CRASH_LOOP_RESTARTS or restarts):
        return None
    proof = [f"container {c['container_name']}: {c.get('status')}, {c.get('restart_count')} restarts, last exit "
             f"{c.get('last_exit_code')}" for c in looping]
    proof += [f"event: {e.get('status')} {e.get('message')}" for e in failed_events[-3:]]
    proof += [f"metrics: {c['container_name']} restarted {c['restarts']:g} times" for c in restarts]
    fix = ("A container keeps exiting and SPCS keeps restarting it, while the pool bills. The reason is in the log "
           "of the run that crashed (the previous run); the other findings name it when they match. Read it, and "
           "suspend the service while you fix the plan if the fix takes a while.")
    return Finding("crash_loop", "crash loop (restarts rising)", 0.75, proof, fix,
                   [f"spcs-llm logs{_service_flag(ev)} --tail 80"])


def provisioning(ev: Evidence) -> Finding | None:
    lines = _grep(ev, r"Compute pool node\(s\) are being provisioned", r"provisioning in progress",
                  r"Compute pool is starting")
    state = str((ev.pool or {}).get("state") or "").upper()
    if not lines and state not in ("STARTING", "RESIZING"):
        return None
    if ev.containers and all(str(c.get("status")).upper() == "READY" for c in ev.containers) and \
            not any("provisioning in progress" in line.text for line in lines):
        return None  # provisioned since
    proof = _show(lines) + ([f"compute pool state {state}"] if state in ("STARTING", "RESIZING") else [])
    proof += _pool_nodes(ev)
    fix = ("Not a failure yet: a GPU node is being provisioned (this can take many minutes), or the endpoint's "
           "URL is being assigned. Wait with status --wait (it returns within 9 minutes; run it again to keep "
           "waiting). Past 30 minutes it is no longer a normal start: read events --since 6h and the pool line "
           "above, then hand diagnose --json to Snowflake support, or tear it down (manage playbook) rather than "
           "let the pool bill.")
    return Finding("provisioning", "still provisioning", 0.5, proof, fix,
                   [f"spcs-llm status{_status_flags(ev)} --wait"])


def _pool_nodes(ev: Evidence) -> list[str]:
    """The pool's node counts (DESCRIBE COMPUTE POOL): a container waiting for a node on a pool whose nodes are
    all up is not the usual cold start, and the line tells the user what bills meanwhile."""
    pool = ev.pool or {}
    if pool.get("active_nodes") is None or pool.get("target_nodes") is None:
        return []
    return [f"compute pool {pool.get('name')}: {pool.get('state')}, {pool.get('active_nodes')} of "
            f"{pool.get('target_nodes')} node(s) active"]


_ERROR_LINE = re.compile(r"\bERROR\b|\bCRITICAL\b|\bFATAL\b|Traceback|\w+(Error|Exception)\b:?")


def container_failed(ev: Evidence) -> Finding | None:
    """A FAILED container below the crash-loop count: status calls the service `restarting`, so say which
    container, what its crashed run logged, and whether it only follows from another one still waiting."""
    failed = [c for c in ev.containers if str(c.get("status")).upper() == "FAILED"
              and int(c.get("restart_count") or 0) < CRASH_LOOP_RESTARTS]
    if not failed:
        return None
    proof = []
    for c in failed:
        name = c.get("container_name")
        proof.append(f"container {name}: FAILED, {c.get('restart_count') or 0} restarts, last exit "
                     f"{c.get('last_exit_code')}: {c.get('message')}")
        for run in ("previous", "current"):
            errors = [line for line in ev.lines if line.source == f"{name} {run} run" and _ERROR_LINE.search(line.text)]
            if errors:
                proof += _show(errors[-3:])
                break
    names = {c.get("container_name") for c in failed}
    waiting = [c for c in ev.containers if c.get("container_name") not in names
               and str(c.get("status")).upper() not in ("READY", "FAILED", "DONE")]
    if waiting:
        other = ", ".join(f"{c.get('container_name')} ({c.get('status')}: {c.get('message')})" for c in waiting)
        fix = (f"{', '.join(sorted(map(str, names)))} failed while {other} has not started. A container that needs "
               "the other one (a proxy in front of the model server) fails until it runs, so follow the finding "
               "about the waiting container first; if this one still fails once the others are READY, its log "
               "above is the cause.")
        confidence = 0.45
    else:
        fix = ("A container exited with an error and SPCS restarted it (not yet a crash loop). The lines above, from "
               "the run that failed, say why; read more of its log.")
        confidence = 0.6
    return Finding("container_failed", "a container failed", confidence, proof, fix,
                   [f"spcs-llm logs{_service_flag(ev)} --tail 80"])


def _loading_lines(ev: Evidence) -> list[Line]:
    progress = re.compile(r"Loading safetensors checkpoint shards|Starting to load model|Loading model weights|"
                          r"Downloading|Loading weights took|Model loading took", re.IGNORECASE)
    started = re.compile(r"Application startup complete|Uvicorn running on", re.IGNORECASE)
    last_progress = max((i for i, line in enumerate(ev.lines) if progress.search(line.text)), default=None)
    if last_progress is None:
        return []
    if any(started.search(line.text) for line in ev.lines[last_progress:]):
        return []
    return [line for line in ev.lines if progress.search(line.text)][-3:]


def loading(ev: Evidence) -> Finding | None:
    lines = _loading_lines(ev)
    if not lines:
        return None
    fix = ("Not a failure: vLLM is downloading or loading the weights (large models take many minutes; the readiness "
           "probe fails until it finishes). Follow it with status --wait, or read the progress with logs.")
    return Finding("loading", "model loading (progress in the logs)", 0.4, _show(lines), fix,
                   [f"spcs-llm status{_status_flags(ev)} --wait",
                    f"spcs-llm logs{_service_flag(ev)} --grep 'Loading|took'"])


SIGNATURES = (kv_cache_too_small, cuda_oom, oom_killed, shm_nccl, tp_heads, dtype_unsupported,
              quantization_unsupported, image_pull, egress_blocked, gated_no_token, no_capacity, readiness_failing,
              suspended, crash_loop, container_failed, provisioning, loading)
# Failures that explain everything else: when one matches, "still loading" and "provisioning" are not news.
_ROOT_CAUSES = {"kv_cache_too_small", "cuda_oom", "oom_killed", "shm_nccl", "tp_heads", "dtype_unsupported",
                "quantization_unsupported", "image_pull", "egress_blocked", "gated_no_token", "no_capacity"}


def match(ev: Evidence) -> list[Finding]:
    """Every signature that matches, most likely first."""
    findings = [f for f in (signature(ev) for signature in SIGNATURES) if f is not None]
    if any(f.cause in _ROOT_CAUSES for f in findings):
        findings = [f for f in findings if f.cause not in ("loading", "provisioning")]
    return sorted(findings, key=lambda f: -f.confidence)
