using System.Security.Cryptography;
using System.Text;
using Bamba.Generation;

namespace Bamba.Modeling;

/// <summary>
/// A <see cref="SequenceSession"/> of the CPU model in a file (like llama.cpp's state files): a header with the model's
/// identity and state shapes, the session's tokens, every layer's KV rows, conv window and SSM state, and a SHA-256 of
/// all of it. Loading checks the checksum, the identity and every shape, and names what does not match.
/// </summary>
public static class SessionFile
{
    private static readonly byte[] Magic = "BAMBASTATE"u8.ToArray();
    private const int Version = 1;
    private const int ChecksumBytes = 32;

    public static void Save(string path, BambaModel model, SequenceSession session)
    {
        var state = session.State as CpuSequenceState ?? throw new BambaException("state files hold CPU sessions only");
        var segment = (CpuStateSegment)state.Capture(0);
        using var body = new MemoryStream();
        using (var w = new BinaryWriter(body, Encoding.UTF8, leaveOpen: true))
        {
            w.Write(Magic);
            w.Write(Version);
            w.Write(Identity(model));
            foreach (int n in Shapes(model)) w.Write(n);
            WriteInts(w, [.. session.Tokens]);
            for (int i = 0; i < model.Config.NumHiddenLayers; i++)
                foreach (var array in new[] { segment.Keys[i], segment.Values[i], segment.Conv[i], segment.Ssm[i] }) WriteFloats(w, array);
        }
        var bytes = body.ToArray();
        using var file = File.Create(path);
        file.Write(bytes);
        file.Write(SHA256.HashData(bytes));
    }

    /// <summary>Reads a session saved for <paramref name="model"/>; a file that is not one, is damaged or is another model's throws a <see cref="BambaException"/>.</summary>
    public static SequenceSession Load(string path, BambaModel model)
    {
        if (!File.Exists(path)) throw new BambaException($"{path}: state file not found");
        var bytes = File.ReadAllBytes(path);
        if (bytes.Length < Magic.Length + ChecksumBytes || !bytes.AsSpan(0, Magic.Length).SequenceEqual(Magic))
            throw new BambaException($"{path}: not a Bamba state file");
        var body = bytes.AsSpan(0, bytes.Length - ChecksumBytes);
        if (!SHA256.HashData(body).AsSpan().SequenceEqual(bytes.AsSpan(body.Length)))
            throw new BambaException($"{path}: the checksum does not match (the file is damaged or truncated)");
        try { return Read(path, new BinaryReader(new MemoryStream(bytes, 0, body.Length)), model); }
        catch (EndOfStreamException) { throw new BambaException($"{path}: the file ends early"); }
    }

    private static SequenceSession Read(string path, BinaryReader r, BambaModel model)
    {
        r.ReadBytes(Magic.Length);
        if (r.ReadInt32() is var version and not Version) throw new BambaException($"{path}: state file version {version}; this build reads {Version}");
        if (r.ReadString() != Identity(model)) throw new BambaException($"{path}: the state was saved with another model");
        var expected = Shapes(model);
        foreach (int n in expected)
            if (r.ReadInt32() != n) throw new BambaException($"{path}: the state's shapes differ from this model's");
        var tokens = ReadInts(r, path, model.Config.VocabSize);
        int held = Math.Max(0, tokens.Length - 1);
        var c = model.Config;
        int layers = c.NumHiddenLayers;
        float[]?[] keys = new float[layers][], values = new float[layers][], conv = new float[layers][], ssm = new float[layers][];
        for (int i = 0; i < layers; i++)
        {
            int kv = c.IsAttentionLayer(i) ? held * c.NumKeyValueHeads * c.HeadDim : -1;
            keys[i] = ReadFloats(r, path, kv);
            values[i] = ReadFloats(r, path, kv);
            conv[i] = ReadFloats(r, path, c.IsMambaLayer(i) ? (c.MambaDConv - 1) * c.ConvDim : -1);
            ssm[i] = ReadFloats(r, path, c.IsMambaLayer(i) ? c.MambaNHeads * c.MambaDHead * c.MambaDState : -1);
        }
        if (r.BaseStream.Position != r.BaseStream.Length) throw new BambaException($"{path}: unexpected bytes after the state");
        var state = model.CreateState();
        if (held > 0) state.Restore([new CpuStateSegment(0, held, keys, values, conv, ssm)]);
        return new SequenceSession(model, state, tokens);
    }

    /// <summary>
    /// What a state depends on: the shapes, the final norm and the first and last embedding rows (so another checkpoint of
    /// the same architecture is told apart), hashed.
    /// </summary>
    private static string Identity(BambaModel model)
    {
        var c = model.Config;
        var rows = new float[2 * c.HiddenSize];
        model.Weights.Embedding.ReadFloats(0, rows.AsSpan(0, c.HiddenSize));
        model.Weights.Embedding.ReadFloats((long)(c.VocabSize - 1) * c.HiddenSize, rows.AsSpan(c.HiddenSize));
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        foreach (int n in Shapes(model)) hash.AppendData(BitConverter.GetBytes(n));
        hash.AppendData(System.Runtime.InteropServices.MemoryMarshal.AsBytes(model.Weights.FinalNorm.AsSpan()));
        hash.AppendData(System.Runtime.InteropServices.MemoryMarshal.AsBytes(rows.AsSpan()));
        return Convert.ToHexString(hash.GetHashAndReset());
    }

    /// <summary>The state's shapes: layer count, each layer's kind (1 Mamba, 2 attention), widths and sizes.</summary>
    private static int[] Shapes(BambaModel model)
    {
        var c = model.Config;
        var kinds = Enumerable.Range(0, c.NumHiddenLayers).Select(i => (c.IsMambaLayer(i) ? 1 : 0) | (c.IsAttentionLayer(i) ? 2 : 0));
        return [c.NumHiddenLayers, .. kinds, c.HiddenSize, c.VocabSize, c.NumKeyValueHeads * c.HeadDim, c.MambaDConv, c.ConvDim,
            c.MambaNHeads, c.MambaDHead, c.MambaDState];
    }

    private static void WriteInts(BinaryWriter w, int[] values)
    {
        w.Write(values.Length);
        foreach (int v in values) w.Write(v);
    }

    private static int[] ReadInts(BinaryReader r, string path, int vocab)
    {
        int count = r.ReadInt32();
        if (count < 0 || count > (r.BaseStream.Length - r.BaseStream.Position) / 4) throw new BambaException($"{path}: a bad token count ({count})");
        var values = new int[count];
        for (int i = 0; i < count; i++)
            if ((uint)(values[i] = r.ReadInt32()) >= (uint)vocab) throw new BambaException($"{path}: token id {values[i]} is outside the vocabulary");
        return values;
    }

    /// <summary>A length (−1 for none) and the floats.</summary>
    private static void WriteFloats(BinaryWriter w, float[]? values)
    {
        w.Write(values?.Length ?? -1);
        if (values is not null) w.Write(System.Runtime.InteropServices.MemoryMarshal.AsBytes(values.AsSpan()));
    }

    private static float[]? ReadFloats(BinaryReader r, string path, int expected)
    {
        int length = r.ReadInt32();
        if (length != expected) throw new BambaException($"{path}: a state array of {length} values where this model has {expected}");
        if (length < 0) return null;
        var values = new float[length];
        var bytes = r.ReadBytes(length * 4);
        if (bytes.Length != length * 4) throw new EndOfStreamException();
        bytes.AsSpan().CopyTo(System.Runtime.InteropServices.MemoryMarshal.AsBytes(values.AsSpan()));
        return values;
    }
}
