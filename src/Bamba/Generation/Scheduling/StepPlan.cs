namespace Bamba.Generation.Scheduling;

/// <summary>
/// The runs of one scheduler step: one token for every decoding sequence, then prompt chunks while the step's
/// token budget lasts (at least one chunk, so prefill always progresses). Prompt-scoring runs go through
/// <see cref="ISequenceModel.StepAllLogits"/>, runs the model can sample on the device through
/// <see cref="IDeviceSampling.StepAndSample"/> (with the grammar masks of constrained ones), the rest through one
/// <see cref="ISequenceModel.Step"/> call.
/// </summary>
internal sealed class StepPlan
{
    public List<RunningSequence> Sequences { get; } = [];
    public List<SequenceInput> Inputs { get; } = [];

    public static StepPlan Build(IReadOnlyList<RunningSequence> running, int prefillChunk, int maxStepTokens)
    {
        var plan = new StepPlan();
        int budget = maxStepTokens;
        foreach (var s in running)
            if (!s.IsPrefilling && s.Finish is null) { plan.Add(s, s.NextInput(prefillChunk)); budget--; }
        bool anyPrefill = false;
        foreach (var s in running)
        {
            if (!s.IsPrefilling || s.Finish is not null) continue;
            int length = s.NextChunkLength(prefillChunk);
            // A chunk that does not fit waits whole for a later step: shrinking it would change the sequence's arithmetic.
            if (anyPrefill && length > budget) continue;
            plan.Add(s, s.NextInput(prefillChunk));
            budget -= length;
            anyPrefill = true;
        }
        return plan;
    }

    /// <summary>
    /// Runs the model and returns each run's outcome in plan order: its logits (all positions for scoring runs), or,
    /// for sequences whose sampling the model can do on the device, the token it picked there.
    /// </summary>
    public StepOutcome[] Run(ISequenceModel model)
    {
        var outcomes = new StepOutcome[Sequences.Count];
        var device = model as IDeviceSampling;
        var scoring = Which(s => s.NeedsAllLogits);
        var onDevice = Which(s => !s.NeedsAllLogits && s.SamplesOn(device));
        var plain = Which(s => !s.NeedsAllLogits && !s.SamplesOn(device));
        if (onDevice.Length > 0)
        {
            var masks = onDevice.Select(i => Sequences[i].AllowedMask()).ToArray();
            var ids = device!.StepAndSample(States(onDevice), InputsOf(onDevice), onDevice.Select(i => Sequences[i].Request.Sampling).ToArray(),
                onDevice.Select(i => Sequences[i].NextUniform()).ToArray(), masks.Any(m => m is not null) ? masks : null);
            for (int j = 0; j < onDevice.Length; j++) outcomes[onDevice[j]] = new StepOutcome(null, ids[j]);
        }
        if (plain.Length > 0) Scatter(model.Step(States(plain), InputsOf(plain)), plain, outcomes);
        if (scoring.Length > 0) Scatter(model.StepAllLogits(States(scoring), InputsOf(scoring)), scoring, outcomes);
        return outcomes;
    }

    private int[] Which(Func<RunningSequence, bool> predicate) => Enumerable.Range(0, Sequences.Count).Where(i => predicate(Sequences[i])).ToArray();

    private void Add(RunningSequence s, SequenceInput input)
    {
        Sequences.Add(s);
        Inputs.Add(input);
    }

    private SequenceState[] States(int[] which) => which.Select(i => Sequences[i].State).ToArray();
    private SequenceInput[] InputsOf(int[] which) => which.Select(i => Inputs[i]).ToArray();

    private static void Scatter(float[][] results, int[] which, StepOutcome[] into)
    {
        for (int j = 0; j < which.Length; j++) into[which[j]] = new StepOutcome(results[j], -1);
    }
}

/// <summary>One run's result: its logits, or (when <see cref="Logits"/> is null) the token the device picked.</summary>
internal readonly record struct StepOutcome(float[]? Logits, int DeviceToken);
