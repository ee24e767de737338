using System.Text.Json;

namespace Bamba.Backends.Cuda;

/// <summary>
/// Which of cuBLASLt's heuristic candidates each timed GEMM shape took, kept on disk so that every later process on
/// the same GPU and cuBLASLt takes the same algorithm, and so computes the same bits (a fresh timing per process can
/// pick another candidate, whose rounding differs). The key names the device, the library version and the shape; the
/// heuristic lists its candidates in a fixed order for those, so the index is the algorithm.
/// <c>BAMBA_GEMM_CACHE</c> names the file (default <c>~/.cache/bamba/gemm-tuning.json</c>; <c>off</c>: no file and no
/// shipped table, each process times afresh). A file that cannot be read is set aside, not trusted.
/// A table of choices timed on the GPUs this project measures on ships with the library (<see cref="Shipped"/>): a key
/// the user's file lacks is looked up there, so a fresh machine of such a GPU and cuBLASLt computes the same bits as
/// the machine that timed them, with no timing of its own.
/// </summary>
public sealed class GemmTuningCache
{
    private readonly string? _path;
    private readonly Dictionary<string, int> _choices;
    private readonly IReadOnlyDictionary<string, int> _shipped;
    private readonly Lock _lock = new();

    public GemmTuningCache(string? path, IReadOnlyDictionary<string, int>? shipped = null)
    {
        _path = path;
        _choices = path is null ? [] : Read(path);
        _shipped = shipped ?? new Dictionary<string, int>();
    }

    /// <summary>The choices timed on the project's GPUs (<c>gemm-tuning-shipped.json</c>, embedded), by key.</summary>
    public static IReadOnlyDictionary<string, int> Shipped { get; } = ReadShipped();

    private static Dictionary<string, int> ReadShipped()
    {
        using var stream = typeof(GemmTuningCache).Assembly.GetManifestResourceStream("Bamba.gemm-tuning-shipped.json")
            ?? throw new InvalidOperationException("the shipped GEMM tuning table is not embedded");
        return JsonSerializer.Deserialize(stream, GemmTuningJson.Default.DictionaryStringInt32) ?? [];
    }

    /// <summary>The cache <c>BAMBA_GEMM_CACHE</c> names (null, "off": none), else the one in the user's cache folder.</summary>
    public static GemmTuningCache FromEnvironment()
    {
        string? setting = Environment.GetEnvironmentVariable("BAMBA_GEMM_CACHE");
        if (setting == "off") return new GemmTuningCache(null);
        if (!string.IsNullOrEmpty(setting)) return new GemmTuningCache(setting, Shipped);
        string home = Environment.GetFolderPath(Environment.SpecialFolder.UserProfile);
        return new GemmTuningCache(string.IsNullOrEmpty(home) ? null : Path.Combine(home, ".cache", "bamba", "gemm-tuning.json"), Shipped);
    }

    public static string Key(string device, ulong libraryVersion, GemmShape shape) => $"{device} | cuBLASLt {libraryVersion} | {shape}";

    public int? Choice(string key)
    {
        lock (_lock) return _choices.TryGetValue(key, out int i) ? i : _shipped.TryGetValue(key, out int s) ? s : null;
    }

    /// <summary>Records a timed choice and rewrites the file (whole, then renamed over the old one: readers never see half).</summary>
    public void Record(string key, int candidate)
    {
        lock (_lock)
        {
            _choices[key] = candidate;
            if (_path is null) return;
            try
            {
                Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(_path))!);
                string temporary = $"{_path}.{Environment.ProcessId}.tmp";
                File.WriteAllText(temporary, JsonSerializer.Serialize(_choices, GemmTuningJson.Default.DictionaryStringInt32));
                File.Move(temporary, _path, overwrite: true);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // A read-only home still runs, just without carrying the choice to the next process.
            }
        }
    }

    private static Dictionary<string, int> Read(string path)
    {
        if (!File.Exists(path)) return [];
        try { return JsonSerializer.Deserialize(File.ReadAllText(path), GemmTuningJson.Default.DictionaryStringInt32) ?? []; }
        catch (Exception e) when (e is JsonException or IOException or UnauthorizedAccessException)
        {
            try { File.Move(path, path + ".unreadable", overwrite: true); } catch (IOException) { }
            return [];
        }
    }
}

[System.Text.Json.Serialization.JsonSerializable(typeof(Dictionary<string, int>))]
internal sealed partial class GemmTuningJson : System.Text.Json.Serialization.JsonSerializerContext;
