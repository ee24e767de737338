"""Regenerates ../FeatureTests.cs: one small template per Jinja feature, with the output Python jinja2 renders in
transformers' environment (trim_blocks, lstrip_blocks, loopcontrols, HF tojson and strftime_now, a pass-through
{% generation %} tag). Run from this folder: python3 make_feature_tests.py"""
import json, datetime, sys
import jinja2, jinja2.ext
from jinja2.sandbox import ImmutableSandboxedEnvironment
FIXED_NOW = datetime.datetime(2025, 3, 7, 14, 5, 9)
from jinja2 import nodes
class Gen(jinja2.ext.Extension):
    tags = {"generation"}
    def parse(self, parser):
        lineno = next(parser.stream).lineno
        body = parser.parse_statements(["name:endgeneration"], drop_needle=True)
        return nodes.CallBlock(self.call_method("_render", []), [], [], body).set_lineno(lineno)
    def _render(self, caller): return caller()
e = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=[jinja2.ext.loopcontrols, Gen])
e.filters["tojson"] = lambda x, ensure_ascii=False, indent=None, separators=None, sort_keys=False: json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)
e.globals["strftime_now"] = lambda fmt: FIXED_NOW.strftime(fmt)
V = dict(xs=[3,1,2], d={'b':2,'a':1}, x=5, s="  Hello World  ", words=['b','A','a','c'], f=2.675,
  users=[{'name':'ann','age':30,'admin':True},{'name':'Bob','age':25,'admin':False},{'name':'cy','age':35}],
  obj={"name": "t", "desc": "Zürich \"q\" \\ \n\t\u0001", "n": [1, 2.5, 1e-07, 1e16, True, None], "empty": {}, "none": []})
groups = {}
def add(group, tpl):
    groups.setdefault(group, []).append(tpl)
W = "Whitespace"
add(W, "a\n  {% if true %}\n    x\n  {% endif %}\nb")
add(W, "a  {%- if true -%}  x  {%- endif -%}  b")
add(W, "a \n {{- 'x' -}} \n b")
add(W, "  {# comment #}\nline\n{#- c -#}  next")
add(W, "  {%+ if true +%}\nx{% endif %}")
add(W, "a\n")
add(W, "a\n\n")
add(W, "  {{ 'v' }}\n  w")
add(W, "{% raw %}{{ not evaluated }}{% if %}{% endraw %}!")
add(W, "x  {%- raw -%}  {{ y }}  {%- endraw -%}  z")
add(W, "{% raw %}\nA\n  {% endraw %}\nB")
add(W, "  {% raw %}\nA{% endraw %}")
add(W, "x\n  {% raw -%}\n A \n {%- endraw %}\nB")
add(W, "{%- raw %} y {% endraw +%}\nz")
add(W, "{% for i in xs %}\n  - {{ i }}\n{% endfor %}\ndone")
add(W, "line\r\n  {% if true %}\r\nA\r\n  {% endif %}\r\n")
L = "Loops"
add(L, "{% for x in xs %}{{ loop.index }}{{ loop.index0 }}{{ loop.first }}{{ loop.last }}{{ loop.length }}{{ loop.revindex }}{{ loop.revindex0 }}|{% endfor %}")
add(L, "{% for x in [] %}a{% else %}empty{% endfor %}")
add(L, "{% for x in xs if x > 1 %}{{ x }}/{{ loop.length }} {% endfor %}")
add(L, "{% for k, v in d.items() %}{{ k }}={{ v }};{% endfor %}")
add(L, "{% for k in d %}{{ k }}{% endfor %}|{% for c in 'ab' %}{{ c }}.{% endfor %}")
add(L, "{% for x in range(10) %}{% if x == 2 %}{% continue %}{% endif %}{% if x == 5 %}{% break %}{% endif %}{{ x }}{% endfor %}")
add(L, "{% set y = 1 %}{% for x in [1,2] %}{{ y }}{% set y = 2 %}{{ y }}{% endfor %}{{ y }}")
add(L, "{% set ns = namespace(found=false, n=0) %}{% for x in xs %}{% if x == 1 %}{% set ns.found = true %}{% endif %}{% set ns.n = ns.n + x %}{% endfor %}{{ ns.found }} {{ ns.n }}")
add(L, "{% for x in xs %}{{ loop.cycle('odd', 'even') }}{{ loop.previtem }}{{ loop.nextitem }};{% endfor %}")
add(L, "{% for a in [1, 2] %}{% for b in 'xy' %}{{ a }}{{ b }}{{ loop.index }}{% endfor %}{{ loop.index }} {% endfor %}")
add(L, "{% for u in users | selectattr('admin') %}{{ u.name }}{% endfor %}")
S = "Statements"
add(S, "{% if x > 10 %}A{% elif x > 3 %}B{% else %}C{% endif %}{% if none %}D{% elif 0 %}E{% else %}F{% endif %}")
add(S, "{% set a, b = 1, 'two' %}{{ b }}{{ a }}")
add(S, "{% set t %}x{{ 1 + 1 }}{% endset %}[{{ t }}]")
add(S, "{% macro greet(name, punct='!') %}Hi {{ name }}{{ punct }}{% endmacro %}{{ greet('Bo') }} {{ greet('Al', punct='?') }} {{ greet(name='Cy') }}")
add(S, "{% macro m(a) %}{{ a }}{{ x }}{% endmacro %}{% set x = 9 %}{{ m(1) }}")
add(S, "{% generation %}gen {{ x }}{% endgeneration %}")
add(S, "{% filter upper %}abc {{ x }}{% endfilter %}")
add(S, "{% set ns = namespace({'a': 1}) %}{% set ns.a = ns.a + 1 %}{{ ns.a }}")
E = "Expressions"
add(E, "{{ 'a\\tb\\\\' }}|{{ \"q'\" }}|{{ 'x' 'y' }}|{{ 1_000 }}|{{ 1.5e3 }}|{{ true }}|{{ None }}|{{ [1, 'a', none, 2.0, \"it's\"] }}|{{ {'k': [1], 2: 'v'} }}|{{ (1, 2) }}|{{ (1,) }}|{{ '\\u00e9\\x41' }}")
add(E, "{{ xs[0] }}{{ xs[-1] }}{{ xs[1:] }}{{ xs[::-1] }}{{ xs[:2] }}{{ 'hello'[1:3] }}{{ 'abc'[::-1] }}{{ xs[10] is defined }}{{ d['a'] }}{{ d.b }}{{ users[1]['name'] }}{{ xs.0 }}")
add(E, "{{ 1 in xs }}{{ 5 not in xs }}{{ 'ell' in 'hello' }}{{ 'a' in d }}{{ 'z' in nothing }}")
add(E, "{{ x is defined }}{{ nothing is defined }}{{ nothing is undefined }}{{ none is none }}{{ xs is not none }}{{ 'a' is string }}{{ d is mapping }}{{ xs is mapping }}{{ xs is iterable }}{{ 3 is number }}{{ 3.5 is number }}{{ 'a' is number }}{{ xs is sequence }}{{ 4 is even }}{{ 3 is odd }}{{ 9 is divisibleby 3 }}{{ 1 is equalto 1 }}{{ true is boolean }}{{ 1 is integer }}{{ 1.0 is float }}")
add(E, "{{ true and 'x' }}|{{ 0 or 'y' }}|{{ not 0 }}|{{ 1 < 2 < 3 }}|{{ 3 > 2 > 2 }}|{{ 1 == 1.0 }}|{{ 'a' != 'b' }}|{{ [1, 2] == [1, 2] }}|{{ 'a' < 'b' }}|{{ not x is defined }}")
add(E, "{{ 7 // 2 }} {{ -7 // 2 }} {{ 7 % 3 }} {{ -7 % 3 }} {{ 7 / 2 }} {{ 4 / 2 }} {{ 2 ** 10 }} {{ 1 + 2.5 }} {{ 'a' + 'b' }} {{ 'ab' * 3 }} {{ 1 ~ 'x' ~ none }} {{ [1] + [2] }} {{ -x }} {{ 0.1 + 0.2 }} {{ 1e20 }} {{ 2 * 3 + 4 }} {{ 10 - 2 - 3 }}")
add(E, "{{ 'yes' if xs else 'no' }}{{ 'a' if false }}|{{ 'p' if x > 9 else 'q' if x > 4 else 'r' }}")
add(E, "{{ d.get('a') }}{{ d.get('z') }}{{ d.get('z', 'dflt') }}{{ d.keys() | list }}{{ d.values() | list }}{{ d.items() | list }}")
add(E, "{{ range(3) | list }}{{ range(1, 4) | list }}{{ range(10, 0, -3) | list }}")
add(E, "{{ strftime_now('%Y-%m-%d %A %B %b %a %H:%M:%S %j %p %I %y %%') }}|{{ strftime_now('%d %B %Y') }}")
add(E, "[{{ nothing }}][{{ nothing | length }}]{% if nothing %}t{% else %}f{% endif %}{% for q in nothing %}q{% endfor %}[{{ nothing | default('dv') }}][{{ '' | default('dv') }}][{{ '' | default('dv', true) }}]")
F = "Filters"
add(F, "[{{ s | trim }}][{{ s | length }}][{{ xs | count }}][{{ d | length }}][{{ s | upper }}][{{ s | lower }}][{{ 'hello wORLD-x' | title }}][{{ 'hello World' | capitalize }}]")
add(F, "{{ xs | join(', ') }}|{{ xs | join }}|{{ users | join(',', attribute='name') }}|{{ xs | first }}{{ xs | last }}{{ 'abc' | first }}|{{ 'abc' | list }}|{{ 42 | string }}{{ none | string }}")
add(F, "{{ '42' | int }} {{ 'x' | int }} {{ 'x' | int(7) }} {{ 3.9 | int }} {{ '2.5' | float }} {{ 3 | float }} {{ 'a-b-a' | replace('a', 'z') }} {{ 'a-b-a' | replace('a', 'z', 1) }} {{ f | round }} {{ f | round(1) }} {{ 2.5 | round }} {{ 7.123 | round(2, 'floor') }} {{ -3 | abs }}")
add(F, "{{ users | selectattr('admin') | map(attribute='name') | list }}{{ users | rejectattr('admin') | map(attribute='name') | list }}{{ users | selectattr('age', 'gt', 28) | map(attribute='name') | join('+') }}{{ users | selectattr('name', 'equalto', 'Bob') | list | length }}{{ xs | select('odd') | list }}{{ xs | reject('odd') | list }}{{ words | map('upper') | list }}")
add(F, "{{ d | items | list }}{{ '<a href=\"x\">&\\'' | e }}{{ '<b>' | safe }}{{ d | dictsort }}{{ d | dictsort(by='value', reverse=true) }}{{ words | unique | list }}{{ xs | reverse | list }}{{ 'abc' | reverse }}")
add(F, "{{ words | sort }}{{ words | sort(case_sensitive=true) }}{{ xs | sort(reverse=true) }}{{ users | sort(attribute='age') | map(attribute='name') | list }}{{ xs | min }}{{ xs | max }}{{ xs | sum }}{{ users | sum(attribute='age') }}")
add(F, "{{ 'a\\nb\\n\\nc' | indent(2) }}|{{ 'a\\nb' | indent(2, true) }}|{{ 'one two  three' | wordcount }}")
add(F, "{{ obj | tojson }}\n{{ obj | tojson(indent=2) }}\n{{ obj | tojson(sort_keys=true) }}\n{{ xs | tojson }}{{ 'é' | tojson }}{{ none | tojson }}{{ 1.0 | tojson }}")
add(F, "{{ users | map(attribute='admin', default='?') | list }}{{ users | map(attribute='missing') | list | length }}")
add(F, "{{ x | round }} {{ true | round }} {{ 2.5 | round }} {{ 'ba' | sort }} {{ d | sort }} {{ true is number }} {{ true is integer }} {{ 2 * [0] }} {{ true * [1] }} {{ -3 ** 2 }} {{ 2 ** 3 ** 2 }}")
M = "Methods"
add(M, "[{{ s.strip() }}][{{ s.lstrip() }}][{{ s.rstrip() }}][{{ 'xxhixx'.strip('x') }}][{{ s.split() }}][{{ 'a,b,,c'.split(',') }}][{{ 'a b c'.split(' ', 1) }}][{{ 'ab'.startswith('a') }}{{ 'ab'.endswith('a') }}{{ 'ab'.startswith(('x', 'a')) }}]")
add(M, "[{{ 'Ab'.upper() }}{{ 'Ab'.lower() }}][{{ 'a-b-a'.replace('a', 'o') }}][{{ \"they're bill's\".title() }}][{{ 'hello world'.capitalize() }}][{{ '{} and {}'.format(1, 'two') }}][{{ '{0}{0}{name}'.format('x', name='n') }}][{{ '-'.join(['a', 'b']) }}][{{ 'banana'.count('a') }}{{ 'banana'.find('n') }}]")
add(M, "{{ xs.index(1) }}{{ xs.count(3) }}{{ 'a\\nb\\n'.splitlines() }}")

def cs(s):
    out = '"'
    for ch in s:
        o = ord(ch)
        if ch == '"': out += '\\"'
        elif ch == '\\': out += '\\\\'
        elif ch == '\n': out += '\\n'
        elif ch == '\r': out += '\\r'
        elif ch == '\t': out += '\\t'
        elif o < 0x20 or o > 0x7e: out += '\\u%04x' % o
        else: out += ch
    return out + '"'

HEADER = '''using System.Text.Json;
using Bamba.Tokenization.ChatTemplates;

namespace Bamba.Tests.ChatTemplates;

/// <summary>
/// One Jinja feature per case. Expected strings are what Python jinja2 3.1 renders for the same template and
/// variables in transformers' environment (trim_blocks, lstrip_blocks, loopcontrols, HF tojson/strftime_now).
/// Generated by Data/make_feature_tests.py.
/// </summary>
public class FeatureTests
{
    // xs, d, x, s, words, f, users, obj: the same variables the expectations were rendered with.
    private const string VariablesJson = %s;

    private static string Render(string source)
    {
        var variables = TemplateData.Variables(JsonDocument.Parse(VariablesJson).RootElement);
        return ChatTemplate.Parse(source).WithClock(() => TemplateData.FixedNow).Render([], addGenerationPrompt: false, variables);
    }
'''

def main():
    parts = [HEADER % cs(json.dumps(V, ensure_ascii=True))]
    for group, tpls in groups.items():
        parts.append("\n    [Theory]")
        for t in tpls:
            parts.append(f"    [InlineData({cs(t)}, {cs(e.from_string(t).render(**V))})]")
        parts.append(f"    public void {group}(string source, string expected) => Assert.Equal(expected, Render(source));")
    parts.append("}\n")
    with open("../FeatureTests.cs", "w", encoding="utf-8") as f:
        f.write("\n".join(parts))

main()
