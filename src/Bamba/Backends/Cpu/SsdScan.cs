namespace Bamba.Backends.Cpu;

/// <summary>
/// The Mamba-2 state-space scan (SSD), chunked as in the Mamba-2 paper (section 6): within a chunk of Q steps the
/// output is a masked "attention" <c>y[t] = Σ_{s≤t} exp(a(s,t]) (C[t]·B[s]) dt[s] x[s]</c>, and across chunks only the
/// state <c>S[p, n]</c> is carried: <c>S ← exp(a(c0−1, last]) S + Σ_s exp(a(s, last]) dt[s] x[s] ⊗ B[s]</c>, where
/// <c>a(s, t] = Σ_{r=s+1..t} dt[r]·A</c>. A one-step run is exactly the recurrent update
/// <c>S ← exp(dt·A) S + dt x ⊗ B; y = S·C + D x</c>, which decode runs as <see cref="SsdStep"/> in one pass over the state.
/// Decay sums are accumulated per pair, never as differences of prefix sums, to stay exact in float32.
/// Each chunk is four small matrix products per head on <see cref="MicroKernel"/> (see <see cref="SsdChunk"/>), heads
/// spread over <see cref="CpuWorkers"/>.
/// </summary>
public static class SsdScan
{
    /// <summary>Layout of one run of T steps for one sequence.</summary>
    public readonly record struct Shape(int Heads, int HeadDim, int Groups, int StateSize, int ChunkSize)
    {
        public int Inner => Heads * HeadDim;
        public int HeadsPerGroup => Heads / Groups;
    }

    /// <param name="xbc">[T, stride]: x at column 0, B at <c>Inner</c>, C at <c>Inner + Groups·StateSize</c>.</param>
    /// <param name="dt">[T, Heads] time steps after softplus and clamping.</param>
    /// <param name="state">[Heads, HeadDim, StateSize], updated in place.</param>
    /// <param name="y">[T, Inner] output, including the D skip term.</param>
    public static unsafe void Run(Shape shape, float[] xbc, int xbcOffset, int stride, int steps, float[] dt, int dtOffset,
        float[] a, float[] d, float[] state, float[] y, int yOffset)
    {
        if (steps == 1) { SsdStep.Run(shape, xbc, xbcOffset, dt, dtOffset, a, d, state, y, yOffset); return; }
        if (xbc.Length < xbcOffset + (long)(steps - 1) * stride + shape.Inner + 2 * shape.Groups * shape.StateSize
            || dt.Length < dtOffset + steps * shape.Heads || y.Length < yOffset + steps * shape.Inner
            || state.Length < shape.Heads * shape.HeadDim * shape.StateSize || a.Length < shape.Heads || d.Length < shape.Heads)
            throw new ArgumentException("SsdScan: buffer sizes do not match the shape");
        fixed (float* xp = xbc, dtp = dt, ap = a, dp = d, sp = state, yp = y)
            for (int c0 = 0; c0 < steps; c0 += shape.ChunkSize)
            {
                var chunk = new SsdChunk(shape, xp + xbcOffset + (long)c0 * stride, stride, Math.Min(shape.ChunkSize, steps - c0),
                    dtp + dtOffset + c0 * shape.Heads, ap, dp, sp, yp + yOffset + (long)c0 * shape.Inner);
                chunk.Run();
            }
    }
}
