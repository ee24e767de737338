namespace Bamba.Cli.Training;

/// <summary>
/// The first Ctrl-C (SIGINT) asks the training loop to stop after the step in flight and save a checkpoint; a second
/// one ends the process at once, as Ctrl-C usually does.
/// </summary>
internal sealed class StopOnCtrlC : IDisposable
{
    /// <summary>The shell's code for a run ended by SIGINT (128 + 2).</summary>
    public const int ExitCode = 130;

    private readonly CancellationTokenSource _stop = new();

    public StopOnCtrlC() => Console.CancelKeyPress += OnCancel;

    public CancellationToken Token => _stop.Token;

    private void OnCancel(object? sender, ConsoleCancelEventArgs e)
    {
        if (_stop.IsCancellationRequested) return;
        e.Cancel = true;
        _stop.Cancel();
        Console.Error.WriteLine("bamba train: stopping after this step and saving a checkpoint (Ctrl-C again quits at once)");
    }

    public void Dispose()
    {
        Console.CancelKeyPress -= OnCancel;
        _stop.Dispose();
    }
}
