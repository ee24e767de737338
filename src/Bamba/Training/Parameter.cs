namespace Bamba.Training;

/// <summary>
/// One trainable tensor under its Hugging Face name: float32 master values, the gradient being accumulated,
/// and whether AdamW decays it (matrices and embeddings yes; norms, biases, A_log, D and dt_bias no).
/// </summary>
public sealed class Parameter
{
    public Parameter(string name, long[] shape, bool decay)
    {
        Name = name;
        Shape = shape;
        Decay = decay;
        long count = shape.Aggregate(1L, (a, b) => a * b);
        Value = new float[checked((int)count)];
        Grad = new float[Value.Length];
    }

    public string Name { get; }
    public long[] Shape { get; }
    public bool Decay { get; }
    public float[] Value { get; }
    public float[] Grad { get; }
    public int Length => Value.Length;
    public int Rows => (int)Shape[0];
    public int Columns => Shape.Length > 1 ? (int)(Length / Shape[0]) : 1;
}
