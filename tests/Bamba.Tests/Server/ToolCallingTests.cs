using System.Text;
using System.Text.Json;
using Bamba.Serving;
using Json.Schema;
using OpenAI.Chat;

namespace Bamba.Tests.Server;

/// <summary>
/// Tool calling through the official OpenAI client on tiny-bamba with real chat templates (Granite 4.0's tagged calls,
/// Llama 3.1's bare JSON): a forced call is constrained to its parameter schema, so even random weights give valid
/// calls; the tool's answer goes back as a tool message; streamed calls reassemble to the non-streamed ones.
/// </summary>
public class ToolCallingTests
{
    private const string WeatherParameters = """
        {"type": "object", "properties": {"city": {"type": "string", "maxLength": 12}, "unit": {"enum": ["celsius", "fahrenheit"]}},
         "required": ["city", "unit"], "additionalProperties": false}
        """;

    private static readonly ChatTool Weather = ChatTool.CreateFunctionTool("get_weather", "the weather in a city now",
        BinaryData.FromString(WeatherParameters), functionSchemaIsStrict: true);

    private static readonly ChatTool Time = ChatTool.CreateFunctionTool("get_time", "the local time in a city",
        BinaryData.FromString("""{"type": "object", "properties": {"city": {"type": "string", "maxLength": 8}}, "required": ["city"]}"""));

    private static async Task<TestServer> StartAsync(TinyTextModel model) =>
        await TestServer.StartAsync(ServingEngine.Load(model.Directory, TestServer.DefaultOptions with { MaxContext = 4096, PrefillChunk = 256, MaxStepTokens = 512 }, TestServer.ModelId));

    private static TinyTextModel WithTemplate(string name) =>
        new(File.ReadAllText(Path.Combine(Bamba.Tests.ChatTemplates.TemplateData.Directory, name + ".jinja")));

    [Theory]
    [InlineData("granite-4.0-h-instruct")]
    [InlineData("llama-3.1-8b-instruct")]
    public async Task Call_then_tool_result_then_answer(string template)
    {
        using var model = WithTemplate(template);
        await using var s = await StartAsync(model);
        var client = s.OpenAI.GetChatClient(TestServer.ModelId);
        var messages = new List<ChatMessage> { new UserChatMessage("What is the weather in Paris?") };
        var options = new ChatCompletionOptions
        {
            Tools = { Weather, Time }, ToolChoice = ChatToolChoice.CreateRequiredChoice(), Temperature = 1.0f, MaxOutputTokenCount = 200,
        };

        ChatCompletion first = await client.CompleteChatAsync(messages, options);
        Assert.Equal(ChatFinishReason.ToolCalls, first.FinishReason);
        var call = Assert.Single(first.ToolCalls);
        Assert.Contains(call.FunctionName, new[] { "get_weather", "get_time" });
        Assert.StartsWith("call_", call.Id);
        AssertValid(call.FunctionName == "get_weather" ? WeatherParameters : """{"type": "object", "properties": {"city": {"type": "string", "maxLength": 8}}, "required": ["city"]}""",
            call.FunctionArguments.ToString());

        messages.Add(new AssistantChatMessage(first));
        messages.Add(new ToolChatMessage(call.Id, "22 degrees and sunny"));
        var answerOptions = new ChatCompletionOptions { Tools = { Weather, Time }, ToolChoice = ChatToolChoice.CreateNoneChoice(), Temperature = 0, MaxOutputTokenCount = 8 };
        ChatCompletion second = await client.CompleteChatAsync(messages, answerOptions);
        Assert.NotEqual(ChatFinishReason.ToolCalls, second.FinishReason);
        Assert.Empty(second.ToolCalls);
        Assert.True(second.Usage.InputTokenCount > first.Usage.InputTokenCount, "the call and its result are added to the second prompt");

        // The template really rendered the call and the tool's answer into the second prompt.
        var rendered = s.Engine.Text!.RenderChat([new ChatTurn("user", "q"), new ChatTurn("assistant", "") { ToolCalls = [new("call_1", call.FunctionName, call.FunctionArguments.ToString())] },
            new ChatTurn("tool", "22 degrees and sunny") { ToolCallId = "call_1" }], true);
        Assert.Contains(call.FunctionName, rendered);
        Assert.Contains("22 degrees and sunny", rendered);
    }

    [Fact]
    public async Task A_named_choice_calls_that_function()
    {
        using var model = WithTemplate("granite-4.0-h-instruct");
        await using var s = await StartAsync(model);
        var options = new ChatCompletionOptions { Tools = { Weather, Time }, ToolChoice = ChatToolChoice.CreateFunctionChoice("get_time"), Temperature = 1.0f, MaxOutputTokenCount = 200 };
        for (int i = 0; i < 3; i++)
        {
            ChatCompletion completion = await s.OpenAI.GetChatClient(TestServer.ModelId).CompleteChatAsync([new UserChatMessage($"time? {i}")], options);
            Assert.Equal("get_time", Assert.Single(completion.ToolCalls).FunctionName);
        }
    }

    [Theory]
    [InlineData("granite-4.0-h-instruct")]
    [InlineData("llama-3.1-8b-instruct")]
    public async Task Streamed_calls_reassemble_to_the_non_streamed_ones(string template)
    {
        using var model = WithTemplate(template);
        await using var s = await StartAsync(model);
        var client = s.OpenAI.GetChatClient(TestServer.ModelId);
        ChatMessage[] messages = [new UserChatMessage("weather in Oslo?")];
        var options = new ChatCompletionOptions { Tools = { Weather }, ToolChoice = ChatToolChoice.CreateRequiredChoice(), Temperature = 0, MaxOutputTokenCount = 200 };
        ChatCompletion whole = await client.CompleteChatAsync(messages, options);

        var names = new Dictionary<int, string>();
        var arguments = new Dictionary<int, StringBuilder>();
        var ids = new Dictionary<int, string>();
        ChatFinishReason? finish = null;
        await foreach (var update in client.CompleteChatStreamingAsync(messages, options))
        {
            foreach (var part in update.ToolCallUpdates)
            {
                if (part.ToolCallId is { } id) ids[part.Index] = id;
                if (part.FunctionName is { } name) names[part.Index] = name;
                (arguments.TryGetValue(part.Index, out var sb) ? sb : arguments[part.Index] = new StringBuilder()).Append(part.FunctionArgumentsUpdate.ToString());
            }
            finish ??= update.FinishReason;
        }

        Assert.Equal(ChatFinishReason.ToolCalls, finish);
        var expected = Assert.Single(whole.ToolCalls);
        Assert.Equal(expected.FunctionName, Assert.Single(names).Value);
        Assert.Equal(expected.FunctionArguments.ToString(), arguments[0].ToString());
        Assert.StartsWith("call_", ids[0]);
    }

    [Fact]
    public async Task Bad_tool_requests_are_400s_naming_the_field()
    {
        using var model = WithTemplate("granite-4.0-h-instruct");
        await using var s = await StartAsync(model);
        const string tools = """[{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}]""";
        var (status, body, _) = await s.PostAsync("/v1/chat/completions",
            """{"messages": [{"role": "user", "content": "x"}], "tools": """ + tools + """, "tool_choice": {"type": "function", "function": {"name": "g"}}}""");
        Assert.Equal(400, status);
        Assert.Equal("tool_choice", body.GetProperty("error").GetProperty("param").GetString());
        (status, body, _) = await s.PostAsync("/v1/chat/completions",
            """{"messages": [{"role": "user", "content": "x"}], "tools": [{"type": "function", "function": {"name": "f", "parameters": {"type": "object", "properties": {"a": {"type": "integer", "minimum": 1}}}}}], "tool_choice": "required"}""");
        Assert.Equal(400, status);
        Assert.Contains("minimum", body.GetProperty("error").GetProperty("message").GetString());
    }

    private static void AssertValid(string schema, string json)
    {
        using var doc = JsonDocument.Parse(json);
        Assert.True(JsonSchema.FromText(schema).Evaluate(doc.RootElement).IsValid, $"arguments {json} are invalid against {schema}");
    }
}
