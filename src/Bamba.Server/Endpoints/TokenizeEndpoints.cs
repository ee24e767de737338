using Bamba.Serving;
using Bamba.Server.Protocol;
using Microsoft.AspNetCore.Http;

namespace Bamba.Server.Endpoints;

/// <summary>
/// POST /tokenize and /detokenize, shaped as vLLM's: text (or chat messages through the template) to the ids the
/// model would see, and ids back to text.
/// </summary>
internal sealed class TokenizeEndpoints(ServingEngine engine)
{
    public async Task TokenizeAsync(HttpContext context)
    {
        var r = await JsonProtocol.ReadAsync<TokenizeRequest>(context.Request, context.RequestAborted);
        RequestMapping.Adapter(r.Model, engine); // the tokenizer is the same for every adapter
        var text = RequestMapping.Text(engine, r.Messages is null ? "prompt" : "messages");
        int[] ids;
        if (r.Messages is not null)
        {
            if (r.Prompt is not null) throw ApiException.BadValue("prompt", "send prompt or messages, not both");
            var turns = ChatMessages.Parse(r.Messages);
            try { ids = text.Encode(text.RenderChat(turns, r.AddGenerationPrompt ?? true), addSpecialTokens: !text.ChatIncludesSpecialTokens); }
            catch (BambaException e) { throw ApiException.BadValue("messages", e.Message); }
        }
        else
        {
            if (r.Prompt is null) throw ApiException.BadValue("prompt", "prompt (a string) or messages is required");
            ids = text.Encode(r.Prompt, r.AddSpecialTokens ?? true);
        }
        await context.Response.WriteAsJsonAsync(new TokenizeResponse(ids.Length, engine.MaxContext, ids), JsonProtocol.Info<TokenizeResponse>(), cancellationToken: context.RequestAborted);
    }

    public async Task DetokenizeAsync(HttpContext context)
    {
        var r = await JsonProtocol.ReadAsync<DetokenizeRequest>(context.Request, context.RequestAborted);
        RequestMapping.Adapter(r.Model, engine); // the tokenizer is the same for every adapter
        var text = RequestMapping.Text(engine, "tokens");
        var ids = r.Tokens ?? throw ApiException.BadValue("tokens", "tokens (a list of ids) is required");
        foreach (int id in ids)
            if ((uint)id >= (uint)engine.Model.Tokens.VocabSize)
                throw ApiException.BadValue("tokens", $"token id {id} is outside the vocabulary (0..{engine.Model.Tokens.VocabSize - 1})");
        await context.Response.WriteAsJsonAsync(new DetokenizeResponse(text.Decode(ids)), JsonProtocol.Info<DetokenizeResponse>(), cancellationToken: context.RequestAborted);
    }
}
