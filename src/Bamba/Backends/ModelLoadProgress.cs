namespace Bamba.Backends;

/// <summary>How far a model's weights have gone up to the device: <see cref="Bytes"/> of <see cref="TotalBytes"/> stored bytes.</summary>
public readonly record struct ModelLoadProgress(long Bytes, long TotalBytes);
