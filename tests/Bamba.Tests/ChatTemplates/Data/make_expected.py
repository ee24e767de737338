"""Regenerates cases.json: each case renders a real chat template with Python jinja2 configured exactly as
transformers' apply_chat_template does (ImmutableSandboxedEnvironment, trim_blocks, lstrip_blocks, loopcontrols,
tojson = json.dumps(ensure_ascii=False), raise_exception, strftime_now). The C# tests compare against it.
strftime_now is pinned to 2025-03-07 14:05:09 so expected strings do not depend on the day."""
import json, datetime
import jinja2, jinja2.ext
from jinja2.sandbox import ImmutableSandboxedEnvironment

FIXED_NOW = datetime.datetime(2025, 3, 7, 14, 5, 9)

class Raised(Exception):
    pass

def env():
    e = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=[jinja2.ext.loopcontrols])
    def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
        return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)
    def raise_exception(message):
        raise Raised(message)
    e.filters["tojson"] = tojson
    e.globals["raise_exception"] = raise_exception
    e.globals["strftime_now"] = lambda fmt: FIXED_NOW.strftime(fmt)
    return e

CHAT = [
    {"role": "system", "content": "You are a concise assistant.\n"},
    {"role": "user", "content": "  What is the capital of France?  "},
    {"role": "assistant", "content": "Paris. It has been the capital since 987 — \"la Ville Lumière\"."},
    {"role": "user", "content": "And of Japan? Answer in 日本語."},
]
NO_SYSTEM = CHAT[1:]
WEATHER_TOOL = {"type": "function", "function": {"name": "get_weather", "description": "Current weather at a place (°C).",
    "parameters": {"type": "object", "properties": {"city": {"type": "string", "description": "City name, e.g. Zürich"},
    "days": {"type": "integer", "minimum": 1, "maximum": 7.5}, "units": {"type": "string", "enum": ["c", "f"]}},
    "required": ["city"]}}}
TOOL_CHAT = [
    {"role": "user", "content": "Weather in Paris?"},
    {"role": "assistant", "content": None, "tool_calls": [{"type": "function", "function": {"name": "get_weather", "arguments": {"city": "Paris", "days": 2}}}]},
    {"role": "tool", "content": "{\"temp\": 21.5}"},
    {"role": "tool", "content": "sunny"},
]
QWEN_TOOL_CHAT = TOOL_CHAT[:1] + [{"role": "assistant", "content": "Let me check.", "tool_calls": TOOL_CHAT[1]["tool_calls"]}] + TOOL_CHAT[2:]
LLAMA_TOOL_CHAT = [
    {"role": "system", "content": "Be brief."},
    {"role": "user", "content": "Weather in Paris?"},
    {"role": "assistant", "tool_calls": [{"type": "function", "function": {"name": "get_weather", "arguments": {"city": "Paris"}}}]},
    {"role": "ipython", "content": "21 degrees"},
]
DOCS = [{"doc_id": 1, "text": "Paris is the capital of France."}, {"doc_id": "b", "text": "Tokyo is the capital of Japan."}]
SPECIAL = {"bos_token": "<|begin_of_text|>", "eos_token": "<|eot_id|>"}
MISTRAL_SPECIAL = {"bos_token": "<s>", "eos_token": "</s>"}
GRANITE_SPECIAL = {"bos_token": "<|end_of_text|>", "eos_token": "<|end_of_text|>"}

def cases():
    for gen in (False, True):
        yield "llama-3-8b-instruct", CHAT, gen, SPECIAL
        yield "llama-3.1-8b-instruct", CHAT, gen, SPECIAL
        yield "qwen2.5-0.5b-instruct", CHAT, gen, {}
        yield "granite-3.3-2b-instruct", CHAT, gen, GRANITE_SPECIAL
        yield "granite-3.0-2b-instruct", CHAT, gen, GRANITE_SPECIAL
        yield "mistral-7b-instruct", NO_SYSTEM, gen, MISTRAL_SPECIAL
    yield "llama-3.1-8b-instruct", NO_SYSTEM, True, dict(SPECIAL, date_string="07 Mar 2025")
    yield "llama-3.1-8b-instruct", CHAT, True, dict(SPECIAL, tools=[WEATHER_TOOL])
    yield "llama-3.1-8b-instruct", CHAT, True, dict(SPECIAL, tools=[WEATHER_TOOL], tools_in_user_message=False)
    yield "llama-3.1-8b-instruct", LLAMA_TOOL_CHAT, True, SPECIAL
    yield "llama-3.1-8b-instruct", LLAMA_TOOL_CHAT, True, dict(SPECIAL, builtin_tools=["brave_search", "code_interpreter", "wolfram_alpha"])
    yield "qwen2.5-0.5b-instruct", NO_SYSTEM, True, {}
    yield "qwen2.5-0.5b-instruct", QWEN_TOOL_CHAT, True, {"tools": [WEATHER_TOOL]}
    yield "qwen2.5-0.5b-instruct", CHAT, False, {"tools": [WEATHER_TOOL]}
    yield "granite-3.3-2b-instruct", NO_SYSTEM, True, GRANITE_SPECIAL
    yield "granite-3.3-2b-instruct", NO_SYSTEM, True, dict(GRANITE_SPECIAL, tools=[WEATHER_TOOL])
    yield "granite-3.3-2b-instruct", NO_SYSTEM, True, dict(GRANITE_SPECIAL, documents=DOCS, controls={"citations": True, "length": "short"})
    yield "granite-3.3-2b-instruct", NO_SYSTEM, True, dict(GRANITE_SPECIAL, documents=DOCS, available_tools=[WEATHER_TOOL])
    yield "granite-3.3-2b-instruct", NO_SYSTEM, False, dict(GRANITE_SPECIAL, thinking=True)
    yield "granite-3.0-2b-instruct", NO_SYSTEM, True, dict(GRANITE_SPECIAL, tools=[WEATHER_TOOL, WEATHER_TOOL["function"]])
    yield "mistral-7b-instruct", CHAT, True, MISTRAL_SPECIAL
    for gen in (False, True):
        yield "granite-4.0-h-instruct", CHAT, gen, GRANITE_SPECIAL
        yield "llama-3.2-3b-instruct", CHAT, gen, SPECIAL
        yield "mistral-small-24b-instruct", CHAT, gen, MISTRAL_SPECIAL
    yield "granite-4.0-h-instruct", QWEN_TOOL_CHAT, True, dict(GRANITE_SPECIAL, tools=[WEATHER_TOOL])
    yield "granite-4.0-h-instruct", NO_SYSTEM, True, dict(GRANITE_SPECIAL, documents=DOCS)
    yield "llama-3.2-3b-instruct", LLAMA_TOOL_CHAT, True, dict(SPECIAL, tools=[WEATHER_TOOL])
    yield "mistral-small-24b-instruct", [CHAT[1], TOOL_CHAT[2]], True, MISTRAL_SPECIAL
    yield "mistral-7b-instruct", [CHAT[1], CHAT[1]], True, MISTRAL_SPECIAL

def main():
    e = env()
    out = []
    for name, messages, gen, variables in cases():
        source = open(name + ".jinja", encoding="utf-8").read()
        context = dict(variables)
        context.setdefault("tools", None)
        context.setdefault("documents", None)
        case = {"template": name, "add_generation_prompt": gen, "messages": messages, "variables": variables}
        try:
            case["expected"] = e.from_string(source).render(messages=messages, add_generation_prompt=gen, **context)
        except Raised as r:
            case["error"] = str(r)
        out.append(case)
    with open("cases.json", "w", encoding="utf-8") as f:
        json.dump(out, f, ensure_ascii=False, indent=1)
        f.write("\n")
    print(len(out), "cases")

main()
