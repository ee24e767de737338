using Bamba.Server;
using Microsoft.AspNetCore.Http;

namespace Bamba.Tests.Server;

/// <summary>Running the server for others: CORS only for the origins given, and the one log line per request.</summary>
public sealed class OperatingTests
{
    private static HttpRequestMessage Preflight(string origin) => new(HttpMethod.Options, "/v1/chat/completions")
    {
        Headers = { { "Origin", origin }, { "Access-Control-Request-Method", "POST" }, { "Access-Control-Request-Headers", "authorization,content-type" } },
    };

    [Fact]
    public async Task NoOriginMayCallByDefault()
    {
        await using var s = await TestServer.StartAsync();
        var preflight = await s.Anonymous.SendAsync(Preflight("http://evil.test"));
        Assert.False(preflight.Headers.Contains("Access-Control-Allow-Origin"));
        using var get = new HttpRequestMessage(HttpMethod.Get, "/v1/models") { Headers = { { "Origin", "http://evil.test" } } };
        Assert.False((await s.Http.SendAsync(get)).Headers.Contains("Access-Control-Allow-Origin"));
    }

    [Fact]
    public async Task AGivenOriginPassesPreflightWithoutTheKeyAndOthersDoNot()
    {
        await using var s = await TestServer.StartAsync(server: new ServerOptions { CorsOrigins = ["http://app.test:3000"] });
        // The preflight carries no Authorization header: it must be answered before the key check.
        var ok = await s.Anonymous.SendAsync(Preflight("http://app.test:3000"));
        Assert.Equal(204, (int)ok.StatusCode);
        Assert.Equal("http://app.test:3000", ok.Headers.GetValues("Access-Control-Allow-Origin").Single());
        Assert.Contains("authorization", string.Join(",", ok.Headers.GetValues("Access-Control-Allow-Headers")), StringComparison.OrdinalIgnoreCase);
        Assert.False((await s.Anonymous.SendAsync(Preflight("http://other.test"))).Headers.Contains("Access-Control-Allow-Origin"));
        using var get = new HttpRequestMessage(HttpMethod.Get, "/v1/models") { Headers = { { "Origin", "http://app.test:3000" } } };
        var answer = await s.Http.SendAsync(get);
        Assert.Equal(200, (int)answer.StatusCode);
        Assert.Equal("http://app.test:3000", answer.Headers.GetValues("Access-Control-Allow-Origin").Single());
    }

    [Theory]
    [InlineData("http://app.test/")]
    [InlineData("app.test")]
    [InlineData("ftp://app.test")]
    public void AnOriginWithAPathOrNoSchemeIsRefused(string origin) =>
        Assert.Contains($"'{origin}' is not an origin", Assert.Throws<BambaException>(() => new ServerOptions { CorsOrigins = [origin] }.Validate()).Message);

    [Fact]
    public void TheLogLineHasIdTokensTimeToFirstTokenAndRate()
    {
        var context = new DefaultHttpContext();
        context.Request.Method = "POST";
        context.Request.Path = "/v1/chat/completions";
        context.Response.StatusCode = 200;
        var record = new RequestRecord { Id = "chatcmpl-abc", PromptTokens = 12 };
        Thread.Sleep(20);
        for (int i = 0; i < 5; i++) record.Token();
        Thread.Sleep(20);
        string line = RequestLog.Line(context, record);
        Assert.Matches(@"^POST /v1/chat/completions 200 id=chatcmpl-abc prompt_tokens=12 output_tokens=5 ttft_ms=\d+\.\d tok_s=\d+\.\d total_ms=\d+\.\d$", line);
        double ttft = double.Parse(System.Text.RegularExpressions.Regex.Match(line, @"ttft_ms=([\d.]+)").Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);
        Assert.InRange(ttft, 15, 10_000); // measured from the request's arrival, which was at least 20 ms before
    }

    [Fact]
    public void ARequestWithoutGenerationLogsItsStatusAndTime()
    {
        var context = new DefaultHttpContext { TraceIdentifier = "trace-1" };
        context.Request.Method = "GET";
        context.Request.Path = "/v1/models";
        context.Response.StatusCode = 401;
        Assert.Matches(@"^GET /v1/models 401 id=trace-1 total_ms=\d+\.\d$", RequestLog.Line(context, new RequestRecord()));
    }
}
