"""Template normalization: every family parses to the same canonical messages."""

from __future__ import annotations

import pytest

from pipeline.core.hashing import content_id
from pipeline.template_normalization.templates import (
    TEMPLATE_FAMILIES,
    TemplateError,
    detect_family,
    parse_prompt,
    parse_prompts,
    render_prompt,
    split_hh_transcript,
)

SINGLE = [{"role": "user", "content": "Write a haiku about dedup."}]
WITH_SYSTEM = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "What is DPO?"}]
MULTI = [
    {"role": "system", "content": "You are terse."},
    {"role": "user", "content": "Hi there"},
    {"role": "assistant", "content": "Hello!"},
    {"role": "user", "content": "Explain KTO\nin one line."},
]
MULTI_FAMILIES = ("chatml", "llama-3", "llama-2", "hh")


@pytest.mark.parametrize("family", TEMPLATE_FAMILIES)
def test_single_turn_round_trips_in_every_family(family):
    text = render_prompt(SINGLE, family)
    parsed = parse_prompt({"text": text, "template": family})
    assert parsed.messages == SINGLE
    assert parsed.template_id == family


@pytest.mark.parametrize("family", MULTI_FAMILIES)
def test_multi_turn_with_system_round_trips(family):
    assert parse_prompt({"text": render_prompt(MULTI, family), "template": family}).messages == MULTI


@pytest.mark.parametrize("family", ("chatml", "llama-3", "llama-2", "hh", "alpaca"))
def test_system_preamble_round_trips(family):
    assert parse_prompt({"text": render_prompt(WITH_SYSTEM, family), "template": family}).messages == WITH_SYSTEM


def test_same_conversation_in_every_family_has_one_prompt_hash():
    hashes = {content_id(parse_prompt({"text": render_prompt(SINGLE, f), "template": f}).messages)
              for f in TEMPLATE_FAMILIES}
    hashes.add(content_id(parse_prompt({"messages": SINGLE}).messages))
    assert len(hashes) == 1


@pytest.mark.parametrize("family", ("chatml", "llama-3", "llama-2", "hh", "alpaca"))
def test_autodetect_finds_the_family(family):
    text = render_prompt(SINGLE, family)
    assert detect_family(text) == family
    assert parse_prompt({"text": text}).template_id == family


def test_aliases_and_crlf_are_canonicalized():
    text = "<|im_start|>user\r\n  Hello\r\nworld  <|im_end|>\r\n<|im_start|>assistant\n"
    assert parse_prompt({"text": text, "template": "ChatML".lower()}).messages == [
        {"role": "user", "content": "Hello\nworld"}]
    assert parse_prompt({"text": render_prompt(SINGLE, "llama-3"), "template": "llama3"}).template_id == "llama-3"


def test_unknown_template_without_markup_is_rejected():
    with pytest.raises(TemplateError) as err:
        parse_prompt({"text": "just words", "template": "vicuna-v9"})
    assert err.value.reason == "template_unknown"


def test_unknown_template_name_with_known_markup_is_autodetected():
    assert parse_prompt({"text": render_prompt(SINGLE, "chatml"), "template": "mystery"}).template_id == "chatml"


def test_malformed_markup_of_the_named_family_is_rejected():
    with pytest.raises(TemplateError) as err:
        parse_prompt({"text": "no instruction header here", "template": "alpaca"})
    assert err.value.reason == "template_malformed"


def test_structured_prompt_ending_with_assistant_is_rejected():
    with pytest.raises(TemplateError) as err:
        parse_prompt({"messages": MULTI[:3]})
    assert err.value.reason == "prompt_last_turn_not_user"


def test_bad_roles_and_empty_turns_are_rejected():
    with pytest.raises(TemplateError) as err:
        parse_prompt({"messages": [{"role": "tool", "content": "x"}, {"role": "user", "content": "y"}]})
    assert err.value.reason == "prompt_bad_role"
    with pytest.raises(TemplateError) as err:
        parse_prompt({"messages": [{"role": "user", "content": "   "}]})
    assert err.value.reason == "prompt_empty"


def test_hh_quirks_leading_newlines_and_stray_speaker_words():
    transcript = ("\n\nHuman: My notes say 'Human: be nice' and 'Assistant: ok'. What now?"
                  "\n\nAssistant: Keep them.\n\nHuman: Thanks\n\nAssistant: You're welcome.")
    messages = split_hh_transcript(transcript)
    assert [m["role"] for m in messages] == ["user", "assistant", "user", "assistant"]
    assert messages[0]["content"] == "My notes say 'Human: be nice' and 'Assistant: ok'. What now?"
    prompt = transcript[: transcript.rfind("\n\nAssistant:")] + "\n\nAssistant:"
    assert parse_prompt({"text": prompt, "template": "hh"}).messages == messages[:3]


def test_batch_parse_returns_errors_in_place():
    out = parse_prompts([{"messages": SINGLE}, {"text": "x", "template": "nope"}, "not a prompt"])
    assert out[0].messages == SINGLE
    assert isinstance(out[1], TemplateError) and out[1].reason == "template_unknown"
    assert isinstance(out[2], TemplateError)


def test_plain_and_alpaca_refuse_what_they_cannot_express():
    with pytest.raises(ValueError):
        render_prompt(MULTI, "plain")
    with pytest.raises(ValueError):
        render_prompt(MULTI, "alpaca")
