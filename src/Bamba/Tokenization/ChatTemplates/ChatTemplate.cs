namespace Bamba.Tokenization.ChatTemplates;

/// <summary>
/// A parsed Hugging Face <c>chat_template</c> (a Jinja2 subset), rendered the way transformers'
/// apply_chat_template does: trim_blocks and lstrip_blocks on, <c>messages</c>, <c>add_generation_prompt</c>,
/// <c>tools</c> and <c>documents</c> (None unless given) plus caller variables such as <c>bos_token</c>.
/// </summary>
public sealed class ChatTemplate
{
    private readonly IReadOnlyList<Stmt> _body;

    private ChatTemplate(string source, IReadOnlyList<Stmt> body)
    {
        Source = source;
        _body = body;
    }

    /// <summary>The template text as given.</summary>
    public string Source { get; }

    /// <summary>Clock for <c>strftime_now</c>; settable so tests and reproducible runs can pin the date.</summary>
    public Func<DateTime> Clock { get; init; } = () => DateTime.Now;

    /// <summary>Parses <paramref name="source"/>; throws <see cref="BambaException"/> naming the line of bad or unsupported syntax.</summary>
    public static ChatTemplate Parse(string source)
    {
        ArgumentNullException.ThrowIfNull(source);
        return new ChatTemplate(source, Parser.Parse(source));
    }

    /// <summary>Returns a copy that reads the date for <c>strftime_now</c> from <paramref name="clock"/>.</summary>
    public ChatTemplate WithClock(Func<DateTime> clock) => new(Source, _body) { Clock = clock };

    /// <summary>
    /// Renders the conversation. <paramref name="extraVariables"/> become template globals and override the defaults
    /// (e.g. <c>bos_token</c>, <c>eos_token</c>, <c>tools</c>, <c>documents</c>, <c>date_string</c>). Values may be strings,
    /// numbers, booleans, null, lists, dictionaries or System.Text.Json elements.
    /// Throws <see cref="ChatTemplateRaisedException"/> when the template calls raise_exception, and
    /// <see cref="BambaException"/> (naming the line) on other template errors.
    /// </summary>
    public string Render(IReadOnlyList<ChatMessage> messages, bool addGenerationPrompt, IReadOnlyDictionary<string, object?>? extraVariables = null)
    {
        ArgumentNullException.ThrowIfNull(messages);
        var globals = new Scope(null);
        Globals.AddTo(globals, Clock);
        globals.Set("messages", messages.Select(m => (object?)m.ToTemplateValue()).ToList());
        globals.Set("add_generation_prompt", addGenerationPrompt);
        // transformers always passes tools= and documents= (None when absent), so templates see them as defined.
        globals.Set("tools", null);
        globals.Set("documents", null);
        if (extraVariables is not null)
            foreach (var (name, value) in extraVariables) globals.Set(name, Values.FromHost(value));
        return new Interpreter(globals).Render(_body);
    }
}
