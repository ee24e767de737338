namespace Bamba.Tokenization.ChatTemplates;

/// <summary>
/// Thrown when a template calls <c>raise_exception('...')</c>, e.g. "Conversation roles must alternate".
/// The message is the template's own text so front ends can show it unchanged.
/// </summary>
public sealed class ChatTemplateRaisedException : BambaException
{
    public ChatTemplateRaisedException(string templateMessage) : base(templateMessage) => TemplateMessage = templateMessage;

    /// <summary>The text the template passed to raise_exception.</summary>
    public string TemplateMessage { get; }
}
