using System.Runtime.CompilerServices;

namespace Bamba.Generation;

/// <summary>
/// Generates from prompts with any <see cref="ISequenceModel"/>: a batch of prompts of different lengths runs
/// left-padded in one prefill (as transformers batches them), then one token per unfinished sequence per step.
/// A model that samples on its device (<see cref="IDeviceSampling"/>, the CUDA model) picks the tokens there, so only
/// ids cross to the host; options it cannot sample (min-p, penalties) take the host's sampler over downloaded logits.
/// </summary>
public sealed class Generator(ISequenceModel model)
{
    /// <summary>
    /// Whether tokens are picked on the model's device when it can (on by default). Greedy picks the same first maximum
    /// either way; a seeded draw repeats on each path but differs between them (see <see cref="DeviceSampler"/>).
    /// </summary>
    public bool UseDeviceSampling { get; init; } = true;

    public IReadOnlyList<GenerationResult> Generate(IReadOnlyList<int[]> prompts, GenerationOptions options, CancellationToken cancel = default)
    {
        options.Validate();
        if (prompts.Count == 0) return [];
        var rows = prompts.Select((p, i) => new Row(p, RowSampler(options.Sampling, i), model.CreateState())).ToArray();
        try
        {
            var next = NextTokens(rows, LeftPadded(prompts), options.Sampling);
            var active = rows.ToList();
            while (true)
            {
                cancel.ThrowIfCancellationRequested();
                for (int i = 0; i < active.Count; i++) active[i].Accept(next[i], options, StopIds(options));
                active.RemoveAll(r => r.Finish is not null);
                if (active.Count == 0) break;
                next = NextTokens(active, active.Select(r => (SequenceInput)new[] { r.Last }).ToArray(), options.Sampling);
            }
            return rows.Select(r => new GenerationResult(r.Generated.ToArray(), r.Finish!.Value)).ToArray();
        }
        finally
        {
            foreach (var r in rows) r.State.Dispose();
        }
    }

    /// <summary>Streams the generated ids of one prompt as they are produced.</summary>
    public async IAsyncEnumerable<int> StreamAsync(int[] prompt, GenerationOptions options, [EnumeratorCancellation] CancellationToken cancel = default)
    {
        options.Validate();
        if (prompt.Length == 0) throw new BambaException("the prompt is empty");
        var row = new Row(prompt, RowSampler(options.Sampling, 0), model.CreateState());
        using var state = row.State;
        var stop = StopIds(options);
        SequenceInput next = prompt;
        while (row.Finish is null)
        {
            var input = next;
            var ids = await Task.Run(() => NextTokens([row], [input], options.Sampling), cancel).ConfigureAwait(false);
            row.Accept(ids[0], options, stop);
            yield return row.Last;
            next = new[] { row.Last };
        }
    }

    /// <summary>
    /// Generates after appending <paramref name="input"/> to an existing state (a <see cref="SequenceSession"/>'s), which
    /// keeps every token but the last generated one; <paramref name="history"/> (all tokens so far, input included) is
    /// what repetition penalties see.
    /// </summary>
    public GenerationResult Continue(SequenceState state, int[] input, int[] history, GenerationOptions options)
    {
        options.Validate();
        var row = new Row(history, RowSampler(options.Sampling, 0), state);
        var stop = StopIds(options);
        SequenceInput next = input;
        while (row.Finish is null)
        {
            row.Accept(NextTokens([row], [next], options.Sampling)[0], options, stop);
            next = new[] { row.Last };
        }
        return new GenerationResult(row.Generated.ToArray(), row.Finish.Value);
    }

    /// <summary>Appends each row's input and picks its next token, on the device where it can, else from host logits.</summary>
    private int[] NextTokens(IReadOnlyList<Row> rows, IReadOnlyList<SequenceInput> inputs, SamplingOptions sampling)
    {
        var states = rows.Select(r => r.State).ToArray();
        if (DeviceSampler(sampling) is { } device)
            return device.StepAndSample(states, inputs, rows.Select(_ => sampling).ToArray(), rows.Select(r => r.Sampler.NextUniform()).ToArray());
        var logits = model.Step(states, inputs);
        return rows.Select((r, i) => r.Sample(logits[i])).ToArray();
    }

    /// <summary>
    /// The model's device sampler when it takes these options. It draws with each row's uniform (the row sampler's next
    /// value, seeded as on the host) over the vocabulary in id order, where the host walks the candidates most likely
    /// first: the same distribution, another token for the same seed. The continuous-batching scheduler draws the same way.
    /// </summary>
    private IDeviceSampling? DeviceSampler(SamplingOptions sampling) =>
        UseDeviceSampling && model is IDeviceSampling device && device.CanSample(sampling) ? device : null;

    private HashSet<int> StopIds(GenerationOptions options) =>
        [.. options.EosTokenIds ?? model.Tokens.EosTokenIds, .. options.StopTokenIds];

    private static Sampler RowSampler(SamplingOptions sampling, int row) =>
        new(sampling.Seed is ulong s ? sampling with { Seed = s + (ulong)row } : sampling);

    private SequenceInput[] LeftPadded(IReadOnlyList<int[]> prompts)
    {
        int width = prompts.Max(p => p.Length);
        int pad = model.Tokens.PadTokenId ?? 0;
        return prompts.Select((p, i) =>
        {
            if (p.Length == 0) throw new BambaException($"prompt {i} is empty");
            if (p.Length == width) return new SequenceInput(p);
            var tokens = Enumerable.Repeat(pad, width - p.Length).Concat(p).ToArray();
            var padding = Enumerable.Range(0, width).Select(t => t < width - p.Length).ToArray();
            return new SequenceInput(tokens, padding);
        }).ToArray();
    }

    /// <summary>One sequence being generated.</summary>
    private sealed class Row(int[] prompt, Sampler sampler, SequenceState state)
    {
        private readonly List<int> _history = [.. prompt];
        public Sampler Sampler => sampler;
        public SequenceState State { get; } = state;
        public List<int> Generated { get; } = [];
        public FinishReason? Finish { get; private set; }
        public int Last => Generated[^1];

        /// <summary>The host's pick from this row's logits (penalties see the history so far).</summary>
        public int Sample(float[] logits) => sampler.Sample(logits, _history, prompt.Length);

        public void Accept(int id, GenerationOptions options, HashSet<int> stopIds)
        {
            _history.Add(id);
            Generated.Add(id);
            if (stopIds.Contains(id)) Finish = FinishReason.Stop;
            else if (Generated.Count >= options.MaxNewTokens) Finish = FinishReason.Length;
        }
    }
}
