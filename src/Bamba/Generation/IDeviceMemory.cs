using Bamba.Generation.Scheduling;

namespace Bamba.Generation;

/// <summary>
/// A model whose sequences live in an accelerator's memory: what a server sizes its slots and KV budget from
/// (<see cref="MemoryPlan"/>). A model without it runs in host memory, where the options are taken as given.
/// </summary>
public interface IDeviceMemory
{
    string DeviceName { get; }

    /// <summary>The device memory free now and what each sequence and step takes of it.</summary>
    DeviceMemory Memory();
}
