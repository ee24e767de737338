namespace Bamba.Tests.Browser;

/// <summary>
/// A test that drives Debian's chromium. Without chromium it is skipped with the reason, except in CI (CI=true), where
/// scripts/install-deps.sh installs it: there a missing browser is a failure, not a silent skip.
/// </summary>
public sealed class BrowserFactAttribute : FactAttribute
{
    /// <summary>BAMBA_CHROMIUM, else the Debian package's path.</summary>
    public static string ChromiumPath => Environment.GetEnvironmentVariable("BAMBA_CHROMIUM") ?? "/usr/bin/chromium";

    public BrowserFactAttribute()
    {
        bool ci = string.Equals(Environment.GetEnvironmentVariable("CI"), "true", StringComparison.OrdinalIgnoreCase);
        if (!File.Exists(ChromiumPath) && !ci)
            Skip = $"no chromium at {ChromiumPath} (scripts/install-deps.sh installs it; CI fails instead of skipping)";
    }
}
