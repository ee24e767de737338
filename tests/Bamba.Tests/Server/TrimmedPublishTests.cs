using System.Diagnostics;
using System.Net.Http.Json;
using System.Text.Json;

namespace Bamba.Tests.Server;

/// <summary>
/// <c>bamba</c> published trimmed and self-contained (reflection-based JSON off, unused code removed) still serves, and
/// its other commands still write JSON: all of it goes through generated code. One test, as the publish takes minutes
/// on two cores; it builds in its own artifacts folder so it never races the test run's own build outputs.
/// </summary>
public sealed class TrimmedPublishTests
{
    [Fact]
    public async Task ATrimmedSelfContainedBambaServesAChatCompletion()
    {
        string work = Directory.CreateTempSubdirectory("bamba-trimmed-").FullName;
        using var model = new TinyTextModel();
        try
        {
            string bamba = Publish(work);
            using var server = Process.Start(new ProcessStartInfo(bamba, ["serve", "--model", model.Directory, "--port", "0", "--served-model-name", "tiny"])
            {
                RedirectStandardOutput = true, RedirectStandardError = true,
            })!;
            var stderr = new System.Text.StringBuilder();
            server.ErrorDataReceived += (_, e) => { lock (stderr) stderr.AppendLine(e.Data); };
            server.BeginErrorReadLine();
            try
            {
                var address = await AddressAsync(server, stderr);
                using var http = new HttpClient { BaseAddress = address, Timeout = TimeSpan.FromMinutes(1) };
                var response = await http.PostAsJsonAsync("/v1/chat/completions", new
                {
                    messages = new[] { new { role = "user", content = "Hi" } }, max_tokens = 4, temperature = 0,
                });
                string body = await response.Content.ReadAsStringAsync();
                Assert.True(response.IsSuccessStatusCode, body);
                var json = JsonDocument.Parse(body).RootElement;
                Assert.Equal("chat.completion", json.GetProperty("object").GetString());
                Assert.Equal("assistant", json.GetProperty("choices")[0].GetProperty("message").GetProperty("role").GetString());
                Assert.Equal(4, json.GetProperty("usage").GetProperty("completion_tokens").GetInt32());
                // A request error is JSON too (the error types are generated as well), and /metrics is served.
                var bad = await http.PostAsJsonAsync("/v1/chat/completions", new { messages = "no" });
                Assert.Equal(400, (int)bad.StatusCode);
                Assert.Equal("invalid_json", JsonDocument.Parse(await bad.Content.ReadAsStringAsync()).RootElement.GetProperty("error").GetProperty("code").GetString());
                Assert.Contains("bamba_generation_tokens_total", await http.GetStringAsync("/metrics"));
                // The request's log line, on stderr.
                string id = json.GetProperty("id").GetString()!;
                await WaitForAsync(() => { lock (stderr) return stderr.ToString().Contains(id); });
                lock (stderr)
                    Assert.Matches($@"POST /v1/chat/completions 200 id={id} prompt_tokens=\d+ output_tokens=4 ttft_ms=[\d.]+ tok_s=[\d.]+ total_ms=[\d.]+", stderr.ToString());
            }
            finally
            {
                server.Kill();
                await server.WaitForExitAsync();
            }
            // Other commands' JSON goes through generated code too (CliJson): a tokenizer's line, and bench-serve's
            // requests and results.
            Assert.Matches("""^\{"ids":\[\d+(,\d+)*\]\}$""", await RunAsync(bamba, "tokenize", "--tokenizer", model.Directory, "--text", "Hi there"));
            var level = JsonDocument.Parse(await RunAsync(bamba, "bench-serve", "--model", model.Directory, "--requests", "2", "--concurrency", "1",
                "--prompt-tokens", "4", "--max-tokens", "3", "--format", "json")).RootElement;
            Assert.Equal(0, level.GetProperty("Failed").GetInt32());
            Assert.Equal(2 * 3, level.GetProperty("OutputTokens").GetInt64());
        }
        finally { Directory.Delete(work, recursive: true); }
    }

    /// <summary>Runs the published <paramref name="bamba"/> to its end and returns its stdout, trimmed; exit 0 is asserted.</summary>
    private static async Task<string> RunAsync(string bamba, params string[] args)
    {
        using var process = Process.Start(new ProcessStartInfo(bamba, args) { RedirectStandardOutput = true, RedirectStandardError = true })!;
        var stderr = process.StandardError.ReadToEndAsync();
        string stdout = await process.StandardOutput.ReadToEndAsync();
        await process.WaitForExitAsync();
        Assert.True(process.ExitCode == 0, $"bamba {string.Join(' ', args)}: exit {process.ExitCode}\n{await stderr}");
        return stdout.Trim();
    }

    private static string Publish(string work)
    {
        string project = Path.Combine(Fixtures.RepositoryRoot, "src", "Bamba.Cli", "Bamba.Cli.csproj");
        string output = Path.Combine(work, "out");
        var info = new ProcessStartInfo("dotnet", ["publish", project, "-c", "Release", "-r", System.Runtime.InteropServices.RuntimeInformation.RuntimeIdentifier, "--self-contained",
            "-p:PublishTrimmed=true", "--artifacts-path", Path.Combine(work, "artifacts"), "-o", output, "-nologo"])
        { RedirectStandardOutput = true, RedirectStandardError = true };
        using var publish = Process.Start(info)!;
        var log = publish.StandardOutput.ReadToEndAsync();
        string errors = publish.StandardError.ReadToEnd();
        publish.WaitForExit();
        Assert.True(publish.ExitCode == 0, $"dotnet publish failed:\n{log.Result}\n{errors}");
        // Our code must not need what trimming removes: no trim warning may point into a Bamba assembly (the project path
        // in brackets at a line's end names Bamba.Cli whatever the warning is about, so it is left out).
        var ours = log.Result.Split('\n').Where(l => l.Contains("warning IL") && l.Split(" [")[0].Contains("Bamba.")).ToList();
        Assert.True(ours.Count == 0, string.Join("\n", ours));
        return Path.Combine(output, "bamba");
    }

    /// <summary>The address from the "bamba serve: 'tiny' at http://127.0.0.1:PORT/ ..." line.</summary>
    private static async Task<Uri> AddressAsync(Process server, System.Text.StringBuilder stderr)
    {
        var read = server.StandardOutput.ReadLineAsync();
        if (await Task.WhenAny(read, Task.Delay(TimeSpan.FromMinutes(1))) != read || read.Result is not { } line)
            lock (stderr) throw new InvalidOperationException($"bamba serve did not start:\n{stderr}");
        var match = System.Text.RegularExpressions.Regex.Match(line, @"at (http://\S+/) ");
        Assert.True(match.Success, line);
        return new Uri(match.Groups[1].Value);
    }

    private static async Task WaitForAsync(Func<bool> condition)
    {
        for (var end = DateTime.UtcNow.AddSeconds(10); DateTime.UtcNow < end && !condition(); ) await Task.Delay(50);
    }
}
