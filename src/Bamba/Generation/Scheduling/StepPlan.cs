namespace Bamba.Generation.Scheduling;

/// <summary>
/// The runs of one scheduler step: one token for every decoding sequence, then prompt chunks while the step's
/// token budget lasts (at least one chunk, so prefill always progresses). Prompt-scoring runs go through
/// <see cref="ISequenceModel.StepAllLogits"/>, the rest through one <see cref="ISequenceModel.Step"/> call.
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

    /// <summary>Runs the model and returns each run's logits in plan order (all positions for scoring runs).</summary>
    public float[][] Run(ISequenceModel model)
    {
        var logits = new float[Sequences.Count][];
        var scoring = Enumerable.Range(0, Sequences.Count).Where(i => Sequences[i].NeedsAllLogits).ToArray();
        var plain = Enumerable.Range(0, Sequences.Count).Where(i => !Sequences[i].NeedsAllLogits).ToArray();
        if (plain.Length > 0) Scatter(model.Step(States(plain), InputsOf(plain)), plain, logits);
        if (scoring.Length > 0) Scatter(model.StepAllLogits(States(scoring), InputsOf(scoring)), scoring, logits);
        return logits;
    }

    private void Add(RunningSequence s, SequenceInput input)
    {
        Sequences.Add(s);
        Inputs.Add(input);
    }

    private SequenceState[] States(int[] which) => which.Select(i => Sequences[i].State).ToArray();
    private SequenceInput[] InputsOf(int[] which) => which.Select(i => Inputs[i]).ToArray();

    private static void Scatter(float[][] results, int[] which, float[][] into)
    {
        for (int j = 0; j < which.Length; j++) into[which[j]] = results[j];
    }
}
