using Bamba.Backends.Cuda.Native;

namespace Bamba.Backends.Cuda;

/// <summary>
/// A captured, instantiated CUDA graph: replays the same kernels with the same arguments (device pointers, sizes)
/// in one launch, which removes the per-kernel launch cost of a decode step.
/// </summary>
public sealed class CudaGraph : IDisposable
{
    private readonly CudaDevice _device;
    private readonly GraphHandle _graph;
    private readonly GraphExecHandle _exec;

    internal CudaGraph(CudaDevice device, GraphHandle graph, GraphExecHandle exec) { _device = device; _graph = graph; _exec = exec; }

    public void Launch()
    {
        _device.MakeCurrent();
        CudaCheck.Driver(DriverApi.cuGraphLaunch(_exec.DangerousGetHandle(), _device.Stream), "cuGraphLaunch");
    }

    public void Dispose()
    {
        _exec.Dispose();
        _graph.Dispose();
    }
}
