using Bamba.Cli.Output;
using Bamba.Weights;
using Bamba.Weights.Gguf;

namespace Bamba.Cli.Commands;

/// <summary>
/// <c>bamba convert --model DIR|FILE.gguf --to gguf --type f32|f16|bf16|q8_0|q4_0|q4_k_m|q6_k --out FILE.gguf</c>, or
/// <c>--to hf [--type f32|bf16|f16] --out DIR</c>: a model directory or GGUF file to llama.cpp's format (with its
/// quantizer's type choices), or back to an HF directory. <c>--preset cpu-0.5b</c> instead of <c>--model</c>
/// converts a synthetic model of random weights (benchmarks).
/// </summary>
internal sealed class ConvertCommand : ICommand
{
    public string Name => "convert";
    public string Summary => "convert a model to GGUF (f32 … q4_k_m) or a GGUF back to an HF directory";
    public IReadOnlyList<Flag> Flags { get; } =
    [
        new("model", "the model directory or GGUF file to convert", "DIR|FILE.gguf"),
        new("preset", "instead of --model: a synthetic model of random weights (benchmarks)", "cpu-0.5b"),
        new("to", "the output format: a GGUF file or an HF directory", "gguf|hf", "gguf"),
        new("type", "tensor type: f32, f16, bf16, q8_0, q4_0, q4_k_m, q6_k for GGUF; f32, bf16, f16 for HF", "TYPE", "f16 (gguf), f32 (hf)"),
        new("out", "the file (GGUF) or directory (HF) to write", "FILE.gguf|DIR"),
        LiveOutput.NoProgress,
    ];

    public IReadOnlyList<string> Examples { get; } =
    [
        "bamba convert --model models/default --type q8_0 --out default-q8_0.gguf",
        "bamba convert --model default-q8_0.gguf --to hf --out default-hf",
    ];

    public int Run(CommandLine args, TextWriter stdout)
    {
        string? preset = args.String("preset");
        string model = preset is null ? args.Required("model") : args.String("model") is null ? ""
            : throw new BambaException("give --model or --preset, not both");
        string to = args.Choice("to", "gguf", "gguf", "hf");
        string output = args.Required("out");
        string type = args.String("type") ?? (to == "gguf" ? "f16" : "f32");
        bool live = LiveOutput.Enabled(args);
        args.EnsureAllUsed();
        using var synthetic = preset is null ? null : new SyntheticSource(preset);
        if (synthetic is not null) model = synthetic.Directory;
        if (to == "gguf")
        {
            var fileType = GgufFileType.Parse(type);
            CountedProgress.Run(live, "convert", report =>
                WriteAtomically(output, temp => ModelConversion.ToGguf(model, temp, fileType, (done, total) => report("tensors", done, total))));
        }
        else
        {
            var dtype = type switch
            {
                "f32" => DType.F32,
                "bf16" => DType.BF16,
                "f16" => DType.F16,
                _ => throw new BambaException($"--type for --to hf must be f32, bf16 or f16, got '{type}'"),
            };
            CountedProgress.Run(live, "convert", report => ModelConversion.ToHf(model, output, dtype, (done, total) => report("tensors", done, total)));
        }
        stdout.WriteLine($"wrote {output}");
        return 0;
    }

    /// <summary>A synthetic model of random bf16 weights (<c>--preset cpu-0.5b</c>), written to a temporary directory for the conversion.</summary>
    private sealed class SyntheticSource : IDisposable
    {
        public SyntheticSource(string preset)
        {
            var config = Benchmarks.SyntheticModel.Preset(preset);
            Directory = System.IO.Directory.CreateTempSubdirectory("bamba-convert-").FullName;
            Benchmarks.SyntheticModel.Write(config, Directory, DType.BF16);
        }

        public string Directory { get; }
        public void Dispose() => System.IO.Directory.Delete(Directory, recursive: true);
    }

    /// <summary>Writes beside the target and renames at the end, so a failed conversion leaves no half file.</summary>
    private static void WriteAtomically(string output, Action<string> write)
    {
        string temp = output + ".partial";
        try
        {
            write(temp);
            File.Move(temp, output, overwrite: true);
        }
        catch (IOException e) { File.Delete(temp); throw new BambaException($"{output}: {e.Message}"); }
        catch { File.Delete(temp); throw; }
    }
}
