using System.Text.Json;
using Bamba.Backends.Cuda;
using Bamba.Cuda.Tests.Kernels;
using Bamba.Generation;
using Bamba.Generation.Constraints;
using Bamba.Generation.Scheduling;

namespace Bamba.Cuda.Tests.Model;

/// <summary>
/// Constrained decoding on the GPU sampling path: each step's grammar masks go up with the step and are applied to the
/// logits on the device. A model's masked device choice equals the host's (the same step's downloaded logits through
/// <see cref="TokenConstraint.Apply"/>), batched and through the batch-1 CUDA graph; json_schema requests through the
/// scheduler come out as valid JSON from a random-weight model, which only the mask can do. Only tiny-bamba is needed.
/// </summary>
public class ConstrainedDecodingTests
{
    private const string ListSchema = """
        {"type":"array","items":{"type":"object","properties":{"k":{"enum":["a","bb"]},"v":{"type":"integer"}},
         "required":["k","v"],"additionalProperties":false}}
        """;

    private const string PetSchema = """
        {
          "type": "object",
          "properties": {
            "name": {"type": "string", "maxLength": 8},
            "kind": {"enum": ["cat", "dog", "fish"]},
            "age": {"type": "integer"},
            "tags": {"type": "array", "items": {"type": "string", "maxLength": 4}, "maxItems": 3},
            "owner": {
              "type": "object",
              "properties": {"id": {"type": "integer"}, "zip": {"anyOf": [{"type": "string", "maxLength": 5}, {"type": "null"}]}},
              "required": ["id", "zip"],
              "additionalProperties": false
            },
            "alive": {"type": "boolean"}
          },
          "required": ["name", "kind", "age", "tags", "owner", "alive"],
          "additionalProperties": false
        }
        """;

    /// <summary>
    /// Batch 3 (the last sequence unconstrained beside two constrained ones) runs the plain launches, so device and host
    /// logits are the same bits and a seeded draw must agree too; batch 1 replays the CUDA graph, whose attention sums
    /// in another order than the host's plain step, so it is compared greedy only (as DecodeGraphTests does).
    /// </summary>
    [Theory]
    [InlineData(3, 0f)]
    [InlineData(3, 1.0f)]
    [InlineData(1, 0f)]
    public void DeviceMaskedStepsEqualTheHostsMaskedChoice(int batch, float temperature)
    {
        Gpu.Require();
        using var model = CudaModel.Load(Fixtures.Model("tiny-bamba"), CudaPrecision.Float32);
        int vocab = model.Config.VocabSize;
        int[] eos = [.. model.Config.EosTokenIds];
        var grammar = ByteGrammars.Schema(ListSchema, vocab, eos);
        var sampling = Enumerable.Repeat(temperature == 0 ? SamplingOptions.Greedy : new SamplingOptions { Temperature = temperature }, batch).ToArray();
        var random = new Random(7);
        var prompts = Enumerable.Range(0, batch).Select(i => Enumerable.Range(0, 5 + 4 * i).Select(_ => random.Next(3, vocab)).ToArray()).ToArray();
        TokenConstraint?[] Constraints() => [.. Enumerable.Range(0, batch).Select(i => batch == 1 || i < batch - 1 ? grammar.Start(eos) : null)];
        var (onDevice, onHost) = (Constraints(), Constraints());
        var deviceStates = Enumerable.Range(0, batch).Select(_ => model.CreateState()).ToArray();
        var hostStates = Enumerable.Range(0, batch).Select(_ => model.CreateState()).ToArray();
        var inputs = prompts.Select(p => new SequenceInput(p)).ToArray();
        var draws = new Random(8);
        var constrainedIds = new List<int>();

        for (int step = 0; step < 48; step++)
        {
            var uniforms = Enumerable.Range(0, batch).Select(_ => draws.NextSingle()).ToArray();
            var ids = model.StepAndSample(deviceStates, inputs, sampling, uniforms, [.. onDevice.Select(c => c?.AllowedMask())]);
            var logits = model.Step(hostStates, inputs);
            for (int i = 0; i < batch; i++)
            {
                onHost[i]?.Apply(logits[i]);
                int want = temperature == 0 ? Sampler.ArgMax(logits[i]) : SamplingTests.Twin(logits[i], temperature, 0, 1f, uniforms[i]);
                Assert.True(want == ids[i], $"step {step}, sequence {i}: the device picked {ids[i]}, the host {want}");
                onDevice[i]?.Accept(ids[i]);
                onHost[i]?.Accept(want);
            }
            constrainedIds.Add(ids[0]);
            inputs = [.. ids.Select(id => new SequenceInput(new[] { id }))];
        }
        foreach (var s in deviceStates.Concat(hostStates)) s.Dispose();

        // The first sequence's output so far is a grammar sentence or the start of one, ended by EOS once complete.
        var text = ByteGrammars.Text(grammar, constrainedIds);
        Assert.False(grammar.Matcher.Advance(grammar.Matcher.Start, text).IsDead, System.Text.Encoding.UTF8.GetString(text));
    }

    /// <summary>
    /// The device's table of masks with 4 slots under 3 rows a step drawn from 12 masks: slots change hands almost
    /// every step, and every greedy pick still equals the host's argmax over the row's own mask (a stale slot would
    /// show as a forbidden or wrong id).
    /// </summary>
    [Fact]
    public void MasksKeepTheirMeaningWhileTheDeviceTableEvicts()
    {
        Gpu.Require();
        using var model = CudaModel.Load(Fixtures.Model("tiny-bamba"), CudaPrecision.Float32);
        model.MaskTableSlots = 4;
        int vocab = model.Config.VocabSize, batch = 3;
        var random = new Random(21);
        var pool = Enumerable.Range(0, 12).Select(_ =>
        {
            var mask = new ulong[(vocab + 63) / 64];
            for (int id = 0; id < vocab; id++) if (random.Next(4) == 0) mask[id >> 6] |= 1UL << (id & 63);
            return mask;
        }).ToArray();
        var deviceStates = Enumerable.Range(0, batch).Select(_ => model.CreateState()).ToArray();
        var hostStates = Enumerable.Range(0, batch).Select(_ => model.CreateState()).ToArray();
        var inputs = Enumerable.Range(0, batch).Select(i => new SequenceInput(new[] { 5 + i, 9, 40 + i })).ToArray();
        var sampling = Enumerable.Repeat(SamplingOptions.Greedy, batch).ToArray();
        for (int step = 0; step < 40; step++)
        {
            var masks = Enumerable.Range(0, batch).Select(_ => pool[random.Next(pool.Length)]).ToArray();
            var ids = model.StepAndSample(deviceStates, inputs, sampling, new float[batch], masks);
            var logits = model.Step(hostStates, inputs);
            for (int i = 0; i < batch; i++)
            {
                for (int id = 0; id < vocab; id++)
                    if ((masks[i][id >> 6] >> (id & 63) & 1) == 0) logits[i][id] = float.NegativeInfinity;
                Assert.True(Sampler.ArgMax(logits[i]) == ids[i], $"step {step}, row {i}: the device picked {ids[i]}, the host {Sampler.ArgMax(logits[i])}");
            }
            inputs = [.. ids.Select(id => new SequenceInput(new[] { id }))];
        }
        foreach (var s in deviceStates.Concat(hostStates)) s.Dispose();
    }

    [Fact]
    public async Task JsonSchemaRequestsThroughTheSchedulerAreValidJson()
    {
        Gpu.Require();
        using var model = CudaModel.Load(Fixtures.Model("tiny-bamba"), CudaPrecision.BFloat16);
        int[] eos = [.. model.Config.EosTokenIds];
        var grammar = ByteGrammars.Schema(PetSchema, model.Config.VocabSize, eos);
        using var scheduler = new ContinuousBatchScheduler(model,
            new SchedulerOptions { MaxBatch = 16, MaxQueue = 64, PrefillChunk = 16, MaxStepTokens = 64, MaxContext = 1024 });
        var random = new Random(9);
        var requests = Enumerable.Range(0, 32).Select(i => new SequenceRequest
        {
            Prompt = [.. Enumerable.Range(0, 6 + i % 5).Select(_ => random.Next(3, model.Config.VocabSize))],
            MaxNewTokens = 600, EosTokenIds = eos, Grammar = grammar,
            Sampling = new SamplingOptions { Temperature = 1.0f, Seed = (ulong)i },
        }).ToArray();

        var results = await Task.WhenAll(requests.Select(r => scheduler.RunAsync(r)));

        var kinds = new HashSet<string>();
        foreach (var (tokens, result) in results)
        {
            var text = ByteGrammars.Text(grammar, tokens.Select(t => t.Id));
            string shown = System.Text.Encoding.UTF8.GetString(text);
            Assert.True(result.Finish == SequenceFinish.Stop, $"{result.Finish}: {shown}");
            Assert.True(grammar.Matcher.Accepts(text), shown);
            using var doc = JsonDocument.Parse(text);
            var root = doc.RootElement;
            foreach (var name in new[] { "name", "kind", "age", "tags", "owner", "alive" }) Assert.True(root.TryGetProperty(name, out _), shown);
            Assert.InRange(root.GetProperty("tags").GetArrayLength(), 0, 3);
            Assert.True(root.GetProperty("owner").GetProperty("id").ValueKind == JsonValueKind.Number, shown);
            kinds.Add(root.GetProperty("kind").GetString()!);
        }
        Assert.Subset(new HashSet<string> { "cat", "dog", "fish" }, kinds);
        Assert.True(kinds.Count > 1, "32 draws at temperature 1 all chose one kind");
    }
}
