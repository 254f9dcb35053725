"""Walk pick1 (Azure West Europe, English and German letters): Azure's own region id was refused, and
--language de dropped every Qwen model (catalog tag multilingual-N), leaving only 4-bit Mixtral uploads."""

from __future__ import annotations

import json

from spcs_llm.cli import main


def run(capsys, *argv):
    code = main([*argv, "--json"])
    captured = capsys.readouterr()
    return code, (json.loads(captured.out) if captured.out.strip() else None), captured.err


def test_azure_region_ids_are_accepted_and_spelled_like_display_names(capsys):
    code, ids, _ = run(capsys, "models", "--task", "chat", "--cloud", "azure", "--region", "northeurope")
    assert code == 0
    _, names, _ = run(capsys, "models", "--task", "chat", "--cloud", "azure", "--region", "North Europe")
    # GPU_NV_3M is not offered in North Europe: both spellings must exclude it the same way
    assert [m["cheapest_family"] for m in ids["models"]] == [m["cheapest_family"] for m in names["models"]]
    assert "GPU_NV_3M" not in {m["cheapest_family"] for m in ids["models"]}
    assert run(capsys, "models", "--cloud", "azure", "--region", "westeurope")[0] == 0


def test_an_unknown_region_hint_names_the_azure_spellings(capsys):
    code, _, err = run(capsys, "models", "--cloud", "azure", "--region", "west-europe")
    assert code == 2 and "'West Europe'" in err and "westeurope" in err


def test_language_filter_keeps_multilingual_models_and_marks_them(capsys):
    code, data, _ = run(capsys, "models", "--task", "chat", "--licence", "apache", "--open", "--language", "de")
    assert code == 0
    rows = {m["id"]: m for m in data["models"]}
    assert rows["Qwen/Qwen2.5-14B-Instruct"]["language_unlisted"] is True
    listed = rows["TheBloke/Mixtral-8x7B-Instruct-v0.1-AWQ"]
    assert listed["language_unlisted"] is False
    # an English-only model stays out
    assert "openai/gpt-oss-20b" not in rows
    main(["models", "--task", "chat", "--licence", "apache", "--open", "--language", "de", "--format", "prompt"])
    assert 'the catalog does not list de for them' in capsys.readouterr().out


def test_permissive_only_is_one_licence_filter(capsys):
    code, data, _ = run(capsys, "models", "--task", "chat", "--licence", "apache,mit", "--open")
    licences = {m["licence"] for m in data["models"]}
    assert code == 0 and licences == {"apache-2.0", "mit"}
