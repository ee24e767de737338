using System.Text.Json.Nodes;
using Bamba.Configuration;

namespace Bamba.Architectures;

/// <summary>
/// One model family, described once: how its config.json maps onto the typed <see cref="BambaConfig"/> (field names,
/// the layer plan, multipliers) and what its tensors are called and shaped. Loading, the CPU model, training and
/// <c>info</c> all read a model through this description; adding a family is one new implementation here plus the
/// ops it newly needs (docs/architecture.md).
/// </summary>
public interface IArchitecture
{
    /// <summary>The <c>model_type</c> this family's config.json carries.</summary>
    string ModelType { get; }

    /// <summary>Maps the family's config fields (with transformers' defaults) onto the typed config.</summary>
    BambaConfig ReadConfig(ConfigFields fields);

    /// <summary>
    /// The family's own consistency checks between fields, run after the general value checks (sizes, RoPE, token
    /// ids), so that an absurd value is named as such first.
    /// </summary>
    void Check(BambaConfig config, ConfigFields fields) { }

    /// <summary>
    /// config.json for a checkpoint of this family. By default the file the config was read from with its dtype
    /// updated (training changes no other field), so the file stays the family's own.
    /// </summary>
    JsonObject WriteConfig(BambaConfig config) => BambaConfigWriter.FromSource(config);

    /// <summary>Every tensor of a model with this config, in the order transformers lists its parameters.</summary>
    IEnumerable<TensorSpec> Tensors(BambaConfig config);
}
