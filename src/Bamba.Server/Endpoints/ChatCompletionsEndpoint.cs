using System.Text;
using Bamba.Generation.Scheduling;
using Bamba.Serving;
using Bamba.Serving.Tools;
using Bamba.Server.Protocol;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Bamba.Server.Endpoints;

/// <summary>
/// POST /v1/chat/completions: the messages rendered with the model's chat template, then generated like a completion;
/// n choices, stop strings, logprobs/top_logprobs, streaming as SSE with OpenAI's chunk shape.
/// </summary>
internal sealed class ChatCompletionsEndpoint(ServingEngine engine)
{
    private sealed record Call(ChatCompletionRequest Request, int PromptTokens, bool Logprobs, string[] Stops, List<SequenceRequest> Sequences, ToolRequest? Tools, string Model)
    {
        public bool Parallel => Request.ParallelToolCalls != false;
    }

    public async Task HandleAsync(HttpContext context)
    {
        var cancel = context.RequestAborted;
        var call = Plan(await JsonProtocol.ReadAsync<ChatCompletionRequest>(context.Request, cancel));
        var record = RequestRecord.Of(context);
        record.Id = ChoiceStarter.NewId("chatcmpl-");
        record.PromptTokens = call.PromptTokens;
        var runs = ChoiceStarter.StartAll(engine, call.Sequences, call.Stops, cancel);
        try
        {
            if (call.Request.Stream == true) await StreamAsync(context, call, runs, record);
            else await context.Response.WriteAsJsonAsync(await RespondAsync(call, runs, record, cancel), JsonProtocol.Info<ChatCompletionResponse>(), cancellationToken: cancel);
        }
        finally { ChoiceStarter.DisposeAll(runs); }
    }

    private Call Plan(ChatCompletionRequest r)
    {
        int adapter = RequestMapping.Adapter(r, engine);
        var turns = ChatMessages.Parse(r.Messages);
        var text = RequestMapping.Text(engine, "messages");
        if (!text.HasChatTemplate) throw ApiException.BadValue("messages", $"the model '{engine.ModelId}' has no chat template: use /v1/completions");
        RequestMapping.CheckTextLength(turns.Sum(t => (long)t.Content.Length), engine, "messages");
        var tools = ToolMapping.Request(r, engine);
        int[] prompt;
        try { prompt = engine.EncodeChat(turns, tools?.Offered); }
        catch (BambaException e) { throw ApiException.BadValue("messages", e.Message); } // e.g. the template's raise_exception
        int n = RequestMapping.N(r);
        int top = RequestMapping.TopLogprobs("top_logprobs", r.TopLogprobs);
        if (top > 0 && r.Logprobs != true) throw ApiException.BadValue("top_logprobs", "top_logprobs needs logprobs: true");
        int maxTokens = RequestMapping.MaxTokens(r.MaxCompletionTokens is null ? "max_tokens" : "max_completion_tokens",
            r.MaxCompletionTokens ?? r.MaxTokens, int.MaxValue, prompt.Length, engine, allowZero: false);
        var sampling = RequestMapping.Sampling(r, engine);
        var stopIds = RequestMapping.StopTokenIds(r, engine);
        var grammar = ResponseFormats.Grammar(r.ResponseFormat, engine);
        if (tools?.Grammar(engine) is { } callGrammar)
        {
            if (grammar is not null) throw ApiException.BadValue("response_format", "response_format cannot be combined with a tool_choice that forces a call");
            grammar = callGrammar;
        }
        var sequences = Enumerable.Range(0, n).Select(i => new SequenceRequest
        {
            Prompt = prompt, MaxNewTokens = maxTokens, Sampling = RequestMapping.ForChoice(sampling, i),
            StopTokenIds = stopIds, EosTokenIds = RequestMapping.EosIds(r), Logprobs = r.Logprobs == true, TopLogprobs = top,
            Grammar = grammar, Adapter = adapter,
        }).ToList();
        return new Call(r, prompt.Length, r.Logprobs == true, RequestMapping.Stops(r), sequences, tools, engine.IdOf(adapter));
    }

    private async Task<ChatCompletionResponse> RespondAsync(Call call, List<ChoiceRun> runs, RequestRecord record, CancellationToken cancel)
    {
        var outcomes = await ChoiceEvents.CollectAll(runs, record, cancel);
        var choices = outcomes.Select((o, k) =>
        {
            var (content, calls) = call.Tools?.Parse(runs[k].Text, call.Parallel) ?? (runs[k].Text, []);
            var message = new ChatMessageOut("assistant", content) { ToolCalls = calls.Count == 0 ? null : ToolMapping.Calls(calls, indexed: false) };
            return new ChatChoice(k, message, call.Logprobs ? Logprobs(o.Deltas) : null, calls.Count == 0 ? o.End.FinishReason : "tool_calls");
        }).ToList();
        var usage = Usage.Of(call.PromptTokens, outcomes.Sum(o => o.End.CompletionTokens));
        return new ChatCompletionResponse(record.Id!, "chat.completion", ChoiceStarter.Now(), call.Model, choices, usage);
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
        ChatCompletionChunk Chunk(ChatChunkChoice choice) => new(id, "chat.completion.chunk", created, call.Model, [choice], null);
        for (int k = 0; k < runs.Count; k++)
            await sse.SendAsync(Chunk(new ChatChunkChoice(k, new ChatMessageOut("assistant", ""), null, null)));
        int completionTokens = 0;
        var gates = runs.Select(_ => call.Tools is { MayCall: true } ? new ToolCallStream(call.Tools, call.Parallel) : null).ToArray();
        await foreach (var e in ChoiceEvents.Merge(runs, record, context.RequestAborted))
        {
            if (e.Delta is { } d)
            {
                string text = gates[e.Index]?.Push(d.Text) ?? d.Text;
                await sse.SendAsync(Chunk(new ChatChunkChoice(e.Index, new ChatMessageOut(null, text), call.Logprobs ? Logprobs([d]) : null, null)));
            }
            else if (e.End is { } end)
            {
                completionTokens += end.CompletionTokens;
                string finish = end.FinishReason;
                if (gates[e.Index]?.Finish() is var (content, calls))
                {
                    if (content is { Length: > 0 }) await sse.SendAsync(Chunk(new ChatChunkChoice(e.Index, new ChatMessageOut(null, content), null, null)));
                    if (calls.Count > 0)
                    {
                        await sse.SendAsync(Chunk(new ChatChunkChoice(e.Index, new ChatMessageOut(null, null) { ToolCalls = ToolMapping.Calls(calls, indexed: true) }, null, null)));
                        finish = "tool_calls";
                    }
                }
                await sse.SendAsync(Chunk(new ChatChunkChoice(e.Index, new ChatMessageOut(null, null), null, finish)));
            }
        }
        if (call.Request.StreamOptions?.IncludeUsage == true)
            await sse.SendAsync(new ChatCompletionChunk(id, "chat.completion.chunk", created, call.Model, [], Usage.Of(call.PromptTokens, completionTokens)));
        await sse.DoneAsync();
    }

    private ChatLogprobs Logprobs(IEnumerable<ChoiceDelta> deltas) => new(deltas.Where(d => d.Token is not null).Select(d =>
    {
        var t = d.Token!;
        var top = t.TopLogprobs.Select(a => new ChatTopLogprob(TokenText(a.Id), a.Logprob, Bytes(TokenText(a.Id)))).ToList();
        return new ChatTokenLogprob(TokenText(t.Id), t.Logprob, Bytes(TokenText(t.Id)), top);
    }).ToList());

    private string TokenText(int id) => CompletionLogprobsBuilder.TokenText(engine.Text, id);

    private static int[] Bytes(string s) => Encoding.UTF8.GetBytes(s).Select(b => (int)b).ToArray();

    private static ILogger Logger(HttpContext context) =>
        context.RequestServices.GetRequiredService<ILoggerFactory>().CreateLogger("Bamba.Server");
}
