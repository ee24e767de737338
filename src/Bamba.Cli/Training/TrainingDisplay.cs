using Bamba.Cli.Output;
using Bamba.Training;
using Spectre.Console;

namespace Bamba.Cli.Training;

/// <summary>
/// Where <c>bamba train</c> shows its progress: a live bar (step, loss, learning rate, gradient norm, tokens/s,
/// time left) on a terminal, else one plain line every 10 steps (<see cref="ProgressReporter"/>).
/// </summary>
internal static class TrainingDisplay
{
    public static T Run<T>(bool live, int fromStep, int totalSteps, Func<ITrainingProgress, T> train)
    {
        if (!live) return train(new ProgressReporter(Console.Error, every: 10));
        var console = LiveOutput.Stderr();
        return console.Progress()
            .AutoClear(false)
            .Columns(new TaskDescriptionColumn { Alignment = Justify.Left }, new ProgressBarColumn(), new PercentageColumn(),
                new RemainingTimeColumn(), new SpinnerColumn())
            .Start(context =>
            {
                var task = context.AddTask($"step {fromStep}/{totalSteps}", maxValue: totalSteps);
                task.Value = fromStep;
                return train(new Live(task, console));
            });
    }

    private sealed class Live(ProgressTask task, IAnsiConsole console) : ITrainingProgress
    {
        public void Step(LogEntry e, int totalSteps)
        {
            task.MaxValue = totalSteps;
            task.Value = e.Step;
            task.Description = $"step {e.Step}/{totalSteps}  {ProgressReporter.Losses(e)}  lr {e.LearningRate:E2}  |g| {e.GradNorm:F2}  {e.TokensPerSecond:F0} tok/s";
        }

        public void Message(string text) => console.MarkupLine(Markup.Escape(text));
    }
}
