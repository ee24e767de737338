using Bamba.Tokenization.ChatTemplates;

namespace Bamba.Tests.ChatTemplates;

/// <summary>Bad or unsupported templates fail with a BambaException that names the line and the construct.</summary>
public class ErrorTests
{
    [Theory]
    [InlineData("ok\n{% foo %}", 2, "unsupported tag 'foo'")]
    [InlineData("{% call m() %}x{% endcall %}", 1, "unsupported tag 'call'")]
    [InlineData("a\n{% for x in xs %}\n{{ x }}", 2, "unclosed 'for' block: expected '{% endfor %}'")]
    [InlineData("{% if a %}\n{% elif b %}\n", 1, "unclosed 'if' block: expected '{% endif %}'")]
    [InlineData("{% macro m() %}x", 1, "unclosed 'macro' block")]
    [InlineData("x\n\n{{ name ", 3, "unclosed tag '{{'")]
    [InlineData("{# never closed", 1, "unclosed comment")]
    [InlineData("{% raw %}abc", 1, "unclosed 'raw' block")]
    [InlineData("a\n{% endif %}", 2, "unexpected '{% endif %}' without a matching opening tag")]
    [InlineData("{{ 1 + }}", 1, "unexpected '}}' in expression")]
    [InlineData("\n{{ 'abc }}", 2, "unterminated string literal")]
    [InlineData("{% for x in xs recursive %}{% endfor %}", 1, "unsupported construct 'recursive'")]
    [InlineData("{{ f(*args) }}", 1, "unsupported construct: '*args'")]
    [InlineData("{% if x %}\na{% endfor %}", 2, "the 'if' block opened on line 1 expects '{% endif %}'")]
    [InlineData("{{ x @ y }}", 1, "unexpected character '@'")]
    public void Parse_errors_name_the_line_and_construct(string source, int line, string fragment)
    {
        var error = Assert.Throws<BambaException>(() => ChatTemplate.Parse(source));
        Assert.StartsWith($"chat template line {line}: ", error.Message);
        Assert.Contains(fragment, error.Message);
    }

    [Theory]
    [InlineData("a\nb\n{{ x | frobnicate }}", 3, "unknown filter 'frobnicate'")]
    [InlineData("{{ x is frobnicated }}", 1, "unknown test 'frobnicated'")]
    [InlineData("\n{{ nothing + 1 }}", 2, "'nothing' is undefined")]
    [InlineData("{{ 'a' + 1 }}", 1, "unsupported operand types for +: 'str' and 'int'")]
    [InlineData("{{ [1] < 'a' }}", 1, "'<' not supported between 'list' and 'str'")]
    [InlineData("{{ messages.append(1) }}", 1, "list.append() is not allowed")]
    [InlineData("{{ missing_function() }}", 1, "'missing_function' is undefined and cannot be called")]
    [InlineData("{% for x in 5 %}{% endfor %}", 1, "cannot loop over a value of type 'int'")]
    [InlineData("{% set n = 1 %}{% set n.a = 2 %}", 1, "not a namespace()")]
    [InlineData("{{ 1 // 0 }}", 1, "division by zero")]
    [InlineData("{{ nothing | tojson }}", 1, "'nothing' is undefined")]
    [InlineData("{{ strftime_now('%Q') }}", 1, "strftime_now does not support '%Q'")]
    public void Render_errors_name_the_line(string source, int line, string fragment)
    {
        var template = ChatTemplate.Parse(source);
        var error = Assert.Throws<BambaException>(() => template.Render([], false));
        Assert.StartsWith($"chat template line {line}: ", error.Message);
        Assert.Contains(fragment, error.Message);
    }

    [Fact]
    public void Raise_exception_carries_the_templates_message()
    {
        var template = ChatTemplate.Parse(
            "{% for m in messages %}{% if m.role not in ['user', 'assistant'] %}{{ raise_exception('Role ' ~ m.role ~ ' is not supported!') }}{% endif %}{% endfor %}");
        var error = Assert.Throws<ChatTemplateRaisedException>(() => template.Render([new ChatMessage("user", "a"), new ChatMessage("tool", "b")], false));
        Assert.Equal("Role tool is not supported!", error.Message);
        Assert.Equal("Role tool is not supported!", error.TemplateMessage);
        Assert.IsAssignableFrom<BambaException>(error);
        Assert.Equal("", template.Render([new ChatMessage("user", "a")], false));
    }

    [Fact]
    public void Unsupported_host_values_are_rejected_with_their_type()
    {
        var template = ChatTemplate.Parse("{{ x }}");
        var error = Assert.Throws<BambaException>(() => template.Render([], false, new Dictionary<string, object?> { ["x"] = new Uri("http://a") }));
        Assert.Contains("Uri", error.Message);
    }
}
