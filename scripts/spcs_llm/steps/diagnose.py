"""Diagnose a failing service: gather its status (containers, restarts, last exits), the logs of
the current and the previous run of every container, platform events, metrics, the compute pool
and the plan, then match them against known failure signatures (vLLM start-up errors, CUDA and
host OOM, NCCL/shm, image pulls, egress, gated models, capacity, probes, suspension, crash loops,
provisioning, slow loading). Each finding has its evidence lines, a confidence and a fix the
pack's steps apply, most likely first; a healthy service gets none. --from-file PATH (repeatable)
reads saved or pasted evidence instead (log text, a SHOW SERVICE CONTAINERS table, SPCS_GET_EVENTS
rows, the --json of logs/events/metrics/status), with no connection. A KV cache too small for
max_model_len records the logged token count in the plan (observed.kv_cache) unless --no-record.
Exit codes: 0 nothing matched (healthy as far as the evidence shows), 1 findings, 2 bad input,
3 nothing could be read."""

from __future__ import annotations

from ..debug import evidence as evidence_module
from ..debug import signatures, target, window
from ..errors import EXIT_ENVIRONMENT, EXIT_NEGATIVE, SpcsLlmError
from ..output import StepResult

OFFLINE_FLAGS = ("--from-file",)  # reading saved evidence never connects (skills_check.commands.touches_account)


def add_arguments(parser) -> None:
    target.add_target_arguments(parser, since_help="window of event-table logs, events and metrics to read")
    parser.add_argument("--from-file", action="append", default=[], metavar="PATH",
                        help="read evidence from a file instead of the account (repeatable): log text, a pasted "
                             "SHOW SERVICE CONTAINERS table, SPCS_GET_EVENTS/METRICS rows as JSON, or the --json of "
                             "logs, events, metrics or status")
    parser.add_argument("--no-record", action="store_true",
                        help="do not record a logged KV cache size in the plan (observed.kv_cache)")


def run(args) -> StepResult:
    minutes = window.minutes(args.since)
    problems: list[str] = []
    refused: list[str] = []
    if args.from_file:
        ev, mode, statements = _from_files(args), "files", []
    else:
        ev, mode, statements, problems, refused = _live(args, minutes)
    plan_path = args.plan
    if not ev.sources:
        raise SpcsLlmError("no evidence to diagnose", hint="pass --from-file PATH or a service to read")
    findings = signatures.match(ev)
    notes = _record_kv(findings, ev, plan_path, dry_run=args.dry_run or args.no_record or ev.plan is None)
    # Refused logs or events mean the evidence is partial: never call that healthy.
    unreadable = mode not in ("files", "dry-run") and (bool(refused) or (
        not ev.lines and not ev.events and not ev.containers and ev.service_status is None))
    missing = sorted({_hint(text) for text in refused})
    data = {"service": ev.service, "mode": mode, "sources": ev.sources, "findings": [f.as_dict() for f in findings],
            "healthy": not findings and not unreadable, "refused": refused, "missing_privileges": missing,
            "problems": problems, "notes": notes, "statements": statements}
    if mode == "dry-run":
        exit_code = 0
    elif unreadable and not findings:
        exit_code = EXIT_ENVIRONMENT
    else:
        exit_code = EXIT_NEGATIVE if findings else 0
    return StepResult(data=data, text=_text(data), exit_code=exit_code)


def _from_files(args):
    ev = evidence_module.Evidence()
    for path in args.from_file:
        evidence_module.read_file(ev, path)
    ev.plan = _plan(args)
    ev.connection = args.connection
    try:
        ev.service = target.service_fqn(args)[0]
    except SpcsLlmError:
        ev.service = ev.service  # a status --json may have named it
    return ev


def _plan(args):
    from ..snowflake.targets import load_plan_optional

    return load_plan_optional(args.plan)


def _live(args, minutes: int):
    from ..debug import collect
    from ..snowflake.access import SqlRunner
    from . import events as events_step
    from . import logs as logs_step
    from . import metrics as metrics_step

    service, plan = target.service_fqn(args)
    ev = evidence_module.Evidence(service=service, plan=plan, connection=args.connection)
    refused: list[str] = []
    with SqlRunner.from_args(args) as runner:
        row, missing = collect.service_row(runner, service)
        problems: list[str] = [missing] if missing else []
        ev.sources.append("DESCRIBE SERVICE")
        ev.service_status = str((row or {}).get("status") or "").upper() or None
        logs = logs_step.read(runner, service, minutes=minutes, lines=collect.DEFAULT_LOG_LINES)
        ev.containers = logs["containers"]
        for record in logs["container_logs"]:
            where = f"{record['container_name']} {record['run']} run"
            ev.add_log(where, record["lines"])
            _note_source(ev, problems, refused, f"logs {where}", record)
        for key in ("event_logs", "event_table"):
            if logs[key]:
                ev.add_log(logs[key]["source"], logs_step.lines_of(logs[key]))
                _note_source(ev, problems, refused, logs[key]["source"], logs[key])
        events = events_step.read(runner, service, minutes=minutes)
        ev.events = events["events"]
        for key in ("spcs_get_events", "event_table"):
            if events[key]:
                _note_source(ev, problems, refused, events[key]["source"], events[key])
        if row is not None:
            metrics = metrics_step.read(runner, service, minutes=minutes)
            ev.metrics = {"containers": metrics["containers"], "gpus": metrics["gpus"],
                          "egress_denied_packets": metrics["egress_denied_packets"]}
            _note_source(ev, problems, refused, "spcs_get_metrics", metrics["source"])
            if row.get("compute_pool"):
                ev.pool, why = collect.compute_pool(runner, str(row["compute_pool"]))
                ev.sources.append("DESCRIBE COMPUTE POOL")
                problems += [why] if why else []
        mode, statements = runner.mode, runner.statements
    return ev, mode, statements, problems, refused


def _note_source(ev, problems: list[str], refused: list[str], name: str, record: dict) -> None:
    """Name what was read; keep each distinct error once (the same missing grant refuses every query)."""
    ev.sources.append(name)
    if record.get("error"):
        (refused if record.get("refused") else problems).append(f"{name}: {record['error']}")


def _record_kv(findings, ev, plan_path: str, *, dry_run: bool) -> list[str]:
    """kv_cache_too_small: the logged token count is the truth for this configuration; keep it in the plan."""
    from .. import observed, plan_file

    notes = []
    for finding in findings:
        tokens = finding.facts.get("kv_cache_tokens") if finding.cause == "kv_cache_too_small" else None
        if not tokens:
            continue
        if dry_run:
            notes.append(f"vLLM logged {tokens} KV cache tokens; not recorded in the plan (dry run, --no-record or no "
                         "plan): the plan --replan command below records it")
            continue
        try:
            where = finding.evidence[0].split(":", 1)[0] if finding.evidence else "evidence"
            observed.record_observed_kv(ev.plan, tokens, source=f"spcs-llm diagnose ({where})")
        except SpcsLlmError as err:
            notes.append(f"vLLM logged {tokens} KV cache tokens; not recorded: {err.message}")
            continue
        plan_file.save(ev.plan, plan_path)
        finding.facts["recorded_in_plan"] = True
        notes.append(f"recorded in {plan_path}: vLLM's KV cache holds {tokens} tokens on this configuration; sizing "
                     "uses it from now on")
    return notes


def _hint(text: str) -> str:
    """The privilege part of a refusal ('your role needs ...'), else the message."""
    return text[text.index("(your role") + 1:].rstrip(")") if "(your role" in text else text


def _text(data: dict) -> str:
    out = [f"{data['service'] or 'evidence'}: diagnose ({data['mode']}; read: {', '.join(data['sources']) or '-'})"]
    out += [f"refused: {hint}" for hint in data["missing_privileges"]]
    out += [f"could not read: {problem}" for problem in data["problems"]]
    if data["mode"] == "dry-run" and not data["findings"]:
        out.append("dry run: nothing was read, so nothing can match")
    elif data["mode"] == "dry-run":  # SPCS_LLM_REPLAY_DIR answers a dry run too
        out.append("dry run: the findings below come from the replayed recordings, not the account")
    elif not data["findings"]:
        out.append("no known failure matches: the service looks healthy from this evidence" if data["healthy"]
                   else "cannot tell: the logs and events could not be read (see 'refused' above)")
    for index, finding in enumerate(data["findings"], 1):
        out += ["", f"{index}. {finding['cause']} (confidence {finding['confidence']:.2f}): {finding['title']}"]
        out += ["   evidence:"] + [f"     {line}" for line in finding["evidence"]]
        out += [f"   fix: {finding['fix']}"]
        out += [f"   run: {command}" for command in finding["commands"]]
    out += [f"note: {note}" for note in data["notes"]]
    return "\n".join(out)
