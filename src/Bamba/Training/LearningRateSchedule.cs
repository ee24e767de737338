namespace Bamba.Training;

/// <summary>Linear warmup to the peak rate, then a cosine decay to <c>MinRatio·peak</c> at the last step.</summary>
public sealed record LearningRateSchedule(float Peak, int WarmupSteps, int TotalSteps, float MinRatio = 0.1f)
{
    /// <summary>The rate for update number <paramref name="step"/> (0-based).</summary>
    public float At(int step)
    {
        if (step < WarmupSteps) return Peak * (step + 1) / WarmupSteps;
        int decaySteps = Math.Max(1, TotalSteps - WarmupSteps);
        double progress = Math.Min(1.0, (double)(step - WarmupSteps) / decaySteps);
        double cosine = 0.5 * (1 + Math.Cos(Math.PI * progress));
        return (float)(Peak * (MinRatio + (1 - MinRatio) * cosine));
    }
}
