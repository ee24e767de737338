namespace Bamba.Backends.Cuda.Bench;

/// <summary>
/// The most device memory in use (total − free, as cuMemGetInfo and nvidia-smi see it: weights, caches, scratch,
/// library workspaces and the context) while a scenario runs, sampled every millisecond on a background thread.
/// </summary>
public sealed class PeakMemory : IDisposable
{
    private readonly CudaDevice _device;
    private readonly Thread _thread;
    private volatile bool _stop;
    private long _peak;

    public PeakMemory(CudaDevice device)
    {
        _device = device;
        Sample();
        _thread = new Thread(() => { while (!_stop) { Sample(); Thread.Sleep(1); } }) { IsBackground = true, Name = "bamba-peak-memory" };
        _thread.Start();
    }

    public long PeakBytes
    {
        get
        {
            Sample();
            return Interlocked.Read(ref _peak);
        }
    }

    private void Sample()
    {
        var (free, total) = _device.MemoryInfo();
        long used = total - free, seen;
        while (used > (seen = Interlocked.Read(ref _peak)) && Interlocked.CompareExchange(ref _peak, used, seen) != seen) { }
    }

    public void Dispose()
    {
        _stop = true;
        _thread.Join();
    }
}
