"""Debugging a deployed service: the evidence (logs, events, metrics, container states) the
`logs`, `events`, `metrics` and `status` steps read, and the failure signatures `diagnose`
matches against it. Nothing here imports the Snowflake libraries: evidence read from files
(`diagnose --from-file`) needs no connection."""
