using Bamba.Training;

namespace Bamba.Backends.Cuda.Training;

/// <summary>
/// <see cref="Training.AdamW"/> on the GPU: float32 moments beside the float32 master weights of
/// <see cref="CudaParameters"/>, one <c>train_adamw</c> launch per parameter (decay differs per parameter), global-norm
/// clipping as <see cref="GradientClipping"/>. The host <see cref="Training.AdamW"/> holds the moments for checkpoints.
/// </summary>
public sealed class CudaAdamW : IDisposable
{
    private readonly CudaTrainOps _ops;
    private readonly CudaParameters _parameters;
    private readonly DeviceBuffer _first, _second, _partials;

    public CudaAdamW(CudaTrainOps ops, CudaParameters parameters, AdamW host)
    {
        _ops = ops;
        _parameters = parameters;
        Host = host;
        _first = ops.Device.AllocateZeroed(4 * parameters.Elements);
        _second = ops.Device.AllocateZeroed(4 * parameters.Elements);
        _partials = ops.Device.Allocate(CudaTrainOps.PartialBytes);
        foreach (var p in parameters.All)
        {
            ops.Device.Copy<float>(First(p), host.First[p.Name]);
            ops.Device.Copy<float>(Second(p), host.Second[p.Name]);
        }
    }

    public AdamW Host { get; }
    private AdamWOptions Options => Host.Options;

    private ulong First(Parameter p) => Offset(_first, p);
    private ulong Second(Parameter p) => Offset(_second, p);
    private ulong Offset(DeviceBuffer buffer, Parameter p) => buffer.Pointer + _parameters.ByteOffset(p);

    /// <summary>Scales the gradients when their global L2 norm exceeds <paramref name="maxNorm"/>; returns the norm before.</summary>
    public double ClipGlobalNorm(double maxNorm)
    {
        double norm = Math.Sqrt(_ops.SumOfSquares(_parameters.GradBuffer, _parameters.Elements, _partials.Pointer));
        if (maxNorm > 0 && norm > maxNorm) _ops.Scale(_parameters.GradBuffer, _parameters.Elements, (float)(maxNorm / (norm + 1e-6)));
        return norm;
    }

    public void Update(float lr)
    {
        Host.Step++;
        float b1 = Options.Beta1, b2 = Options.Beta2;
        float correction1 = 1f - MathF.Pow(b1, Host.Step), correction2 = 1f - MathF.Pow(b2, Host.Step);
        foreach (var p in _parameters.All.Where(p => p.Trainable)) // buffers (a router's correction bias) are carried, never updated
        {
            float decay = p.Decay && Options.WeightDecay > 0 ? 1f - lr * Options.WeightDecay : 1f;
            _ops.AdamW(_parameters.Value(p), _parameters.Grad(p), First(p), Second(p), p.Length, lr, decay, Options, correction1, correction2);
        }
        _parameters.RefreshCopies();
    }

    /// <summary>Device moments → the host optimizer (the master weights go through <see cref="CudaParameters.Download"/>).</summary>
    public void Download()
    {
        foreach (var p in _parameters.All)
        {
            _ops.Device.Copy<float>(Host.First[p.Name], First(p));
            _ops.Device.Copy<float>(Host.Second[p.Name], Second(p));
        }
    }

    public void Dispose()
    {
        _first.Dispose();
        _second.Dispose();
        _partials.Dispose();
    }
}
