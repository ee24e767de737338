using Bamba.Backends.Cpu;
using Bamba.Configuration;

namespace Bamba.Modeling;

/// <summary>
/// The Mamba-2 mixer on the CPU: in_proj → (z, xBC, dt); causal conv + SiLU on xBC; the SSD scan with the
/// sequence's state; gated RMSNorm with z; out_proj. Padding rows are zeroed before in_proj and after the conv.
/// </summary>
internal static class MambaMixer
{
    public static void Forward(BambaConfig c, MambaWeights w, int layer, TokenBatch batch, float[] input, float[] output)
    {
        int rows = batch.Rows, inner = c.MambaIntermediate, convDim = c.ConvDim, heads = c.MambaNHeads;
        var x = ScratchArrays.Get("mamba.x", input.Length);
        input.CopyTo(x, 0);
        batch.ZeroPadding(x, c.HiddenSize, c.HiddenSize);
        var proj = ScratchArrays.Get("mamba.proj", rows * c.InProjDim);
        Linear.Forward(x, rows, w.InProj, w.InProjBias, proj);
        w.InProjDelta?.Add(x, rows, proj, batch.Adapters);

        var xbc = ScratchArrays.Get("mamba.xbc", rows * convDim);
        var dt = ScratchArrays.Get("mamba.dt", rows * heads);
        var y = ScratchArrays.Get("mamba.y", rows * inner);
        var shape = new SsdScan.Shape(heads, c.MambaDHead, c.MambaNGroups, c.MambaDState, c.MambaChunkSize);
        for (int run = 0; run < batch.Runs; run++)
        {
            int r0 = batch.Offset(run), len = batch.Length(run);
            var state = batch.States[run];
            CausalConv.Forward(proj.AsSpan(r0 * c.InProjDim + inner), c.InProjDim, len, state.Conv[layer],
                w.ConvWeight, w.ConvBias, c.MambaDConv, xbc.AsSpan(r0 * convDim, len * convDim));
            ComputeDt(c, w, proj, r0, len, dt);
        }
        Activations.SiluInPlace(xbc);
        batch.ZeroPadding(xbc, convDim, convDim);
        for (int run = 0; run < batch.Runs; run++)
        {
            int r0 = batch.Offset(run), len = batch.Length(run);
            SsdScan.Run(shape, xbc, r0 * convDim, convDim, len, dt, r0 * heads, w.A, w.D, batch.States[run].Ssm[layer], y, r0 * inner);
        }
        GateAndProject(c, w, proj, y, batch, output);
    }

    /// <summary><c>dt = clamp(softplus(dt_raw + dt_bias), time_step_limit)</c>.</summary>
    private static void ComputeDt(BambaConfig c, MambaWeights w, float[] proj, int r0, int len, float[] dt)
    {
        int heads = c.MambaNHeads, dtColumn = c.MambaIntermediate + c.ConvDim;
        float lo = (float)c.TimeStepLimitMin, hi = (float)c.TimeStepLimitMax;
        for (int r = r0; r < r0 + len; r++)
            for (int h = 0; h < heads; h++)
            {
                float v = Activations.Softplus(proj[r * c.InProjDim + dtColumn + h] + w.DtBias[h]);
                dt[r * heads + h] = Math.Clamp(v, lo, hi);
            }
    }

    private static void GateAndProject(BambaConfig c, MambaWeights w, float[] proj, float[] y, TokenBatch batch, float[] output)
    {
        int rows = batch.Rows;
        int inner = c.MambaIntermediate;
        var z = ScratchArrays.Get("mamba.z", rows * inner);
        for (int r = 0; r < rows; r++) proj.AsSpan(r * c.InProjDim, inner).CopyTo(z.AsSpan(r * inner));
        Norms.GatedRmsNorm(y, z, w.Norm, (float)c.RmsNormEps, c.MambaNormGroupSize);
        Linear.Forward(y, rows, w.OutProj, w.OutProjBias, output);
        w.OutProjDelta?.Add(y, rows, output, batch.Adapters);
    }
}
