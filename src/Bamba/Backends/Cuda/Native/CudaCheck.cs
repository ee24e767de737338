using System.Runtime.InteropServices;

namespace Bamba.Backends.Cuda.Native;

/// <summary>The one place where native status codes become exceptions that name the failing call.</summary>
internal static unsafe class CudaCheck
{
    public static void Driver(int result, string call)
    {
        if (result != 0) throw new CudaException($"{call} failed: {DriverErrorText(result)}", result);
    }

    public static void Nvrtc(int result, string call)
    {
        if (result != 0) throw new CudaException($"{call} failed: {Marshal.PtrToStringUTF8((IntPtr)NvrtcApi.nvrtcGetErrorString(result))} ({result})", result);
    }

    public static void Cublas(int result, string call)
    {
        if (result != 0) throw new CudaException($"{call} failed: {CublasStatusName(result)} ({result})", result);
    }

    public static string DriverErrorText(int result)
    {
        string name = "CUDA_ERROR", text = "";
        if (DriverApi.cuGetErrorName(result, out byte* n) == 0 && n != null) name = Marshal.PtrToStringUTF8((IntPtr)n) ?? name;
        if (DriverApi.cuGetErrorString(result, out byte* s) == 0 && s != null) text = Marshal.PtrToStringUTF8((IntPtr)s) ?? "";
        return $"{name} ({result}){(text.Length > 0 ? ": " + text : "")}";
    }

    private static string CublasStatusName(int status) => status switch
    {
        1 => "CUBLAS_STATUS_NOT_INITIALIZED",
        3 => "CUBLAS_STATUS_ALLOC_FAILED",
        7 => "CUBLAS_STATUS_INVALID_VALUE",
        8 => "CUBLAS_STATUS_ARCH_MISMATCH",
        11 => "CUBLAS_STATUS_MAPPING_ERROR",
        13 => "CUBLAS_STATUS_EXECUTION_FAILED",
        14 => "CUBLAS_STATUS_INTERNAL_ERROR",
        15 => "CUBLAS_STATUS_NOT_SUPPORTED",
        _ => "CUBLAS_STATUS_" + status,
    };
}

/// <summary>A CUDA, NVRTC or cuBLASLt call failed: a bug or a broken device, not a user error.</summary>
public sealed class CudaException(string message, int code) : Exception(message)
{
    public int Code { get; } = code;
}
