using System.Text.Json.Serialization;
using Bamba.Serving;
using Microsoft.Extensions.AI;

namespace Bamba.Tests.Server;

/// <summary>
/// Microsoft.Extensions.AI 11 against the engine: over HTTP through the OpenAI client (<c>AsIChatClient</c>) and
/// in-process through <see cref="BambaChatClient"/>, function invocation calls a C# function with arguments the
/// constrained call made valid, and <c>GetResponseAsync&lt;T&gt;</c> gives a typed object.
/// </summary>
public class ExtensionsAiTests
{
    [JsonConverter(typeof(JsonStringEnumConverter<Weekday>))]
    public enum Weekday { Monday, Tuesday, Wednesday, Thursday, Friday }

    public sealed record Forecast(Weekday Day, long Hour, bool Windy);

    private static TinyTextModel Granite() =>
        new(File.ReadAllText(Path.Combine(Bamba.Tests.ChatTemplates.TemplateData.Directory, "granite-4.0-h-instruct.jinja")));

    private static ServingEngine Engine(TinyTextModel model) =>
        ServingEngine.Load(model.Directory, TestServer.DefaultOptions with { MaxContext = 4096, PrefillChunk = 256, MaxStepTokens = 512 }, TestServer.ModelId);

    private static async Task CallsTheFunction(IChatClient inner)
    {
        var calls = new List<(Weekday Day, long Hour)>();
        var tool = AIFunctionFactory.Create((Weekday day, long hour) => { calls.Add((day, hour)); return "rain"; }, "forecast", "the forecast for a day and hour");
        using var client = inner.AsBuilder().UseFunctionInvocation(configure: f => f.MaximumIterationsPerRequest = 2).Build();
        var response = await client.GetResponseAsync("Will it rain on Monday at 9?",
            new ChatOptions { Tools = [tool], ToolMode = ChatToolMode.RequireAny, MaxOutputTokens = 300, Temperature = 1 });

        Assert.NotEmpty(calls);
        var results = response.Messages.SelectMany(m => m.Contents).OfType<FunctionResultContent>().ToList();
        Assert.NotEmpty(results);
        Assert.All(results, r => Assert.Equal("rain", r.Result?.ToString()));
    }

    private static async Task GivesATypedObject(IChatClient client)
    {
        var response = await client.GetResponseAsync<Forecast>("Forecast for Friday?", new ChatOptions { MaxOutputTokens = 200, Temperature = 1 });
        Assert.True(response.TryGetResult(out var forecast), $"not a Forecast: {response.Text}");
        Assert.True(Enum.IsDefined(forecast!.Day));
    }

    [Fact]
    public async Task Over_http_function_invocation_calls_the_csharp_function()
    {
        using var model = Granite();
        await using var s = await TestServer.StartAsync(Engine(model));
        await CallsTheFunction(s.OpenAI.GetChatClient(TestServer.ModelId).AsIChatClient());
    }

    [Fact]
    public async Task Over_http_GetResponseAsync_of_T_returns_a_typed_object()
    {
        using var model = Granite();
        await using var s = await TestServer.StartAsync(Engine(model));
        await GivesATypedObject(s.OpenAI.GetChatClient(TestServer.ModelId).AsIChatClient());
    }

    [Fact]
    public async Task In_process_the_chat_client_calls_functions_and_returns_typed_objects()
    {
        using var model = Granite();
        using var engine = Engine(model);
        using var client = new BambaChatClient(engine);
        await CallsTheFunction(client);
        await GivesATypedObject(client);
    }
}
