using Bamba.Cli;

namespace Bamba.Cuda.Tests;

/// <summary>The CLI run in process, as the GPU tests drive it: the exit code and both streams.</summary>
public static class CliCall
{
    public static (int Code, string Out, string Err) Run(params string[] args)
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        int code = CliHost.Run(args, stdout, stderr);
        return (code, stdout.ToString(), stderr.ToString());
    }

    /// <summary>Eight short documents of token ids (tiny-bamba's vocabulary) in <paramref name="directory"/>/ids.jsonl: a training set.</summary>
    public static string IdsData(string directory)
    {
        var rng = new Random(2);
        string path = Path.Combine(directory, "ids.jsonl");
        File.WriteAllLines(path, Enumerable.Range(0, 8).Select(_ =>
            "{\"ids\": [" + string.Join(", ", Enumerable.Range(0, rng.Next(5, 40)).Select(_ => rng.Next(3, 60))) + "]}"));
        return path;
    }
}
