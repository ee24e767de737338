using System.Text;
using Bamba.Benchmarks;
using Bamba.Cli.Output;

namespace Bamba.Cli.Commands;

/// <summary>
/// <c>bamba bench-tokenize --tokenizer DIR [--input FILE] [--megabytes N] [--format table|json]</c>: encode
/// throughput on ≥ N MB of English text (default 10), one thread and all cores. Without --input the text is the
/// English documents found on the machine (/usr/share/common-licenses, /usr/share/doc/**/*.txt), repeated to size.
/// </summary>
internal sealed class BenchTokenizeCommand : ICommand
{
    private static readonly string[] DefaultTextRoots = ["/usr/share/common-licenses", "/usr/share/doc"];

    public string Name => "bench-tokenize";
    public string Summary => "measure tokenizer encode throughput (MB/s, one thread and all cores)";
    public IReadOnlyList<Flag> Flags { get; } =
    [
        .. InputChoice.TokenizerFlags,
        new("input", "plain text to encode; - reads stdin", "FILE", "the English documents under /usr/share"),
        new("megabytes", "MB of text (repeated to size)", "N", "10"),
        new("format", "a table then the JSON line, or the JSON line alone", "table|json", "table"),
        LiveOutput.NoProgress,
    ];
    public IReadOnlyList<string> Examples { get; } = ["bamba bench-tokenize --tokenizer models/default --megabytes 20"];

    public int Run(CommandLine args, TextWriter stdout)
    {
        string dir = InputChoice.TokenizerDirectory(args);
        string? input = args.String("input");
        int megabytes = args.Int("megabytes", 10, 1);
        string format = args.Choice("format", "table", "table", "json");
        bool live = LiveOutput.Enabled(args);
        args.EnsureAllUsed();

        var (source, texts) = input is null ? MachineTexts() : (input, new List<string> { ReadText(input) });
        long sourceBytes = texts.Sum(t => (long)Encoding.UTF8.GetByteCount(t));
        var lines = TokenizerBenchmark.BuildCorpus(texts, megabytes * 1_000_000L);
        var r = LiveOutput.Status(live, "bench-tokenize", progress => TokenizerBenchmark.Run(dir, source, sourceBytes, lines, progress));
        if (format == "table") stdout.WriteLine(Table(r));
        stdout.WriteLine(JsonLines.Write(r));
        return 0;
    }

    private static string ReadText(string path) =>
        path == "-" ? Console.In.ReadToEnd()
        : File.Exists(path) ? File.ReadAllText(path) : throw new BambaException($"{path}: file not found");

    /// <summary>Plain-text English documents shipped with the OS, read as UTF-8 (files that are not are skipped).</summary>
    private static (string Source, List<string> Texts) MachineTexts()
    {
        var strict = new UTF8Encoding(false, throwOnInvalidBytes: true);
        var texts = new List<string>();
        foreach (var root in DefaultTextRoots.Where(Directory.Exists))
        {
            var files = root.EndsWith("licenses") ? Directory.GetFiles(root)
                : Directory.GetFiles(root, "*.txt", SearchOption.AllDirectories);
            foreach (var file in files.Order(StringComparer.Ordinal))
            {
                try { texts.Add(strict.GetString(File.ReadAllBytes(file))); }
                catch (Exception e) when (e is DecoderFallbackException or IOException or UnauthorizedAccessException) { }
            }
        }
        if (texts.Count == 0) throw new BambaException("no English text found under /usr/share; pass --input FILE");
        return (string.Join(" + ", DefaultTextRoots.Where(Directory.Exists)), texts);
    }

    private static string Table(TokenizerBenchmarkResult r) => string.Join('\n',
        $"tokenizer        {r.Tokenizer} (loaded in {r.LoadSeconds:F2} s)",
        $"text             {r.Source}: {r.SourceBytes / 1e6:F2} MB of distinct text, repeated to {r.Bytes / 1e6:F2} MB in {r.Lines:N0} lines",
        $"tokens           {r.Tokens:N0} ({r.BytesPerToken:F2} bytes/token)",
        $"one thread       {r.SingleThreadMBps,8:F2} MB/s  ({r.SingleThreadSeconds:F2} s, {r.TokensPerSecondSingleThread / 1e6:F2} M tokens/s)",
        $"  per CPU-second {r.SingleThreadMBpsPerCpuSecond,8:F2} MB/s  ({r.SingleThreadCpuSeconds:F2} s of process CPU time; differs from wall time when cores are shared)",
        $"{r.Threads} threads{new string(' ', Math.Max(1, 9 - r.Threads.ToString().Length))}{r.AllCoresMBps,8:F2} MB/s  ({r.AllCoresSeconds:F2} s)");
}
