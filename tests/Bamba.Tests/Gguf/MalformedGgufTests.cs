using System.Text;
using Bamba.Tests.Cli;

namespace Bamba.Tests.Gguf;

/// <summary>
/// Damaged GGUF files: each is refused with one line naming what is wrong and exit code 2 (through <c>bamba info</c>),
/// never a crash or a read outside the file.
/// </summary>
public class MalformedGgufTests : IDisposable
{
    private readonly TempDir _dir = new();

    /// <summary>The pieces of a small file, each of which a case damages.</summary>
    private sealed record Spec
    {
        public uint Magic { get; init; } = 0x46554747;
        public uint Version { get; init; } = 3;
        public ulong? TensorCount { get; init; }
        public ulong? KvCount { get; init; }
        public List<Action<BinaryWriter>> Kvs { get; init; } = [w => KvString(w, "general.architecture", "granitehybrid")];
        public List<(string Name, ulong[] Ne, uint Type, ulong Offset)> Tensors { get; init; } = [("token_embd.weight", [32, 4], 0, 0)];
        public int DataBytes { get; init; } = 512;
        public int CutTo { get; init; } = -1;
    }

    private static void Str(BinaryWriter w, string s) { var b = Encoding.UTF8.GetBytes(s); w.Write((ulong)b.Length); w.Write(b); }
    private static void KvString(BinaryWriter w, string key, string value) { Str(w, key); w.Write(8u); Str(w, value); }
    private static void KvU32(BinaryWriter w, string key, uint value) { Str(w, key); w.Write(4u); w.Write(value); }

    private string Write(Spec s)
    {
        var ms = new MemoryStream();
        using (var w = new BinaryWriter(ms, Encoding.UTF8, leaveOpen: true))
        {
            w.Write(s.Magic);
            w.Write(s.Version);
            w.Write(s.TensorCount ?? (ulong)s.Tensors.Count);
            w.Write(s.KvCount ?? (ulong)s.Kvs.Count);
            foreach (var kv in s.Kvs) kv(w);
            foreach (var (name, ne, type, offset) in s.Tensors)
            {
                Str(w, name);
                w.Write((uint)ne.Length);
                foreach (var d in ne) w.Write(d);
                w.Write(type);
                w.Write(offset);
            }
            while (ms.Length % 32 != 0) w.Write((byte)0);
            w.Write(new byte[s.DataBytes]);
        }
        var bytes = ms.ToArray();
        if (s.CutTo >= 0) bytes = bytes[..s.CutTo];
        string path = Path.Combine(_dir.Path, $"bad-{Guid.NewGuid():N}.gguf");
        File.WriteAllBytes(path, bytes);
        return path;
    }

    public static TheoryData<string, string> Cases() => new()
    {
        { "empty", "truncated GGUF file" },
        { "bad magic", "not a GGUF file" },
        { "version 1", "GGUF version 1 is not supported" },
        { "version 4", "GGUF version 4 is not supported" },
        { "huge tensor count", "the tensor count is 18446744073709551615" },
        { "huge metadata count", "the metadata count is 4611686018427387904" },
        { "cut in the metadata", "truncated" },
        { "key length past the end", "not plausible" },
        { "value length past the end", "truncated: the value of 'general.name'" },
        { "unknown value type", "unknown value type 99" },
        { "array of unknown type", "array of unknown type 42" },
        { "huge array", "the length of array 'general.tags' is" },
        { "array of arrays", "array of arrays" },
        { "bad bool", "bool value 7" },
        { "duplicate key", "'general.architecture' appears twice" },
        { "tensor with no dims", "has 0 dimensions" },
        { "tensor with 5 dims", "has 5 dimensions" },
        { "unknown tensor type", "unknown ggml type 99" },
        { "unsupported tensor type", "has type Q5_0, which bamba does not compute with" },
        { "unaligned offset", "not a multiple of the alignment 32" },
        { "offset past the end", "ends at byte" },
        { "data cut short", "truncated file?" },
        { "overlapping tensors", "overlap in the file" },
        { "duplicate tensor", "tensor 'token_embd.weight' appears twice" },
        { "partial block", "not a whole number of Q8_0 blocks" },
        { "alignment not a power of two", "general.alignment 48 is not a power of two" },
        { "alignment of the wrong type", "general.alignment is a String, expected UInt32" },
        { "dimensions overflow", "too many" },
        { "cut in the tensor infos", "truncated" },
        { "wrong architecture", "architecture 'llama' is not supported" },
        { "missing key", "missing metadata key 'granitehybrid.block_count'" },
        { "per-layer array of the wrong length", "has 3 entries, expected one per layer (2)" },
    };

    private Spec Damaged(string name)
    {
        var ok = new Spec();
        return name switch
        {
            "empty" => ok with { Kvs = [], Tensors = [], DataBytes = 0, CutTo = 0 },
            "bad magic" => ok with { Magic = 0x46554746 },
            "version 1" => ok with { Version = 1 },
            "version 4" => ok with { Version = 4 },
            "huge tensor count" => ok with { TensorCount = ulong.MaxValue },
            "huge metadata count" => ok with { KvCount = 1UL << 62 },
            "cut in the metadata" => ok with { CutTo = 40 },
            "key length past the end" => ok with { Kvs = [w => { w.Write(1UL << 40); w.Write((byte)'x'); }] },
            "value length past the end" => ok with { Kvs = [w => { Str(w, "general.name"); w.Write(8u); w.Write(100_000UL); }], DataBytes = 0, Tensors = [] },
            "unknown value type" => ok with { Kvs = [w => { Str(w, "x"); w.Write(99u); }] },
            "array of unknown type" => ok with { Kvs = [w => { Str(w, "x"); w.Write(9u); w.Write(42u); }] },
            "huge array" => ok with { Kvs = [w => { Str(w, "general.tags"); w.Write(9u); w.Write(4u); w.Write(1UL << 60); }] },
            "array of arrays" => ok with { Kvs = [w => { Str(w, "x"); w.Write(9u); w.Write(9u); w.Write(1UL); }] },
            "bad bool" => ok with { Kvs = [w => { Str(w, "x"); w.Write(7u); w.Write((byte)7); }] },
            "duplicate key" => ok with { Kvs = [ok.Kvs[0], ok.Kvs[0]] },
            "tensor with no dims" => ok with { Tensors = [("t", [], 0, 0)] },
            "tensor with 5 dims" => ok with { Tensors = [("t", [1, 1, 1, 1, 1], 0, 0)] },
            "unknown tensor type" => ok with { Tensors = [("t", [32], 99, 0)] },
            "unsupported tensor type" => ok with { Tensors = [("t", [32], 6, 0)] },
            "unaligned offset" => ok with { Tensors = [("t", [32], 0, 4)] },
            "offset past the end" => ok with { Tensors = [("t", [32], 0, 1 << 20)] },
            "data cut short" => ok with { DataBytes = 64 },
            "overlapping tensors" => ok with { Tensors = [("a", [32], 0, 0), ("b", [32], 0, 64)] },
            "duplicate tensor" => ok with { Tensors = [ok.Tensors[0], ok.Tensors[0]] },
            "partial block" => ok with { Tensors = [("t", [33], 8, 0)] },
            "alignment not a power of two" => ok with { Kvs = [w => KvU32(w, "general.alignment", 48)] },
            "alignment of the wrong type" => ok with { Kvs = [w => KvString(w, "general.alignment", "32")] },
            "dimensions overflow" => ok with { Tensors = [("t", [1UL << 32, 1UL << 32, 1UL << 32], 0, 0)] },
            "cut in the tensor infos" => ok with { CutTo = 24 + 8 + 20 + 4 + 8 + 13 + 10 },
            "wrong architecture" => ok with { Kvs = [w => KvString(w, "general.architecture", "llama")] },
            "missing key" => ok,
            "per-layer array of the wrong length" => ok with
            {
                Kvs = [ok.Kvs[0], w => KvU32(w, "granitehybrid.block_count", 2), w => KvU32(w, "granitehybrid.embedding_length", 32),
                    w => KvU32(w, "granitehybrid.attention.head_count", 2), w => KvU32(w, "granitehybrid.ssm.inner_size", 64),
                    w => KvU32(w, "granitehybrid.ssm.time_step_rank", 4),
                    w => { Str(w, "granitehybrid.attention.head_count_kv"); w.Write(9u); w.Write(5u); w.Write(3UL); w.Write(0); w.Write(0); w.Write(0); }],
            },
            _ => throw new ArgumentException(name),
        };
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void DamagedFileIsOneLineAndExitTwo(string damage, string expected)
    {
        string path = Write(Damaged(damage));
        var r = CliRunner.Run("info", "--model", path);
        CliRunner.AssertUserError(r, expected);
        Assert.Contains(path, r.Stderr);
    }

    [Fact]
    public void TheUndamagedSpecIsReadUpToTheModelMetadata()
    {
        string path = Write(new Spec());
        using var file = Bamba.Weights.Gguf.GgufFile.Open(path);
        Assert.Equal([4L, 32L], file.Tensors["token_embd.weight"].Shape);
        CliRunner.AssertUserError(CliRunner.Run("info", "--model", path), "missing metadata key 'granitehybrid.block_count'");
    }

    public void Dispose() => _dir.Dispose();
}
