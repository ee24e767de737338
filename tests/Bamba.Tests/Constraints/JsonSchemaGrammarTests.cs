using System.Text.Json;
using Bamba.Generation.Constraints;

namespace Bamba.Tests.Constraints;

/// <summary>
/// Each schema construct: documents that must be accepted and rejected, each checked against JsonSchema.Net, and
/// random sentences of the compiled grammar, every one of which the reference must find valid.
/// </summary>
public class JsonSchemaGrammarTests
{
    public static TheoryData<string, string[], string[]> Constructs => new()
    {
        { """{"type": "string"}""", ["\"\"", "\"abc\"", "\"a\\\"b\\\\c\\n\"", "\"\\u00e9\\u4e2D\"", "\"héllo 世界 🎉\""], ["\"a", "abc", "1", "\"\\x\""] },
        { """{"type": "string", "minLength": 2, "maxLength": 3}""", ["\"ab\"", "\"abc\"", "\"\\nb\""], ["\"a\"", "\"abcd\""] },
        { """{"type": "integer"}""", ["0", "-7", "123456"], ["1.5", "01", "-", "\"1\""] },
        { """{"type": "number"}""", ["0", "-0.5", "3.25e-7", "12E+3", "1.0"], ["01", ".5", "1.", "1e", "+1", "NaN"] },
        { """{"type": "boolean"}""", ["true", "false"], ["True", "1", "null"] },
        { """{"type": "null"}""", ["null"], ["nul", "0"] },
        { """{"type": ["string", "null"]}""", ["null", "\"x\""], ["1", "true"] },
        { """{"enum": ["red", "green", 3, null]}""", ["\"red\"", "\"green\"", "3", "null"], ["\"blue\"", "\"re\"", "4"] },
        { """{"type": "string", "enum": ["a", 1]}""", ["\"a\""], ["1"] },
        { """{"const": {"a": [1, "x"]}}""", ["{\"a\":[1,\"x\"]}"], ["{\"a\":[1]}", "{}"] },
        { """{"type": "array", "items": {"type": "integer"}}""", ["[]", "[1]", "[1,2, 3]"], ["[1,]", "[\"a\"]", "[", "[1 2]"] },
        { """{"type": "array", "items": {"type": "boolean"}, "minItems": 2, "maxItems": 3}""", ["[true,false]", "[true,true,false]"], ["[]", "[true]", "[true,true,true,true]"] },
        { """{"type": "array", "maxItems": 0}""", ["[]"], ["[1]"] },
        {
            """{"type": "object", "properties": {"a": {"type": "integer"}, "b": {"type": "string"}, "c": {"type": "boolean"}}, "required": ["b"], "additionalProperties": false}""",
            ["{\"b\":\"x\"}", "{\"a\":1,\"b\":\"x\"}", "{\"a\": 1, \"b\": \"x\", \"c\": true}", "{\"b\":\"\",\"c\":false}"],
            ["{}", "{\"a\":1}", "{\"a\":1,\"b\":\"x\",}", "{\"b\":\"x\",\"d\":1}", "{\"b\":1}"]
        },
        { """{"type": "object", "properties": {"x": {"type": "null"}}}""", ["{}", "{\"x\":null}"], ["{\"x\":1}", "{\"x\":null,}"] },
        { """{"type": "object", "additionalProperties": {"type": "integer"}}""", ["{}", "{\"k\":1}", "{\"k\":1, \"j\":-2}"], ["{\"k\":\"v\"}", "{k:1}"] },
        { """{"type": "object", "additionalProperties": false}""", ["{}"], ["{\"a\":1}"] },
        { """{"type": "object"}""", ["{}", "{\"a\":[1,{\"b\":null}],\"c\":\"d\"}"], ["[]", "{\"a\"}", "{\"a\":}"] },
        { """{"anyOf": [{"type": "integer"}, {"type": "array", "items": {"type": "string"}}]}""", ["5", "[\"a\"]", "[]"], ["\"a\"", "[1]"] },
        {
            """{"$defs": {"node": {"type": "object", "properties": {"v": {"type": "integer"}, "next": {"anyOf": [{"$ref": "#/$defs/node"}, {"type": "null"}]}}, "required": ["v", "next"]}}, "$ref": "#/$defs/node"}""",
            ["{\"v\":1,\"next\":null}", "{\"v\":1,\"next\":{\"v\":2,\"next\":null}}"], ["{\"v\":1}", "{\"v\":1,\"next\":{\"v\":2}}"]
        },
        {
            """{"$schema": "http://json-schema.org/draft-07/schema#", "definitions": {"leaf": {"type": "string", "maxLength": 1}}, "type": "array", "items": {"$ref": "#/definitions/leaf"}}""",
            ["[\"a\",\"b\"]", "[\"\"]"], ["[\"ab\"]", "[1]"]
        },
        { """{"type": "array", "items": {"$ref": "#"}}""", ["[]", "[[],[[]]]"], ["[1]", "[[1]]"] },
        { "true", ["1", "\"s\"", "{\"a\":[]}", "null"], ["", "{"] },
        { """{"title": "t", "description": "d", "default": 1, "type": "integer"}""", ["1"], ["\"1\""] },
    };

    [Theory]
    [MemberData(nameof(Constructs))]
    public void Accepts_what_the_reference_accepts_and_rejects_the_rest(string schema, string[] valid, string[] invalid)
    {
        var reference = new SchemaReference(schema);
        foreach (var json in valid)
        {
            Assert.True(reference.ReferenceAccepts(json), $"the reference rejects {json}: the test case is wrong");
            Assert.True(reference.GrammarAccepts(json), $"the grammar rejects {json}");
        }
        foreach (var text in invalid)
        {
            if (IsJson(text)) Assert.False(reference.ReferenceAccepts(text), $"the reference accepts {text}: the test case is wrong");
            Assert.False(reference.GrammarAccepts(text), $"the grammar accepts {text}");
        }
    }

    [Theory]
    [MemberData(nameof(Constructs))]
    public void Every_random_sentence_is_valid_for_the_reference(string schema, string[] valid, string[] invalid)
    {
        _ = (valid, invalid);
        var reference = new SchemaReference(schema);
        var random = new Random(1234);
        int checkedCount = 0;
        for (int i = 0; i < 60; i++)
        {
            if (reference.RandomSentence(random) is not { } json) continue;
            Assert.True(IsJson(json), $"not JSON: {json}");
            Assert.True(reference.ReferenceAccepts(json), $"the reference rejects the grammar's {json}");
            checkedCount++;
        }
        Assert.True(checkedCount >= 30, $"only {checkedCount} of 60 random sentences ended within the byte limit");
    }

    [Theory]
    [InlineData("""{"type": "string", "pattern": "^a"}""", "pattern", "#/pattern")]
    [InlineData("""{"type": "object", "properties": {"age": {"type": "integer", "minimum": 0}}}""", "minimum", "#/properties/age/minimum")]
    [InlineData("""{"oneOf": [{"type": "integer"}]}""", "oneOf", "#/oneOf")]
    [InlineData("""{"allOf": [{"type": "integer"}]}""", "allOf", "#/allOf")]
    [InlineData("""{"type": "string", "format": "date-time"}""", "format", "#/format")]
    [InlineData("""{"$ref": "https://example.com/s.json"}""", "$ref", "#/$ref")]
    [InlineData("""{"$ref": "#/$defs/missing"}""", "$ref", "#/$ref")]
    [InlineData("""{"type": "object", "required": ["x"]}""", "required", "#/required")]
    [InlineData("""{"type": "texture"}""", "type", "#/type")]
    [InlineData("""{"enum": []}""", "enum", "#/enum")]
    [InlineData("false", "false", "#")]
    [InlineData("""{"type": "string", "maxLength": 100000}""", "maxLength", "#/maxLength")]
    public void A_construct_it_cannot_enforce_is_named(string schema, string construct, string path)
    {
        using var doc = JsonDocument.Parse(schema);
        var e = Assert.Throws<UnsupportedSchemaException>(() => JsonSchemaGrammar.Compile(doc.RootElement.Clone()));
        Assert.Equal(construct, e.Construct);
        Assert.Equal(path, e.Path);
        Assert.Contains(path, e.Message);
    }

    [Fact]
    public void A_schema_that_refers_to_itself_without_nesting_keeps_its_other_branches()
    {
        // (JsonSchema.Net overflows its stack on this schema, so there is no reference check here.)
        using var doc = JsonDocument.Parse("""{"anyOf": [{"$ref": "#"}, {"type": "null"}]}""");
        var matcher = new GrammarMatcher(JsonSchemaGrammar.Compile(doc.RootElement.Clone()));
        Assert.True(matcher.Accepts("null"u8));
        Assert.False(matcher.Accepts("1"u8));
    }

    [Fact]
    public void Stricter_than_the_reference_where_output_must_stay_portable()
    {
        // Lone surrogate escapes (valid JSON text, but no Unicode string), exponents on integers and numbers too long
        // to end are left out of what the grammar generates: a subset of the valid documents, never a superset.
        var text = new SchemaReference("""{"type": "string"}""");
        Assert.True(text.ReferenceAccepts("\"\\ud800\""));
        Assert.False(text.GrammarAccepts("\"\\ud800\""));
        var integer = new SchemaReference("""{"type": "integer"}""");
        Assert.True(integer.ReferenceAccepts("1e3"));
        Assert.False(integer.GrammarAccepts("1e3"));
        Assert.True(integer.GrammarAccepts(new string('9', JsonGrammarParts.MaxIntegerDigits)));
        Assert.False(integer.GrammarAccepts(new string('9', JsonGrammarParts.MaxIntegerDigits + 1)));
    }

    [Fact]
    public void A_state_reached_twice_is_the_same_state()
    {
        var reference = new SchemaReference("""{"type": "array", "items": {"type": "string"}}""");
        var m = reference.Matcher;
        var afterA = m.Advance(m.Start, "[\"a"u8);
        var afterAbc = m.Advance(m.Start, "[\"abc"u8);
        Assert.Same(afterA, afterAbc);
        Assert.Same(m.Advance(m.Start, "[\"x\",\"y"u8), m.Advance(m.Start, "[\"x\",\"yy"u8));
    }

    private static bool IsJson(string text)
    {
        try { using var _ = JsonDocument.Parse(text); return true; }
        catch (JsonException) { return false; }
    }
}
