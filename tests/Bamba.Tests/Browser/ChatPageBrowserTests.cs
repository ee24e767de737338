using Bamba.Modeling;
using Bamba.Serving;
using Bamba.Tests.Server;
using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace Bamba.Tests.Browser;

/// <summary>
/// The chat page at / in a real browser (Debian's chromium, headless, driven by Playwright over CDP), against a server
/// with an API key: the page asks for the key once, streams a reply, stops one, regenerates, shows tool calls and the
/// live metrics. Screenshots are kept under the test output's artifacts/ folder.
/// </summary>
public sealed class ChatPageBrowserTests
{
    private static readonly string Artifacts = Directory.CreateDirectory(Path.Combine(AppContext.BaseDirectory, "artifacts")).FullName;

    private static async Task<(IPlaywright, IBrowser, IPage, Func<int>)> OpenAsync(TestServer s)
    {
        var playwright = await Playwright.CreateAsync();
        var browser = await playwright.Chromium.LaunchAsync(new() { ExecutablePath = BrowserFactAttribute.ChromiumPath, Headless = true });
        var page = await browser.NewPageAsync(new() { ViewportSize = new() { Width = 1200, Height = 800 } });
        int asked = 0;
        page.Dialog += async (_, dialog) =>
        {
            Interlocked.Increment(ref asked);
            await dialog.AcceptAsync(TestServer.Key);
        };
        await page.GotoAsync(s.Server.Address.ToString());
        await Expect(page.Locator("#model")).ToHaveTextAsync(TestServer.ModelId); // /v1/models answered with the key
        return (playwright, browser, page, () => Volatile.Read(ref asked));
    }

    private static async Task SendAsync(IPage page, string text)
    {
        await page.FillAsync("#input", text);
        await page.ClickAsync("#send");
    }

    [BrowserFact]
    public async Task ThePageStreamsAReplyStopsItAndRegenerates()
    {
        // 20 ms a step and no EOS: a 300-token reply takes seconds, long enough to watch it grow and stop it.
        var model = new SlowModel(BambaModel.Load(Fixtures.Model("tiny-bamba")), TimeSpan.FromMilliseconds(20), CharCodec.Eos);
        await using var s = await TestServer.StartAsync(new ServingEngine(model, new CharCodec(), TestServer.DefaultOptions, TestServer.ModelId));
        var (playwright, browser, page, asked) = await OpenAsync(s);
        try
        {
            await page.FillAsync("#system", "You are terse.");
            await page.FillAsync("#max_tokens", "300");
            await SendAsync(page, "Hello there");
            await Expect(page.Locator(".message.user .text")).ToHaveTextAsync("Hello there");

            // Streamed: text shows while the reply is still open.
            var streaming = page.Locator(".message.assistant.streaming .text");
            await Expect(streaming).ToHaveTextAsync(new System.Text.RegularExpressions.Regex(".{5,}"));
            await page.ScreenshotAsync(new() { Path = Path.Combine(Artifacts, "chat-page-streaming.png") });
            await page.ClickAsync("#stop");
            var stopped = page.Locator(".message.assistant[data-finish='stopped']");
            await Expect(stopped).ToHaveCountAsync(1);
            string atStop = await stopped.Locator(".text").InnerTextAsync();
            await Task.Delay(300);
            Assert.Equal(atStop, await stopped.Locator(".text").InnerTextAsync());
            Assert.True(atStop.Length < 300, $"the reply ran to its end ({atStop.Length} characters) instead of stopping");
            await WaitForAsync(async () => (await s.MetricsAsync())["bamba_running_sequences"] == 0, "the stopped reply's sequence was not cancelled");

            // Regenerate replaces the last reply by a new, complete one, with the settings as they are now.
            double before = (await s.MetricsAsync())["bamba_generation_tokens_total"];
            await page.FillAsync("#max_tokens", "12");
            await page.ClickAsync("#regenerate");
            var done = page.Locator(".message.assistant[data-finish='length']");
            await Expect(done).ToHaveCountAsync(1);
            await Expect(page.Locator(".message.assistant")).ToHaveCountAsync(1);
            Assert.NotEmpty(await done.Locator(".text").InnerTextAsync());
            Assert.Equal(before + 12, (await s.MetricsAsync())["bamba_generation_tokens_total"]);

            // The metrics panel follows /metrics.
            await Expect(page.Locator("#m-generated")).Not.ToHaveTextAsync(new System.Text.RegularExpressions.Regex("^(–|0)$"));
            await page.ScreenshotAsync(new() { Path = Path.Combine(Artifacts, "chat-page.png"), FullPage = true });
            Assert.Equal(1, asked()); // the key was asked for once, for every request after it
        }
        finally { await CloseAsync(playwright, browser); }
    }

    /// <summary>A forced call is shown as one; the user answers it in its field, which goes back as a role "tool"
    /// message with the call's id, and the model replies to it.</summary>
    [BrowserFact]
    public async Task AToolCallIsShownAndAnswered()
    {
        using var model = new TinyTextModel(File.ReadAllText(Path.Combine(Bamba.Tests.ChatTemplates.TemplateData.Directory, "granite-4.0-h-instruct.jinja")));
        await using var s = await TestServer.StartAsync(ServingEngine.Load(model.Directory,
            TestServer.DefaultOptions with { MaxContext = 4096, PrefillChunk = 256, MaxStepTokens = 512 }, TestServer.ModelId));
        var (playwright, browser, page, _) = await OpenAsync(s);
        try
        {
            await page.FillAsync("#tools", """
                [{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object",
                  "properties": {"city": {"enum": ["Paris", "Oslo"]}}, "required": ["city"], "additionalProperties": false}}}]
                """);
            await page.SelectOptionAsync("#tool_choice", "required");
            await SendAsync(page, "Weather in Paris?");
            var call = page.Locator(".message.assistant .tool-call");
            await Expect(call).ToHaveTextAsync(new System.Text.RegularExpressions.Regex("""get_weather\(\{"city": ?"(Paris|Oslo)"\}\)"""));
            await Expect(page.Locator(".message.assistant[data-finish='tool_calls']")).ToHaveCountAsync(1);
            await page.ScreenshotAsync(new() { Path = Path.Combine(Artifacts, "chat-page-tool-call.png") });

            // The answer: tool_choice none now, so the reply is text (the tools are still rendered as context).
            const string result = """{"temperature": 21}""";
            var field = call.Locator("input.tool-result");
            string callId = (await field.GetAttributeAsync("data-call-id"))!;
            await page.SelectOptionAsync("#tool_choice", "none");
            await page.FillAsync("#max_tokens", "8");
            await field.FillAsync(result);
            var sent = await page.RunAndWaitForRequestAsync(() => page.ClickAsync(".send-tool-results"),
                r => r.Method == "POST" && r.Url.EndsWith("/v1/chat/completions", StringComparison.Ordinal));
            using (var body = System.Text.Json.JsonDocument.Parse(sent.PostData!))
            {
                var messages = body.RootElement.GetProperty("messages").EnumerateArray().ToArray();
                Assert.Equal(["user", "assistant", "tool"], messages.Select(m => m.GetProperty("role").GetString()));
                Assert.Equal(callId, messages[1].GetProperty("tool_calls")[0].GetProperty("id").GetString());
                Assert.Equal(callId, messages[2].GetProperty("tool_call_id").GetString());
                Assert.Equal(result, messages[2].GetProperty("content").GetString());
            }
            await Expect(page.Locator(".message.tool .text")).ToHaveTextAsync(result);
            await Expect(field).ToBeDisabledAsync();
            // The server took the conversation: a second reply ends normally, with no error shown.
            var replies = page.Locator(".message.assistant");
            await Expect(replies).ToHaveCountAsync(2);
            await Expect(replies.Nth(1)).ToHaveAttributeAsync("data-finish", new System.Text.RegularExpressions.Regex("^(stop|length)$"));
            await Expect(page.Locator("#error")).ToBeHiddenAsync();
            await page.ScreenshotAsync(new() { Path = Path.Combine(Artifacts, "chat-page-tool-result.png") });
        }
        finally { await CloseAsync(playwright, browser); }
    }

    private static async Task CloseAsync(IPlaywright playwright, IBrowser browser)
    {
        await browser.CloseAsync();
        playwright.Dispose();
    }

    private static async Task WaitForAsync(Func<Task<bool>> condition, string failure)
    {
        for (var end = DateTime.UtcNow.AddSeconds(10); DateTime.UtcNow < end; await Task.Delay(50))
            if (await condition()) return;
        Assert.Fail(failure);
    }
}
