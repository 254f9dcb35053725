"""The Model Registry + vLLM deployment path: what `deploy-registry` renders and runs, and the
snippets `usage` prints.

- engine_args.py: the vLLM arguments for create_service, checked against Snowflake's block-list.
- spec.py: DeploySpec, everything the rendered script needs, read from the plan and validated.
- script.py: renders the standalone deployment script (render/templates/registry/).
- launch.py: starts the script in the background with its output in a log file.
- usage.py: SQL, Python and REST snippets for a deployed service.

Nothing here imports the Snowflake libraries: the rendered script does, when it runs.
"""
