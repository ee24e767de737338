using Bamba.Architectures;
using Bamba.Configuration;
using Bamba.Training;
using Bamba.Training.Lora;
using Bamba.Weights;

namespace Bamba.Cli.Commands;

/// <summary>
/// <c>bamba merge-lora --model DIR --lora DIR --out DIR</c>: adds (alpha/r)·B·A of a PEFT LoRA adapter to its base
/// matrices (in float32) and writes a plain Hugging Face checkpoint in the base's dtype, with its tokenizer.
/// </summary>
internal sealed class MergeLoraCommand : ICommand
{
    public string Name => "merge-lora";
    public string Summary => "merge a PEFT LoRA adapter into its base model, writing an HF checkpoint";
    public IReadOnlyList<Flag> Flags { get; } =
    [
        new("model", "the base model directory", "DIR"),
        new("lora", "the adapter: adapter_config.json + adapter_model.safetensors (PEFT's format, or bamba train --lora-rank)", "DIR"),
        new("out", "the merged model's directory (must not exist yet)", "DIR"),
    ];
    public IReadOnlyList<string> Examples { get; } = ["bamba merge-lora --model models/default --lora adapter --out merged"];

    public int Run(CommandLine args, TextWriter stdout)
    {
        string modelDir = args.Required("model"), loraDir = args.Required("lora"), output = args.Required("out");
        args.EnsureAllUsed();
        if (Directory.Exists(output) && Directory.EnumerateFileSystemEntries(output).Any())
            throw new BambaException($"--out {output} already exists and is not empty: choose a new directory");
        var config = BambaConfigReader.Load(Path.Combine(modelDir, "config.json"));
        ParameterSet parameters;
        DType dtype;
        using (var store = WeightStore.Open(modelDir))
        {
            parameters = ParameterSet.FromStore(config, store);
            dtype = store.Get(parameters[TensorRole.FinalNorm].Name).DType == DType.BF16 ? DType.BF16 : DType.F32;
        }
        var lora = LoraFiles.Load(loraDir, parameters);
        lora.MergeInto();
        Checkpoint.SaveModel(output, config, dtype, parameters, modelDir, Path.Combine(modelDir, "generation_config.json"));
        stdout.WriteLine($"merged {lora.Adapters.Count} adapted matrices (r={lora.Settings.Rank}, alpha={lora.Settings.Alpha}) into {output}");
        return 0;
    }
}
