namespace Bamba.Training.Lora;

/// <summary>
/// One adapted linear layer: the frozen base weight W [out, in] and the trained A [r, in] and B [out, r], named as
/// PEFT saves them (<c>base_model.model.MODULE.lora_A.weight</c>), so that the layer computes
/// <c>x·Wᵀ + (alpha/r)·(x·Aᵀ)·Bᵀ</c>.
/// </summary>
public sealed class LoraAdapter
{
    public LoraAdapter(int index, Parameter baseWeight, int rank)
    {
        Index = index;
        Base = baseWeight;
        Module = baseWeight.Name.EndsWith(".weight", StringComparison.Ordinal) ? baseWeight.Name[..^".weight".Length] : baseWeight.Name;
        A = new Parameter(TensorName(Module, "lora_A"), [rank, baseWeight.Columns], decay: true);
        B = new Parameter(TensorName(Module, "lora_B"), [baseWeight.Rows, rank], decay: true);
    }

    /// <summary>Its place in the set (it keys the adapter's dropout masks).</summary>
    public int Index { get; }
    public Parameter Base { get; }
    /// <summary>The module's name in transformers (the base weight's name less <c>.weight</c>).</summary>
    public string Module { get; }
    public Parameter A { get; }
    public Parameter B { get; }
    public int Rank => A.Rows;

    public static string TensorName(string module, string which) => $"base_model.model.{module}.{which}.weight";
}
