namespace Bamba.Tokenization;

/// <summary>A tokenizer.json post-processor: adds special tokens around a single sequence when asked to.</summary>
internal abstract class PostProcessor
{
    public abstract int[] Process(int[] ids, bool addSpecialTokens);

    public static PostProcessor? Parse(TokenizerSpec? spec)
    {
        if (spec is not { } s) return null;
        return s.Type switch
        {
            "TemplateProcessing" => TemplateProcessor.Parse(s),
            "Sequence" => new SequencePostProcessor(s.Array("processors").Select(p => Parse(p)!).ToArray()),
            // ByteLevel only trims offsets, which this engine does not report.
            "ByteLevel" => new SequencePostProcessor([]),
            "BertProcessing" or "RobertaProcessing" => new TemplateProcessor([SpecialId(s, "cls")], [SpecialId(s, "sep")]),
            var t => throw s.Error($"post_processor type '{t}' is not supported"),
        };
    }

    /// <summary>Bert/Roberta write their tokens as ["[CLS]", 101].</summary>
    private static int SpecialId(TokenizerSpec s, string name)
    {
        var e = s.Required(name).Element;
        return e.ValueKind == System.Text.Json.JsonValueKind.Array && e.GetArrayLength() == 2 && e[1].TryGetInt32(out int id)
            ? id : throw s.Error($"field '{name}' must be [token, id]");
    }
}

internal sealed class SequencePostProcessor(PostProcessor[] steps) : PostProcessor
{
    public override int[] Process(int[] ids, bool addSpecialTokens)
    {
        foreach (var step in steps) ids = step.Process(ids, addSpecialTokens);
        return ids;
    }
}

/// <summary>The "single" template: special-token ids before and after the sequence ($A).</summary>
internal sealed class TemplateProcessor(int[] before, int[] after) : PostProcessor
{
    public IReadOnlyList<int> Before => before;
    public IReadOnlyList<int> After => after;

    public override int[] Process(int[] ids, bool addSpecialTokens) =>
        addSpecialTokens && (before.Length > 0 || after.Length > 0) ? [.. before, .. ids, .. after] : ids;

    public static TemplateProcessor Parse(TokenizerSpec s)
    {
        var specials = new Dictionary<string, int[]>(StringComparer.Ordinal);
        if (s.Optional("special_tokens") is { } map)
            foreach (var p in map.Element.EnumerateObject())
            {
                var entry = new TokenizerSpec(p.Value, s.File, $"{map.Path}.{p.Name}");
                specials[p.Name] = entry.Array("ids").Select(i => i.Element.TryGetInt32(out int id) && id >= 0
                    ? id : throw i.Error("must be a token id")).ToArray();
            }
        var before = new List<int>();
        var after = new List<int>();
        bool seenSequence = false;
        foreach (var item in s.Array("single"))
        {
            if (item.Has("Sequence")) { seenSequence = true; continue; }
            string name = item.Required("SpecialToken").String("id");
            var ids = specials.GetValueOrDefault(name) ?? throw item.Error($"special token '{name}' is not in special_tokens");
            (seenSequence ? after : before).AddRange(ids);
        }
        return new TemplateProcessor(before.ToArray(), after.ToArray());
    }
}
