using System.Text.Json;

namespace Bamba.Tokenization;

/// <summary>
/// A Hugging Face tokenizer loaded from a model directory's tokenizer.json (+ tokenizer_config.json,
/// generation_config.json), encoding and decoding exactly as the <c>tokenizers</c> library does for BPE models.
/// Thread-safe: one instance may encode from many threads.
/// </summary>
public sealed class HfTokenizer
{
    private readonly Dictionary<int, AddedToken> _addedById = new();
    private readonly Dictionary<string, AddedToken> _addedByContent = new(StringComparer.Ordinal);
    private readonly AddedTokenMatcher _rawMatcher;        // added tokens with normalized = false
    private readonly AddedTokenMatcher _normalizedMatcher; // added tokens with normalized = true
    private readonly Normalizer? _normalizer;
    private readonly PreTokenizer? _preTokenizer;
    private readonly BpeModel _model;
    private readonly PostProcessor? _postProcessor;
    private readonly Decoder? _decoder;
    private readonly bool _byteLevelInput; // the last pre-tokenizer is ByteLevel, its mapping left to the model
    private readonly TextPattern? _directSplit; // the whole pre-tokenization is one isolating split (Llama-3, Qwen2)

    private HfTokenizer(TokenizerSpec root, TokenizerConfig config)
    {
        _model = ParseModel(root.Required("model"));
        foreach (var token in root.Optional("added_tokens") is null ? [] : root.Array("added_tokens").Select(AddedToken.Parse))
            Add(token);
        AddConfigTokens(config);
        _normalizer = Normalizer.Parse(root.Optional("normalizer"));
        _preTokenizer = PreTokenizer.Parse(root.Optional("pre_tokenizer"));
        _byteLevelInput = DeferFinalByteMapping(_preTokenizer);
        _directSplit = DirectSplit(_preTokenizer, _byteLevelInput);
        _decoder = Decoder.Parse(root.Optional("decoder"));
        _postProcessor = PostProcessor.Parse(root.Optional("post_processor"));
        _rawMatcher = new AddedTokenMatcher(_addedById.Values.Where(t => !t.Normalized).Select(t => (t.Content, t)));
        _normalizedMatcher = new AddedTokenMatcher(_addedById.Values.Where(t => t.Normalized)
            .Select(t => (_normalizer?.Normalize(t.Content) ?? t.Content, t)));

        ChatTemplate = config.ChatTemplate;
        BosToken = config.BosToken;
        EosToken = config.EosToken;
        BosId = BosToken is null ? null : TokenToId(BosToken);
        EosId = EosToken is null ? null : TokenToId(EosToken);
        EosIds = (EosId is int e ? new[] { e } : []).Concat(config.GenerationEosIds).Distinct().ToArray();
        VocabSize = Math.Max(_model.MaxId, _addedById.Count == 0 ? -1 : _addedById.Keys.Max()) + 1;
        MaxCharsPerToken = CharsPerTokenBound();
        // transformers rebuilds the template from add_bos_token / add_eos_token when the config names either.
        if (config.AddBosToken is not null || config.AddEosToken is not null)
            _postProcessor = new TemplateProcessor(
                config.AddBosToken == true && BosId is int b ? [b] : [],
                config.AddEosToken == true && EosId is int eos ? [eos] : []);
    }

    /// <summary>
    /// The most input characters one token can stand for, or null where no bound holds (a normalizer or split that
    /// deletes text, fused unknown tokens). Text longer than this times a context cannot fit it: a server refuses it
    /// without tokenizing megabytes first.
    /// </summary>
    public int? MaxCharsPerToken { get; }

    private int? CharsPerTokenBound()
    {
        if (_normalizer?.MayDelete == true || _preTokenizer?.MayDelete == true || _model.FusesUnknown) return null;
        int longest = Math.Max(_model.Vocab.Keys.Select(k => k.Length).DefaultIfEmpty(1).Max(), _addedById.Values.Select(t => t.Content.Length).DefaultIfEmpty(1).Max());
        // A vocabulary entry holds at least as many characters as the input it covers (byte-level: one per UTF-8 byte);
        // Unicode normalization composes at most a few input characters into one, hence the margin.
        return checked((longest + 1) * 4);
    }

    /// <summary>The Jinja chat template of tokenizer_config.json, if any.</summary>
    public string? ChatTemplate { get; }
    public string? BosToken { get; }
    public string? EosToken { get; }
    public int? BosId { get; }
    public int? EosId { get; }
    /// <summary>Ids that end generation: the tokenizer's eos token, then generation_config.json's eos_token_id.</summary>
    public IReadOnlyList<int> EosIds { get; }
    /// <summary>The largest token id a tokenizer file may use: id-indexed tables are allocated up to it, and real
    /// vocabularies stay far below (a few hundred thousand).</summary>
    public const int MaxTokenId = (1 << 24) - 1;
    /// <summary>One more than the largest id of the vocabulary and the added tokens.</summary>
    public int VocabSize { get; }
    public IReadOnlyCollection<AddedToken> AddedTokens => _addedById.Values;
    internal BpeModel Model => _model;
    /// <summary>Tokens are byte-level strings (GPT-2, Llama 3, Qwen): each character stands for one byte.</summary>
    internal bool IsByteLevel => _byteLevelInput;

    /// <summary>Loads <c>DIR/tokenizer.json</c> and, when present, tokenizer_config.json and generation_config.json.</summary>
    public static HfTokenizer Load(string directory)
    {
        if (!Directory.Exists(directory)) throw new BambaException($"{directory}: tokenizer directory not found");
        string path = Path.Combine(directory, "tokenizer.json");
        if (!File.Exists(path)) throw new BambaException($"{path}: file not found (the tokenizer directory needs a tokenizer.json)");
        var config = TokenizerConfig.Load(directory);
        JsonDocument doc;
        var bytes = File.ReadAllBytes(path);
        Bamba.Text.JsonUnicode.Require(bytes, path);
        try { doc = JsonDocument.Parse(bytes, new JsonDocumentOptions { MaxDepth = 256 }); }
        catch (JsonException e) { throw new BambaException($"{path}: not valid JSON ({e.Message})"); }
        using (doc)
        {
            if (doc.RootElement.ValueKind != JsonValueKind.Object) throw new BambaException($"{path}: expected a JSON object");
            return new HfTokenizer(new TokenizerSpec(doc.RootElement, path, "$"), config);
        }
    }

    /// <summary>A tokenizer.json and tokenizer_config.json given as text (a GGUF file's tokenizer, rebuilt from its
    /// metadata); <paramref name="source"/> names them in errors.</summary>
    public static HfTokenizer FromJson(string tokenizerJson, string configJson, string source)
    {
        using var tokenizer = JsonDocument.Parse(tokenizerJson, new JsonDocumentOptions { MaxDepth = 256 });
        using var config = JsonDocument.Parse(configJson);
        return new HfTokenizer(new TokenizerSpec(tokenizer.RootElement, source, "$"), TokenizerConfig.Parse(config.RootElement, source));
    }

    private static BpeModel ParseModel(TokenizerSpec model)
    {
        // Very old files omit "type"; the fields tell the model apart.
        string type = model.OptionalString("type") ?? (model.Has("merges") ? "BPE" : model.Has("vocab") ? "(untyped)" : "(none)");
        return type == "BPE" ? BpeModel.Parse(model)
            : throw new BambaException($"{model.File}: tokenizer model type {type} is not supported (only BPE is)");
    }

    /// <summary>When ByteLevel is the last pre-tokenization step, its byte mapping moves into the model call.</summary>
    private static bool DeferFinalByteMapping(PreTokenizer? preTokenizer)
    {
        while (preTokenizer is SequencePreTokenizer { Steps.Count: > 0 } sequence) preTokenizer = sequence.Steps[^1];
        if (preTokenizer is not ByteLevelPreTokenizer byteLevel) return false;
        byteLevel.DeferByteMapping = true;
        return true;
    }

    /// <summary>
    /// The pattern when pre-tokenization is a single Isolated split, optionally followed by a ByteLevel step that
    /// only maps bytes (deferred to the model): Encode then tokenizes each match and gap straight from the text.
    /// </summary>
    private static TextPattern? DirectSplit(PreTokenizer? preTokenizer, bool byteLevelDeferred)
    {
        var steps = preTokenizer is SequencePreTokenizer sequence ? sequence.Steps : preTokenizer is null ? [] : [preTokenizer];
        if (steps.Count == 2 && byteLevelDeferred && steps[1] is ByteLevelPreTokenizer { MapsOnly: true })
            steps = [steps[0]];
        return steps is [SplitPreTokenizer split] ? split.IsolatingPattern : null;
    }

    private void Add(AddedToken token)
    {
        _addedById[token.Id] = token;
        _addedByContent.TryAdd(token.Content, token);
    }

    /// <summary>
    /// transformers also registers tokenizer_config.json's added_tokens_decoder entries and named special tokens
    /// that tokenizer.json lacks (named ones as special, matched in raw text).
    /// </summary>
    private void AddConfigTokens(TokenizerConfig config)
    {
        foreach (var token in config.AddedTokensDecoder)
            if (!_addedByContent.ContainsKey(token.Content) && !_addedById.ContainsKey(token.Id)) Add(token);
        foreach (var name in new[] { config.BosToken, config.EosToken, config.UnkToken, config.PadToken })
            if (name is not null && !_addedByContent.ContainsKey(name) && _model.TokenToId(name) is int id)
                Add(new AddedToken(id, name, Special: true, Normalized: false, LStrip: false, RStrip: false, SingleWord: false));
    }

    public int? TokenToId(string token) =>
        _addedByContent.TryGetValue(token, out var added) ? added.Id : _model.TokenToId(token);

    public string? IdToToken(int id) =>
        _addedById.TryGetValue(id, out var added) ? added.Content
        : (uint)id < (uint)_model.IdToToken.Length ? _model.IdToToken[id] : null;

    public bool IsSpecial(int id) => _addedById.TryGetValue(id, out var t) && t.Special;

    /// <summary>Text to ids. <paramref name="addSpecialTokens"/> applies the post-processor's template (e.g. BOS).</summary>
    public int[] Encode(string text, bool addSpecialTokens = false)
    {
        var ids = new List<int>(text.Length / 3 + 4);
        if (_directSplit is not null) EncodeDirect(text, ids);
        else
            foreach (var piece in Pieces(text))
            {
                if (piece.IsToken) ids.Add(piece.TokenId);
                else TokenizeWord(piece.Span, ids);
            }
        var result = ids.ToArray();
        return _postProcessor is null ? result : _postProcessor.Process(result, addSpecialTokens);
    }

    private void TokenizeWord(ReadOnlySpan<char> word, List<int> ids)
    {
        if (_byteLevelInput) _model.TokenizeBytes(word, ids);
        else _model.Tokenize(word, ids);
    }

    [ThreadStatic] private static List<(int Start, int End)>? t_matches;

    /// <summary>Same result as the general path when pre-tokenization is one isolating split: no piece lists.</summary>
    private void EncodeDirect(string text, List<int> ids)
    {
        var matches = t_matches ??= new List<(int, int)>();
        foreach (var piece in Pieces(text, preTokenize: false))
        {
            if (piece.IsToken) { ids.Add(piece.TokenId); continue; }
            var span = piece.Span;
            matches.Clear();
            _directSplit!.Matches(span, matches);
            int previous = 0;
            foreach (var (start, end) in matches)
            {
                if (start > previous) TokenizeWord(span[previous..start], ids);
                if (end > start) TokenizeWord(span[start..end], ids);
                previous = end;
            }
            if (previous < span.Length) TokenizeWord(span[previous..], ids);
        }
    }

    /// <summary>Added tokens in raw text, normalization, added tokens in normalized text, pre-tokenization.</summary>
    private List<Piece> Pieces(string text, bool preTokenize = true)
    {
        var pieces = new List<Piece>();
        var start = Piece.OfText(text, atStart: true);
        var raw = new List<Piece>();
        if (_rawMatcher.IsEmpty) raw.Add(start); else _rawMatcher.Split(start, raw);
        foreach (var piece in raw)
        {
            if (piece.IsToken) { pieces.Add(piece); continue; }
            var normalized = _normalizer is null ? piece : piece.WithText(_normalizer.Normalize(piece.Text));
            if (normalized.Length == 0) continue;
            if (_normalizedMatcher.IsEmpty) pieces.Add(normalized); else _normalizedMatcher.Split(normalized, pieces);
        }
        if (preTokenize) _preTokenizer?.Apply(pieces);
        return pieces;
    }

    /// <summary>Ids to text through the decoder; unknown ids are skipped, as the reference does.</summary>
    public string Decode(ReadOnlySpan<int> ids, bool skipSpecialTokens = false)
    {
        var tokens = new List<string>(ids.Length);
        foreach (int id in ids)
        {
            if (skipSpecialTokens && IsSpecial(id)) continue;
            if (IdToToken(id) is string token) tokens.Add(token);
        }
        return _decoder is null ? string.Join(' ', tokens) : string.Concat(_decoder.DecodeChain(tokens));
    }

    /// <summary>A decoder for token streaming: feed ids one at a time, get complete text pieces back.</summary>
    public IncrementalDecoder CreateIncrementalDecoder(bool skipSpecialTokens = false) => new(this, skipSpecialTokens);
}
