using Bamba.Generation.Scheduling;
using Bamba.Serving;
using Bamba.Server.Protocol;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Bamba.Server.Endpoints;

/// <summary>
/// POST /v1/completions: text or token-id prompts, n choices per prompt, stop strings and ids, per-token logprobs,
/// <c>echo</c> with logprobs for loglikelihood scoring (with <c>max_tokens: 0</c> it only scores), streaming as SSE.
/// </summary>
internal sealed class CompletionsEndpoint(ServingEngine engine)
{
    private const int DefaultMaxTokens = 16; // OpenAI's default for this endpoint

    private sealed record Call(CompletionRequest Request, PromptInput[] Prompts, int N, int? Logprobs, bool Echo, string[] Stops, List<SequenceRequest> Sequences, string Model);

    public async Task HandleAsync(HttpContext context)
    {
        var cancel = context.RequestAborted;
        var call = Plan(await JsonProtocol.ReadAsync<CompletionRequest>(context.Request, cancel));
        var record = RequestRecord.Of(context);
        record.Id = ChoiceStarter.NewId("cmpl-");
        record.PromptTokens = call.Prompts.Sum(p => p.Ids.Length);
        var runs = ChoiceStarter.StartAll(engine, call.Sequences, call.Stops, cancel);
        try
        {
            if (call.Request.Stream == true) await StreamAsync(context, call, runs, record);
            else await context.Response.WriteAsJsonAsync(await RespondAsync(call, runs, record, cancel), JsonProtocol.Info<CompletionResponse>(), cancellationToken: cancel);
        }
        finally { ChoiceStarter.DisposeAll(runs); }
    }

    private Call Plan(CompletionRequest r)
    {
        int adapter = RequestMapping.Adapter(r, engine);
        if (r.Suffix is not null) throw ApiException.BadValue("suffix", "suffix is not supported");
        int n = RequestMapping.N(r);
        if (r.BestOf is int bestOf && bestOf != n) throw ApiException.BadValue("best_of", "best_of is not supported (leave it out or equal to n)");
        var prompts = PromptParser.Parse(r.Prompt, engine);
        int top = RequestMapping.TopLogprobs("logprobs", r.Logprobs);
        bool echo = r.Echo == true;
        var sampling = RequestMapping.Sampling(r, engine);
        var stopIds = RequestMapping.StopTokenIds(r, engine);
        var stops = RequestMapping.Stops(r);
        var sequences = new List<SequenceRequest>();
        foreach (var prompt in prompts)
        {
            int maxTokens = RequestMapping.MaxTokens("max_tokens", r.MaxTokens, DefaultMaxTokens, prompt.Ids.Length, engine, allowZero: echo);
            for (int i = 0; i < n; i++)
                sequences.Add(new SequenceRequest
                {
                    Prompt = prompt.Ids, MaxNewTokens = maxTokens, Sampling = RequestMapping.ForChoice(sampling, i),
                    StopTokenIds = stopIds, EosTokenIds = RequestMapping.EosIds(r), Logprobs = r.Logprobs is not null, TopLogprobs = top,
                    PromptLogprobs = echo && r.Logprobs is not null, Adapter = adapter,
                });
        }
        return new Call(r, prompts, n, r.Logprobs is null ? null : top, echo, stops, sequences, engine.IdOf(adapter));
    }

    private async Task<CompletionResponse> RespondAsync(Call call, List<ChoiceRun> runs, RequestRecord record, CancellationToken cancel)
    {
        var outcomes = await ChoiceEvents.CollectAll(runs, record, cancel);
        var choices = new List<CompletionChoice>();
        int completionTokens = 0;
        for (int k = 0; k < runs.Count; k++)
        {
            var (deltas, end) = outcomes[k];
            var prompt = call.Prompts[k / call.N];
            completionTokens += end.CompletionTokens;
            CompletionLogprobs? logprobs = null;
            if (call.Logprobs is not null)
            {
                var builder = new CompletionLogprobsBuilder(engine.Text, 0);
                if (call.Echo) builder.AddPrompt(prompt.Ids, end.PromptScores);
                foreach (var d in deltas) if (d.Token is { } t) builder.Add(t);
                logprobs = builder.Build();
            }
            string text = (call.Echo ? prompt.Text : "") + runs[k].Text;
            choices.Add(new CompletionChoice(k, text, logprobs, end.FinishReason) { TokenIds = TokenIds(deltas) });
        }
        var usage = Usage.Of(record.PromptTokens, completionTokens);
        return new CompletionResponse(record.Id!, "text_completion", ChoiceStarter.Now(), call.Model, choices, usage);
    }

    private async Task StreamAsync(HttpContext context, Call call, List<ChoiceRun> runs, RequestRecord record)
    {
        string id = record.Id!;
        long created = ChoiceStarter.Now();
        var sse = new ServerSentEvents(context.Response);
        await sse.StartAsync();
        await sse.RunAsync(() => StreamBodyAsync(context, call, runs, record, sse, id, created), Logger(context));
    }

    private async Task StreamBodyAsync(HttpContext context, Call call, List<ChoiceRun> runs, RequestRecord record, ServerSentEvents sse, string id, long created)
    {
        var cancel = context.RequestAborted;
        var builders = runs.Select(_ => new CompletionLogprobsBuilder(engine.Text, 0)).ToArray();
        if (call.Echo)
            for (int k = 0; k < runs.Count; k++)
            {
                var prompt = call.Prompts[k / call.N];
                builders[k].AddPrompt(prompt.Ids, await runs[k].Handle.PromptDone.WaitAsync(cancel));
                await sse.SendAsync(Chunk(call, id, created, new CompletionChoice(k, prompt.Text, LogprobsChunk(call, builders[k]), null)));
            }
        int completionTokens = 0;
        await foreach (var e in ChoiceEvents.Merge(runs, record, cancel))
        {
            if (e.Delta is { } d)
            {
                if (d.Token is { } t) builders[e.Index].Add(t);
                var tokenIds = engine.Text is null && d.Token is { } tok ? new[] { tok.Id } : null;
                await sse.SendAsync(Chunk(call, id, created, new CompletionChoice(e.Index, d.Text, LogprobsChunk(call, builders[e.Index]), null) { TokenIds = tokenIds }));
            }
            else if (e.End is { } end)
            {
                completionTokens += end.CompletionTokens;
                await sse.SendAsync(Chunk(call, id, created, new CompletionChoice(e.Index, "", null, end.FinishReason)));
            }
        }
        if (call.Request.StreamOptions?.IncludeUsage == true)
            await sse.SendAsync(new CompletionResponse(id, "text_completion", created, call.Model, [],
                Usage.Of(record.PromptTokens, completionTokens)));
        await sse.DoneAsync();
    }

    private static CompletionLogprobs? LogprobsChunk(Call call, CompletionLogprobsBuilder builder) =>
        call.Logprobs is null ? null : builder.TakeChunk();

    private static CompletionResponse Chunk(Call call, string id, long created, CompletionChoice choice) =>
        new(id, "text_completion", created, call.Model, [choice], null);

    /// <summary>Generated ids, returned when the model has no tokenizer (its text is then empty).</summary>
    private int[]? TokenIds(List<Serving.ChoiceDelta> deltas) =>
        engine.Text is null ? deltas.Where(d => d.Token is not null).Select(d => d.Token!.Id).ToArray() : null;

    private static ILogger Logger(HttpContext context) =>
        context.RequestServices.GetRequiredService<ILoggerFactory>().CreateLogger("Bamba.Server");
}
