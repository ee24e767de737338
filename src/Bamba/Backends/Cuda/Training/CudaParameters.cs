using Bamba.Numerics;
using Bamba.Training;

namespace Bamba.Backends.Cuda.Training;

/// <summary>
/// Parameters on the GPU in flat buffers: float32 master values, float32 gradients and, in bf16 mode, the bf16 copies
/// the GEMMs read (refreshed after each optimizer step). Each parameter starts on a 512-byte boundary, because
/// cuBLASLt's heuristic assumes aligned operands.
/// A frozen set (the base of a LoRA run) is kept as LoRA users expect: in bf16 mode its matrices only as bf16 (the
/// embedding and the routers also in float32, which their lookup and the routing read), its vectors in float32; it has no gradients, so
/// <see cref="Grad(string)"/> gives a shared sink that the kernels computing a vector's gradient beside another
/// result (the SSD backward's dA and dD) write into and nothing reads.
/// </summary>
public sealed class CudaParameters : IDisposable
{
    private const int AlignElements = 128;
    private readonly CudaTrainOps _ops;
    private readonly Dictionary<string, long> _offsets = new(StringComparer.Ordinal), _bf16Offsets = new(StringComparer.Ordinal);
    private readonly DeviceBuffer _master, _grad;
    private readonly DeviceBuffer? _bf16;

    /// <summary>Every parameter of a model (trained, or frozen under LoRA).</summary>
    public CudaParameters(CudaTrainOps ops, ParameterSet host, CudaPrecision precision, bool frozen = false)
        : this(ops, host.All, precision, frozen, GemmMatrices(host), Float32Reads(host)) => Host = host;

    /// <summary>Some parameters only: a LoRA run's adapters.</summary>
    public CudaParameters(CudaTrainOps ops, IReadOnlyList<Parameter> all, CudaPrecision precision, bool frozen = false)
        : this(ops, all, precision, frozen, all.Where(p => p.Shape.Length == 2).Select(p => p.Name).ToHashSet(StringComparer.Ordinal), new HashSet<string>()) { }

    /// <param name="gemmMatrices">What GEMMs read as matrices: a frozen bf16 set keeps these only as bf16.</param>
    /// <param name="float32Reads">Matrices a frozen bf16 set keeps in float32 too: what is read in float32 whatever the precision.</param>
    private CudaParameters(CudaTrainOps ops, IReadOnlyList<Parameter> all, CudaPrecision precision, bool frozen,
        HashSet<string> gemmMatrices, HashSet<string> float32Reads)
    {
        _ops = ops;
        All = all;
        Precision = precision;
        Frozen = frozen;
        long total = 0, total16 = 0;
        foreach (var p in all)
        {
            long aligned = (p.Length + AlignElements - 1) / AlignElements * AlignElements;
            bool matrix = gemmMatrices.Contains(p.Name), bf16 = precision == CudaPrecision.BFloat16;
            if (!(frozen && bf16 && matrix) || float32Reads.Contains(p.Name)) (_offsets[p.Name], total) = (total, total + aligned);
            if (bf16 && (!frozen || matrix)) (_bf16Offsets[p.Name], total16) = (total16, total16 + aligned);
        }
        Elements = total;
        _master = ops.Device.AllocateZeroed(4 * Math.Max(1, total));
        // A frozen set's sink: as long as its longest vector.
        long gradElements = frozen ? all.Where(p => !gemmMatrices.Contains(p.Name)).Select(p => (long)p.Length).DefaultIfEmpty(1).Max() : total;
        _grad = ops.Device.AllocateZeroed(4 * gradElements);
        if (precision == CudaPrecision.BFloat16) _bf16 = ops.Device.AllocateZeroed(2 * Math.Max(1, total16));
        Upload();
    }

    /// <summary>The 2-D weights and the stacked experts [E, R, C] (not conv taps [C, 1, K], which their kernels read).</summary>
    private static HashSet<string> GemmMatrices(ParameterSet host) =>
        host.Tensors.All.Where(t => t.Shape.Length == 2 || t.Role is Architectures.TensorRole.ExpertsGateUp or Architectures.TensorRole.ExpertsDown)
            .Select(t => t.Name).ToHashSet(StringComparer.Ordinal);

    /// <summary>The embedding (its lookup reads float32) and the routers (routing runs in float32, as in inference).</summary>
    private static HashSet<string> Float32Reads(ParameterSet host) =>
        host.Tensors.All.Where(t => t.Role is Architectures.TensorRole.Embedding or Architectures.TensorRole.Router).Select(t => t.Name).ToHashSet(StringComparer.Ordinal);

    /// <summary>The model's parameter set (null for a set of adapters).</summary>
    public ParameterSet? Host { get; }
    public IReadOnlyList<Parameter> All { get; }
    public Configuration.BambaConfig Config => Host?.Config ?? throw new InvalidOperationException("a set of adapters has no model config");
    public CudaPrecision Precision { get; }
    /// <summary>No gradients and no updates: the base of a LoRA run.</summary>
    public bool Frozen { get; }
    /// <summary>Elements of the float32 buffers, alignment padding included (padding stays zero).</summary>
    public long Elements { get; }
    public ulong GradBuffer => Frozen ? throw new InvalidOperationException("a frozen parameter set has no gradients") : _grad.Pointer;

    public ulong Value(string name) => _master.Pointer + 4UL * (ulong)Offset(name);
    public ulong Grad(string name) => Frozen ? _grad.Pointer : _grad.Pointer + 4UL * (ulong)Offset(name);

    /// <summary>What a GEMM reads for this weight: the bf16 copy in bf16 mode, the master values in fp32 mode.</summary>
    public ulong GemmOperand(string name) => _bf16 is null ? Value(name) : _bf16.Pointer + 2UL * (ulong)_bf16Offsets[name];

    /// <summary>
    /// A part of a parameter that a GEMM reads as its own matrix (half of a fused gate|up, one of stacked experts): its
    /// master values, gradient and GEMM operand. The part must start on the alignment every parameter has.
    /// </summary>
    public ulong Value(ParameterSlice s) => Value(s.Parameter.Name) + 4UL * (ulong)Aligned(s);
    public ulong Grad(ParameterSlice s) => Frozen ? _grad.Pointer : Grad(s.Parameter.Name) + 4UL * (ulong)Aligned(s);
    public ulong GemmOperand(ParameterSlice s) => _bf16 is null ? Value(s) : GemmOperand(s.Parameter.Name) + 2UL * (ulong)Aligned(s);

    private static int Aligned(ParameterSlice s) => s.Offset % AlignElements == 0 ? s.Offset
        : throw new BambaException($"{s.Parameter.Name}: CUDA training needs each part of a fused or stacked matrix to start at a multiple of {AlignElements} elements (this one starts at {s.Offset})");

    /// <summary>Where the parameter starts in any flat float32 buffer laid out like these (the optimizer's moments).</summary>
    public ulong ByteOffset(Parameter p) => 4UL * (ulong)Offset(p.Name);

    public ulong Value(Parameter p) => Value(p.Name);
    public ulong Grad(Parameter p) => Grad(p.Name);

    private long Offset(string name) => _offsets.TryGetValue(name, out long offset) ? offset
        : throw new InvalidOperationException($"{name} is kept only as the bf16 operand of its GEMMs (a frozen matrix)");

    /// <summary>Host master values → device (and the bf16 copies).</summary>
    public void Upload()
    {
        foreach (var p in All)
        {
            if (_offsets.ContainsKey(p.Name)) _ops.Device.Copy<float>(Value(p), p.Value);
            else _ops.Device.Copy<ushort>(GemmOperand(p.Name), p.Value.Select(BFloat16.FromSingle).ToArray());
        }
        if (Frozen)
        {
            // Only the matrices that also have float32 values (embedding, routers) need their bf16 copies made here.
            foreach (var p in All.Where(p => _offsets.ContainsKey(p.Name) && _bf16Offsets.ContainsKey(p.Name)))
                _ops.ToBFloat16(Value(p), GemmOperand(p.Name), p.Length);
        }
        else RefreshCopies();
    }

    /// <summary>Device master values and gradients → the host parameters (for checkpoints and tests); a frozen set never changes.</summary>
    public void Download()
    {
        if (Frozen) return;
        foreach (var p in All)
        {
            _ops.Device.Copy<float>(p.Value, Value(p));
            _ops.Device.Copy<float>(p.Grad, Grad(p));
        }
    }

    public void RefreshCopies()
    {
        if (Frozen) throw new InvalidOperationException("a frozen parameter set is never updated");
        if (_bf16 is not null) _ops.ToBFloat16(_master.Pointer, _bf16.Pointer, Elements);
    }

    public void ZeroGrad()
    {
        if (!Frozen) _ops.Device.Clear(_grad.Pointer, 4 * Elements);
    }

    public void Dispose()
    {
        _master.Dispose();
        _grad.Dispose();
        _bf16?.Dispose();
    }
}
