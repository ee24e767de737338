using Bamba.Tokenization.ChatTemplates;

namespace Bamba.Tests.ChatTemplates;

/// <summary>The public surface: messages with extra fields, host values, defaults transformers passes, reuse.</summary>
public class ApiTests
{
    [Fact]
    public void Extra_message_fields_accept_plain_CSharp_collections()
    {
        var toolCall = new Dictionary<string, object?>
        {
            ["type"] = "function",
            ["function"] = new Dictionary<string, object?> { ["name"] = "add", ["arguments"] = new Dictionary<string, object?> { ["a"] = 1, ["b"] = 2.5, ["tags"] = new[] { "x", "y" } } },
        };
        var message = new ChatMessage("assistant", null, new Dictionary<string, object?> { ["tool_calls"] = new List<object?> { toolCall } });
        var template = ChatTemplate.Parse(
            "{% for m in messages %}{{ m.content is none }} {{ 'tool_calls' in m }} {% for c in m.tool_calls %}{{ c.function.name }}{{ c.function.arguments | tojson }}{% endfor %}{% endfor %}");
        Assert.Equal("True True add{\"a\": 1, \"b\": 2.5, \"tags\": [\"x\", \"y\"]}", template.Render([message], false));
    }

    [Fact]
    public void Tools_and_documents_default_to_none_like_apply_chat_template()
    {
        var template = ChatTemplate.Parse("{{ tools is defined }}{{ tools is none }}{{ documents is none }}{{ add_generation_prompt }}");
        Assert.Equal("TrueTrueTrueTrue", template.Render([], true));
        Assert.Equal("TrueFalseTrueFalse", template.Render([], false, new Dictionary<string, object?> { ["tools"] = new List<object?>() }));
    }

    [Fact]
    public void Missing_fields_and_attributes_of_undefined_render_empty()
    {
        var template = ChatTemplate.Parse("[{{ messages[0].name }}][{{ nothing.deeper.still }}][{{ messages[5].role }}]{{ messages[0].name is defined }}");
        Assert.Equal("[][][]False", template.Render([new ChatMessage("user", "hi")], false));
    }

    [Fact]
    public void A_parsed_template_renders_many_times_without_leaking_state()
    {
        var template = ChatTemplate.Parse("{% set ns = namespace(n=0) %}{% for m in messages %}{% set ns.n = ns.n + 1 %}{% endfor %}{{ ns.n }}");
        Assert.Equal("2", template.Render([new ChatMessage("user", "a"), new ChatMessage("assistant", "b")], false));
        Assert.Equal("1", template.Render([new ChatMessage("user", "a")], false));
    }

    [Fact]
    public void Source_is_kept_and_clock_drives_strftime_now()
    {
        const string source = "{{ strftime_now('%d %b %Y') }}";
        var template = ChatTemplate.Parse(source).WithClock(() => new DateTime(2026, 1, 2));
        Assert.Equal(source, template.Source);
        Assert.Equal("02 Jan 2026", template.Render([], false));
    }

    [Theory]
    [InlineData(0.1, "0.1")]
    [InlineData(1.0, "1.0")]
    [InlineData(1e-5, "1e-05")]
    [InlineData(123456789012345678.0, "1.2345678901234568e+17")]
    [InlineData(1e15, "1000000000000000.0")]
    [InlineData(-2.5e-7, "-2.5e-07")]
    [InlineData(0.0001, "0.0001")]
    public void Floats_print_like_Python(double value, string expected)
    {
        var template = ChatTemplate.Parse("{{ v }}");
        Assert.Equal(expected, template.Render([], false, new Dictionary<string, object?> { ["v"] = value }));
    }
}
