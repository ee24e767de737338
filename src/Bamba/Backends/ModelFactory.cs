using Bamba.Backends.Cuda;
using Bamba.Generation;
using Bamba.Modeling;

namespace Bamba.Backends;

/// <summary>Where a model runs: the CPU reference, a CUDA GPU, or the GPU when one is usable (auto).</summary>
public enum ComputeDevice { Cpu, Cuda, Auto }

/// <summary>Loads a model directory onto the device a user asked for (<c>--device cpu|cuda|auto</c>).</summary>
public static class ModelFactory
{
    public static ComputeDevice ParseDevice(string name) => name switch
    {
        "cpu" => ComputeDevice.Cpu,
        "cuda" => ComputeDevice.Cuda,
        "auto" => ComputeDevice.Auto,
        _ => throw new BambaException($"--device must be cpu, cuda or auto, got '{name}'"),
    };

    /// <summary>Auto becomes CUDA when a device opens here, else the CPU.</summary>
    public static ComputeDevice Resolve(ComputeDevice device) =>
        device != ComputeDevice.Auto ? device : CudaDevice.UnavailableReason() is null ? ComputeDevice.Cuda : ComputeDevice.Cpu;

    /// <summary>
    /// The model on <paramref name="device"/>; CUDA runs in <paramref name="precision"/> (bf16 by default, fp32 for
    /// parity). Without a usable GPU, <c>cuda</c> throws "CUDA is not available: …".
    /// </summary>
    public static ISequenceModel Load(string directory, ComputeDevice device, CudaPrecision precision = CudaPrecision.BFloat16) =>
        Load(directory, device, precision, null, []);

    /// <summary>The model with a PEFT LoRA adapter applied unmerged, on the CPU or the GPU.</summary>
    public static ISequenceModel Load(string directory, ComputeDevice device, CudaPrecision precision, string? lora) =>
        Load(directory, device, precision, lora, []);

    /// <summary>
    /// The model with PEFT LoRA adapters applied unmerged, on the CPU or the GPU: <paramref name="lora"/> to every
    /// sequence, each of <paramref name="picked"/> to the sequences that pick it by name (<see cref="SequenceState.Adapter"/>).
    /// <paramref name="progress"/> hears how far the weights have gone up to the GPU (the CPU maps the file: nothing to
    /// wait for).
    /// </summary>
    public static ISequenceModel Load(string directory, ComputeDevice device, CudaPrecision precision, string? lora, IReadOnlyList<AdapterPath> picked,
        IProgress<ModelLoadProgress>? progress = null)
    {
        if (lora is null && picked.Count == 0)
            return Resolve(device) == ComputeDevice.Cuda ? CudaModel.Load(directory, precision, progress: progress) : BambaModel.Load(directory);
        if (!Directory.Exists(directory)) throw new BambaException($"{directory}: model directory not found");
        var config = Configuration.BambaConfigReader.Load(Path.Combine(directory, "config.json"));
        var shared = lora is null ? null : Training.Lora.LoraFiles.ReadDeltas(lora, config);
        var named = picked.Select(p => new NamedAdapter(p.Name, Training.Lora.LoraFiles.ReadDeltas(p.Directory, config))).ToArray();
        var adapters = new ModelAdapters(shared, named);
        return Resolve(device) == ComputeDevice.Cuda ? CudaModel.Load(directory, adapters, precision, progress: progress) : BambaModel.Load(directory, adapters);
    }
}

/// <summary>A LoRA adapter's directory and the name requests pick it by (<c>--lora NAME=DIR</c>).</summary>
public sealed record AdapterPath(string Name, string Directory);
