using Bamba.Generation.Constraints;

namespace Bamba.Serving.Tools;

/// <summary>
/// The tools of one chat request and the caller's choice among them, checked against the model: the tools its template
/// is given, and for a forced choice (required or named) the grammar that makes the output one valid call.
/// </summary>
public sealed class ToolRequest
{
    public ToolRequest(IReadOnlyList<ToolDefinition> tools, ToolChoice choice, ITextCodec text)
    {
        Tools = tools;
        Choice = choice;
        Format = text.ToolCallFormat;
        if (choice.Mode == ToolChoiceMode.None) return;
        if (Format is null) throw new BambaException("this model's chat template does not render tools, so it cannot call them");
        if (choice.Forces && tools.Count == 0) throw new BambaException("tool_choice asks for a call but no tools are given");
        if (choice.Mode == ToolChoiceMode.Named && tools.All(t => t.Name != choice.Name))
            throw new BambaException($"tool_choice names the function '{choice.Name}', which is not among the tools");
    }

    public IReadOnlyList<ToolDefinition> Tools { get; }
    public ToolChoice Choice { get; }
    /// <summary>How the model writes calls; null when its template renders no tools.</summary>
    public ToolCallFormat? Format { get; }

    /// <summary>The tools the chat template renders (with tool_choice none too, as context, if the template can).</summary>
    public IReadOnlyList<ToolDefinition>? Offered => Format is null || Tools.Count == 0 ? null : Tools;

    /// <summary>Whether the output is parsed for calls.</summary>
    public bool MayCall => Offered is not null && Choice.Mode != ToolChoiceMode.None;

    /// <summary>For a forced choice, the grammar of one call to the allowed tools (cached by the engine); else null.</summary>
    public TokenGrammar? Grammar(ServingEngine engine)
    {
        if (!Choice.Forces || Format is null) return null;
        var allowed = Choice.Mode == ToolChoiceMode.Named ? Tools.Where(t => t.Name == Choice.Name).ToList() : Tools;
        string key = $"tools:{Format.Name}:" + string.Join("\u0001", allowed.Select(t => t.Name + "\u0002" + t.Parameters.GetRawText()));
        return engine.Grammars.Get(key, () => Format.CallGrammar(allowed));
    }

    /// <summary>The calls in a choice's text (none when tools are off); with parallel calls off only the first is kept.</summary>
    public (string? Content, List<ToolCall> Calls) Parse(string text, bool parallel = true)
    {
        if (!MayCall) return (text, []);
        var (content, calls) = Format!.Parse(text);
        if (!parallel && calls.Count > 1) calls.RemoveRange(1, calls.Count - 1);
        return (content, calls);
    }
}
