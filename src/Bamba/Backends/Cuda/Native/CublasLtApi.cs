using System.Runtime.InteropServices;

namespace Bamba.Backends.Cuda.Native;

/// <summary>The cuBLASLt calls for one plain GEMM (<c>cublasLt.h</c>); enum values as that header defines them.</summary>
internal static unsafe partial class CublasLtApi
{
    private const string Lib = NativeLibraries.CublasLt;

    public const int ComputeF32 = 68;           // CUBLAS_COMPUTE_32F: fp32 accumulation, no TF32 down-conversion
    public const int DataF32 = 0;               // CUDA_R_32F
    public const int DataBF16 = 14;             // CUDA_R_16BF
    public const int DescTransA = 3;            // CUBLASLT_MATMUL_DESC_TRANSA
    public const int DescTransB = 4;            // CUBLASLT_MATMUL_DESC_TRANSB
    public const int PrefMaxWorkspaceBytes = 1; // CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES
    public const int OpN = 0, OpT = 1;

    /// <summary><c>cublasLtMatmulHeuristicResult_t</c>: a 64-byte algo, workspace size, state, waves, 4 reserved ints.</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct HeuristicResult
    {
        public fixed ulong Algo[8];
        public nuint WorkspaceSize;
        public int State;
        public float WavesCount;
        public fixed int Reserved[4];
    }

    [LibraryImport(Lib)] public static partial nuint cublasLtGetVersion();
    [LibraryImport(Lib)] public static partial int cublasLtCreate(out IntPtr handle);
    [LibraryImport(Lib)] public static partial int cublasLtDestroy(IntPtr handle);
    [LibraryImport(Lib)] public static partial int cublasLtMatmulDescCreate(out IntPtr desc, int computeType, int scaleType);
    [LibraryImport(Lib)] public static partial int cublasLtMatmulDescDestroy(IntPtr desc);
    [LibraryImport(Lib)] public static partial int cublasLtMatmulDescSetAttribute(IntPtr desc, int attribute, void* value, nuint size);
    [LibraryImport(Lib)] public static partial int cublasLtMatrixLayoutCreate(out IntPtr layout, int type, ulong rows, ulong cols, long ld);
    [LibraryImport(Lib)] public static partial int cublasLtMatrixLayoutDestroy(IntPtr layout);
    [LibraryImport(Lib)] public static partial int cublasLtMatmulPreferenceCreate(out IntPtr preference);
    [LibraryImport(Lib)] public static partial int cublasLtMatmulPreferenceDestroy(IntPtr preference);
    [LibraryImport(Lib)] public static partial int cublasLtMatmulPreferenceSetAttribute(IntPtr preference, int attribute, void* value, nuint size);
    [LibraryImport(Lib)]
    public static partial int cublasLtMatmulAlgoGetHeuristic(IntPtr handle, IntPtr desc, IntPtr a, IntPtr b, IntPtr c, IntPtr d,
        IntPtr preference, int requested, HeuristicResult* results, out int returned);
    [LibraryImport(Lib)]
    public static partial int cublasLtMatmul(IntPtr handle, IntPtr desc, void* alpha, ulong a, IntPtr aLayout, ulong b, IntPtr bLayout,
        void* beta, ulong c, IntPtr cLayout, ulong d, IntPtr dLayout, void* algo, ulong workspace, nuint workspaceBytes, IntPtr stream);
}
