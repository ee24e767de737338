using System.Text.Json;
using Bamba.Serving;
using Json.Schema;
using OpenAI.Chat;

namespace Bamba.Tests.Server;

/// <summary>
/// response_format through the official OpenAI client on a random-weight model: only constrained decoding can make
/// its samples valid JSON, so every one of them checked by JsonSchema.Net shows the mask works end to end.
/// </summary>
public class StructuredOutputTests
{
    private const string PetSchema = """
        {
          "type": "object",
          "properties": {
            "name": {"type": "string", "maxLength": 12},
            "kind": {"enum": ["cat", "dog", "fish"]},
            "age": {"type": "integer"},
            "score": {"type": "number"},
            "tags": {"type": "array", "items": {"type": "string", "maxLength": 6}, "maxItems": 3},
            "owner": {
              "type": "object",
              "properties": {
                "id": {"type": "integer"},
                "address": {
                  "type": "object",
                  "properties": {
                    "city": {"type": "string", "maxLength": 8},
                    "zip": {"anyOf": [{"type": "string", "maxLength": 5}, {"type": "null"}]},
                    "history": {"type": "array", "items": {"$ref": "#/$defs/visit"}, "minItems": 1, "maxItems": 2}
                  },
                  "required": ["city", "zip", "history"],
                  "additionalProperties": false
                }
              },
              "required": ["id", "address"],
              "additionalProperties": false
            },
            "alive": {"type": "boolean"},
            "notes": {"type": ["string", "null"], "maxLength": 10}
          },
          "required": ["name", "kind", "age", "tags", "owner", "alive"],
          "additionalProperties": false,
          "$defs": {"visit": {"type": "object", "properties": {"year": {"type": "integer"}, "ok": {"type": "boolean"}}, "required": ["year"]}}
        }
        """;

    private static async Task<TestServer> StartAsync(TinyTextModel model) =>
        await TestServer.StartAsync(ServingEngine.Load(model.Directory, TestServer.DefaultOptions with { MaxBatch = 16, MaxContext = 1024 }, TestServer.ModelId));

    [Fact]
    public async Task Hundred_samples_at_temperature_one_all_validate_against_the_schema()
    {
        using var model = new TinyTextModel();
        await using var s = await StartAsync(model);
        // 100 requests share 16 slots: on a busy 2-core machine the last answers come after the client's default timeout.
        var client = new ChatClient(TestServer.ModelId, new System.ClientModel.ApiKeyCredential(TestServer.Key),
            new OpenAI.OpenAIClientOptions { Endpoint = new Uri(s.Server.Address, "v1"), NetworkTimeout = TimeSpan.FromMinutes(15) });
        var reference = JsonSchema.FromText(PetSchema);
        var options = new ChatCompletionOptions
        {
            Temperature = 1.0f,
            MaxOutputTokenCount = 800,
            ResponseFormat = ChatResponseFormat.CreateJsonSchemaFormat("pet", BinaryData.FromString(PetSchema), jsonSchemaIsStrict: true),
        };
        var completions = await Task.WhenAll(Enumerable.Range(0, 100).Select(i =>
            client.CompleteChatAsync([new UserChatMessage($"describe pet number {i}")], options)));

        var kinds = new HashSet<string>();
        foreach (var result in completions)
        {
            ChatCompletion completion = result;
            Assert.Equal(ChatFinishReason.Stop, completion.FinishReason);
            string text = completion.Content[0].Text;
            using var doc = JsonDocument.Parse(text);
            var evaluation = reference.Evaluate(doc.RootElement);
            Assert.True(evaluation.IsValid, $"invalid against the schema: {text}");
            kinds.Add(doc.RootElement.GetProperty("kind").GetString()!);
        }
        Assert.True(kinds.Count >= 2, "at temperature 1 the samples should differ"); // sampled, not one greedy answer
    }

    [Fact]
    public async Task Json_object_gives_an_object()
    {
        using var model = new TinyTextModel();
        await using var s = await StartAsync(model);
        var client = s.OpenAI.GetChatClient(TestServer.ModelId);
        var options = new ChatCompletionOptions { Temperature = 0, MaxOutputTokenCount = 300, ResponseFormat = ChatResponseFormat.CreateJsonObjectFormat() };
        ChatCompletion completion = await client.CompleteChatAsync([new UserChatMessage("hi")], options);
        string text = completion.Content[0].Text;
        Assert.StartsWith("{", text);
        if (completion.FinishReason == ChatFinishReason.Stop)
            Assert.Equal(JsonValueKind.Object, JsonDocument.Parse(text).RootElement.ValueKind);
        else
            Assert.Equal(300, completion.Usage.OutputTokenCount); // cut by max_tokens, never by a bad token
    }

    [Fact]
    public async Task A_schema_it_cannot_enforce_is_a_400_naming_the_construct()
    {
        using var model = new TinyTextModel();
        await using var s = await StartAsync(model);
        var (status, body, _) = await s.PostAsync("/v1/chat/completions", """
            {"messages": [{"role": "user", "content": "x"}], "response_format": {"type": "json_schema",
             "json_schema": {"name": "n", "schema": {"type": "object", "properties": {"a": {"type": "string", "pattern": "^x"}}}}}}
            """);
        Assert.Equal(400, status);
        Assert.Equal("response_format.json_schema.schema", body.GetProperty("error").GetProperty("param").GetString());
        Assert.Contains("'pattern'", body.GetProperty("error").GetProperty("message").GetString());
        Assert.Contains("#/properties/a/pattern", body.GetProperty("error").GetProperty("message").GetString());
    }
}
