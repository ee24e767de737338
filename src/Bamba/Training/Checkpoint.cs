using Bamba.Architectures;
using System.Runtime.InteropServices;
using Bamba.Configuration;
using Bamba.Numerics;
using Bamba.Weights;

namespace Bamba.Training;

/// <summary>
/// A training checkpoint in the Hugging Face layout (config.json, generation_config.json, model.safetensors, tokenizer
/// files) plus trainer_state.json, optimizer.safetensors (AdamW moments; float32 master weights when the model file is
/// bf16) and the marker naming the files bamba wrote (<see cref="CheckpointDirectory"/>). Saving is atomic: everything
/// goes into <c>DIR.partial</c>, is fsynced, then replaces DIR by two renames; <see cref="Recover"/> finishes or undoes a
/// save that a kill interrupted, so the last complete checkpoint always survives. Only files bamba wrote are removed:
/// a directory that is not a checkpoint is refused, and what a user adds to a checkpoint is carried to the next one.
/// </summary>
public static class Checkpoint
{
    public const string StateFile = "trainer_state.json";
    public const string OptimizerFile = "optimizer.safetensors";
    private static readonly string[] TokenizerFileNames = ["tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"];

    public sealed record Contents(BambaConfig Config, DType WeightDType, ParameterSet Parameters, AdamW Optimizer,
        TrainerState State, string? TokenizerSource, string? GenerationConfigSource)
    {
        /// <summary>Writes files of the caller's into the checkpoint being saved (e.g. metrics and plots), so they move with it.</summary>
        public Action<string>? Extras { get; init; }

        /// <summary>The names <see cref="Extras"/> may write: listed in the checkpoint's marker as ours, so a later save replaces them.</summary>
        public IReadOnlyList<string> ExtraFiles { get; init; } = [];
    }

    /// <summary>
    /// Checks, before any training, that a checkpoint can be saved to <paramref name="directory"/>: it is new, empty or
    /// one of ours, its <c>.partial</c>/<c>.previous</c> names are free or ours, and its parent is writable (probed by
    /// writing and removing an empty <c>DIR.partial</c>). Returns the normalised path.
    /// </summary>
    public static string Prepare(string directory)
    {
        directory = CheckpointDirectory.Normalize(directory);
        Guard(directory, "cannot write a checkpoint here", () =>
        {
            Recover(directory);
            RequireUsable(directory);
            CheckpointDirectory.Begin(directory + ".partial", []);
            CheckpointDirectory.Discard(directory + ".partial");
        });
        return directory;
    }

    public static void Save(string directory, Contents c)
    {
        directory = CheckpointDirectory.Normalize(directory);
        string partial = directory + ".partial", previous = directory + ".previous";
        Guard(directory, "saving the checkpoint failed", () =>
        {
            Recover(directory);
            RequireUsable(directory);
            var tokenizerFiles = c.TokenizerSource is { } source ? TokenizerFileNames.Where(n => File.Exists(Path.Combine(source, n))).ToList() : [];
            CheckpointDirectory.Begin(partial, [.. DataFiles, .. tokenizerFiles, .. c.ExtraFiles]);
            WriteAll(partial, c, tokenizerFiles);
            if (Directory.Exists(directory))
            {
                if (CheckpointDirectory.IsOurs(directory)) Directory.Move(directory, previous);
                else Directory.Delete(directory); // empty (RequireUsable), so nothing of the user's is lost
            }
            Directory.Move(partial, directory); // a kill before this line leaves DIR.previous, which Recover restores
            Retire(previous, directory);
        });
    }

    /// <summary>
    /// Restores the previous checkpoint if a save was interrupted between its two renames; finishes retiring it if the
    /// kill came after; drops a half-written one. Directories bamba did not write are left alone.
    /// </summary>
    public static void Recover(string directory)
    {
        directory = CheckpointDirectory.Normalize(directory);
        string partial = directory + ".partial", previous = directory + ".previous";
        if (Directory.Exists(previous))
        {
            if (!Directory.Exists(directory) && !File.Exists(directory) && CheckpointDirectory.IsOurs(previous)) Directory.Move(previous, directory);
            else if (CheckpointDirectory.IsOurs(directory)) Retire(previous, directory);
        }
        CheckpointDirectory.Discard(partial);
    }

    /// <summary>
    /// The directory a reader should load: DIR itself, or a lone <c>DIR.previous</c> left by a kill between a save's two
    /// renames (read in place: renaming it could race a trainer that is still saving).
    /// </summary>
    public static string ReadableDirectory(string directory)
    {
        if (Directory.Exists(directory) || string.IsNullOrWhiteSpace(directory)) return directory;
        string previous = Path.TrimEndingDirectorySeparator(Path.GetFullPath(directory)) + ".previous";
        return Directory.Exists(previous) && CheckpointDirectory.IsOurs(previous) ? previous : directory;
    }

    private static readonly string[] DataFiles = ["config.json", "generation_config.json", "model.safetensors", OptimizerFile, StateFile];

    /// <summary>The old checkpoint after the swap: what the user added moves into the new one, then our files go.</summary>
    private static void Retire(string previous, string directory)
    {
        if (!Directory.Exists(previous)) return;
        if (CheckpointDirectory.IsOurs(previous)) CheckpointDirectory.MoveUserEntries(previous, directory);
        CheckpointDirectory.Discard(previous);
    }

    private static void RequireUsable(string directory)
    {
        if (File.Exists(directory)) throw new BambaException($"{directory}: is a file, not a checkpoint directory");
        if (Directory.Exists(directory) && !CheckpointDirectory.IsOurs(directory) && Directory.EnumerateFileSystemEntries(directory).Any())
            throw new BambaException($"{directory}: exists and is not a bamba checkpoint (no {CheckpointDirectory.MarkerFile}); " +
                                     "choose a new or empty directory, which training never deletes");
        foreach (var sibling in new[] { directory + ".partial", directory + ".previous" })
            if (File.Exists(sibling) || Directory.Exists(sibling))
                throw new BambaException($"{sibling}: exists and was not written by bamba train; move it away (training needs the name)");
    }

    /// <summary>File-system failures (permissions, a full disk, a read-only mount) become one line naming the directory.</summary>
    private static void Guard(string directory, string what, Action action)
    {
        try { action(); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new BambaException($"{directory}: {what}: {e.Message}");
        }
    }

    private static void WriteAll(string dir, Contents c, IReadOnlyList<string> tokenizerFiles)
    {
        string dtypeName = c.WeightDType == DType.BF16 ? "bfloat16" : "float32";
        WriteText(Path.Combine(dir, "config.json"),
            BambaConfigWriter.ToJson(c.Config with { Dtype = dtypeName }).ToJsonString(new System.Text.Json.JsonSerializerOptions { WriteIndented = true }) + "\n");
        WriteText(Path.Combine(dir, "generation_config.json"), GenerationConfig(c));
        WriteSafetensors(Path.Combine(dir, "model.safetensors"), c.Parameters.All.Select(p => Entry(p.Name, p.Shape, p.Value, c.WeightDType)).ToList());
        var optimizer = new List<SafetensorsWriter.Entry>();
        foreach (var p in c.Parameters.All)
        {
            optimizer.Add(Entry("exp_avg." + p.Name, p.Shape, c.Optimizer.First[p.Name], DType.F32));
            optimizer.Add(Entry("exp_avg_sq." + p.Name, p.Shape, c.Optimizer.Second[p.Name], DType.F32));
            if (c.WeightDType != DType.F32) optimizer.Add(Entry("master." + p.Name, p.Shape, p.Value, DType.F32));
        }
        WriteSafetensors(Path.Combine(dir, OptimizerFile), optimizer,
            new Dictionary<string, string> { ["format"] = "pt", ["adamw_step"] = c.Optimizer.Step.ToString() });
        WriteText(Path.Combine(dir, StateFile), c.State.ToJson());
        foreach (var name in tokenizerFiles) WriteBytes(Path.Combine(dir, name), File.ReadAllBytes(Path.Combine(c.TokenizerSource!, name)));
        c.Extras?.Invoke(dir);
    }

    private static string GenerationConfig(Contents c)
    {
        if (c.GenerationConfigSource is { } path && File.Exists(path)) return File.ReadAllText(path);
        var cfg = c.Config;
        string eos = cfg.EosTokenIds.Count == 1 ? cfg.EosTokenIds[0].ToString() : "[" + string.Join(", ", cfg.EosTokenIds) + "]";
        return $"{{\n  \"_from_model_config\": true,\n  \"bos_token_id\": {cfg.BosTokenId?.ToString() ?? "null"},\n  \"eos_token_id\": {eos},\n" +
               $"  \"pad_token_id\": {cfg.PadTokenId?.ToString() ?? "null"},\n  \"transformers_version\": \"5.17.0\"\n}}\n";
    }

    private static SafetensorsWriter.Entry Entry(string name, long[] shape, float[] values, DType dtype)
    {
        if (dtype == DType.F32) return new(name, DType.F32, shape, MemoryMarshal.AsBytes(values.AsSpan()).ToArray());
        var bits = new ushort[values.Length];
        BFloat16.FromSingle(values, bits);
        return new(name, DType.BF16, shape, MemoryMarshal.AsBytes(bits.AsSpan()).ToArray());
    }

    private static void WriteSafetensors(string path, IReadOnlyList<SafetensorsWriter.Entry> entries, IReadOnlyDictionary<string, string>? metadata = null)
    {
        using var stream = new FileStream(path, FileMode.CreateNew, FileAccess.Write);
        SafetensorsWriter.Write(stream, entries, metadata);
        stream.Flush(flushToDisk: true);
    }

    private static void WriteText(string path, string text) => WriteBytes(path, System.Text.Encoding.UTF8.GetBytes(text));

    private static void WriteBytes(string path, byte[] bytes)
    {
        using var stream = new FileStream(path, FileMode.CreateNew, FileAccess.Write);
        stream.Write(bytes);
        stream.Flush(flushToDisk: true);
    }

    /// <summary>Reads a checkpoint back for <c>--resume</c>: master weights, moments and trainer state.</summary>
    public static (ParameterSet Parameters, AdamW Optimizer, TrainerState State, DType WeightDType) Load(string directory, AdamWOptions options)
    {
        Recover(directory);
        var config = BambaConfigReader.Load(Path.Combine(directory, "config.json"));
        var state = TrainerState.Read(Path.Combine(directory, StateFile));
        using var weights = WeightStore.Open(directory);
        var dtype = weights.Get(ArchitectureRegistry.TensorsOf(config)[TensorRole.FinalNorm].Name).DType;
        using var moments = SafetensorsFile.Open(Path.Combine(directory, OptimizerFile));
        WeightTensor Moment(string key) => moments.Tensors.TryGetValue(key, out var info) ? moments.Get(info)
            : throw new BambaException($"{moments.Path}: tensor '{key}' is missing");
        var parameters = ParameterSet.FromStore(config, weights);
        if (dtype != DType.F32)
            foreach (var p in parameters.All) Moment("master." + p.Name).ReadFloats(0, p.Value);
        var optimizer = new AdamW(parameters, options with { WeightDecay = state.WeightDecay })
        {
            Step = int.Parse(moments.Metadata.GetValueOrDefault("adamw_step") ?? throw new BambaException($"{moments.Path}: metadata adamw_step is missing")),
        };
        foreach (var p in parameters.All)
        {
            Moment("exp_avg." + p.Name).ReadFloats(0, optimizer.First[p.Name]);
            Moment("exp_avg_sq." + p.Name).ReadFloats(0, optimizer.Second[p.Name]);
        }
        return (parameters, optimizer, state, dtype);
    }
}
