using Bamba.Backends.Cuda.Native;

namespace Bamba.Backends.Cuda;

/// <summary>
/// <c>y[n, m] = x[n, k] · W[m, k]ᵀ</c> (nn.Linear, row-major) through cuBLASLt with fp32 accumulation (CUBLAS_COMPUTE_32F,
/// no TF32), on bf16 or fp32 operands. cuBLAS is column-major, so this is <c>yᵀ (m×n) = op_T(W as k×m) · xᵀ (k×n)</c>.
/// The descriptors and the heuristic's algorithm are cached per shape.
/// </summary>
public sealed unsafe class CublasLtGemm : IDisposable
{
    private const long WorkspaceBytes = 32L << 20;
    private readonly CudaDevice _device;
    private readonly CublasLtHandle _handle;
    private readonly DeviceBuffer _workspace;
    private readonly Dictionary<(int N, int M, int K, CudaPrecision P), Plan> _plans = [];
    private readonly Lock _lock = new();

    public CublasLtGemm(CudaDevice device)
    {
        _device = device;
        NativeLibraries.EnsureResolver();
        if (!NativeLibraries.CanLoad(NativeLibraries.CublasLt))
            throw new BambaException($"CUDA is not available: cuBLASLt was not found ({NativeLibraries.Describe(NativeLibraries.CublasLt)}; set CUDA_HOME)");
        device.MakeCurrent();
        CudaCheck.Cublas(CublasLtApi.cublasLtCreate(out IntPtr handle), "cublasLtCreate");
        _handle = new CublasLtHandle(device.Context, handle);
        _workspace = device.Allocate(WorkspaceBytes);
    }

    public void Linear(ulong x, ulong w, ulong y, int n, int m, int k, CudaPrecision precision)
    {
        if (n == 0) return;
        Plan plan;
        lock (_lock)
        {
            if (!_plans.TryGetValue((n, m, k, precision), out plan!)) _plans[(n, m, k, precision)] = plan = CreatePlan(n, m, k, precision, x, w, y);
        }
        Run(plan, plan.Algo, x, w, y, n, m, k);
    }

    private void Run(Plan plan, AlgoBox algo, ulong x, ulong w, ulong y, int n, int m, int k)
    {
        _device.MakeCurrent();
        float alpha = 1f, beta = 0f;
        CudaCheck.Cublas(CublasLtApi.cublasLtMatmul(_handle.DangerousGetHandle(), plan.Desc.DangerousGetHandle(), &alpha,
            w, plan.A.DangerousGetHandle(), x, plan.B.DangerousGetHandle(), &beta, y, plan.C.DangerousGetHandle(), y, plan.C.DangerousGetHandle(),
            algo.Algo, _workspace.Pointer, (nuint)Math.Min((long)algo.WorkspaceSize, WorkspaceBytes), _device.Stream),
            $"cublasLtMatmul({n}x{k} · {m}x{k}ᵀ)");
    }

    /// <summary>
    /// The heuristic's first choice is good for large products but can leave most SMs idle when few rows stream a large
    /// matrix (a decode batch): there it was measured 4–8× off the bandwidth. For up to <see cref="TunedRows"/> rows the
    /// candidates are timed once on the call's own operands and the fastest kept.
    /// </summary>
    private const int TunedRows = 512, Candidates = 8;

    private AlgoBox Fastest(Plan plan, CublasLtApi.HeuristicResult* results, int count, ulong x, ulong w, ulong y, int n, int m, int k)
    {
        using var start = _device.CreateEvent();
        using var end = _device.CreateEvent();
        AlgoBox? best = null;
        float bestMs = float.MaxValue;
        for (int i = 0; i < count; i++)
        {
            var candidate = new AlgoBox(results[i]);
            Run(plan, candidate, x, w, y, n, m, k); // warm-up
            start.Record();
            for (int r = 0; r < 3; r++) Run(plan, candidate, x, w, y, n, m, k);
            end.Record();
            float ms = end.MillisecondsSince(start);
            if (ms < bestMs) (best, bestMs) = (candidate, ms);
        }
        return best!;
    }

    private Plan CreatePlan(int n, int m, int k, CudaPrecision precision, ulong x, ulong w, ulong y)
    {
        int type = precision == CudaPrecision.BFloat16 ? CublasLtApi.DataBF16 : CublasLtApi.DataF32;
        CudaCheck.Cublas(CublasLtApi.cublasLtMatmulDescCreate(out IntPtr desc, CublasLtApi.ComputeF32, CublasLtApi.DataF32), "cublasLtMatmulDescCreate");
        var descHandle = new MatmulDescHandle(desc);
        int opT = CublasLtApi.OpT, opN = CublasLtApi.OpN;
        CudaCheck.Cublas(CublasLtApi.cublasLtMatmulDescSetAttribute(desc, CublasLtApi.DescTransA, &opT, sizeof(int)), "cublasLtMatmulDescSetAttribute(TRANSA)");
        CudaCheck.Cublas(CublasLtApi.cublasLtMatmulDescSetAttribute(desc, CublasLtApi.DescTransB, &opN, sizeof(int)), "cublasLtMatmulDescSetAttribute(TRANSB)");
        var a = Layout(type, k, m, k);
        var b = Layout(type, k, n, k);
        var c = Layout(type, m, n, m);
        CudaCheck.Cublas(CublasLtApi.cublasLtMatmulPreferenceCreate(out IntPtr pref), "cublasLtMatmulPreferenceCreate");
        using var prefHandle = new MatmulPreferenceHandle(pref);
        ulong workspace = WorkspaceBytes;
        CudaCheck.Cublas(CublasLtApi.cublasLtMatmulPreferenceSetAttribute(pref, CublasLtApi.PrefMaxWorkspaceBytes, &workspace, sizeof(ulong)),
            "cublasLtMatmulPreferenceSetAttribute");
        var results = stackalloc CublasLtApi.HeuristicResult[Candidates];
        int wanted = n <= TunedRows ? Candidates : 1;
        CudaCheck.Cublas(CublasLtApi.cublasLtMatmulAlgoGetHeuristic(_handle.DangerousGetHandle(), desc, a.DangerousGetHandle(), b.DangerousGetHandle(),
            c.DangerousGetHandle(), c.DangerousGetHandle(), pref, wanted, results, out int returned), "cublasLtMatmulAlgoGetHeuristic");
        if (returned == 0) throw new CudaException($"cublasLtMatmulAlgoGetHeuristic found no algorithm for {n}x{k} · {m}x{k}ᵀ ({precision})", 15);
        var plan = new Plan(descHandle, a, b, c, new AlgoBox(results[0]));
        return returned == 1 ? plan : plan with { Algo = Fastest(plan, results, returned, x, w, y, n, m, k) };
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

/// <summary>Activation precision of the CUDA backend: Float32 is the parity mode; BFloat16 the fast one.</summary>
public enum CudaPrecision { Float32, BFloat16 }
