namespace Bamba.Tests;

/// <summary>Locates ../shared/fixtures relative to the repository root (the folder holding Bamba.slnx).</summary>
public static class Fixtures
{
    public static string RepositoryRoot { get; } = FindRoot();

    public static string Root => Path.GetFullPath(Path.Combine(RepositoryRoot, "..", "shared", "fixtures"));

    public static string Model(string name) => Path.Combine(Root, "models", name);

    public static readonly string[] ModelNames = ["tiny-bamba", "tiny-bamba-bf16-sharded", "small-bamba"];

    public static TheoryData<string> Models()
    {
        var data = new TheoryData<string>();
        foreach (var name in ModelNames) data.Add(name);
        return data;
    }

    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "Bamba.slnx"))) return dir.FullName;
        throw new InvalidOperationException("repository root (Bamba.slnx) not found above " + AppContext.BaseDirectory);
    }
}
