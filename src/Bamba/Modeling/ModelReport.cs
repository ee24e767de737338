namespace Bamba.Modeling;

/// <summary>Sizes of a loaded model: parameters, stored bytes, and the hybrid cache's cost per sequence and per token.</summary>
public sealed record ModelReport(long Parameters, long WeightBytes, IReadOnlyList<string> DTypes, long StateBytesPerSequence, long KvBytesPerToken)
{
    public static ModelReport Create(BambaModel model)
    {
        var c = model.Config;
        var tensors = model.Store.Tensors.ToList();
        int mambaLayers = c.NumMambaLayers;
        long statePerLayer = (long)(c.MambaDConv - 1) * c.ConvDim + (long)c.MambaNHeads * c.MambaDHead * c.MambaDState;
        return new ModelReport(
            Parameters: tensors.Sum(t => t.ElementCount),
            WeightBytes: tensors.Sum(t => t.ByteLength),
            DTypes: tensors.Select(t => t.DType.ToString()).Distinct().Order().ToArray(),
            StateBytesPerSequence: 4 * mambaLayers * statePerLayer,
            KvBytesPerToken: 4L * 2 * c.NumAttentionLayers * c.NumKeyValueHeads * c.HeadDim);
    }
}
