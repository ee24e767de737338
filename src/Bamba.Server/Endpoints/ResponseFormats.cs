using System.Text.Json;
using Bamba.Generation.Constraints;
using Bamba.Serving;

namespace Bamba.Server.Endpoints;

/// <summary>
/// OpenAI's <c>response_format</c>: <c>text</c> (free), <c>json_object</c> (any JSON object) or <c>json_schema</c> (valid
/// against the schema), the last two enforced by constrained decoding. A schema the compiler cannot enforce is a 400
/// naming the keyword and where it is.
/// </summary>
internal static class ResponseFormats
{
    public static TokenGrammar? Grammar(JsonElement? format, ServingEngine engine)
    {
        if (format is not { } f || f.ValueKind == JsonValueKind.Null) return null;
        if (f.ValueKind != JsonValueKind.Object || !f.TryGetProperty("type", out var type) || type.ValueKind != JsonValueKind.String)
            throw ApiException.BadValue("response_format", "response_format must be an object with a 'type'");
        switch (type.GetString())
        {
            case "text": return null;
            case "json_object": return Compile(engine.Grammars.AnyObject, "response_format");
            case "json_schema":
                if (!f.TryGetProperty("json_schema", out var spec) || spec.ValueKind != JsonValueKind.Object)
                    throw ApiException.BadValue("response_format.json_schema", "json_schema must be an object with a 'schema'");
                if (!spec.TryGetProperty("schema", out var schema))
                    throw ApiException.BadValue("response_format.json_schema.schema", "json_schema needs a 'schema'");
                return Compile(() => engine.Grammars.Schema(schema), "response_format.json_schema.schema");
            case var other:
                throw ApiException.BadValue("response_format.type", $"response_format type must be text, json_object or json_schema, got '{other}'");
        }
    }

    /// <summary>A construct the compiler cannot enforce is a 400 on <paramref name="param"/>.</summary>
    private static TokenGrammar Compile(Func<TokenGrammar> compile, string param)
    {
        try { return compile(); }
        catch (UnsupportedSchemaException e) { throw ApiException.BadValue(param, $"unsupported schema construct '{e.Construct}': {e.Message}"); }
        catch (BambaException e) { throw ApiException.BadValue(param, e.Message); }
    }
}
