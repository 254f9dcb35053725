"""Property-based tests of row parsing: valid shapes parse, garbage gives error values, nothing raises."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from spcs_llm.proxy.rows import Row, error_value, is_error_value, parse_row

json_scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20)
json_values = st.recursive(
    json_scalars,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=12,
)
indexes = st.integers(min_value=0, max_value=10**6)
# Plain prompts; text that looks like JSON is covered by its own test below.
prompts = st.text(min_size=1, max_size=50).filter(lambda t: t.strip() and t.strip()[0] not in "{[")
contents = st.text(max_size=30) | st.lists(st.fixed_dictionaries({"type": st.just("text"), "text": st.text()}),
                                           min_size=1, max_size=2)
messages = st.lists(
    st.fixed_dictionaries({"role": st.sampled_from(["system", "user", "assistant"]), "content": contents}),
    min_size=1, max_size=4,
)
chat_requests = st.fixed_dictionaries(
    {"messages": messages},
    optional={"temperature": st.floats(0, 2), "max_tokens": st.integers(1, 4096), "top_p": st.floats(0, 1)},
)
params = st.fixed_dictionaries(
    {}, optional={"max_tokens": st.integers(1, 4096), "temperature": st.floats(0, 2),
                  "return_format": st.sampled_from(["text", "full"]), "seed": st.integers()},
)
requests = prompts | messages | chat_requests | messages.map(json.dumps) | chat_requests.map(json.dumps)


def _expected_messages(request) -> list:
    if isinstance(request, str):
        if request.strip()[0] not in "{[":
            return [{"role": "user", "content": request}]
        request = json.loads(request)
    return request if isinstance(request, list) else request["messages"]


@settings(max_examples=200, deadline=None)
@given(index=indexes, request=requests, extra=st.none() | params | params.map(json.dumps))
def test_every_valid_row_shape_parses_to_a_chat_request(index, request, extra):
    row = [index, request] if extra is None else [index, request, extra]
    parsed = parse_row(row, position=0)
    assert parsed.index == index
    assert parsed.value is None
    assert parsed.request is not None
    assert parsed.request["messages"] == _expected_messages(request)
    assert "return_format" not in parsed.request and "stream" not in parsed.request
    wanted = (json.loads(extra) if isinstance(extra, str) else extra or {}).get("return_format", "text")
    assert parsed.full == (wanted == "full")
    for key, value in (json.loads(extra) if isinstance(extra, str) else extra or {}).items():
        if key != "return_format":
            assert parsed.request[key] == value


@settings(max_examples=300, deadline=None)
@given(row=json_values, position=st.integers(0, 1000))
def test_any_json_row_gives_a_row_and_never_raises(row, position):
    parsed = parse_row(row, position)
    assert isinstance(parsed, Row)
    if parsed.request is None:
        assert parsed.value is None or is_error_value(parsed.value)
    else:
        assert parsed.value is None and parsed.request["messages"]
    json.dumps(parsed.value)  # whatever comes back is JSON for Snowflake


not_a_request = (st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False)
                 | st.dictionaries(st.text(max_size=5).filter(lambda k: k != "messages"), json_values, max_size=3)
                 | st.just("") | st.just("   ") | st.just([]) | st.lists(json_scalars, min_size=1, max_size=3))


@settings(max_examples=200, deadline=None)
@given(index=indexes, bad=not_a_request.filter(lambda v: v is not None))
def test_garbage_requests_give_error_values(index, bad):
    parsed = parse_row([index, bad], position=3)
    assert parsed.request is None
    assert is_error_value(parsed.value) and parsed.value["error"]["code"] == "invalid_row"
    assert parsed.index == index


@settings(max_examples=200, deadline=None)
@given(index=indexes, prompt=prompts, bad=st.booleans() | st.integers() | st.lists(json_scalars, max_size=2)
       | st.text(min_size=1).filter(lambda t: t.strip() and not t.strip().startswith("{"))
       | st.fixed_dictionaries({"messages": messages}) | st.fixed_dictionaries({"stream": st.just(True)})
       | st.fixed_dictionaries({"return_format": st.text(max_size=5).filter(lambda t: t not in ("text", "full"))}))
def test_garbage_params_give_error_values(index, prompt, bad):
    parsed = parse_row([index, prompt, bad], position=0)
    assert is_error_value(parsed.value), (bad, parsed)


@settings(max_examples=200, deadline=None)
@given(position=st.integers(0, 1000), row=st.one_of(
    json_scalars, st.just([]), st.lists(json_values, min_size=1, max_size=3).filter(
        lambda r: not isinstance(r[0], int) or isinstance(r[0], bool))))
def test_rows_without_an_integer_index_are_answered_at_their_position(position, row):
    parsed = parse_row(row, position)
    assert parsed.index == position
    assert is_error_value(parsed.value)


@settings(max_examples=200, deadline=None)
@given(value=json_values.filter(lambda v: not (isinstance(v, dict) and "messages" in v)
                                and not (isinstance(v, list) and v and all(isinstance(m, dict) and "role" in m
                                                                           for m in v))))
def test_json_text_that_is_not_a_request_is_prompt_text(value):
    text = json.dumps(value)
    parsed = parse_row([0, text], 0)
    if text.strip():
        assert parsed.request == {"messages": [{"role": "user", "content": text}]}


def test_sql_null_request_is_null_without_a_call():
    assert parse_row([4, None], 0) == Row(4)
    assert parse_row([4, None, {"max_tokens": 5}], 0) == Row(4)


def test_wrong_argument_counts_and_deep_nesting_are_errors():
    assert is_error_value(parse_row([0], 0).value)
    assert is_error_value(parse_row([0, "a", {}, 1], 0).value)
    deep = "[" * 100_000 + "]" * 100_000
    assert parse_row([0, deep], 0).request == {"messages": [{"role": "user", "content": deep}]}
    nested: list = []
    for _ in range(5000):
        nested = [nested]
    assert is_error_value(parse_row([0, nested], 0).value)


def test_error_values_cannot_be_mistaken_for_answers():
    err = error_value("invalid_row", "why", 400)
    assert is_error_value(err) and not is_error_value("an answer") and not is_error_value({"choices": []})
    assert err == {"error": {"code": "invalid_row", "message": "why", "status": 400}}
