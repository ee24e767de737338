namespace Bamba.Training;

/// <summary>
/// One trainable tensor under its Hugging Face name: float32 master values, the gradient being accumulated,
/// whether AdamW decays it (matrices and embeddings yes; norms, biases, A_log, D and dt_bias no), and whether it is
/// trained at all (a buffer such as Nemotron-H's router correction bias is carried, never updated).
/// </summary>
public sealed class Parameter
{
    public Parameter(string name, long[] shape, bool decay, bool trainable = true)
    {
        Name = name;
        Shape = shape;
        Decay = decay;
        Trainable = trainable;
        long count = shape.Aggregate(1L, (a, b) => a * b);
        Value = new float[checked((int)count)];
        Grad = new float[Value.Length];
    }

    public string Name { get; }
    public long[] Shape { get; }
    public bool Decay { get; }
    public bool Trainable { get; }
    /// <summary>Frozen under LoRA: no weight gradient is computed for it and the optimizer never sees it.</summary>
    public bool Frozen { get; set; }
    public float[] Value { get; }
    public float[] Grad { get; }
    public int Length => Value.Length;
    public int Rows => (int)Shape[0];
    public int Columns => Shape.Length > 1 ? (int)(Length / Shape[0]) : 1;

    /// <summary>The whole tensor as a <see cref="ParameterSlice"/>.</summary>
    public ParameterSlice Whole => new(this, 0, Length);
}

/// <summary>
/// A contiguous part of a parameter that one op reads as its own matrix: the gate or up half of a fused gate|up
/// matrix, or one expert of a stacked [E, R, C] tensor. Gradients land in the same part of the parameter's gradient.
/// </summary>
public readonly record struct ParameterSlice(Parameter Parameter, int Offset, int Length)
{
    public Span<float> Value => Parameter.Value.AsSpan(Offset, Length);
    public Span<float> Grad => Parameter.Grad.AsSpan(Offset, Length);
}
