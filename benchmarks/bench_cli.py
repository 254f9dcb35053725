#!/usr/bin/env python3
"""Cold-process wall time of the offline steps against `python -c pass` on the same machine.

Goal (issue: foundation): median of `spcs-llm plan` and `spcs-llm size` under 0.3 s. Each run is a
fresh process, as an assistant runs them. Also checks that no Snowflake library was imported (the
bare `snowflake` namespace that snowpark's .pth file creates at interpreter start does not count).

    python benchmarks/bench_cli.py [--runs 15] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
GOAL_S = 0.3
CASES = {
    "python -c pass": [sys.executable, "-c", "pass"],
    "spcs-llm plan": [sys.executable, str(ROOT / "scripts" / "plan.py"), "--model", "Qwen/Qwen2.5-7B-Instruct",
                      "--cloud", "aws", "--no-write", "--json"],
    "spcs-llm size": [sys.executable, str(ROOT / "scripts" / "size.py"), "--model", "meta-llama/Llama-3.1-70B-Instruct",
                      "--gpu", "A100-80GB", "--tp", "4", "--gpu-memory-utilization", "0.9", "--max-model-len", "32768",
                      "--json"],
}
IMPORT_CHECK = ("import sys, runpy; sys.argv = {argv!r}; sys.path.insert(0, {scripts!r})\n"
                "try:\n    runpy.run_path({script!r}, run_name='__main__')\n"
                "except SystemExit:\n    pass\n"
                "bad = sorted(m for m in sys.modules if m.startswith('snowflake.'))\n"
                "sys.stderr.write('SNOWFLAKE_MODULES=' + ','.join(bad))\n")


def time_runs(cmd: list[str], runs: int) -> list[float]:
    out = []
    with tempfile.TemporaryDirectory() as cwd:
        for _ in range(runs):
            start = time.perf_counter()
            proc = subprocess.run(cmd, cwd=cwd, capture_output=True, env=os.environ.copy())
            out.append(time.perf_counter() - start)
            if proc.returncode not in (0, 1):
                raise SystemExit(f"{' '.join(cmd)} failed ({proc.returncode}): {proc.stderr.decode()[-500:]}")
    return out


def snowflake_modules(cmd: list[str]) -> list[str]:
    script, *argv = cmd[1:]
    code = IMPORT_CHECK.format(argv=[script, *argv], scripts=str(ROOT / "scripts"), script=script)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    line = next((x for x in proc.stderr.splitlines() if x.startswith("SNOWFLAKE_MODULES=")), "SNOWFLAKE_MODULES=")
    return [m for m in line.split("=", 1)[1].split(",") if m]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    results = {}
    for name, cmd in CASES.items():
        times = time_runs(cmd, args.runs)
        results[name] = {"median_s": round(statistics.median(times), 4), "min_s": round(min(times), 4),
                         "max_s": round(max(times), 4), "runs": args.runs}
        if name != "python -c pass":
            results[name]["snowflake_modules_imported"] = snowflake_modules(cmd)
    baseline = results["python -c pass"]["median_s"]
    ok = True
    for name, row in results.items():
        row["over_baseline_s"] = round(row["median_s"] - baseline, 4)
        if name != "python -c pass":
            row["goal_s"] = GOAL_S
            row["meets_goal"] = row["median_s"] < GOAL_S and not row["snowflake_modules_imported"]
            ok &= row["meets_goal"]
    if args.json:
        print(json.dumps(results, indent=2))
    else:
        print(f"{'command':<16} {'median s':>9} {'min s':>7} {'max s':>7} {'over python':>12}  goal")
        for name, row in results.items():
            goal = "" if "goal_s" not in row else ("ok" if row["meets_goal"] else "MISSED")
            print(f"{name:<16} {row['median_s']:>9.3f} {row['min_s']:>7.3f} {row['max_s']:>7.3f} "
                  f"{row['over_baseline_s']:>12.3f}  {goal}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
