using Bamba.Training;

namespace Bamba.Backends.Cuda.Training;

/// <summary>
/// Every parameter of a <see cref="ParameterSet"/> on the GPU in three flat buffers: float32 master values, float32
/// gradients and, in bf16 mode, the bf16 copies the GEMMs read (refreshed after each optimizer step). Each
/// parameter starts on a 512-byte boundary, because cuBLASLt's heuristic assumes aligned operands.
/// </summary>
public sealed class CudaParameters : IDisposable
{
    private const int AlignElements = 128;
    private readonly CudaTrainOps _ops;
    private readonly Dictionary<string, long> _offsets = new(StringComparer.Ordinal);
    private readonly DeviceBuffer _master, _grad;
    private readonly DeviceBuffer? _bf16;

    public CudaParameters(CudaTrainOps ops, ParameterSet host, CudaPrecision precision)
    {
        _ops = ops;
        Host = host;
        Precision = precision;
        long total = 0;
        foreach (var p in host.All)
        {
            _offsets[p.Name] = total;
            total += (p.Length + AlignElements - 1) / AlignElements * AlignElements;
        }
        Elements = total;
        _master = ops.Device.AllocateZeroed(4 * total);
        _grad = ops.Device.AllocateZeroed(4 * total);
        if (precision == CudaPrecision.BFloat16) _bf16 = ops.Device.AllocateZeroed(2 * total);
        Upload();
    }

    public ParameterSet Host { get; }
    public CudaPrecision Precision { get; }
    /// <summary>Elements of each flat buffer, alignment padding included (padding stays zero).</summary>
    public long Elements { get; }
    public ulong GradBuffer => _grad.Pointer;

    public ulong Value(string name) => _master.Pointer + 4UL * (ulong)_offsets[name];
    public ulong Grad(string name) => _grad.Pointer + 4UL * (ulong)_offsets[name];

    /// <summary>What a GEMM reads for this weight: the bf16 copy in bf16 mode, the master values in fp32 mode.</summary>
    public ulong GemmOperand(string name) => _bf16 is null ? Value(name) : _bf16.Pointer + 2UL * (ulong)_offsets[name];

    /// <summary>Where the parameter starts in any flat float32 buffer laid out like these (the optimizer's moments).</summary>
    public ulong ByteOffset(Parameter p) => 4UL * (ulong)_offsets[p.Name];

    public ulong Value(Parameter p) => Value(p.Name);
    public ulong Grad(Parameter p) => Grad(p.Name);

    /// <summary>Host master values → device (and the bf16 copies).</summary>
    public void Upload()
    {
        foreach (var p in Host.All) _ops.Device.Copy<float>(Value(p), p.Value);
        RefreshCopies();
    }

    /// <summary>Device master values and gradients → the host parameters (for checkpoints and tests).</summary>
    public void Download()
    {
        foreach (var p in Host.All)
        {
            _ops.Device.Copy<float>(p.Value, Value(p));
            _ops.Device.Copy<float>(p.Grad, Grad(p));
        }
    }

    public void RefreshCopies()
    {
        if (_bf16 is not null) _ops.ToBFloat16(_master.Pointer, _bf16.Pointer, Elements);
    }

    public void ZeroGrad() => _ops.Device.Clear(_grad.Pointer, 4 * Elements);

    public void Dispose()
    {
        _master.Dispose();
        _grad.Dispose();
        _bf16?.Dispose();
    }
}
