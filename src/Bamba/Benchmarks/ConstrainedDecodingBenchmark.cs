using System.Diagnostics;
using System.Text.Json;
using Bamba.Generation;
using Bamba.Generation.Constraints;
using Bamba.Modeling;
using Bamba.Tokenization;

namespace Bamba.Benchmarks;

/// <summary>Decode steps of a batch with and without a JSON-schema constraint: the model's time and the grammar's.</summary>
public sealed record ConstrainedDecodingResult(
    string Model, string Tokenizer, int Vocab, int Batch, int Steps, int SchemaProperties, double ModelMsPerStep,
    double FirstPassGrammarMsPerStep, double WarmGrammarMsPerStep, int GrammarStates, int CompletedDocuments)
{
    /// <summary>How much longer a constrained decode step takes, once the states in use are cached.</summary>
    public double WarmOverhead => WarmGrammarMsPerStep / ModelMsPerStep;
    public double WarmMicrosecondsPerToken => WarmGrammarMsPerStep * 1000 / Batch;
}

/// <summary>
/// Runs <c>steps</c> decode steps of <c>batch</c> sequences on the model, each sampled (temperature 1) under a
/// 30-property schema's mask, and times separately the model step and the grammar's work per step (mask lookup or
/// computation, −∞ over the refused logits, advancing the state). Two passes: the first computes the states' masks,
/// the second finds them cached, as a server does after its first requests with a schema. A finished document starts
/// the next one, so every step is a constrained step.
/// </summary>
public static class ConstrainedDecodingBenchmark
{
    public const int Properties = 30;

    public static ConstrainedDecodingResult Run(BambaModel model, string modelName, string tokenizerDir, int batch, int steps, IProgress<string>? progress = null)
    {
        var tokenizer = HfTokenizer.Load(tokenizerDir);
        int vocab = model.Config.VocabSize;
        var grammar = new TokenGrammar(JsonSchemaGrammar.Compile(Schema()), new TokenVocabulary(TokenBytes.Of(tokenizer), vocab));
        var sampler = new Sampler(new SamplingOptions { Temperature = 1, Seed = 7 });
        var states = Enumerable.Range(0, batch).Select(_ => model.CreateState()).ToArray();
        var next = new int[batch];
        var constraints = new TokenConstraint[batch];
        int start = tokenizer.BosId is int bos && bos < vocab ? bos : 0, completed = 0;
        double modelSeconds = 0, firstGrammar = 0, warmGrammar = 0;
        var row = new float[vocab];
        var clock = new Stopwatch();
        for (int pass = 0; pass < 2; pass++)
        {
            progress?.Report(pass == 0 ? "first pass (masks computed as states appear)" : "second pass (masks cached)");
            for (int i = 0; i < batch; i++) { constraints[i] = grammar.Start([]); next[i] = start; }
            for (int step = 0; step < steps; step++)
            {
                clock.Restart();
                var logits = model.Step(states, next.Select(id => new SequenceInput(new[] { id })).ToArray());
                if (pass == 1) modelSeconds += clock.Elapsed.TotalSeconds;
                double grammarSeconds = 0;
                for (int i = 0; i < batch; i++)
                {
                    clock.Restart();
                    logits[i].AsSpan(logits[i].Length - vocab).CopyTo(row);
                    constraints[i].Apply(row);
                    grammarSeconds += clock.Elapsed.TotalSeconds;
                    next[i] = sampler.Sample(row, [], 0);
                    clock.Restart();
                    constraints[i].Accept(next[i]);
                    if (constraints[i].IsDone) { constraints[i] = grammar.Start([]); completed++; }
                    grammarSeconds += clock.Elapsed.TotalSeconds;
                }
                if (pass == 0) firstGrammar += grammarSeconds; else warmGrammar += grammarSeconds;
            }
            foreach (var s in states) s.Dispose();
            states = Enumerable.Range(0, batch).Select(_ => model.CreateState()).ToArray();
        }
        foreach (var s in states) s.Dispose();
        return new ConstrainedDecodingResult(modelName, tokenizerDir, vocab, batch, steps, Properties, modelSeconds * 1000 / steps,
            firstGrammar * 1000 / steps, warmGrammar * 1000 / steps, grammar.Matcher.StateCount, completed);
    }

    /// <summary>A flat object of 30 properties: strings (≤ 16 characters), integers, numbers, booleans and enums, all required.</summary>
    public static JsonElement Schema()
    {
        string[] kinds =
        [
            """{"type": "string", "maxLength": 16}""", """{"type": "integer"}""", """{"type": "number"}""", """{"type": "boolean"}""",
            """{"enum": ["low", "medium", "high"]}""", """{"type": "array", "items": {"type": "integer"}, "maxItems": 3}""",
        ];
        var properties = Enumerable.Range(0, Properties).Select(i => $"\"field_{i}\": {kinds[i % kinds.Length]}");
        var required = Enumerable.Range(0, Properties).Select(i => $"\"field_{i}\"");
        string text = $$"""{"type": "object", "properties": {{{string.Join(", ", properties)}}}, "required": [{{string.Join(", ", required)}}], "additionalProperties": false}""";
        return JsonDocument.Parse(text).RootElement.Clone();
    }
}
