namespace Bamba.Backends.Cuda.Bench;

/// <summary>One kind of work in a <see cref="KernelProfile"/>: GPU milliseconds and launches.</summary>
public sealed record ProfileEntry(string Name, double Milliseconds, int Calls);

/// <summary>
/// Where GPU time goes: an event is recorded after every launch, so on the one stream the time between consecutive
/// events is the launch's own time plus any gap before it (an upload, a launch the host issued late). Events cost a
/// little each (they are created up front), so a profiled run is a bit slower than a plain one: for finding the large
/// items, not for the figures.
/// </summary>
public sealed class KernelProfile : IDisposable
{
    private readonly CudaDevice _device;
    private readonly List<(string Name, CudaEvent Event)> _marks = [];
    private readonly List<CudaEvent> _pool;
    private readonly CudaEvent _start;

    /// <summary>Creates <paramref name="events"/> events up front, so marking a launch costs the host one record call.</summary>
    public KernelProfile(CudaDevice device, int events = 16384)
    {
        _device = device;
        _pool = [.. Enumerable.Range(0, events).Select(_ => device.CreateEvent())];
        _start = device.CreateEvent();
        _start.Record();
    }

    public void Mark(string name)
    {
        var e = _marks.Count < _pool.Count ? _pool[_marks.Count] : _device.CreateEvent();
        e.Record();
        _marks.Add((name, e));
    }

    /// <summary>Per name, most time first; waits for the device.</summary>
    public ProfileEntry[] Summary()
    {
        var totals = new Dictionary<string, (double Ms, int Calls)>();
        var previous = _start;
        foreach (var (name, e) in _marks)
        {
            double ms = e.MillisecondsSince(previous);
            var (sum, calls) = totals.GetValueOrDefault(name);
            totals[name] = (sum + ms, calls + 1);
            previous = e;
        }
        return totals.Select(t => new ProfileEntry(t.Key, t.Value.Ms, t.Value.Calls)).OrderByDescending(e => e.Milliseconds).ToArray();
    }

    public void Dispose()
    {
        foreach (var e in _pool.Concat(_marks.Skip(_pool.Count).Select(m => m.Event))) e.Dispose();
        _start.Dispose();
    }
}
