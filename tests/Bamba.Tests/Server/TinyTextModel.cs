namespace Bamba.Tests.Server;

/// <summary>
/// tiny-bamba with a real tokenizer.json: the fixture's config and weights copied into a temporary folder next to a
/// small byte-level BPE tokenizer (272 ids, within the model's 512) and a tokenizer_config.json with a chat template.
/// </summary>
internal sealed class TinyTextModel : IDisposable
{
    public TinyTextModel()
    {
        Directory = Path.Combine(Path.GetTempPath(), "bamba-tiny-text-" + Guid.NewGuid().ToString("N")[..8]);
        System.IO.Directory.CreateDirectory(Directory);
        foreach (var file in new[] { "config.json", "generation_config.json", "model.safetensors" })
            File.Copy(Path.Combine(Fixtures.Model("tiny-bamba"), file), Path.Combine(Directory, file));
        var tokenizer = Path.Combine(Fixtures.RepositoryRoot, "tests", "Bamba.Tests", "Server", "TinyTokenizer");
        foreach (var file in new[] { "tokenizer.json", "tokenizer_config.json" })
            File.Copy(Path.Combine(tokenizer, file), Path.Combine(Directory, file));
    }

    public string Directory { get; }

    public void Dispose()
    {
        try { System.IO.Directory.Delete(Directory, recursive: true); } catch (IOException) { } // mapped weights may linger on some systems
    }
}
