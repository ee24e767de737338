using System.Net.Http.Json;
using System.Text.Json;
using System.Text.RegularExpressions;
using Bamba.Tokenization;

namespace Bamba.Tests.Cli;

/// <summary><c>bamba serve --chat-template FILE</c>: the server renders chat messages with the file, not the tokenizer's template.</summary>
public sealed class ServeChatTemplateTests : IDisposable
{
    private readonly string _dir = TextModel.Create(Directory.CreateTempSubdirectory("bamba-serve-template-").FullName);

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public async Task ChatMessagesAreRenderedWithTheFile()
    {
        string template = Path.Combine(_dir, "template.jinja");
        File.WriteAllText(template, "{{ bos_token }}{% for m in messages %}[{{ m['role'] }}] {{ m['content'] }}\n{% endfor %}[assistant] ");
        using var process = CliProcess.Start(["serve", "--model", _dir, "--port", "0", "--chat-template", template, "--log-level", "none"], terminal: false);
        try
        {
            var address = await Address(process);
            using var http = new HttpClient { BaseAddress = address };
            var response = await http.PostAsJsonAsync("tokenize", new { messages = new[] { new { role = "user", content = "hello" } } });
            using var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
            Assert.True(response.IsSuccessStatusCode, body.RootElement.ToString());
            var expected = HfTokenizer.Load(_dir).Encode("<s>[user] hello\n[assistant] ", addSpecialTokens: false);
            Assert.Equal(expected, body.RootElement.GetProperty("tokens").EnumerateArray().Select(t => t.GetInt32()));
        }
        finally { process.Kill(entireProcessTree: true); }
    }

    /// <summary>The address serve prints once it listens ("... at http://127.0.0.1:PORT/ ...").</summary>
    private static async Task<Uri> Address(System.Diagnostics.Process process)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        while (await process.StandardOutput.ReadLineAsync(timeout.Token) is { } line)
            if (Regex.Match(line, @" at (http://\S+/) ") is { Success: true } m) return new Uri(m.Groups[1].Value);
        Assert.Fail("serve exited before listening: " + await process.StandardError.ReadToEndAsync());
        return null!;
    }
}
