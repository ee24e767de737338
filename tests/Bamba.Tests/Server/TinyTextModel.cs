namespace Bamba.Tests.Server;

/// <summary>
/// <see cref="TextModel"/> (tiny-bamba with a byte-level BPE tokenizer that fits its vocabulary) in a temporary
/// folder, with a chat template added to its tokenizer_config.json.
/// </summary>
internal sealed class TinyTextModel : IDisposable
{
    /// <summary>A Zephyr-style template: BOS, then "&lt;|role|&gt;\ncontent&lt;/s&gt;\n" per message.</summary>
    public const string ChatTemplate =
        "{{ bos_token }}{% for m in messages %}<|{{ m['role'] }}|>\n{{ m['content'] }}{{ eos_token }}\n{% endfor %}" +
        "{% if add_generation_prompt %}<|assistant|>\n{% endif %}";

    public TinyTextModel(string chatTemplate = ChatTemplate)
    {
        Directory = System.IO.Directory.CreateTempSubdirectory("bamba-tiny-text-").FullName;
        TextModel.Create(Directory);
        File.WriteAllText(Path.Combine(Directory, "tokenizer_config.json"), System.Text.Json.JsonSerializer.Serialize(new
        {
            bos_token = "<s>", eos_token = "</s>", add_bos_token = true, chat_template = chatTemplate,
        }));
    }

    public string Directory { get; }

    public void Dispose() => System.IO.Directory.Delete(Directory, recursive: true);
}
