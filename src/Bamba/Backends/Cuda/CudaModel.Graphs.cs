using Bamba.Generation;

namespace Bamba.Backends.Cuda;

/// <summary>
/// Batch-1 decode through a CUDA graph: a step's ~400 launches replayed as one, so no launch waits on the host.
/// Everything that changes from one token to the next (token, position, cache length, the sampler's draw, the block
/// table) sits in one small device block, uploaded in one copy before the replay; the pointer tables and sampling
/// parameters sit in scratch buffers of the graph's own, written when the graph is made. One capture serves every
/// token until a pointer or size it holds changes: another sequence, a block table outgrowing its slots in the step
/// block, a KV pool or scratch buffer that was reallocated (their generations), other sampling parameters, or a grammar
/// mask where there was none (or the reverse). The first step with a new key runs plainly (it creates the GEMM plans
/// and scratch sizes), the next one is captured.
/// Attention is split by the table's slots rather than the cache's length, so the launches stay the same from one
/// token to the next.
/// </summary>
public sealed partial class CudaModel
{
    private readonly record struct GraphKey(CudaSequenceState State, int TableSlots, int PoolGeneration, int ScratchGeneration,
        SamplingOptions Sampling, bool Constrained);

    /// <summary>The step block: token, position, cache positions before and after the step, the draw's bits, then the block table.</summary>
    private const int StepBlockInts = 5;
    /// <summary>Block-table slots of a graphed step at least (16 blocks: 1024 positions); they double as the sequence grows.</summary>
    private const int MinTableSlots = 16;

    private GraphKey? _warmed;
    private (GraphKey Key, CudaGraph Graph, Batch Batch, Draw Draw)? _graph;

    /// <summary>
    /// Whether one-sequence, one-token steps of <see cref="StepAndSample"/> replay a CUDA graph (on by default; never
    /// with quantized routed experts, whose routing is read back to the host inside the step).
    /// </summary>
    public bool UseGraphs
    {
        get => _useGraphs && ExpertsOnDevice;
        set => _useGraphs = value;
    }

    private bool _useGraphs = true;

    /// <param name="allowed">The sequence's grammar mask, or null: a constrained graph has the mask launch, and its mask
    /// sits in a buffer of the graph's own (one mask's size, fixed), rewritten before each replay.</param>
    private int GraphedStep(SequenceState sequence, SequenceInput input, SamplingOptions sampling, float uniform, ulong[]? allowed)
    {
        var state = sequence as CudaSequenceState ?? throw new ArgumentException("a sequence state from another backend was passed to the CUDA model");
        int token = input.Tokens.Span[0];
        if ((uint)token >= (uint)Config.VocabSize) throw new BambaException($"token id {token} is outside the vocabulary (0..{Config.VocabSize - 1})");
        int cached = state.Cached;
        var positions = state.Begin(input.Padding.Span, 1);
        int slots = Math.Max(MinTableSlots, (int)System.Numerics.BitOperations.RoundUpToPowerOf2((uint)state.BlockTable.Count));
        ulong block = _ops.Scratch.Get("graph.step", 4L * (StepBlockInts + slots));
        var key = new GraphKey(state, slots, _kv.Generation, _ops.Scratch.Generation, sampling, allowed is not null);
        int[] values = [token, positions[0], cached, cached + 1, BitConverter.SingleToInt32Bits(uniform), .. BlockTables([state], slots)];
        if (_graph is { } current && current.Key == key)
        {
            _ops.Device.Copy<int>(block, values);
            if (allowed is not null) _ops.Device.Copy<ulong>(current.Draw.Masks.Words, allowed);
            current.Graph.Launch();
            return Finish(state, positions, current.Draw);
        }
        // The graph's tables are about to be rewritten for this key: a graph of another key would replay stale ones.
        ReleaseGraph();
        var (batch, draw) = GraphBatch(state, positions, block, slots, sampling, allowed);
        _ops.Device.Copy<int>(block, values);
        if (_warmed == key && key.ScratchGeneration == _ops.Scratch.Generation)
        {
            var graph = _ops.Device.Capture(() => Launches(batch, draw));
            _graph = (key, graph, batch, draw);
            graph.Launch();
        }
        else
        {
            Launches(batch, draw);
            _warmed = key with { ScratchGeneration = _ops.Scratch.Generation };
        }
        return Finish(state, positions, draw);
    }

    /// <summary>The step's batch over the step block and the graph's own tables (and mask, this step's, when constrained).</summary>
    private (Batch, Draw) GraphBatch(CudaSequenceState state, int[] positions, ulong block, int slots, SamplingOptions sampling, ulong[]? allowed)
    {
        var batch = Batch.For([state], [0, 1], positions, singles: 1);
        batch.Tokens = block;
        batch.PositionsOnDevice = block + 4;
        batch.CachedBefore = block + 8;
        batch.CachedAfter = block + 12;
        batch.BlockTables = block + 4 * StepBlockInts;
        batch.TableStride = slots;
        batch.MaxCachedAfter = slots * CudaKvPool.BlockTokens;
        batch.LastRows = Upload("graph.last_rows", new[] { 0 });
        // The key holds the state, and a state's adapter is fixed before its first token: the graph's row keeps it.
        if (Adapters.Count > 0) batch.RowAdapters = Upload("graph.lora.rows", new[] { AdapterOf(state, 0) });
        UploadSingleTables(batch, "graph.");
        var draw = UploadSampling(batch, [sampling], [0f], "graph.") with { Uniform = block + 16, Masks = UploadGraphMask(allowed) };
        return (batch, draw);
    }

    private int Finish(CudaSequenceState state, int[] positions, Draw draw)
    {
        state.Commit(1, positions[0] >= 0 ? 1 : 0);
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
