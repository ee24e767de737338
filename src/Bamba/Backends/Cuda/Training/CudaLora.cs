using Bamba.Training.Lora;

namespace Bamba.Backends.Cuda.Training;

/// <summary>
/// A LoRA run on the GPU: the adapters of a <see cref="LoraSet"/> (float32 masters and gradients, bf16 GEMM copies in
/// bf16 mode) and which base matrix each sits beside. <see cref="TrainGemm"/> adds their products to the frozen
/// base's (the CPU twin: Training.Lora.LoraPath). Dropout on the adapters' input is not on the GPU yet.
/// </summary>
public sealed class CudaLora : IDisposable
{
    private readonly Dictionary<string, LoraAdapter> _byBase = new(StringComparer.Ordinal);

    public CudaLora(CudaTrainOps ops, LoraSet set, CudaPrecision precision)
    {
        if (set.Settings.Dropout != 0f)
            throw new BambaException($"--lora-dropout {set.Settings.Dropout}: LoRA dropout runs on the CPU for now: pass --device cpu, or --lora-dropout 0");
        Set = set;
        foreach (var a in set.Adapters)
        {
            if (a.Base.Length != a.Base.Rows * (long)a.A.Columns || a.B.Rows != a.Base.Rows)
                throw new BambaException($"{a.Module}: a LoRA adapter's shape does not match its matrix");
            _byBase.Add(a.Base.Name, a);
        }
        Adapters = new CudaParameters(ops, set.Parameters, precision);
    }

    public LoraSet Set { get; }
    /// <summary>Every A and B on the device: what the optimizer and clipping see.</summary>
    public CudaParameters Adapters { get; }
    public float Scale => Set.Settings.Scale;

    /// <summary>The adapter beside the base matrix <paramref name="weight"/>, or null.</summary>
    internal LoraAdapter? For(string weight) => _byBase.GetValueOrDefault(weight);

    public void Dispose() => Adapters.Dispose();
}
