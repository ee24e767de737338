using Bamba.Backends.Cuda.Native;

namespace Bamba.Backends.Cuda;

/// <summary>
/// Column-major cuBLASLt GEMMs with fp32 accumulation (CUBLAS_COMPUTE_32F, no TF32): <c>C = op(A)·op(B) + beta·C</c>
/// on bf16 or fp32 operands, with C in the operands' type or in fp32 (bf16 inputs, fp32 output: the mixed-precision
/// training GEMMs). <see cref="Linear"/> is nn.Linear on row-major buffers. Descriptors and the heuristic's algorithm
/// are cached per shape.
/// </summary>
public sealed unsafe class CublasLtGemm : IDisposable
{
    private const long WorkspaceBytes = 32L << 20;
    private readonly CudaDevice _device;
    private readonly CublasLtHandle _handle;
    private readonly DeviceBuffer _workspace;
    private readonly Dictionary<GemmShape, Plan> _plans = [];
    private readonly Lock _lock = new();
    private readonly GemmTuningCache _tuning;
    private readonly ulong _version;

    public CublasLtGemm(CudaDevice device, GemmTuningCache? tuning = null)
    {
        _tuning = tuning ?? GemmTuningCache.FromEnvironment();
        _device = device;
        NativeLibraries.EnsureResolver();
        if (!NativeLibraries.CanLoad(NativeLibraries.CublasLt))
            throw new BambaException($"CUDA is not available: cuBLASLt was not found ({NativeLibraries.Describe(NativeLibraries.CublasLt)}; set CUDA_HOME)");
        device.MakeCurrent();
        CudaCheck.Cublas(CublasLtApi.cublasLtCreate(out IntPtr handle), "cublasLtCreate");
        _handle = new CublasLtHandle(device.Context, handle);
        _workspace = device.Allocate(WorkspaceBytes);
        _version = CublasLtApi.cublasLtGetVersion();
    }

    /// <summary>
    /// <c>y[n, m] = x[n, k] · W[m, k]ᵀ</c> (row-major). cuBLAS is column-major, so this is
    /// <c>yᵀ (m×n) = op_T(W as k×m) · xᵀ (k×n)</c>; y has the operands' type.
    /// </summary>
    public void Linear(ulong x, ulong w, ulong y, int n, int m, int k, CudaPrecision precision) =>
        Matmul(new GemmShape(true, false, m, n, k, k, k, m, precision, F32Output: precision == CudaPrecision.Float32), w, x, y, 0f);

    /// <summary><c>C (M×N) = alpha·op(A)·op(B) + beta·C</c>, column-major; beta = 1 accumulates into C in place.</summary>
    public void Matmul(GemmShape s, ulong a, ulong b, ulong c, float beta, float alpha = 1f)
    {
        if (s.M == 0 || s.N == 0) return;
        Plan plan;
        lock (_lock)
        {
            if (!_plans.TryGetValue(s, out plan!)) _plans[s] = plan = CreatePlan(s, beta == 0 ? (a, b, c) : null);
        }
        Run(plan, plan.Algo, s, a, b, c, beta, alpha);
    }

    private void Run(Plan plan, AlgoBox algo, GemmShape s, ulong a, ulong b, ulong c, float beta, float alpha = 1f)
    {
        _device.MakeCurrent();
        CudaCheck.Cublas(CublasLtApi.cublasLtMatmul(_handle.DangerousGetHandle(), plan.Desc.DangerousGetHandle(), &alpha,
            a, plan.A.DangerousGetHandle(), b, plan.B.DangerousGetHandle(), &beta, c, plan.C.DangerousGetHandle(), c, plan.C.DangerousGetHandle(),
            algo.Algo, _workspace.Pointer, (nuint)Math.Min((long)algo.WorkspaceSize, WorkspaceBytes), _device.Stream),
            $"cublasLtMatmul({s})");
    }

    /// <summary>
    /// The heuristic's first choice is good for large products but can leave most SMs idle when few columns (rows of
    /// an nn.Linear input: a decode batch) stream a large matrix: there it was measured 4–8× off the bandwidth. For up to
    /// <see cref="TunedColumns"/> columns the candidates are timed once on the call's own operands and the fastest kept;
    /// only for beta = 0 (a call that overwrites C), so timing repeats leave the result correct. The choice is kept in
    /// <see cref="GemmTuningCache"/>, so later processes take the same algorithm without timing: the same bits.
    /// </summary>
    private const int TunedColumns = 512, Candidates = 8;

    /// <summary>The index of the candidate that ran fastest on the operands.</summary>
    private int Fastest(Plan plan, CublasLtApi.HeuristicResult* results, int count, GemmShape s, (ulong A, ulong B, ulong C) o)
    {
        using var start = _device.CreateEvent();
        using var end = _device.CreateEvent();
        int best = 0;
        float bestMs = float.MaxValue;
        for (int i = 0; i < count; i++)
        {
            var candidate = new AlgoBox(results[i]);
            Run(plan, candidate, s, o.A, o.B, o.C, 0f); // warm-up
            start.Record();
            for (int r = 0; r < 3; r++) Run(plan, candidate, s, o.A, o.B, o.C, 0f);
            end.Record();
            float ms = end.MillisecondsSince(start);
            if (ms < bestMs) (best, bestMs) = (i, ms);
        }
        return best;
    }

    /// <param name="operands">The call's buffers, to time candidate algorithms on (null: take the heuristic's first).</param>
    private Plan CreatePlan(GemmShape s, (ulong A, ulong B, ulong C)? operands)
    {
        int type = s.Input == CudaPrecision.BFloat16 ? CublasLtApi.DataBF16 : CublasLtApi.DataF32;
        int outType = s.F32Output ? CublasLtApi.DataF32 : type;
        CudaCheck.Cublas(CublasLtApi.cublasLtMatmulDescCreate(out IntPtr desc, CublasLtApi.ComputeF32, CublasLtApi.DataF32), "cublasLtMatmulDescCreate");
        var descHandle = new MatmulDescHandle(desc);
        int opA = s.TransA ? CublasLtApi.OpT : CublasLtApi.OpN, opB = s.TransB ? CublasLtApi.OpT : CublasLtApi.OpN;
        CudaCheck.Cublas(CublasLtApi.cublasLtMatmulDescSetAttribute(desc, CublasLtApi.DescTransA, &opA, sizeof(int)), "cublasLtMatmulDescSetAttribute(TRANSA)");
        CudaCheck.Cublas(CublasLtApi.cublasLtMatmulDescSetAttribute(desc, CublasLtApi.DescTransB, &opB, sizeof(int)), "cublasLtMatmulDescSetAttribute(TRANSB)");
        // Stored (untransposed) shapes: op(A) is M×K, op(B) is K×N.
        var a = s.TransA ? Layout(type, s.K, s.M, s.Lda) : Layout(type, s.M, s.K, s.Lda);
        var b = s.TransB ? Layout(type, s.N, s.K, s.Ldb) : Layout(type, s.K, s.N, s.Ldb);
        var c = Layout(outType, s.M, s.N, s.Ldc);
        CudaCheck.Cublas(CublasLtApi.cublasLtMatmulPreferenceCreate(out IntPtr pref), "cublasLtMatmulPreferenceCreate");
        using var prefHandle = new MatmulPreferenceHandle(pref);
        ulong workspace = WorkspaceBytes;
        CudaCheck.Cublas(CublasLtApi.cublasLtMatmulPreferenceSetAttribute(pref, CublasLtApi.PrefMaxWorkspaceBytes, &workspace, sizeof(ulong)),
            "cublasLtMatmulPreferenceSetAttribute");
        var results = stackalloc CublasLtApi.HeuristicResult[Candidates];
        int wanted = operands is not null && s.N <= TunedColumns ? Candidates : 1;
        CudaCheck.Cublas(CublasLtApi.cublasLtMatmulAlgoGetHeuristic(_handle.DangerousGetHandle(), desc, a.DangerousGetHandle(), b.DangerousGetHandle(),
            c.DangerousGetHandle(), c.DangerousGetHandle(), pref, wanted, results, out int returned), "cublasLtMatmulAlgoGetHeuristic");
        if (returned == 0) throw new CudaException($"cublasLtMatmulAlgoGetHeuristic found no algorithm for {s}", 15);
        var plan = new Plan(descHandle, a, b, c, new AlgoBox(results[0]));
        if (returned == 1) return plan;
        string key = GemmTuningCache.Key(_device.Name, _version, s);
        if (_tuning.Choice(key) is int known && known < returned) return plan with { Algo = new AlgoBox(results[known]) };
        int fastest = Fastest(plan, results, returned, s, operands!.Value);
        _tuning.Record(key, fastest);
        return plan with { Algo = new AlgoBox(results[fastest]) };
    }

    private static MatrixLayoutHandle Layout(int type, long rows, long cols, long ld)
    {
        CudaCheck.Cublas(CublasLtApi.cublasLtMatrixLayoutCreate(out IntPtr layout, type, (ulong)rows, (ulong)cols, ld), "cublasLtMatrixLayoutCreate");
        return new MatrixLayoutHandle(layout);
    }

    /// <summary>Keeps the heuristic result at a fixed address for cublasLtMatmul's algo pointer.</summary>
    private sealed class AlgoBox
    {
        private readonly CublasLtApi.HeuristicResult* _result;
        public AlgoBox(CublasLtApi.HeuristicResult result)
        {
            _result = (CublasLtApi.HeuristicResult*)System.Runtime.InteropServices.NativeMemory.Alloc((nuint)sizeof(CublasLtApi.HeuristicResult));
            *_result = result;
        }
        public void* Algo => _result->Algo;
        public nuint WorkspaceSize => _result->WorkspaceSize;
        ~AlgoBox() => System.Runtime.InteropServices.NativeMemory.Free(_result);
    }

    private sealed record Plan(MatmulDescHandle Desc, MatrixLayoutHandle A, MatrixLayoutHandle B, MatrixLayoutHandle C, AlgoBox Algo);

    public void Dispose()
    {
        lock (_lock)
        {
            foreach (var p in _plans.Values) { p.Desc.Dispose(); p.A.Dispose(); p.B.Dispose(); p.C.Dispose(); }
            _plans.Clear();
        }
        _workspace.Dispose();
        _handle.Dispose();
    }
}

/// <summary>
/// One column-major GEMM <c>C (M×N) = op(A) (M×K) · op(B) (K×N)</c>: leading dimensions of A, B, C as stored, the
/// operands' precision, and whether C is fp32 whatever the operands are.
/// </summary>
public readonly record struct GemmShape(bool TransA, bool TransB, int M, int N, int K, int Lda, int Ldb, int Ldc, CudaPrecision Input, bool F32Output);

/// <summary>Activation precision of the CUDA backend: Float32 is the parity mode; BFloat16 the fast one.</summary>
public enum CudaPrecision { Float32, BFloat16 }
