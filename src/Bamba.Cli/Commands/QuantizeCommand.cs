using Bamba.Cli.Output;
using Bamba.Tokenization;
using Bamba.Weights.CompressedTensors;

namespace Bamba.Cli.Commands;

/// <summary>
/// <c>bamba quantize --model DIR --fp8 [--scheme dynamic|static] [--calibration FILE] --out DIR</c>: a float checkpoint
/// to compressed-tensors' FP8 format (<see cref="Fp8Quantizer"/>), which this engine, vLLM and llm-compressor read.
/// </summary>
internal sealed class QuantizeCommand : ICommand
{
    public string Name => "quantize";
    public string Summary => "quantize a model's Linear weights to FP8 (compressed-tensors format)";
    public IReadOnlyList<Flag> Flags { get; } =
    [
        new("model", "the float model directory (safetensors) to quantize", "DIR"),
        Flag.Switch("fp8", "FP8 e4m3 weights with a scale per output channel (the one format for now; required)"),
        new("scheme", "input activations: dynamic (per token at run time, FP8_DYNAMIC) or static (a calibrated scale per tensor, FP8)", "dynamic|static", "dynamic"),
        new("calibration", "static: a text file run through the model to measure each Linear's input range", "FILE"),
        new("out", "the directory to write (model.safetensors, config.json with quantization_config, tokenizer files)", "DIR"),
        LiveOutput.NoProgress,
    ];

    public IReadOnlyList<string> Examples { get; } =
    [
        "bamba quantize --model models/default --fp8 --out default-fp8",
        "bamba quantize --model models/default --fp8 --scheme static --calibration calib.txt --out default-fp8-static",
    ];

    public int Run(CommandLine args, TextWriter stdout)
    {
        string model = args.Required("model");
        if (!args.Switch("fp8")) throw new BambaException("quantize needs --fp8 (FP8 is the one format it writes for now)");
        string scheme = args.Choice("scheme", "dynamic", "dynamic", "static");
        string? calibrationFile = args.String("calibration");
        string output = args.Required("out");
        bool live = LiveOutput.Enabled(args);
        args.EnsureAllUsed();
        if (scheme == "static" && calibrationFile is null) throw new BambaException("--scheme static needs --calibration FILE (a text to measure input ranges on)");
        if (scheme == "dynamic" && calibrationFile is not null) throw new BambaException("--calibration is for --scheme static (dynamic scales are measured at run time)");
        if (Path.GetFullPath(output) == Path.GetFullPath(model)) throw new BambaException("--out must not be the --model directory");
        int[]? tokens = calibrationFile is null ? null : CalibrationTokens(model, calibrationFile);
        var inputs = scheme == "static" ? ActivationScheme.Static : ActivationScheme.Dynamic;
        CountedProgress.Run(live, "quantize", report => Fp8Quantizer.Write(model, output, inputs, tokens, (stage, done, total) => report(stage, done, total)));
        stdout.WriteLine($"wrote {output}");
        return 0;
    }

    private static int[] CalibrationTokens(string model, string file)
    {
        if (!File.Exists(file)) throw new BambaException($"--calibration: {file} not found");
        if (!File.Exists(Path.Combine(model, "tokenizer.json")))
            throw new BambaException($"--calibration: {model} has no tokenizer.json to encode the text with");
        string text = File.ReadAllText(file);
        return HfTokenizer.Load(model).Encode(text, addSpecialTokens: true);
    }
}
