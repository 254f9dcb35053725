"""The Snowflake access layer: every statement the pack runs goes through here.

- config.py: which connection to use, resolved the way snowflake-connector-python resolves it.
- session.py: opens a Snowpark session for a resolved connection (the only Snowflake imports).
- access.py: SqlRunner, one per step run: query/execute, --dry-run, --yes, the statement log.
- replay.py: recorded responses (SPCS_LLM_REPLAY_DIR) so tests and playbook checks run offline.
- columns.py: the documented output columns of each statement kind, with their doc pages.
- args.py: the command-line flags every Snowflake-touching step shares.

Nothing here imports the Snowflake libraries at module import time.
"""
