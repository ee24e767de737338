using Bamba.Architectures;

namespace Bamba.Training.Lora;

/// <summary>
/// The adapters of a LoRA run over one base model: one per targeted matrix, A initialised as PEFT does
/// (kaiming-uniform, bound 1/√in) and B zero, so a fresh set leaves the model exactly as it was. Marks every base
/// parameter frozen. Dropout masks are a pure function of (seed, training forward number, adapter, element), so a
/// resumed run draws the masks an uninterrupted one would.
/// </summary>
public sealed class LoraSet
{
    private readonly Dictionary<Parameter, LoraAdapter> _byBase = [];

    /// <summary>Adapters on every matrix of the targets' roles (A and B zero until <see cref="Initialize"/>).</summary>
    public LoraSet(ParameterSet baseModel, LoraSettings settings)
        : this(baseModel, settings, Targeted(baseModel, settings)) { }

    /// <summary>Adapters on the given base matrices (an adapter read from disk).</summary>
    public LoraSet(ParameterSet baseModel, LoraSettings settings, IEnumerable<Parameter> targets)
    {
        Settings = settings;
        foreach (var target in targets)
        {
            var adapter = new LoraAdapter(Adapters.Count, target, settings.Rank);
            Adapters.Add(adapter);
            _byBase.Add(adapter.Base, adapter);
        }
        foreach (var p in baseModel.All) p.Frozen = true;
        Parameters = Adapters.SelectMany(a => new[] { a.A, a.B }).ToList();
    }

    private static List<Parameter> Targeted(ParameterSet baseModel, LoraSettings settings)
    {
        var roles = settings.Targets.SelectMany(t => LoraSettings.TargetRoles[t]).ToHashSet();
        var targets = baseModel.Tensors.All.Where(s => roles.Contains(s.Role)).Select(s => baseModel[s.Name]).ToList();
        if (targets.Count == 0)
            throw new BambaException($"--lora-targets {string.Join(",", settings.Targets)}: the model has none of these layers");
        return targets;
    }

    /// <summary>Adds (alpha/r)·B·A to each base matrix: the merged model, whose logits equal the adapted one's.</summary>
    public void MergeInto()
    {
        foreach (var a in Adapters)
        {
            var product = new float[a.Base.Length];
            Backends.Cpu.DenseMatrix.Forward(a.B.Value, a.Base.Rows, Backends.Cpu.DenseMatrix.Transpose(a.A.Value, a.Rank, a.A.Columns), a.A.Columns, a.Rank, [], product);
            System.Numerics.Tensors.TensorPrimitives.MultiplyAdd(product, Settings.Scale, a.Base.Value, a.Base.Value);
        }
    }

    public LoraSettings Settings { get; }
    public List<LoraAdapter> Adapters { get; } = [];
    /// <summary>Every A and B: what the optimizer, clipping and checkpoints see.</summary>
    public IReadOnlyList<Parameter> Parameters { get; }

    /// <summary>Dropout is drawn only in training forwards; <see cref="TrainingForwards"/> counts them (it keys the masks).</summary>
    public bool Training { get; set; }
    public long TrainingForwards { get; set; }
    public ulong Seed { get; set; }

    /// <summary>PEFT's default initialisation: A ~ U(−1/√in, 1/√in) (kaiming_uniform with a = √5), B = 0.</summary>
    public void Initialize(ulong seed)
    {
        Seed = seed;
        var rng = new SplitMix64(seed ^ 0x10AA_5EEDUL);
        foreach (var a in Adapters)
        {
            float bound = 1f / MathF.Sqrt(a.A.Columns);
            for (int i = 0; i < a.A.Length; i++) a.A.Value[i] = (float)((2 * rng.NextDouble() - 1) * bound);
            Array.Clear(a.B.Value);
        }
    }

    public void ZeroGrad()
    {
        foreach (var p in Parameters) Array.Clear(p.Grad);
    }

    /// <summary>The low-rank path beside a slice of a base parameter (rows of a fused matrix), or null when it has no adapter.</summary>
    internal LoraPath? PathFor(ParameterSlice slice)
    {
        if (!_byBase.TryGetValue(slice.Parameter, out var adapter)) return null;
        int columns = slice.Parameter.Columns;
        return new LoraPath(this, adapter, slice.Offset / columns, slice.Length / columns);
    }

    internal LoraPath? PathFor(Parameter p) => PathFor(p.Whole);

    /// <summary>The adapter's input in this forward: x itself, or x with dropped elements zeroed and kept ones scaled by 1/(1 − p).</summary>
    internal float[] Dropout(LoraAdapter adapter, float[] x)
    {
        if (!Training || Settings.Dropout == 0f) return x;
        var dropped = new float[x.Length];
        float keep = 1f / (1f - Settings.Dropout);
        for (int i = 0; i < x.Length; i++) dropped[i] = Kept(adapter, i) ? x[i] * keep : 0f;
        return dropped;
    }

    /// <summary>The dropout's backward, in place: the same mask and scale as the forward.</summary>
    internal void DropoutBackward(LoraAdapter adapter, float[] dx)
    {
        if (!Training || Settings.Dropout == 0f) return;
        float keep = 1f / (1f - Settings.Dropout);
        for (int i = 0; i < dx.Length; i++) dx[i] = Kept(adapter, i) ? dx[i] * keep : 0f;
    }

    private bool Kept(LoraAdapter adapter, int element)
    {
        ulong z = Seed * 0x9E3779B97F4A7C15UL ^ (ulong)TrainingForwards * 0xBF58476D1CE4E5B9UL ^ (ulong)adapter.Index << 40 ^ (ulong)element;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        z ^= z >> 31;
        return (z >> 11) * (1.0 / (1UL << 53)) >= Settings.Dropout;
    }
}
