using System.Text.Json;
using Bamba.Tokenization.ChatTemplates;

namespace Bamba.Tests.ChatTemplates;

/// <summary>
/// One Jinja feature per case. Expected strings are what Python jinja2 3.1 renders for the same template and
/// variables in transformers' environment (trim_blocks, lstrip_blocks, loopcontrols, HF tojson/strftime_now).
/// </summary>
public class FeatureTests
{
    // xs, d, x, s, words, f, users, obj: the same variables the expectations were rendered with.
    private const string VariablesJson = "{\"xs\": [3, 1, 2], \"d\": {\"b\": 2, \"a\": 1}, \"x\": 5, \"s\": \"  Hello World  \", \"words\": [\"b\", \"A\", \"a\", \"c\"], \"f\": 2.675, \"users\": [{\"name\": \"ann\", \"age\": 30, \"admin\": true}, {\"name\": \"Bob\", \"age\": 25, \"admin\": false}, {\"name\": \"cy\", \"age\": 35}], \"obj\": {\"name\": \"t\", \"desc\": \"Z\\u00fcrich \\\"q\\\" \\\\ \\n\\t\\u0001\", \"n\": [1, 2.5, 1e-07, 1e+16, true, null], \"empty\": {}, \"none\": []}}";

    private static string Render(string source)
    {
        var variables = TemplateData.Variables(JsonDocument.Parse(VariablesJson).RootElement);
        return ChatTemplate.Parse(source).WithClock(() => TemplateData.FixedNow).Render([], addGenerationPrompt: false, variables);
    }


    [Theory]
    [InlineData("a\n  {% if true %}\n    x\n  {% endif %}\nb", "a\n    x\nb")]
    [InlineData("a  {%- if true -%}  x  {%- endif -%}  b", "axb")]
    [InlineData("a \n {{- 'x' -}} \n b", "axb")]
    [InlineData("  {# comment #}\nline\n{#- c -#}  next", "linenext")]
    [InlineData("  {%+ if true +%}\nx{% endif %}", "  \nx")]
    [InlineData("a\n", "a")]
    [InlineData("a\n\n", "a\n")]
    [InlineData("  {{ 'v' }}\n  w", "  v\n  w")]
    [InlineData("{% raw %}{{ not evaluated }}{% if %}{% endraw %}!", "{{ not evaluated }}{% if %}!")]
    [InlineData("x  {%- raw -%}  {{ y }}  {%- endraw -%}  z", "x{{ y }}z")]
    [InlineData("{% for i in xs %}\n  - {{ i }}\n{% endfor %}\ndone", "  - 3\n  - 1\n  - 2\ndone")]
    [InlineData("line\r\n  {% if true %}\r\nA\r\n  {% endif %}\r\n", "line\nA\n")]
    public void Whitespace(string source, string expected) => Assert.Equal(expected, Render(source));

    [Theory]
    [InlineData("{% for x in xs %}{{ loop.index }}{{ loop.index0 }}{{ loop.first }}{{ loop.last }}{{ loop.length }}{{ loop.revindex }}{{ loop.revindex0 }}|{% endfor %}", "10TrueFalse332|21FalseFalse321|32FalseTrue310|")]
    [InlineData("{% for x in [] %}a{% else %}empty{% endfor %}", "empty")]
    [InlineData("{% for x in xs if x > 1 %}{{ x }}/{{ loop.length }} {% endfor %}", "3/2 2/2 ")]
    [InlineData("{% for k, v in d.items() %}{{ k }}={{ v }};{% endfor %}", "b=2;a=1;")]
    [InlineData("{% for k in d %}{{ k }}{% endfor %}|{% for c in 'ab' %}{{ c }}.{% endfor %}", "ba|a.b.")]
    [InlineData("{% for x in range(10) %}{% if x == 2 %}{% continue %}{% endif %}{% if x == 5 %}{% break %}{% endif %}{{ x }}{% endfor %}", "0134")]
    [InlineData("{% set y = 1 %}{% for x in [1,2] %}{{ y }}{% set y = 2 %}{{ y }}{% endfor %}{{ y }}", "12121")]
    [InlineData("{% set ns = namespace(found=false, n=0) %}{% for x in xs %}{% if x == 1 %}{% set ns.found = true %}{% endif %}{% set ns.n = ns.n + x %}{% endfor %}{{ ns.found }} {{ ns.n }}", "True 6")]
    [InlineData("{% for x in xs %}{{ loop.cycle('odd', 'even') }}{{ loop.previtem }}{{ loop.nextitem }};{% endfor %}", "odd1;even32;odd1;")]
    [InlineData("{% for a in [1, 2] %}{% for b in 'xy' %}{{ a }}{{ b }}{{ loop.index }}{% endfor %}{{ loop.index }} {% endfor %}", "1x11y21 2x12y22 ")]
    [InlineData("{% for u in users | selectattr('admin') %}{{ u.name }}{% endfor %}", "ann")]
    public void Loops(string source, string expected) => Assert.Equal(expected, Render(source));

    [Theory]
    [InlineData("{% if x > 10 %}A{% elif x > 3 %}B{% else %}C{% endif %}{% if none %}D{% elif 0 %}E{% else %}F{% endif %}", "BF")]
    [InlineData("{% set a, b = 1, 'two' %}{{ b }}{{ a }}", "two1")]
    [InlineData("{% set t %}x{{ 1 + 1 }}{% endset %}[{{ t }}]", "[x2]")]
    [InlineData("{% macro greet(name, punct='!') %}Hi {{ name }}{{ punct }}{% endmacro %}{{ greet('Bo') }} {{ greet('Al', punct='?') }} {{ greet(name='Cy') }}", "Hi Bo! Hi Al? Hi Cy!")]
    [InlineData("{% macro m(a) %}{{ a }}{{ x }}{% endmacro %}{% set x = 9 %}{{ m(1) }}", "19")]
    [InlineData("{% generation %}gen {{ x }}{% endgeneration %}", "gen 5")]
    [InlineData("{% filter upper %}abc {{ x }}{% endfilter %}", "ABC 5")]
    [InlineData("{% set ns = namespace({'a': 1}) %}{% set ns.a = ns.a + 1 %}{{ ns.a }}", "2")]
    public void Statements(string source, string expected) => Assert.Equal(expected, Render(source));

    [Theory]
    [InlineData("{{ 'a\\tb\\\\' }}|{{ \"q'\" }}|{{ 'x' 'y' }}|{{ 1_000 }}|{{ 1.5e3 }}|{{ true }}|{{ None }}|{{ [1, 'a', none, 2.0, \"it's\"] }}|{{ {'k': [1], 2: 'v'} }}|{{ (1, 2) }}|{{ (1,) }}|{{ '\\u00e9\\x41' }}", "a\tb\\|q'|xy|1000|1500.0|True|None|[1, 'a', None, 2.0, \"it's\"]|{'k': [1], 2: 'v'}|(1, 2)|(1,)|\u00e9A")]
    [InlineData("{{ xs[0] }}{{ xs[-1] }}{{ xs[1:] }}{{ xs[::-1] }}{{ xs[:2] }}{{ 'hello'[1:3] }}{{ 'abc'[::-1] }}{{ xs[10] is defined }}{{ d['a'] }}{{ d.b }}{{ users[1]['name'] }}{{ xs.0 }}", "32[1, 2][2, 1, 3][3, 1]elcbaFalse12Bob3")]
    [InlineData("{{ 1 in xs }}{{ 5 not in xs }}{{ 'ell' in 'hello' }}{{ 'a' in d }}{{ 'z' in nothing }}", "TrueTrueTrueTrueFalse")]
    [InlineData("{{ x is defined }}{{ nothing is defined }}{{ nothing is undefined }}{{ none is none }}{{ xs is not none }}{{ 'a' is string }}{{ d is mapping }}{{ xs is mapping }}{{ xs is iterable }}{{ 3 is number }}{{ 3.5 is number }}{{ 'a' is number }}{{ xs is sequence }}{{ 4 is even }}{{ 3 is odd }}{{ 9 is divisibleby 3 }}{{ 1 is equalto 1 }}{{ true is boolean }}{{ 1 is integer }}{{ 1.0 is float }}", "TrueFalseTrueTrueTrueTrueTrueFalseTrueTrueTrueFalseTrueTrueTrueTrueTrueTrueTrueTrue")]
    [InlineData("{{ true and 'x' }}|{{ 0 or 'y' }}|{{ not 0 }}|{{ 1 < 2 < 3 }}|{{ 3 > 2 > 2 }}|{{ 1 == 1.0 }}|{{ 'a' != 'b' }}|{{ [1, 2] == [1, 2] }}|{{ 'a' < 'b' }}|{{ not x is defined }}", "x|y|True|True|False|True|True|True|True|False")]
    [InlineData("{{ 7 // 2 }} {{ -7 // 2 }} {{ 7 % 3 }} {{ -7 % 3 }} {{ 7 / 2 }} {{ 4 / 2 }} {{ 2 ** 10 }} {{ 1 + 2.5 }} {{ 'a' + 'b' }} {{ 'ab' * 3 }} {{ 1 ~ 'x' ~ none }} {{ [1] + [2] }} {{ -x }} {{ 0.1 + 0.2 }} {{ 1e20 }} {{ 2 * 3 + 4 }} {{ 10 - 2 - 3 }}", "3 -4 1 2 3.5 2.0 1024 3.5 ab ababab 1xNone [1, 2] -5 0.30000000000000004 1e+20 10 5")]
    [InlineData("{{ 'yes' if xs else 'no' }}{{ 'a' if false }}|{{ 'p' if x > 9 else 'q' if x > 4 else 'r' }}", "yes|q")]
    [InlineData("{{ d.get('a') }}{{ d.get('z') }}{{ d.get('z', 'dflt') }}{{ d.keys() | list }}{{ d.values() | list }}{{ d.items() | list }}", "1Nonedflt['b', 'a'][2, 1][('b', 2), ('a', 1)]")]
    [InlineData("{{ range(3) | list }}{{ range(1, 4) | list }}{{ range(10, 0, -3) | list }}", "[0, 1, 2][1, 2, 3][10, 7, 4, 1]")]
    [InlineData("{{ strftime_now('%Y-%m-%d %A %B %b %a %H:%M:%S %j %p %I %y %%') }}|{{ strftime_now('%d %B %Y') }}", "2025-03-07 Friday March Mar Fri 14:05:09 066 PM 02 25 %|07 March 2025")]
    [InlineData("[{{ nothing }}][{{ nothing | length }}]{% if nothing %}t{% else %}f{% endif %}{% for q in nothing %}q{% endfor %}[{{ nothing | default('dv') }}][{{ '' | default('dv') }}][{{ '' | default('dv', true) }}]", "[][0]f[dv][][dv]")]
    public void Expressions(string source, string expected) => Assert.Equal(expected, Render(source));

    [Theory]
    [InlineData("[{{ s | trim }}][{{ s | length }}][{{ xs | count }}][{{ d | length }}][{{ s | upper }}][{{ s | lower }}][{{ 'hello wORLD-x' | title }}][{{ 'hello World' | capitalize }}]", "[Hello World][15][3][2][  HELLO WORLD  ][  hello world  ][Hello World-X][Hello world]")]
    [InlineData("{{ xs | join(', ') }}|{{ xs | join }}|{{ users | join(',', attribute='name') }}|{{ xs | first }}{{ xs | last }}{{ 'abc' | first }}|{{ 'abc' | list }}|{{ 42 | string }}{{ none | string }}", "3, 1, 2|312|ann,Bob,cy|32a|['a', 'b', 'c']|42None")]
    [InlineData("{{ '42' | int }} {{ 'x' | int }} {{ 'x' | int(7) }} {{ 3.9 | int }} {{ '2.5' | float }} {{ 3 | float }} {{ 'a-b-a' | replace('a', 'z') }} {{ 'a-b-a' | replace('a', 'z', 1) }} {{ f | round }} {{ f | round(1) }} {{ 2.5 | round }} {{ 7.123 | round(2, 'floor') }} {{ -3 | abs }}", "42 0 7 3 2.5 3.0 z-b-z z-b-a 3.0 2.7 2.0 7.12 3")]
    [InlineData("{{ users | selectattr('admin') | map(attribute='name') | list }}{{ users | rejectattr('admin') | map(attribute='name') | list }}{{ users | selectattr('age', 'gt', 28) | map(attribute='name') | join('+') }}{{ users | selectattr('name', 'equalto', 'Bob') | list | length }}{{ xs | select('odd') | list }}{{ xs | reject('odd') | list }}{{ words | map('upper') | list }}", "['ann']['Bob', 'cy']ann+cy1[3, 1][2]['B', 'A', 'A', 'C']")]
    [InlineData("{{ d | items | list }}{{ '<a href=\"x\">&\\'' | e }}{{ '<b>' | safe }}{{ d | dictsort }}{{ d | dictsort(by='value', reverse=true) }}{{ words | unique | list }}{{ xs | reverse | list }}{{ 'abc' | reverse }}", "[('b', 2), ('a', 1)]&lt;a href=&#34;x&#34;&gt;&amp;&#39;<b>[('a', 1), ('b', 2)][('b', 2), ('a', 1)]['b', 'A', 'c'][2, 1, 3]cba")]
    [InlineData("{{ words | sort }}{{ words | sort(case_sensitive=true) }}{{ xs | sort(reverse=true) }}{{ users | sort(attribute='age') | map(attribute='name') | list }}{{ xs | min }}{{ xs | max }}{{ xs | sum }}{{ users | sum(attribute='age') }}", "['A', 'a', 'b', 'c']['A', 'a', 'b', 'c'][3, 2, 1]['Bob', 'ann', 'cy']13690")]
    [InlineData("{{ 'a\\nb\\n\\nc' | indent(2) }}|{{ 'a\\nb' | indent(2, true) }}|{{ 'one two  three' | wordcount }}", "a\n  b\n\n  c|  a\n  b|3")]
    [InlineData("{{ obj | tojson }}\n{{ obj | tojson(indent=2) }}\n{{ obj | tojson(sort_keys=true) }}\n{{ xs | tojson }}{{ '\u00e9' | tojson }}{{ none | tojson }}{{ 1.0 | tojson }}", "{\"name\": \"t\", \"desc\": \"Z\u00fcrich \\\"q\\\" \\\\ \\n\\t\\u0001\", \"n\": [1, 2.5, 1e-07, 1e+16, true, null], \"empty\": {}, \"none\": []}\n{\n  \"name\": \"t\",\n  \"desc\": \"Z\u00fcrich \\\"q\\\" \\\\ \\n\\t\\u0001\",\n  \"n\": [\n    1,\n    2.5,\n    1e-07,\n    1e+16,\n    true,\n    null\n  ],\n  \"empty\": {},\n  \"none\": []\n}\n{\"desc\": \"Z\u00fcrich \\\"q\\\" \\\\ \\n\\t\\u0001\", \"empty\": {}, \"n\": [1, 2.5, 1e-07, 1e+16, true, null], \"name\": \"t\", \"none\": []}\n[3, 1, 2]\"\u00e9\"null1.0")]
    [InlineData("{{ users | map(attribute='admin', default='?') | list }}{{ users | map(attribute='missing') | list | length }}", "[True, False, '?']3")]
    public void Filters(string source, string expected) => Assert.Equal(expected, Render(source));

    [Theory]
    [InlineData("[{{ s.strip() }}][{{ s.lstrip() }}][{{ s.rstrip() }}][{{ 'xxhixx'.strip('x') }}][{{ s.split() }}][{{ 'a,b,,c'.split(',') }}][{{ 'a b c'.split(' ', 1) }}][{{ 'ab'.startswith('a') }}{{ 'ab'.endswith('a') }}{{ 'ab'.startswith(('x', 'a')) }}]", "[Hello World][Hello World  ][  Hello World][hi][['Hello', 'World']][['a', 'b', '', 'c']][['a', 'b c']][TrueFalseTrue]")]
    [InlineData("[{{ 'Ab'.upper() }}{{ 'Ab'.lower() }}][{{ 'a-b-a'.replace('a', 'o') }}][{{ \"they're bill's\".title() }}][{{ 'hello world'.capitalize() }}][{{ '{} and {}'.format(1, 'two') }}][{{ '{0}{0}{name}'.format('x', name='n') }}][{{ '-'.join(['a', 'b']) }}][{{ 'banana'.count('a') }}{{ 'banana'.find('n') }}]", "[ABab][o-b-o][They'Re Bill'S][Hello world][1 and two][xxn][a-b][32]")]
    [InlineData("{{ xs.index(1) }}{{ xs.count(3) }}{{ 'a\\nb\\n'.splitlines() }}", "11['a', 'b']")]
    public void Methods(string source, string expected) => Assert.Equal(expected, Render(source));
}
