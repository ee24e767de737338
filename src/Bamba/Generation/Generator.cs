using System.Runtime.CompilerServices;

namespace Bamba.Generation;

/// <summary>
/// Generates from prompts with any <see cref="ISequenceModel"/>: a batch of prompts of different lengths runs
/// left-padded in one prefill (as transformers batches them), then one token per unfinished sequence per step.
/// </summary>
public sealed class Generator(ISequenceModel model)
{
    public IReadOnlyList<GenerationResult> Generate(IReadOnlyList<int[]> prompts, GenerationOptions options, CancellationToken cancel = default)
    {
        options.Validate();
        if (prompts.Count == 0) return [];
        var rows = prompts.Select((p, i) => new Row(p, RowSampler(options.Sampling, i), model.CreateState())).ToArray();
        try
        {
            var logits = model.Step(rows.Select(r => r.State).ToArray(), LeftPadded(prompts));
            var active = rows.ToList();
            while (true)
            {
                cancel.ThrowIfCancellationRequested();
                for (int i = 0; i < active.Count; i++) active[i].Accept(logits[i], options, StopIds(options));
                active.RemoveAll(r => r.Finish is not null);
                if (active.Count == 0) break;
                logits = model.Step(active.Select(r => r.State).ToArray(), active.Select(r => (SequenceInput)new[] { r.Last }).ToArray());
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
            var logits = await Task.Run(() => model.Step([row.State], [input]), cancel).ConfigureAwait(false);
            row.Accept(logits[0], options, stop);
            yield return row.Last;
            next = new[] { row.Last };
        }
    }

    private HashSet<int> StopIds(GenerationOptions options) =>
        [.. options.EosTokenIds ?? model.Config.EosTokenIds, .. options.StopTokenIds];

    private static Sampler RowSampler(SamplingOptions sampling, int row) =>
        new(sampling.Seed is ulong s ? sampling with { Seed = s + (ulong)row } : sampling);

    private SequenceInput[] LeftPadded(IReadOnlyList<int[]> prompts)
    {
        int width = prompts.Max(p => p.Length);
        int pad = model.Config.PadTokenId ?? 0;
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
        public SequenceState State { get; } = state;
        public List<int> Generated { get; } = [];
        public FinishReason? Finish { get; private set; }
        public int Last => Generated[^1];

        public void Accept(float[] logits, GenerationOptions options, HashSet<int> stopIds)
        {
            int id = sampler.Sample(logits, _history, prompt.Length);
            _history.Add(id);
            Generated.Add(id);
            if (stopIds.Contains(id)) Finish = FinishReason.Stop;
            else if (Generated.Count >= options.MaxNewTokens) Finish = FinishReason.Length;
        }
    }
}
