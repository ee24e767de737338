using Bamba.Generation;

namespace Bamba.Backends.Cuda;

/// <summary>
/// Batch-1 decode through a CUDA graph: a step's ~450 launches replayed as one, so no launch waits on the host.
/// Every per-token value (token, position, cache length) is read by the kernels from device buffers that are
/// uploaded before the replay, so one capture serves every token until a pointer the kernels hold changes: another
/// sequence, a cache that grew (capacity) or a scratch buffer that was reallocated (scratch generation).
/// The first step with a new key runs plainly (it creates the GEMM plans and scratch sizes), the second is captured.
/// </summary>
public sealed partial class CudaModel
{
    private readonly record struct GraphKey(CudaSequenceState State, int Capacity, int ScratchGeneration);

    private GraphKey? _warmed;
    private (GraphKey Key, CudaGraph Graph)? _graph;

    /// <summary>Whether one-sequence, one-token steps of <see cref="StepAndSample"/> replay a CUDA graph (on by default).</summary>
    public bool UseGraphs { get; set; } = true;

    private int GraphedStep(SequenceState state, SequenceInput input, SamplingOptions sampling, float uniform)
    {
        var batch = Pack([state], [input], graphed: true);
        var draw = UploadSampling(batch, [sampling], [uniform]);
        var key = new GraphKey(batch.States[0], batch.States[0].Capacity, _ops.Scratch.Generation);
        if (_graph is { } cached && cached.Key == key) cached.Graph.Launch();
        else if (_warmed == key)
        {
            ReleaseGraph();
            var graph = _ops.Device.Capture(() => Launches(batch, draw));
            _graph = (key, graph);
            graph.Launch();
        }
        else
        {
            Launches(batch, draw);
            _warmed = key;
        }
        Commit(batch);
        return _ops.Device.Download<int>(draw.Ids, 1)[0];
    }

    private void Launches(Batch batch, Draw draw)
    {
        Layers(batch);
        Sample(batch, draw);
    }

    private void ReleaseGraph()
    {
        _graph?.Graph.Dispose();
        _graph = null;
    }
}
