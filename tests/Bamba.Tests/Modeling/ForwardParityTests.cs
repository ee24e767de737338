using Bamba.Generation;
using Bamba.Modeling;

namespace Bamba.Tests.Modeling;

/// <summary>Logits and every hidden state against transformers, on every fixture model and input set.</summary>
public class ForwardParityTests
{
    private const double Tol = 1e-4;

    public static TheoryData<string, string> Cases()
    {
        var data = new TheoryData<string, string>();
        foreach (var model in Fixtures.AllModelNames)
            foreach (var label in new[] { "single", "batch2", "left_padded" }) data.Add(model, label);
        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void LogitsAndHiddenStatesMatchTransformers(string modelName, string label)
    {
        using var model = BambaModel.Load(Fixtures.Model(modelName));
        using var reference = new Reference(modelName);
        var ids = reference.Rows($"{label}.input_ids");
        var mask = reference.Has($"{label}.attention_mask") ? reference.Rows($"{label}.attention_mask") : null;
        var inputs = ids.Select((row, b) => new SequenceInput(row, mask is null ? default : mask[b].Select(m => m == 0).ToArray())).ToArray();
        var states = ids.Select(_ => model.CreateState()).ToArray();

        var result = model.Forward(states, inputs, new ForwardOptions { AllLogits = true, HiddenStates = true });

        var keep = Enumerable.Range(0, ids.Length * ids[0].Length)
            .Where(i => mask is null || mask[i / ids[0].Length][i % ids[0].Length] == 1).ToArray();
        int vocab = model.Config.VocabSize, hidden = model.Config.HiddenSize;
        Assert.Equal(model.Config.NumHiddenLayers + 1, result.HiddenStates.Count);
        for (int i = 0; i < result.HiddenStates.Count; i++)
            Compare(reference.Floats($"{label}.hidden_states.{i}"), result.HiddenStates[i], hidden, keep, $"{modelName} {label} hidden_states.{i}");
        Compare(reference.Floats($"{label}.logits"), result.Logits, vocab, keep, $"{modelName} {label} logits");
    }

    private static void Compare(float[] expected, float[] actual, int width, int[] rows, string what)
    {
        var e = rows.SelectMany(r => expected.AsSpan(r * width, width).ToArray()).ToArray();
        var a = rows.SelectMany(r => actual.AsSpan(r * width, width).ToArray()).ToArray();
        Tolerance.AssertClose(e, a, Tol, what);
    }
}
