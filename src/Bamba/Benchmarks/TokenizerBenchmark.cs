using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text;
using Bamba.Tokenization;

namespace Bamba.Benchmarks;

/// <summary>Encode throughput of one tokenizer over a corpus, on one thread and on all cores (MB = 10⁶ UTF-8 bytes).</summary>
public sealed record TokenizerBenchmarkResult(
    string Tokenizer, string Source, long SourceBytes, long Bytes, int Lines, long Tokens, double LoadSeconds,
    double SingleThreadSeconds, double SingleThreadMBps, double SingleThreadCpuSeconds, int Threads, double AllCoresSeconds, double AllCoresMBps)
{
    /// <summary>
    /// Throughput per second of CPU time the process got during the one-thread pass: what one core does when it is
    /// not shared (on a busy machine the wall-clock figure also counts time the thread waited for a core).
    /// </summary>
    public double SingleThreadMBpsPerCpuSecond => Bytes / 1e6 / SingleThreadCpuSeconds;

    public double TokensPerSecondSingleThread => Tokens / SingleThreadSeconds;
    public double BytesPerToken => (double)Bytes / Tokens;
}

public static class TokenizerBenchmark
{
    /// <summary>Repeats the source texts' lines until the corpus holds at least <paramref name="targetBytes"/> UTF-8 bytes.</summary>
    public static List<string> BuildCorpus(IReadOnlyList<string> sources, long targetBytes)
    {
        var lines = sources.SelectMany(s => s.Split('\n')).Where(l => l.Length > 0).Select(l => l + "\n").ToList();
        if (lines.Count == 0) throw new BambaException("the benchmark text is empty");
        var corpus = new List<string>();
        long bytes = 0;
        for (int i = 0; bytes < targetBytes; i = (i + 1) % lines.Count)
        {
            corpus.Add(lines[i]);
            bytes += Encoding.UTF8.GetByteCount(lines[i]);
        }
        return corpus;
    }

    public static TokenizerBenchmarkResult Run(string tokenizerDir, string source, long sourceBytes, List<string> lines, IProgress<string>? progress = null)
    {
        var sw = Stopwatch.StartNew();
        var tokenizer = HfTokenizer.Load(tokenizerDir);
        double load = sw.Elapsed.TotalSeconds;
        long bytes = lines.Sum(l => (long)Encoding.UTF8.GetByteCount(l));

        progress?.Report("warming up (JIT and the word cache) on the first 1 MB");
        long warm = 0;
        for (int i = 0; i < lines.Count && warm < 1_000_000; i++) warm += tokenizer.Encode(lines[i]).Length + lines[i].Length;

        progress?.Report($"one thread: {bytes / 1e6:F1} MB");
        var cpuBefore = Process.GetCurrentProcess().TotalProcessorTime;
        sw.Restart();
        long tokens = 0;
        foreach (var line in lines) tokens += tokenizer.Encode(line).Length;
        double single = sw.Elapsed.TotalSeconds;
        double singleCpu = (Process.GetCurrentProcess().TotalProcessorTime - cpuBefore).TotalSeconds;

        int threads = Environment.ProcessorCount;
        progress?.Report($"{threads} threads: {bytes / 1e6:F1} MB");
        sw.Restart();
        long parallelTokens = 0;
        Parallel.ForEach(Partitioner.Create(0, lines.Count, 256), new ParallelOptions { MaxDegreeOfParallelism = threads }, range =>
        {
            long local = 0;
            for (int i = range.Item1; i < range.Item2; i++) local += tokenizer.Encode(lines[i]).Length;
            Interlocked.Add(ref parallelTokens, local);
        });
        double all = sw.Elapsed.TotalSeconds;
        if (parallelTokens != tokens) throw new InvalidOperationException("parallel encoding produced a different token count");

        return new TokenizerBenchmarkResult(tokenizerDir, source, sourceBytes, bytes, lines.Count, tokens, load,
            single, bytes / 1e6 / single, singleCpu, threads, all, bytes / 1e6 / all);
    }
}
