using Bamba.Backends.Cpu;
using Bamba.Configuration;
using Bamba.Generation;
using Bamba.Weights;
using System.Numerics.Tensors;

namespace Bamba.Modeling;

/// <summary>
/// A hybrid model of any registered family on the CPU (the reference backend): float32 arithmetic over weights kept in
/// their stored dtype. Each layer is <c>x += r·mixer(rmsnorm(x)); x += r·ffn(rmsnorm(x))</c> for the sublayers its
/// plan has, then a final rmsnorm and the LM head (docs/architecture.md).
/// </summary>
public sealed class BambaModel : ISequenceModel, IStateFiles
{
    private readonly WeightStore _store;
    private readonly CpuInferenceOps _ops;

    private BambaModel(BambaConfig config, WeightStore store, ModelAdapters? adapters)
    {
        Config = config;
        _store = store;
        Weights = ModelWeights.Load(store, config, adapters);
        Adapters = adapters?.Picked.Select(a => a.Name).ToArray() ?? [];
        _ops = new CpuInferenceOps(config, Weights, new Rope(config.RopeTheta, config.RotaryDim, config.Dtype == "bfloat16"));
    }

    public BambaConfig Config { get; }

    public TokenSpace Tokens => Config.TokenSpace;
    public ModelWeights Weights { get; }
    /// <summary>The adapters a sequence may pick (<see cref="SequenceState.Adapter"/>), by name.</summary>
    public IReadOnlyList<string> Adapters { get; }
    internal Weights.WeightStore Store => _store;

    /// <summary>Loads <c>config.json</c> and the safetensors weights of a model directory, or a GGUF file (memory-mapped).</summary>
    public static BambaModel Load(string directory) => Load(directory, ModelAdapters.None);

    /// <summary>The model with a LoRA adapter's deltas (by base weight name, see <c>LoraFiles.ReadDeltas</c>) applied unmerged to every sequence.</summary>
    public static BambaModel Load(string directory, IReadOnlyDictionary<string, LowRankDelta>? adapter) => Load(directory, ModelAdapters.Only(adapter));

    /// <summary>The model with LoRA adapters applied unmerged: the shared one to every sequence, a picked one to the sequences that pick it.</summary>
    public static BambaModel Load(string directory, ModelAdapters adapters)
    {
        if (global::Bamba.Weights.Gguf.GgufModel.IsGgufPath(directory)) return FromGguf(global::Bamba.Weights.Gguf.GgufModel.Open(directory), adapters);
        if (!Directory.Exists(directory)) throw new BambaException($"{directory}: model directory not found");
        var config = BambaConfigReader.Load(Path.Combine(directory, "config.json"));
        var store = WeightStore.Open(directory);
        try { return new BambaModel(config, store, adapters); }
        catch { store.Dispose(); throw; }
    }

    private static BambaModel FromGguf(global::Bamba.Weights.Gguf.GgufModel gguf, ModelAdapters? adapters)
    {
        try { return new BambaModel(gguf.Config, gguf.Store, adapters); }
        catch { gguf.Store.Dispose(); throw; }
    }

    public CpuSequenceState CreateState() => new(Config);

    SequenceState ISequenceModel.CreateState() => CreateState();

    public float[][] Step(IReadOnlyList<SequenceState> states, IReadOnlyList<SequenceInput> inputs)
    {
        var result = Forward(states, inputs, new ForwardOptions());
        int vocab = Config.VocabSize;
        if (result.Rows == 1) return [result.Logits]; // a decode step: the logits array is already the one row
        return Enumerable.Range(0, result.Rows).Select(i => result.Logits.AsSpan(i * vocab, vocab).ToArray()).ToArray();
    }

    public float[][] StepAllLogits(IReadOnlyList<SequenceState> states, IReadOnlyList<SequenceInput> inputs)
    {
        var result = Forward(states, inputs, new ForwardOptions { AllLogits = true });
        int vocab = Config.VocabSize, offset = 0;
        var perRun = new float[inputs.Count][];
        for (int i = 0; i < inputs.Count; i++)
        {
            perRun[i] = result.Logits.AsSpan(offset * vocab, inputs[i].Length * vocab).ToArray();
            offset += inputs[i].Length;
        }
        return perRun;
    }

    /// <summary>Appends each input run to its sequence's state and returns logits (and hidden states if asked).</summary>
    public ForwardResult Forward(IReadOnlyList<SequenceState> states, IReadOnlyList<SequenceInput> inputs, ForwardOptions options)
    {
        var cpuStates = states.Select(s => s as CpuSequenceState
            ?? throw new ArgumentException("a sequence state from another backend was passed to the CPU model")).ToArray();
        var batch = new TokenBatch(cpuStates, inputs, Adapters.Count);
        var hidden = new List<float[]>();
        var x = Embed(batch.Tokens);
        if (Config.EmbeddingMultiplier != 1.0) TensorPrimitives.Multiply(x, (float)Config.EmbeddingMultiplier, x);
        if (options.HiddenStates) hidden.Add((float[])x.Clone());
        int h = Config.HiddenSize;
        var normedRows = ScratchArrays.Get("layer.normed", batch.Rows * h);
        var delta = ScratchArrays.Get("layer.delta", batch.Rows * h);
        Action<int>? keep = options.HiddenStates ? layer => { if (layer < Config.NumHiddenLayers - 1) hidden.Add((float[])x.Clone()); } : null;
        LayerStack.Run(Config, _ops, batch, x, normedRows, delta, keep);
        var rows = options.AllLogits ? x : LastRows(batch, x);
        int rowCount = options.AllLogits ? batch.Rows : batch.Runs;
        var normed = new float[rows.Length];
        Norms.RmsNorm(rows, Weights.FinalNorm, (float)Config.RmsNormEps, normed);
        if (options.HiddenStates) hidden.Add(options.AllLogits ? normed : FinalNormAll(x));
        var logits = new float[rowCount * Config.VocabSize];
        Linear.Forward(normed, rowCount, Weights.LmHead, [], logits);
        if (Config.LogitsScaling != 1.0) TensorPrimitives.Divide(logits, (float)Config.LogitsScaling, logits);
        return new ForwardResult(logits, rowCount, hidden);
    }

    private float[] Embed(int[] tokens)
    {
        int h = Config.HiddenSize;
        var x = new float[tokens.Length * h];
        for (int r = 0; r < tokens.Length; r++)
        {
            if ((uint)tokens[r] >= (uint)Config.VocabSize)
                throw new BambaException($"token id {tokens[r]} is outside the vocabulary (0..{Config.VocabSize - 1})");
            Weights.Embedding.ReadFloats((long)tokens[r] * h, x.AsSpan(r * h, h));
        }
        return x;
    }

    private float[] LastRows(TokenBatch batch, float[] x)
    {
        int h = Config.HiddenSize;
        var last = new float[batch.Runs * h];
        for (int i = 0; i < batch.Runs; i++)
            x.AsSpan((batch.Offset(i) + batch.Length(i) - 1) * h, h).CopyTo(last.AsSpan(i * h));
        return last;
    }

    private float[] FinalNormAll(float[] x)
    {
        var normed = new float[x.Length];
        Norms.RmsNorm(x, Weights.FinalNorm, (float)Config.RmsNormEps, normed);
        return normed;
    }

    public void SaveState(string path, SequenceSession session) => SessionFile.Save(path, this, session);

    public SequenceSession LoadState(string path) => SessionFile.Load(path, this);

    public void Dispose() => _store.Dispose();
}
