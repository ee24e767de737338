using System.Net;
using System.Net.Sockets;

namespace Bamba.Tests.Cli;

/// <summary><c>bamba serve</c> and <c>bamba bench-serve</c>: user errors as one line and exit code 2; a short real load run.</summary>
public class ServeCliTests
{
    private static string Tiny => Fixtures.Model("tiny-bamba");

    [Fact]
    public void ServeUserErrorsAreOneLine()
    {
        CliRunner.AssertUserError(CliRunner.Run("serve", "--model", "/no/such/dir"), "not found");
        CliRunner.AssertUserError(CliRunner.Run("serve", "--model", Tiny, "--host", "example.org"), "--host");
        CliRunner.AssertUserError(CliRunner.Run("serve", "--model", Tiny, "--max-batch", "0"), "--max-batch");
        CliRunner.AssertUserError(CliRunner.Run("serve", "--model", Tiny, "--max-step-tokens", "0"), "--max-step-tokens");
        CliRunner.AssertUserError(CliRunner.Run("serve", "--model", Tiny, "--max-step-tokens", "100", "--prefill-chunk", "256"),
            "max step tokens (100) must be ≥ the prefill chunk (256)");
        CliRunner.AssertUserError(CliRunner.Run("serve", "--model", Tiny, "--device", "tpu"), "--device must be one of");
        CliRunner.AssertUserError(CliRunner.Run("serve", "--model", Tiny, "--colour", "red"), "unknown flag --colour");
        CliRunner.AssertUserError(CliRunner.Run("serve", "--model", Tiny, "--log-level", "loud"), "--log-level must be one of");
        CliRunner.AssertUserError(CliRunner.Run("serve", "--model", Tiny, "--cors-origin", "http://a.test", "--cors-origin", "http://b.test/app"),
            "--cors-origin: 'http://b.test/app' is not an origin");
    }

    [Fact]
    public void APortInUseIsAUserError()
    {
        using var taken = new TcpListener(IPAddress.Loopback, 0);
        taken.Start();
        int port = ((IPEndPoint)taken.LocalEndpoint).Port;
        CliRunner.AssertUserError(CliRunner.Run("serve", "--model", Tiny, "--port", port.ToString()), $"cannot listen on 127.0.0.1:{port}");
        // --device and --precision are the model's flags, read before the unknown-flag check: the run gets as far as the port.
        CliRunner.AssertUserError(CliRunner.Run("serve", "--model", Tiny, "--device", "cpu", "--precision", "fp32", "--port", port.ToString()),
            $"cannot listen on 127.0.0.1:{port}");
    }

    [Fact]
    public void BenchServeRunsALoadAndReportsEachLevel()
    {
        var r = CliRunner.Run("bench-serve", "--model", Tiny, "--requests", "6", "--concurrency", "1,3", "--prompt-tokens", "8",
            "--max-tokens", "4", "--format", "json");
        Assert.Equal(0, r.ExitCode);
        var levels = r.Stdout.Trim().Split('\n').Select(l => System.Text.Json.JsonDocument.Parse(l).RootElement).ToArray();
        Assert.Equal([1, 3], levels.Select(l => l.GetProperty("Concurrency").GetInt32()));
        Assert.All(levels, l =>
        {
            Assert.Equal(0, l.GetProperty("Failed").GetInt32());
            Assert.Equal(6 * 4, l.GetProperty("OutputTokens").GetInt64());
            Assert.True(l.GetProperty("OutputTokensPerSecond").GetDouble() > 0);
        });
    }

    /// <summary>The schema workload: plain passes around two under the 30-property schema, every request its full length.</summary>
    [Fact]
    public void BenchServeSchemaWorkloadComparesPlainAndConstrainedDecoding()
    {
        string tokenizer = Path.Combine(Fixtures.Root, "tokenizers", "llama3");
        var r = CliRunner.Run("bench-serve", "--model", Tiny, "--tokenizer", tokenizer, "--workload", "schema", "--requests", "4",
            "--max-batch", "4", "--prompt-tokens", "8", "--max-tokens", "6", "--format", "json");
        Assert.True(r.ExitCode == 0, r.Stderr);
        var runs = r.Stdout.Trim().Split('\n').Select(l => System.Text.Json.JsonDocument.Parse(l).RootElement).ToArray();
        Assert.Equal(["plain", "schema, first", "schema", "plain, again"], runs.Select(l => l.GetProperty("Label").GetString()));
        Assert.All(runs, l =>
        {
            Assert.Equal(4 * 6, l.GetProperty("OutputTokens").GetInt64()); // no document of 30 properties fits in 6 tokens
            Assert.Equal(0, l.GetProperty("CompletedDocuments").GetInt32());
            // One step prefills the four prompts and samples their first tokens, and the five after it decode all four;
            // one less when the scheduler woke for the first request before the others were queued.
            int steps = l.GetProperty("DecodeSteps").GetInt32();
            Assert.InRange(steps, 4, 5);
            Assert.Equal(steps * 4, l.GetProperty("DecodeTokens").GetInt64());
            Assert.True(l.GetProperty("DecodeTokensPerSecond").GetDouble() > 0);
        });

        CliRunner.AssertUserError(CliRunner.Run("bench-serve", "--model", Tiny, "--workload", "schema", "--requests", "8", "--max-batch", "4"),
            "--max-batch must be at least 8");
        CliRunner.AssertUserError(CliRunner.Run("bench-serve", "--model", Tiny, "--workload", "schema", "--requests", "4", "--max-batch", "4"),
            "needs a tokenizer");
        CliRunner.AssertUserError(CliRunner.Run("bench-serve", "--url", "http://127.0.0.1:9", "--workload", "schema"), "leave out --url");
    }

    [Fact]
    public void BenchServeTableHasARowPerLevel()
    {
        var r = CliRunner.Run("bench-serve", "--model", Tiny, "--requests", "3", "--concurrency", "1,2", "--prompt-tokens", "8",
            "--max-tokens", "2");
        Assert.True(r.ExitCode == 0, r.Stderr);
        var rows = r.Stdout.Replace('|', '│').Split('\n').Where(l => l.StartsWith('│')).Select(l => l.Split('│', StringSplitOptions.TrimEntries)).ToList();
        Assert.Equal("concurrency", rows[0][1]);
        Assert.Equal(["1", "2"], rows.Skip(1).Select(c => c[1]));
        Assert.All(rows.Skip(1), c => Assert.Equal("0", c[8])); // failed
        Assert.DoesNotContain("\e", r.Stdout + r.Stderr);         // plain when redirected
    }

    /// <summary>
    /// The multi-turn replay runs with and without the cache; the cached run serves some of the prompt from the cache, never
    /// more than the tokens that an earlier request held (its reported ceiling), and the uncached run none.
    /// </summary>
    [Fact]
    public void BenchServeMultiTurnReportsTheCacheAgainstItsCeiling()
    {
        var r = CliRunner.Run("bench-serve", "--model", Tiny, "--workload", "multiturn", "--conversations", "2", "--turns", "3",
            "--prompt-tokens", "40", "--user-tokens", "8-12", "--max-tokens", "4", "--prefill-chunk", "16", "--format", "json");
        Assert.True(r.ExitCode == 0, r.Stderr);
        var runs = r.Stdout.Trim().Split('\n').Select(l => System.Text.Json.JsonDocument.Parse(l).RootElement).ToArray();
        Assert.Equal(["prefix cache", "no cache"], runs.Select(x => x.GetProperty("Label").GetString()));
        long Hit(int i) => runs[i].GetProperty("CacheHitTokens").GetInt64();
        long prompt = Hit(0) + runs[0].GetProperty("CacheMissTokens").GetInt64(), fresh = runs[0].GetProperty("NewTokens").GetInt64();
        Assert.InRange(fresh, 40 + 2 * 3 * 8, 40 + 2 * 3 * 12); // the system prompt once and every user message
        Assert.InRange(Hit(0), 1, prompt - fresh);
        Assert.Equal(0, Hit(1));
    }
}
