using System.Text.Json.Nodes;
using Bamba.Weights;

namespace Bamba.Tests.Gguf;

/// <summary>
/// Checkpoints cut from the tiny-nemotron-h fixture by dropping whole layers (the others renumbered, their weights
/// unchanged): llama.cpp's <c>nemotron_h_moe</c> routes every feed-forward layer of a file with experts, so the
/// fixture itself, with a plain MLP layer beside its mixtures, cannot be loaded there; without that layer it can,
/// and without its mixture layers it is a <c>nemotron_h</c> model. No transformers reference exists for these: they
/// check that llama.cpp and bamba compute the same model from one file.
/// </summary>
internal static class NemotronVariants
{
    /// <summary>Writes the fixture without the layers whose block type is in <paramref name="dropped"/> to a new HF directory.</summary>
    public static string Without(string directory, params string[] dropped)
    {
        string source = Fixtures.Model("tiny-nemotron-h");
        var config = JsonNode.Parse(File.ReadAllText(Path.Combine(source, "config.json")))!.AsObject();
        var blocks = config["layers_block_type"]!.AsArray().Select(n => (string)n!).ToArray();
        var kept = Enumerable.Range(0, blocks.Length).Where(i => !dropped.Contains(blocks[i])).ToArray();
        config["layers_block_type"] = new JsonArray(kept.Select(i => (JsonNode)blocks[i]).ToArray());
        config["num_hidden_layers"] = kept.Length;
        Directory.CreateDirectory(directory);
        File.WriteAllText(Path.Combine(directory, "config.json"), config.ToJsonString());
        using var store = WeightStore.Open(source);
        var entries = new List<SafetensorsWriter.Entry>();
        foreach (var t in store.Tensors)
            if (Renamed(t.Name, kept) is { } name)
                entries.Add(new SafetensorsWriter.Entry(name, t.DType, t.Shape, store.Get(t.Name).Bytes.ToArray()));
        SafetensorsWriter.Write(Path.Combine(directory, "model.safetensors"), entries);
        return directory;
    }

    /// <summary>A tensor's name in the cut model, or null when its layer is dropped.</summary>
    private static string? Renamed(string name, int[] kept)
    {
        const string prefix = "backbone.layers.";
        if (!name.StartsWith(prefix, StringComparison.Ordinal)) return name;
        int dot = name.IndexOf('.', prefix.Length);
        int index = Array.IndexOf(kept, int.Parse(name.AsSpan(prefix.Length, dot - prefix.Length)));
        return index < 0 ? null : $"{prefix}{index}{name[dot..]}";
    }
}
