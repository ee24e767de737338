using Bamba.Backends.Cpu;
using Bamba.Configuration;
using Bamba.Generation;
using Bamba.Generation.Scheduling;
using Bamba.Modeling;
using Bamba.Weights;

namespace Bamba.Backends.Cuda;

/// <summary>
/// A hybrid model of any registered family on one NVIDIA GPU: the CPU <see cref="BambaModel"/>'s layer walk
/// (<see cref="LayerStack"/>: <c>x += r·mixer(rmsnorm(x)); x += r·ffn(rmsnorm(x))</c>), with every op a kernel of
/// <see cref="CudaOps"/> and every projection a cuBLASLt GEMM. The residual stream stays float32 in both precisions; in bf16 mode the norms' outputs,
/// GEMM operands and mixer activations are bf16 (fp32 accumulation) and the SSM state float32. Runs longer than one token take the chunked paths (conv over the run, SSD chunk
/// kernels, attention over the run); a step where every run is one token takes the recurrent paths for all sequences
/// at once. Calls are serialised: the device has one stream.
/// </summary>
public sealed partial class CudaModel : ISequenceModel, IDeviceSampling, IPagedKvCache, IDeviceMemory
{
    private readonly CudaOps _ops;
    private readonly CudaKvPool _kv;
    private readonly WeightStore? _store;
    private readonly CudaWeights _weights;
    private readonly DeviceBuffer _invFreq;
    private readonly Lock _gate = new();
    private readonly bool _ownsDevice;
    private readonly LayerOps _layerOps;

    private CudaModel(BambaConfig config, ModelWeights weights, WeightStore? store, CudaOps ops, bool ownsDevice,
        IProgress<ModelLoadProgress>? progress, IReadOnlyList<string> adapters)
    {
        Config = config;
        Adapters = adapters;
        _store = store;
        _ops = ops;
        _ownsDevice = ownsDevice;
        CudaOps.CheckShapes(config);
        _weights = new CudaWeights(ops, weights, config, progress, store?.Tensors.Sum(t => t.ByteLength) ?? 0);
        _kv = new CudaKvPool(ops.Device, _gate, config, ops.ActBytes);
        var rope = new Rope(config.RopeTheta, config.RotaryDim, config.Dtype == "bfloat16");
        _invFreq = ops.Device.Upload<float>(rope.InverseFrequencies.Length > 0 ? rope.InverseFrequencies : [0f]);
        _layerOps = new LayerOps(this);
    }

    public BambaConfig Config { get; }

    public TokenSpace Tokens => Config.TokenSpace;

    /// <summary>The adapters a sequence may pick (<see cref="SequenceState.Adapter"/>), by name.</summary>
    public IReadOnlyList<string> Adapters { get; }

    public CudaPrecision Precision => _ops.Precision;
    public CudaDevice Device => _ops.Device;
    public long WeightBytes => _weights.Bytes;

    /// <summary>
    /// The weight bytes one decode step reads: every matrix once, except the embedding table (one row) unless it is
    /// also the head, and except the routed experts a token does not use (of E, k are read).
    /// </summary>
    public long DecodeWeightBytes
    {
        get
        {
            var c = Config;
            long unread = (c.TieWordEmbeddings ? 0 : _weights.Embedding.Bytes)
                + (c.NumExperts == 0 ? 0 : _weights.ExpertBytes / c.NumExperts * (c.NumExperts - c.NumExpertsPerToken));
            return _weights.Bytes - unread;
        }
    }
    internal CudaOps Ops => _ops;

    /// <summary>
    /// Loads a model directory (safetensors, FP8 compressed-tensors included) or a GGUF file onto GPU
    /// <paramref name="ordinal"/> ("CUDA is not available: …" without one). Quantized weights stay quantized on the device.
    /// </summary>
    /// <param name="bf16SsmState">Keep the SSM state in bf16 (see <see cref="CudaOps"/>); float32 by default.</param>
    /// <param name="lora">A LoRA adapter's deltas by base weight name (<c>LoraFiles.ReadDeltas</c>), applied unmerged; null for none.</param>
    /// <param name="progress">Told the stored bytes uploaded so far while the weights go up (a 9B checkpoint takes a while).</param>
    public static CudaModel Load(string path, CudaPrecision precision = CudaPrecision.BFloat16, int ordinal = 0, bool bf16SsmState = false,
        IReadOnlyDictionary<string, LowRankDelta>? lora = null, IProgress<ModelLoadProgress>? progress = null) =>
        Load(path, ModelAdapters.Only(lora), precision, ordinal, bf16SsmState, progress);

    /// <summary>
    /// The model with LoRA adapters applied unmerged: <paramref name="adapters"/>' own to every sequence, each picked one
    /// to the sequences that pick it (<see cref="SequenceState.Adapter"/>), mixed freely in one batch.
    /// </summary>
    public static CudaModel Load(string path, ModelAdapters adapters, CudaPrecision precision = CudaPrecision.BFloat16, int ordinal = 0,
        bool bf16SsmState = false, IProgress<ModelLoadProgress>? progress = null)
    {
        BambaConfig config;
        WeightStore store;
        if (Weights.Gguf.GgufModel.IsGgufPath(path))
        {
            var gguf = Weights.Gguf.GgufModel.Open(path);
            (config, store) = (gguf.Config, gguf.Store);
        }
        else
        {
            if (!Directory.Exists(path)) throw new BambaException($"{path}: model directory not found");
            config = BambaConfigReader.Load(Path.Combine(path, "config.json"));
            store = WeightStore.Open(path);
        }
        try
        {
            return Create(config, () => ModelWeights.Load(store, config, adapters), store, precision, ordinal, bf16SsmState, progress,
                [.. adapters.Picked.Select(a => a.Name)]);
        }
        catch
        {
            store.Dispose();
            throw;
        }
    }

    /// <summary>
    /// A model of <paramref name="config"/>'s shape with random weights made on the GPU (no file): for benchmarks of
    /// shapes such as Bamba-9B (<see cref="Benchmarks.SyntheticModel.Placeholders(BambaConfig, DType)"/>).
    /// </summary>
    /// <param name="weights">How the matrices are stored: BF16, or a quantized format (FP8, Q8_0, Q4_K, Q6_K, ...).</param>
    public static CudaModel Synthetic(BambaConfig config, CudaPrecision precision = CudaPrecision.BFloat16, int ordinal = 0, bool bf16SsmState = false,
        DType weights = DType.BF16) =>
        Create(config, () => Benchmarks.SyntheticModel.Placeholders(config, weights), null, precision, ordinal, bf16SsmState);

    private static CudaModel Create(BambaConfig config, Func<ModelWeights> weights, WeightStore? store, CudaPrecision precision, int ordinal,
        bool bf16SsmState, IProgress<ModelLoadProgress>? progress = null, IReadOnlyList<string>? adapters = null)
    {
        CudaDevice? device = null;
        CudaOps? ops = null;
        try
        {
            device = CudaDevice.Open(ordinal);
            ops = new CudaOps(device, precision, bf16SsmState);
            return new CudaModel(config, weights(), store, ops, ownsDevice: true, progress, adapters ?? []);
        }
        catch
        {
            ops?.Dispose();
            device?.Dispose();
            throw;
        }
    }

    public CudaSequenceState CreateState()
    {
        lock (_gate) return new CudaSequenceState(_ops.Device, _gate, Config, _kv, _ops.StateBytes);
    }

    /// <summary>
    /// Sizes the KV pool, in one allocation, for <paramref name="sequences"/> sequences of at most
    /// <paramref name="longest"/> tokens each holding <paramref name="tokens"/> tokens together (each may leave part of
    /// its last block empty); past it a sequence's growth fails with "the KV cache is full" instead of reallocating.
    /// <paramref name="cacheBlocks"/> more are set aside for a prefix cache's shared KV.
    /// Without it the pool grows by doubling as sequences need.
    /// </summary>
    public void ReserveKvCache(int sequences, int longest, long tokens, int cacheBlocks = 0)
    {
        long blocks = Math.Min((long)sequences * CudaKvPool.BlocksFor(longest), CudaKvPool.BlocksFor(tokens) + (long)sequences) + cacheBlocks;
        if (Config.NumAttentionLayers > 0) _kv.Reserve(checked((int)blocks));
    }

    public PrefixBudget SplitPrefixBudget(long bytes, int chunk) => PrefixBudget.Split(bytes,
        Config.NumAttentionLayers == 0 ? 0 : CudaKvPool.BytesPerBlock(Config, _ops.ActBytes), CudaKvPool.BlockTokens,
        CudaSequenceState.SnapshotBytes(Config, _ops.StateBytes), chunk);

    /// <summary>KV pool blocks no sequence or prefix cache holds (the tests' check that every block comes back).</summary>
    internal int FreeKvBlocks => _kv.FreeBlocks;
    internal int KvBlocks => _kv.Blocks;

    SequenceState ISequenceModel.CreateState() => CreateState();

    /// <summary>Device bytes one sequence of <paramref name="tokens"/> tokens holds (its state with the KV rows reserved).</summary>
    public long SequenceBytes(int tokens) => CudaSequenceState.BytesFor(Config, _ops.ActBytes, _ops.StateBytes, tokens);

    /// <summary>
    /// A generous bound on the scratch a step of <paramref name="rows"/> token rows takes (residual, norms, the widest
    /// projections, SwiGLU, conv and mixer outputs, the router's rows and each routed slot's expert rows; twice, as scratch
    /// buffers grow by half again), plus 256 MiB for GEMM workspace, logits and the SSD chunk buffers, plus the largest
    /// quantized matrix dequantized for a prefill product.
    /// </summary>
    public long StepWorkingBytes(int rows)
    {
        var c = Config;
        long widest = Math.Max(c.InProjDim, (c.NumAttentionHeads + 2L * c.NumKeyValueHeads) * c.HeadDim);
        long mlp = new[] { c.IntermediateSize, c.DenseMlpSize, c.ExpertIntermediateSize, c.SharedExpertIntermediateSize }.Max();
        // Router input and logits, the routing, and per slot the experts' gate|up, hidden and output rows.
        long experts = c.HasMixtureOfExperts
            ? 4L * (c.HiddenSize + c.NumExperts) + 16L * c.NumExpertsPerToken
                + (long)_ops.ActBytes * (3L * c.HiddenSize + c.NumExpertsPerToken * (3L * c.ExpertIntermediateSize + c.HiddenSize))
            : 0;
        long perRow = 8L * c.HiddenSize + experts + (long)_ops.ActBytes * (2L * c.HiddenSize + widest + 3L * mlp + c.ConvDim + c.MambaIntermediate);
        return 2 * perRow * rows + (256L << 20) + _weights.LargestDequantizedBytes;
    }

    /// <summary>
    /// How many sequences of <paramref name="tokens"/> tokens fit in the device memory free now, keeping
    /// <paramref name="workingBytes"/> for the activations of the largest step: what the throughput bench runs at once.
    /// </summary>
    public int SequencesThatFit(int tokens, long workingBytes)
    {
        // An idle KV pool is freed before a larger one is allocated: its memory counts as free.
        long free = _ops.Device.MemoryInfo().Free + _kv.IdleBytes - workingBytes;
        return (int)Math.Clamp(free / SequenceBytes(tokens), 0, int.MaxValue);
    }

    public string DeviceName => _ops.Device.Name;

    /// <summary>The device memory free now and what each sequence and step takes of it: what a server sizes its scheduler from.</summary>
    public DeviceMemory Memory() => new(_ops.Device.MemoryInfo().Free, CudaSequenceState.FixedBytes(Config, _ops.ActBytes, _ops.StateBytes),
        CudaSequenceState.KvBytesPerToken(Config, _ops.ActBytes), StepWorkingBytes);

    public float[][] Step(IReadOnlyList<SequenceState> states, IReadOnlyList<SequenceInput> inputs)
    {
        lock (_gate)
        {
            var batch = Run(states, inputs);
            ulong logits = Logits(batch, allRows: false);
            var flat = _ops.Device.Download<float>(logits, (long)batch.Runs * Config.VocabSize);
            return Enumerable.Range(0, batch.Runs).Select(i => flat.AsSpan(i * Config.VocabSize, Config.VocabSize).ToArray()).ToArray();
        }
    }

    /// <summary>The logits after every appended token of each run, from one batched pass (scoring, echo + logprobs).</summary>
    public float[][] StepAllLogits(IReadOnlyList<SequenceState> states, IReadOnlyList<SequenceInput> inputs)
    {
        var flat = Forward(states, inputs);
        int vocab = Config.VocabSize, offset = 0;
        var perRun = new float[inputs.Count][];
        for (int i = 0; i < inputs.Count; i++)
        {
            perRun[i] = flat.AsSpan(offset * vocab, inputs[i].Length * vocab).ToArray();
            offset += inputs[i].Length;
        }
        return perRun;
    }

    /// <summary>Logits at every position of every run, in order ([rows, vocab]): for scoring and parity checks.</summary>
    public float[] Forward(IReadOnlyList<SequenceState> states, IReadOnlyList<SequenceInput> inputs)
    {
        lock (_gate)
        {
            var batch = Run(states, inputs);
            ulong logits = Logits(batch, allRows: true);
            return _ops.Device.Download<float>(logits, (long)batch.Rows * Config.VocabSize);
        }
    }

    public bool CanSample(SamplingOptions s) => s.MinP == 0 && s.RepetitionPenalty == 1 && s.PresencePenalty == 0 && s.FrequencyPenalty == 0;

    /// <summary>
    /// Appends the runs and picks each sequence's next token on the GPU (temperature, top-k, top-p; greedy at
    /// temperature 0): only the ids come back. <paramref name="uniforms"/> holds one draw in [0, 1) per sequence;
    /// <paramref name="allowed"/> the grammar masks of constrained sequences (see <see cref="IDeviceSampling"/>).
    /// </summary>
    public int[] StepAndSample(IReadOnlyList<SequenceState> states, IReadOnlyList<SequenceInput> inputs,
        IReadOnlyList<SamplingOptions> sampling, IReadOnlyList<float> uniforms, IReadOnlyList<ulong[]?>? allowed = null)
    {
        foreach (var s in sampling)
        {
            s.Validate();
            if (!CanSample(s))
                throw new BambaException("GPU sampling supports temperature, top_k and top_p only (min_p and penalties need the logits on the host)");
        }
        CheckMasks(allowed, states.Count);
        lock (_gate)
        {
            if (UseGraphs && _ops.Profile is null && states.Count == 1 && inputs[0].Length == 1)
                return [GraphedStep(states[0], inputs[0], sampling[0], uniforms[0], allowed?[0])];
            var batch = Pack(states, inputs);
            var draw = UploadSampling(batch, sampling, uniforms) with { Masks = PlaceMasks(allowed) };
            Layers(batch);
            Sample(batch, draw);
            Commit(batch);
            return _ops.Device.Download<int>(draw.Ids, batch.Runs);
        }
    }

    /// <summary>Device buffers of one step's sampling parameters, uploaded before any launch of the step.</summary>
    private readonly record struct Draw(ulong Temperature, ulong TopK, ulong TopP, ulong Uniform, ulong Ids, DeviceMasks Masks = default);

    private Draw UploadSampling(Batch batch, IReadOnlyList<SamplingOptions> sampling, IReadOnlyList<float> uniforms, string prefix = "") => new(
        Upload(prefix + "sample.t", sampling.Select(s => s.IsGreedy ? 0f : s.Temperature).ToArray()), // the kernel's greedy is T ≤ 0
        Upload(prefix + "sample.k", sampling.Select(s => s.TopK).ToArray()),
        Upload(prefix + "sample.p", sampling.Select(s => s.TopP).ToArray()),
        Upload(prefix + "sample.u", uniforms.Take(batch.Runs).ToArray()),
        _ops.Scratch.Get(prefix + "sample.ids", 4L * batch.Runs));

    /// <summary>Final norm, LM head, the grammar masks (if any) and the sampling kernel over the last row of each run: launches only.</summary>
    private void Sample(Batch batch, Draw d)
    {
        ulong logits = Logits(batch, allRows: false);
        if (d.Masks.Any) _ops.MaskLogits(logits, Config.VocabSize, d.Masks.Words, 2 * MaskWords, d.Masks.MaskOfRow, batch.Runs);
        _ops.Sample(logits, Config.VocabSize, d.Temperature, d.TopK, d.TopP, d.Uniform, d.Ids, batch.Runs);
    }

    // ---- the forward pass ----------------------------------------------------------------------------------------

    /// <summary>The host's view of one call: where each run's rows are and what it appends to.</summary>
    private sealed class Batch
    {
        public static Batch For(CudaSequenceState[] states, int[] offsets, int[] positions, int singles) => new()
        {
            States = states, Offsets = offsets, Positions = positions, AnyPadding = positions.Any(p => p < 0), Singles = singles,
        };

        public required CudaSequenceState[] States;
        public required int[] Offsets;
        public required int[] Positions;
        public required bool AnyPadding;
        /// <summary>Leading runs of one token (decoding sequences, which the scheduler puts first): they take the
        /// recurrent and batched-decode kernels, all at once; longer runs take the chunked kernels one by one.</summary>
        public required int Singles;
        public int Runs => States.Length;
        public int Rows => Offsets[^1];
        public int Length(int run) => Offsets[run + 1] - Offsets[run];
        public ulong Tokens, PositionsOnDevice, LastRows;
        /// <summary>Each row's picked adapter (device ints [Rows]) when the model has adapters to pick; else 0.</summary>
        public ulong RowAdapters;
        /// <summary>For the single-token runs: device tables [layer][run] of conv-window and SSM-state pointers
        /// (Mamba layers) and each run's cache positions before and after.</summary>
        public ulong ConvWindows, SsmStates, CachedBefore, CachedAfter;
        public int MaxCachedAfter;
        /// <summary>Every run's block table: device ints [run][TableStride] (attention layers only).</summary>
        public ulong BlockTables;
        public int TableStride;
    }

    /// <summary>Runs every layer over the batch and moves the states on; the final hidden rows are left in scratch "x".</summary>
    private Batch Run(IReadOnlyList<SequenceState> states, IReadOnlyList<SequenceInput> inputs)
    {
        var batch = Pack(states, inputs);
        Layers(batch);
        Commit(batch);
        return batch;
    }

    /// <summary>
    /// Every layer's launches, walked by <see cref="LayerStack"/> over this model's ops (each residual add fused with
    /// the norm after it). No upload and no synchronisation, so a CUDA graph can capture them, except where quantized
    /// routed experts read their routing back.
    /// </summary>
    private void Layers(Batch batch)
    {
        int rows = batch.Rows, h = Config.HiddenSize;
        ulong x = _ops.Scratch.Get("x", 4L * rows * h); // the residual stream, float32 in both precisions
        _ops.Embedding(batch.Tokens, _weights.Embedding.Data, x, rows, h, (float)Config.EmbeddingMultiplier);
        LayerStack.Run(Config, _layerOps, batch, x, Act("normed", (long)rows * h), Act("mixed", (long)rows * h));
    }

    /// <summary>The model's kernels as <see cref="LayerStack"/>'s ops.</summary>
    private sealed class LayerOps(CudaModel m) : IInferenceOps<Batch, ulong>
    {
        public void Norm(Batch batch, int layer, NormSite site, ulong x, ulong delta, bool addFirst, ulong normed)
        {
            var w = m._weights.Layers[layer];
            ulong weight = site == NormSite.Mixer ? w.MixerNorm : w.FeedForwardNorm;
            int h = m.Config.HiddenSize;
            float eps = (float)m.Config.RmsNormEps;
            if (addFirst) m._ops.AddRmsNorm(x, delta, weight, normed, batch.Rows, h, eps, (float)m.Config.ResidualMultiplier);
            else m._ops.RmsNorm(x, weight, normed, batch.Rows, h, eps);
        }

        public void Mamba(Batch batch, int layer, ulong normed, ulong output) => m.Mamba(batch, layer, m._weights.Layers[layer].Mamba!, normed, output);

        public void Attention(Batch batch, int layer, ulong normed, ulong output) =>
            m.Attention(batch, layer, m._weights.Layers[layer].Attention!, normed, output);

        public void FeedForward(Batch batch, int layer, ulong normed, ulong output) =>
            m.FeedForward(m._weights.Layers[layer], normed, output, batch.Rows, batch.RowAdapters);

        public void AddResidual(Batch batch, ulong x, ulong delta) =>
            m._ops.AddResidual(x, delta, (long)batch.Rows * m.Config.HiddenSize, (float)m.Config.ResidualMultiplier);
    }

    private static void Commit(Batch batch)
    {
        for (int i = 0; i < batch.Runs; i++)
            batch.States[i].Commit(batch.Length(i), batch.Positions.Skip(batch.Offsets[i]).Take(batch.Length(i)).Count(p => p >= 0));
    }

    /// <summary>Checks the runs, makes room in the states and uploads everything the step's kernels read.</summary>
    private Batch Pack(IReadOnlyList<SequenceState> states, IReadOnlyList<SequenceInput> inputs)
    {
        if (states.Count != inputs.Count) throw new ArgumentException("one token run per sequence state is needed");
        var cudaStates = states.Select(s => s as CudaSequenceState
            ?? throw new ArgumentException("a sequence state from another backend was passed to the CUDA model")).ToArray();
        var offsets = new int[inputs.Count + 1];
        for (int i = 0; i < inputs.Count; i++)
        {
            if (inputs[i].Length == 0) throw new ArgumentException($"token run {i} is empty");
            if (!inputs[i].Padding.IsEmpty && inputs[i].Padding.Length != inputs[i].Length)
                throw new ArgumentException($"token run {i}: padding flags and tokens differ in length");
            offsets[i + 1] = offsets[i] + inputs[i].Length;
        }
        int singles = 0;
        while (singles < inputs.Count && inputs[singles].Length == 1) singles++;
        var tokens = new int[offsets[^1]];
        var positions = new int[offsets[^1]];
        for (int i = 0; i < inputs.Count; i++)
        {
            var run = inputs[i].Tokens.Span;
            foreach (int id in run)
                if ((uint)id >= (uint)Config.VocabSize)
                    throw new BambaException($"token id {id} is outside the vocabulary (0..{Config.VocabSize - 1})");
            run.CopyTo(tokens.AsSpan(offsets[i]));
            cudaStates[i].Begin(inputs[i].Padding.Span, run.Length).CopyTo(positions, offsets[i]);
        }
        var batch = Batch.For(cudaStates, offsets, positions, singles);
        batch.Tokens = Upload("tokens", tokens);
        batch.PositionsOnDevice = Upload("positions", positions);
        batch.LastRows = Upload("last_rows", offsets.Skip(1).Select(o => o - 1).ToArray());
        if (Adapters.Count > 0) batch.RowAdapters = Upload("lora.rows", RowAdapters(cudaStates, offsets));
        if (Config.NumAttentionLayers > 0)
        {
            batch.TableStride = Math.Max(1, cudaStates.Max(s => s.BlockTable.Count));
            batch.BlockTables = Upload("attn.blocks", BlockTables(cudaStates, batch.TableStride));
        }
        if (singles == 0) return batch;
        UploadSingleTables(batch, "");
        if (Config.NumAttentionLayers == 0) return batch;
        var singleStates = cudaStates.Take(singles).ToArray();
        batch.CachedBefore = Upload("attn.cached", singleStates.Select(s => s.Cached).ToArray());
        batch.CachedAfter = Upload("attn.lengths", singleStates.Select(s => s.Cached + 1).ToArray());
        batch.MaxCachedAfter = singleStates.Max(s => s.Cached) + 1;
        return batch;
    }

    /// <summary>Each row's adapter: its run's sequence's, filled run by run.</summary>
    private int[] RowAdapters(IReadOnlyList<CudaSequenceState> states, int[] offsets)
    {
        var rows = new int[offsets[^1]];
        for (int i = 0; i < states.Count; i++) Array.Fill(rows, AdapterOf(states[i], i), offsets[i], offsets[i + 1] - offsets[i]);
        return rows;
    }

    private int AdapterOf(CudaSequenceState state, int run) => state.Adapter >= 0 && state.Adapter <= Adapters.Count ? state.Adapter
        : throw new ArgumentException($"sequence {run} picks adapter {state.Adapter}; the model has {Adapters.Count}");

    /// <summary>The states' block tables as rows of <paramref name="stride"/> ints (the tail of a shorter row unused).</summary>
    private static int[] BlockTables(IReadOnlyList<CudaSequenceState> states, int stride)
    {
        var tables = new int[states.Count * stride];
        for (int i = 0; i < states.Count; i++)
            for (int b = 0; b < states[i].BlockTable.Count; b++) tables[i * stride + b] = states[i].BlockTable[b];
        return tables;
    }

    /// <summary>
    /// The single-token runs' pointer tables: conv windows and SSM states per Mamba layer, uploaded once per step, not
    /// per layer (a copy from pageable memory waits for the stream). <paramref name="prefix"/> names the scratch buffers
    /// (a captured graph keeps its own).
    /// </summary>
    private void UploadSingleTables(Batch batch, string prefix)
    {
        int n = batch.Singles, layers = Config.NumHiddenLayers;
        var singles = batch.States.AsSpan(0, n).ToArray();
        var windows = new ulong[layers * n];
        var ssm = new ulong[layers * n];
        for (int l = 0; l < layers; l++)
            for (int i = 0; i < n; i++)
            {
                if (!Config.IsMambaLayer(l)) continue;
                windows[l * n + i] = singles[i].ConvWindow(l);
                ssm[l * n + i] = singles[i].SsmState(l);
            }
        batch.ConvWindows = Upload(prefix + "conv.windows", windows);
        batch.SsmStates = Upload(prefix + "ssm.states", ssm);
    }

    private void Mamba(Batch batch, int layer, CudaWeights.Mamba w, ulong normed, ulong output)
    {
        var c = Config;
        int rows = batch.Rows, inner = c.MambaIntermediate, convDim = c.ConvDim, heads = c.MambaNHeads, projDim = c.InProjDim;
        int act = _ops.ActBytes;
        var shape = new CudaOps.SsdShape(heads, c.MambaDHead, c.MambaNGroups, c.MambaDState, c.MambaChunkSize);
        // transformers zeroes padding rows before in_proj and again after the conv (the conv kernels do the latter).
        if (batch.AnyPadding) _ops.ZeroPaddingRows(normed, c.HiddenSize, c.HiddenSize, batch.PositionsOnDevice, rows);
        ulong proj = Act("proj", (long)rows * projDim);
        _ops.Linear(normed, w.InProj, proj, rows);
        if (w.InProjLora is { } inLora) _ops.AddLowRank(inLora, normed, proj, rows, batch.RowAdapters);
        if (w.InProjBias != 0) _ops.AddBias(proj, w.InProjBias, rows, projDim);
        var dtSource = new CudaOps.DtSource(proj, projDim, inner + convDim, w.DtBias, (float)c.TimeStepLimitMin, (float)c.TimeStepLimitMax);
        ulong dt = _ops.Scratch.Get("dt", 4L * rows * heads);
        // The single-token rows' step kernel makes its own dt; the chunked runs read it from here.
        if (batch.Singles < batch.Runs) _ops.SsdDt(proj, projDim, inner + convDim, w.DtBias, dt, rows, heads, dtSource.Low, dtSource.High);
        ulong xbc = Act("xbc", (long)rows * convDim), y = Act("y", (long)rows * inner);
        int n = batch.Singles;
        if (n > 0)
        {
            ulong windows = batch.ConvWindows + (ulong)(8L * layer * n);
            ulong states = batch.SsmStates + (ulong)(8L * layer * n);
            _ops.CausalConvStep(proj + (ulong)(inner * act), projDim, windows, w.ConvWeight, w.ConvBias, xbc, batch.PositionsOnDevice,
                n, convDim, c.MambaDConv);
            _ops.SsdStep(shape, xbc, dtSource, w.A, w.D, states, y, n);
        }
        for (int i = n; i < batch.Runs; i++)
        {
            long r0 = batch.Offsets[i];
            int len = batch.Length(i);
            var state = batch.States[i];
            _ops.CausalConvRun(proj + (ulong)((r0 * projDim + inner) * act), projDim, state.ConvWindow(layer), w.ConvWeight, w.ConvBias,
                xbc + (ulong)(r0 * convDim * act), batch.PositionsOnDevice + (ulong)(r0 * 4), len, convDim, c.MambaDConv);
            _ops.SsdChunked(shape, xbc + (ulong)(r0 * convDim * act), dt + (ulong)(r0 * heads * 4), w.A, w.D, state.SsmState(layer),
                y + (ulong)(r0 * inner * act), len);
        }
        _ops.GatedRmsNorm(y, proj, projDim, w.Norm, rows, inner, c.MambaNormGroupSize, (float)c.RmsNormEps);
        _ops.Linear(y, w.OutProj, output, rows);
        if (w.OutProjLora is { } outLora) _ops.AddLowRank(outLora, y, output, rows, batch.RowAdapters);
        if (w.OutProjBias != 0) _ops.AddBias(output, w.OutProjBias, rows, c.HiddenSize);
    }

    private void Attention(Batch batch, int layer, CudaWeights.Attention w, ulong normed, ulong output)
    {
        var c = Config;
        int rows = batch.Rows, act = _ops.ActBytes;
        int qWidth = c.NumAttentionHeads * c.HeadDim, kvWidth = c.NumKeyValueHeads * c.HeadDim, qkvWidth = qWidth + 2 * kvWidth;
        ulong qkv = Act("qkv", (long)rows * qkvWidth), attended = Act("attended", (long)rows * qWidth);
        _ops.Linear(normed, w.Qkv, qkv, rows);
        if (w.QkvLora is { } qkvLora) _ops.AddLowRank(qkvLora, normed, qkv, rows, batch.RowAdapters);
        // Queries and keys are adjacent in each qkv row: one launch rotates both (none without RoPE: Granite's NoPE).
        if (c.UseRope) _ops.Rope(qkv, qkvWidth, batch.PositionsOnDevice, _invFreq.Pointer, rows, c.NumAttentionHeads + c.NumKeyValueHeads, c.HeadDim, c.RotaryDim);
        int n = batch.Singles;
        var kv = _kv.Layer(AttentionIndex(layer));
        if (n > 0)
        {
            // The single-token runs are rows 0..n−1: one append and one attention launch for all of them.
            _ops.KvAppendBatched(qkv, qkvWidth, qWidth, qWidth + kvWidth, kv, batch.BlockTables, batch.TableStride,
                batch.PositionsOnDevice, batch.CachedBefore, n, c.NumKeyValueHeads, c.HeadDim);
            _ops.AttentionDecodeBatched(qkv, qkvWidth, kv, batch.BlockTables, batch.TableStride, batch.CachedAfter, batch.MaxCachedAfter,
                attended, qWidth, n, c.NumAttentionHeads, c.NumKeyValueHeads, c.HeadDim, Scale);
        }
        for (int i = n; i < batch.Runs; i++)
        {
            long r0 = batch.Offsets[i];
            int len = batch.Length(i), cached = batch.States[i].Cached;
            ulong runQkv = qkv + (ulong)(r0 * qkvWidth * act), table = batch.BlockTables + (ulong)(4L * i * batch.TableStride);
            _ops.KvAppend(runQkv, qkvWidth, qWidth, qWidth + kvWidth, kv, table, batch.PositionsOnDevice + (ulong)(r0 * 4), cached, len,
                c.NumKeyValueHeads, c.HeadDim);
            _ops.Attention(runQkv, qkvWidth, kv, table, attended + (ulong)(r0 * qWidth * act), qWidth,
                len, cached + len, c.NumAttentionHeads, c.NumKeyValueHeads, c.HeadDim, Scale);
        }
        _ops.Linear(attended, w.O, output, rows);
        if (w.OLora is { } oLora) _ops.AddLowRank(oLora, attended, output, rows, batch.RowAdapters);
    }

    /// <param name="rowAdapters">Each row's picked adapter (<see cref="Batch.RowAdapters"/>).</param>
    private void FeedForward(CudaWeights.Layer w, ulong normed, ulong output, int rows, ulong rowAdapters)
    {
        if (w.Experts is { } experts) Experts(experts, w.Mlp, normed, output, rows, rowAdapters);
        else Mlp(w.Mlp!, normed, output, rows, "mlp", rowAdapters);
    }

    private void Mlp(CudaWeights.Mlp w, ulong normed, ulong output, int rows, string scratch, ulong rowAdapters)
    {
        int inter = w.Width, h = Config.HiddenSize;
        ulong hidden = Act(scratch, (long)rows * inter);
        if (w.Gated && w.UpLora is { } gateUpLora)
        {
            // The adapter adds to gate|up before the SwiGLU, so the product goes through scratch (no fused GEMV).
            ulong gateUp = Act("gate_up", (long)rows * 2 * inter);
            _ops.Linear(normed, w.Up, gateUp, rows);
            _ops.AddLowRank(gateUpLora, normed, gateUp, rows, rowAdapters);
            _ops.SwiGlu(gateUp, hidden, rows, inter);
        }
        else if (w.Gated) _ops.LinearSwiGlu(normed, w.Up, hidden, rows, inter);
        else
        {
            _ops.Linear(normed, w.Up, hidden, rows);
            if (w.UpLora is { } upLora) _ops.AddLowRank(upLora, normed, hidden, rows, rowAdapters);
            _ops.SquaredRelu(hidden, (long)rows * inter);
        }
        _ops.Linear(hidden, w.Down, output, rows);
        if (w.DownLora is { } downLora) _ops.AddLowRank(downLora, hidden, output, rows, rowAdapters);
    }

    /// <summary>Final norm and LM head over the last row of each run (or every row): float32 logits on the device.</summary>
    private ulong Logits(Batch batch, bool allRows)
    {
        int h = Config.HiddenSize, vocab = Config.VocabSize, n = allRows ? batch.Rows : batch.Runs;
        ulong x = _ops.Scratch.Get("x", 4L * batch.Rows * h), rowsIn = x;
        if (!allRows && batch.Rows != batch.Runs) // with one row per run, x already is the last rows
        {
            rowsIn = _ops.Scratch.Get("last", 4L * n * h);
            _ops.GatherRows(x, h, batch.LastRows, rowsIn, n);
        }
        ulong normed = Act("final_norm", (long)n * h);
        _ops.RmsNorm(rowsIn, _weights.FinalNorm, normed, n, h, (float)Config.RmsNormEps);
        ulong logits = Act("logits", (long)n * vocab);
        _ops.Linear(normed, _weights.LmHead, logits, n);
        if (_ops.Precision == CudaPrecision.Float32) return logits;
        ulong logits32 = _ops.Scratch.Get("logits32", 4L * n * vocab);
        _ops.ActToF32(logits, logits32, (long)n * vocab);
        return logits32;
    }

    /// <summary>The attention scale when the config sets one (Granite's attention_multiplier), else head_dim^−0.5.</summary>
    private float? Scale => Config.AttentionScale is double s ? (float)s : null;

    private int AttentionIndex(int layer) => Enumerable.Range(0, layer).Count(Config.IsAttentionLayer);

    private ulong Act(string name, long elements) => _ops.Scratch.Get(name, elements * _ops.ActBytes);

    private ulong Upload<T>(string name, T[] values) where T : unmanaged => Upload(name, (ReadOnlySpan<T>)values);

    private ulong Upload<T>(string name, ReadOnlySpan<T> values) where T : unmanaged
    {
        ulong p = _ops.Scratch.Get(name, Math.Max(1, values.Length) * (long)System.Runtime.CompilerServices.Unsafe.SizeOf<T>());
        _ops.Device.Copy<T>(p, values);
        _ops.Profile?.Mark("upload");
        return p;
    }

    public void Dispose()
    {
        ReleaseGraph();
        _kv.Dispose();
        _invFreq.Dispose();
        _weights.Dispose();
        _maskTable?.Dispose();
        var device = _ops.Device;
        _ops.Dispose();
        if (_ownsDevice) device.Dispose();
        _store?.Dispose();
    }
}
