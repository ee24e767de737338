using System.Globalization;
using Bamba.Training.Data;
using Bamba.Weights;

namespace Bamba.Training;

/// <summary>
/// The training loop: each step packs <c>GradientAccumulation</c> rows of <c>BatchTokens</c> tokens, accumulates
/// their gradients (normalised over the whole step, so accumulation equals one big batch), clips the global norm,
/// and takes an AdamW step at the scheduled rate. Checkpoints every <c>SaveEvery</c> steps and at the end.
/// </summary>
public sealed class Trainer
{
    private readonly ITrainingEngine _engine;
    private readonly PackedStream _stream;
    private readonly TokenizedCorpus _corpus;
    private readonly LearningRateSchedule _schedule;
    private TrainerState _state;

    public Trainer(TrainableModel model, AdamW optimizer, TokenizedCorpus corpus, TrainerState state)
        : this(new CpuTrainingEngine(model, optimizer), corpus, state) { }

    /// <summary>A loop over any engine (CPU or GPU); the engine stays the caller's to dispose.</summary>
    public Trainer(ITrainingEngine engine, TokenizedCorpus corpus, TrainerState state)
    {
        _engine = engine;
        _corpus = corpus;
        _state = state;
        _stream = new PackedStream(corpus.Train, state.Seed, state.Cursor, corpus.TrainLabels);
        _schedule = new LearningRateSchedule(state.LearningRate, state.WarmupSteps, state.TotalSteps, state.MinLearningRateRatio);
    }

    public TrainerState State => _state;

    /// <summary>Where and how checkpoints go (null = never saved, as in tests of the loop alone).</summary>
    public Func<TrainerState, Checkpoint.Contents>? CheckpointContents { get; init; }
    public string? OutputDirectory { get; init; }
    public int SaveEvery { get; init; }
    public int EvalTokens { get; init; } = 65536;
    public ITrainingProgress? Progress { get; init; }

    /// <summary>Evaluate the held-out loss every N steps and at step 0 (0 = only at the end).</summary>
    public int EvalEvery { get; init; }

    /// <summary>When cancelled, the loop checkpoints after the step in flight and returns false.</summary>
    public CancellationToken Stop { get; init; }

    /// <summary>Trains to <c>TotalSteps</c> (true), or until <see cref="Stop"/> (false; the checkpoint is saved).</summary>
    public bool Run()
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        long tokensThisRun = 0;
        if (EvalEvery > 0 && _state.Step == 0) RecordEval();
        while (_state.Step < _state.TotalSteps)
        {
            if (Stop.IsCancellationRequested)
            {
                Save(evaluate: false);
                return false;
            }
            var sums = TrainStep(out int tokens, out double gradNorm, out float lr);
            double loss = sums.Loss(_engine.Config.ZLossCoefficient);
            tokensThisRun += tokens;
            var entry = new LogEntry
            {
                Step = _state.Step + 1, Loss = loss, AuxLoss = sums.AuxLoss, LearningRate = double.Parse(lr.ToString("R", CultureInfo.InvariantCulture), CultureInfo.InvariantCulture), GradNorm = gradNorm,
                TokensPerSecond = tokensThisRun / Math.Max(clock.Elapsed.TotalSeconds, 1e-9),
            };
            _state = _state with
            {
                Step = entry.Step, Cursor = _stream.Cursor, LastLoss = loss, TokensSeen = _state.TokensSeen + tokens,
                LogHistory = [.. _state.LogHistory, entry],
            };
            Progress?.Step(entry, _state.TotalSteps);
            bool last = _state.Step == _state.TotalSteps;
            if (!last && EvalEvery > 0 && _state.Step % EvalEvery == 0) RecordEval();
            // Intermediate checkpoints skip the held-out evaluation, which costs as much as many steps on a small CPU.
            if (last || (SaveEvery > 0 && _state.Step % SaveEvery == 0)) Save(evaluate: last);
        }
        return true;
    }

    /// <summary>
    /// One optimizer step; returns its loss sums. The router auxiliary loss (when on) is transformers' per forward,
    /// one forward per packed row, and the step's objective takes their mean (coefficient / rows each), as Hugging
    /// Face's Trainer divides each micro-batch's loss by the accumulation steps.
    /// </summary>
    private LossSums TrainStep(out int tokens, out double gradNorm, out float lr)
    {
        _engine.ZeroGrad();
        var rows = Enumerable.Range(0, _state.GradientAccumulation).Select(_ => _stream.NextRow(_state.BatchTokens)).ToList();
        int targets = rows.Sum(r => r.TargetCount), positions = rows.Sum(r => r.Rows);
        float ceScale = 1f / Math.Max(1, targets), zScale = (float)_engine.Config.ZLossCoefficient / positions;
        float auxScale = (float)(_state.RouterAuxLossCoef / rows.Count);
        var sums = new LossSums();
        foreach (var row in rows) sums += _engine.ForwardBackward(row, ceScale, zScale, auxScale);
        gradNorm = _engine.ClipGradients(_state.MaxGradNorm);
        lr = _schedule.At(_state.Step);
        _engine.Update(lr);
        tokens = positions;
        return sums;
    }

    /// <summary>Mean next-token cross-entropy over the held-out documents (up to <see cref="EvalTokens"/> tokens).</summary>
    public double? Evaluate()
    {
        if (_corpus.Eval.Count == 0) return null;
        var sums = new LossSums();
        foreach (var row in PackedStream.Rows(_corpus.Eval, _state.BatchTokens, EvalTokens, _corpus.EvalLabels)) sums += _engine.Evaluate(row);
        return sums.Targets == 0 ? null : sums.CrossEntropy / sums.Targets;
    }

    private void RecordEval()
    {
        if (Evaluate() is not double evalLoss) return;
        _state = _state with { EvalLoss = evalLoss, LogHistory = [.. _state.LogHistory, new LogEntry { Step = _state.Step, EvalLoss = evalLoss }] };
        Progress?.Message($"step {_state.Step}: eval loss {evalLoss:F4}, perplexity {Math.Exp(evalLoss):F2}");
    }

    private void Save(bool evaluate)
    {
        if (evaluate) RecordEval();
        if (OutputDirectory is null || CheckpointContents is null) return;
        _engine.SyncToHost(); // checkpoints are written from the host copies of the master weights and moments
        Checkpoint.Save(OutputDirectory, CheckpointContents(_state));
        Progress?.Message($"step {_state.Step}: saved {OutputDirectory}");
    }
}
