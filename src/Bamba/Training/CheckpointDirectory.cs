using System.Text.Json;
using System.Text.Json.Nodes;

namespace Bamba.Training;

/// <summary>
/// Which files of a checkpoint directory (and of its <c>DIR.partial</c> and <c>DIR.previous</c> siblings) bamba wrote,
/// so that replacing or discarding a checkpoint removes only those. Every checkpoint holds <see cref="MarkerFile"/>,
/// written before anything else, listing the files the save writes; a directory without it is the user's and is never
/// emptied, renamed or deleted. Checkpoints saved before the marker existed are recognised by their trainer state and
/// own only the standard file names.
/// </summary>
public static class CheckpointDirectory
{
    public const string MarkerFile = "bamba_checkpoint.json";
    private static readonly string[] LegacyFiles =
    [
        "config.json", "generation_config.json", "model.safetensors", Checkpoint.OptimizerFile, Checkpoint.StateFile,
        "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json",
    ];

    /// <summary>The absolute path of a checkpoint directory; refuses a filesystem root, which has no sibling names.</summary>
    public static string Normalize(string directory)
    {
        if (string.IsNullOrWhiteSpace(directory)) throw new BambaException("the checkpoint directory is empty");
        string full = Path.GetFullPath(directory);
        string trimmed = Path.TrimEndingDirectorySeparator(full);
        if (Path.GetDirectoryName(trimmed) is null) throw new BambaException($"{full}: a filesystem root cannot hold a checkpoint");
        return trimmed;
    }

    /// <summary>
    /// True when bamba wrote this directory: it holds the marker, or (an older checkpoint) both our trainer state and our
    /// optimizer file, a pair that transformers' own checkpoints (optimizer.pt) never have.
    /// </summary>
    public static bool IsOurs(string directory) =>
        File.Exists(Path.Combine(directory, MarkerFile)) ||
        (File.Exists(Path.Combine(directory, Checkpoint.StateFile)) && File.Exists(Path.Combine(directory, Checkpoint.OptimizerFile)));

    /// <summary>The names (relative to the directory) of the files bamba wrote there, the marker last.</summary>
    public static IReadOnlyList<string> OwnedFiles(string directory)
    {
        string marker = Path.Combine(directory, MarkerFile);
        if (!File.Exists(marker)) return LegacyFiles;
        try
        {
            var files = JsonNode.Parse(File.ReadAllText(marker))?["files"]?.AsArray().Select(f => f!.GetValue<string>()).ToList() ?? [];
            // Only plain names inside the directory count: a hand-edited marker cannot point elsewhere.
            return [.. files.Where(f => f == Path.GetFileName(f) && f is not ("." or ".." or MarkerFile)), MarkerFile];
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException or FormatException)
        {
            throw new BambaException($"{marker}: not a valid checkpoint marker ({e.Message})");
        }
    }

    /// <summary>Creates <paramref name="directory"/> with a marker listing <paramref name="files"/>, before they are written.</summary>
    public static void Begin(string directory, IEnumerable<string> files)
    {
        Directory.CreateDirectory(directory);
        var marker = new JsonObject { ["format"] = "bamba-checkpoint", ["files"] = new JsonArray([.. files.Select(f => JsonValue.Create(f))]) };
        using var stream = new FileStream(Path.Combine(directory, MarkerFile), FileMode.CreateNew, FileAccess.Write);
        stream.Write(System.Text.Encoding.UTF8.GetBytes(marker.ToJsonString() + "\n"));
        stream.Flush(flushToDisk: true);
    }

    /// <summary>
    /// Removes the files bamba wrote in <paramref name="directory"/> (the marker last, so a kill midway can redo it),
    /// then the directory itself if nothing else is left in it. Returns whether the directory is gone.
    /// </summary>
    public static bool Discard(string directory)
    {
        if (!Directory.Exists(directory)) return true;
        if (IsOurs(directory))
            foreach (var name in OwnedFiles(directory))
                File.Delete(Path.Combine(directory, name));
        if (Directory.EnumerateFileSystemEntries(directory).Any()) return false;
        Directory.Delete(directory);
        return true;
    }

    /// <summary>Moves whatever the user put in the old checkpoint (not ours) into the new one, where no name clashes.</summary>
    public static void MoveUserEntries(string from, string to)
    {
        var owned = IsOurs(from) ? OwnedFiles(from).ToHashSet() : [];
        foreach (var entry in Directory.EnumerateFileSystemEntries(from).ToList())
        {
            string name = Path.GetFileName(entry), target = Path.Combine(to, name);
            if (owned.Contains(name) || File.Exists(target) || Directory.Exists(target)) continue;
            if (Directory.Exists(entry)) Directory.Move(entry, target);
            else File.Move(entry, target);
        }
    }
}
