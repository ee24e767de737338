namespace Bamba.Tests;

/// <summary>
/// The shared fixtures: $BAMBA_FIXTURES if set (the GPU machine gets them in a carried archive), else
/// ../shared/fixtures beside the repository root (the folder holding Bamba.slnx). Compiled into every test project.
/// </summary>
public static class Fixtures
{
    /// <summary>The repository root, or null where the tests run outside a checkout (a published test executable).</summary>
    public static string? RepositoryRootOrNull { get; } = FindRoot();

    public static string RepositoryRoot =>
        RepositoryRootOrNull ?? throw new InvalidOperationException("repository root (Bamba.slnx) not found above " + AppContext.BaseDirectory);

    public static string Root { get; } =
        Environment.GetEnvironmentVariable("BAMBA_FIXTURES") is { Length: > 0 } env ? env
        : RepositoryRootOrNull is { } root ? Path.GetFullPath(Path.Combine(root, "..", "shared", "fixtures"))
        : Path.Combine(AppContext.BaseDirectory, "fixtures");

    public static string Model(string name) => Path.Combine(Root, "models", name);

    public static readonly string[] ModelNames = ["tiny-bamba", "tiny-bamba-bf16-sharded", "small-bamba"];

    public static TheoryData<string> Models() => new(ModelNames);

    /// <summary>The other hybrid families: Granite 4.0 H (experts and dense) and Nemotron-H.</summary>
    public static readonly string[] FamilyModelNames = ["tiny-granite-moe-hybrid", "tiny-granite-hybrid-dense-rope", "tiny-nemotron-h"];

    public static readonly string[] AllModelNames = [.. ModelNames, .. FamilyModelNames];

    public static TheoryData<string> AllModels() => new(AllModelNames);

    private static string? FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "Bamba.slnx"))) return dir.FullName;
        return null;
    }
}
