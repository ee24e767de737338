using Bamba.Architectures;
using Bamba.Backends;
using Bamba.Cli.Output;
using Bamba.Cli.Training;
using Bamba.Backends.Cuda;
using Bamba.Backends.Cuda.Training;
using Bamba.Configuration;
using Bamba.Tokenization;
using Bamba.Training;
using Bamba.Training.Data;
using Bamba.Training.Lora;
using Bamba.Weights;

namespace Bamba.Cli.Commands;

/// <summary>
/// <c>bamba train (--model DIR | --config FILE) --data FILE --out DIR [--device cpu|cuda|auto] [--precision bf16|fp32] [...]</c>:
/// trains on the CPU or one GPU and writes a Hugging Face checkpoint to DIR (atomically), which <c>--resume</c>
/// continues exactly (on either device: checkpoints hold the float32 master weights and AdamW moments).
/// </summary>
internal sealed class TrainCommand : ICommand
{
    public string Name => "train";
    public string Summary => "train or fine-tune a model on .txt/.jsonl data (CPU or CUDA), writing HF checkpoints";
    public IReadOnlyList<Flag> Flags { get; } =
    [
        new("model", "fine-tune this checkpoint (its tokenizer files are used and copied)", "DIR"),
        new("config", "train from scratch: a transformers config.json (model_type bamba)", "FILE"),
        new("data", ".jsonl ({\"text\": ...}, {\"ids\": [...]}, {\"messages\": [...]} or {\"prompt\": ..., \"completion\": ...} per line) or .txt (documents separated by blank lines)", "FILE"),
        new("train-on", "which tokens of chat and prompt/completion lines carry the loss: assistant (and completion) or all", "WHICH", "assistant"),
        Flag.Switch("skip-bad-lines", "leave out (and count) data lines that are not valid instead of stopping"),
        new("out", "the checkpoint directory (written atomically)", "DIR"),
        new("tokenizer", "where tokenizer.json comes from", "DIR", "the model's"),
        new("steps", "optimizer steps in total (with --resume: the new total)", "N", "100"),
        new("batch-tokens", "tokens per packed row (one micro-batch)", "N", "1024"),
        new("grad-accum", "rows accumulated per optimizer step", "N", "1"),
        new("lr", "peak learning rate", "X", "3e-4"),
        new("warmup", "linear warmup steps, then cosine decay to 0.1·lr", "N", "min(100, steps/20)"),
        new("weight-decay", "AdamW decoupled weight decay", "X", "0.1"),
        new("max-grad-norm", "global gradient-norm clipping (0 = off)", "X", "1.0"),
        new("router-aux-loss-coef", "Granite 4.0 H experts: add the router load-balancing loss × X (0 = off)", "X", "the config's router_aux_loss_coef if its output_router_logits is true, else 0"),
        new("seed", "initialisation, held-out split and data order", "S", "0"),
        new("eval-fraction", "share of documents held out", "F", "0.05"),
        new("eval-tokens", "at most this many held-out tokens per evaluation", "N", "65536"),
        new("eval-every", "also evaluate the held-out loss every N steps and at step 0 (0 = only at the end)", "N", "0"),
        new("save-every", "also checkpoint every N steps (0 = only at the end)", "N", "0"),
        .. ModelOptions.Device,
        Flag.Switch("resume", "continue the checkpoint in --out with its saved settings"),
        LiveOutput.NoProgress,
        new("lora-rank", "train LoRA adapters of rank R on the frozen --model, saved in PEFT's format", "R"),
        new("lora-alpha", "LoRA scale numerator: updates are scaled by alpha/R", "A", "2·R"),
        new("lora-dropout", "dropout on the adapters' input", "P", "0"),
        new("lora-targets", "comma-separated: in_proj,out_proj,q_proj,k_proj,v_proj,o_proj,gate_up,down", "LIST", "all of them"),
        Flag.Switch("recompute-activations", "keep only each layer's input and recompute its activations in the backward: one extra forward for far less memory, same results"),
    ];
    public IReadOnlyList<string> Examples { get; } =
    [
        "bamba train --config scripts/default-model-config.json --tokenizer models/default --data corpus.jsonl --out run --steps 800",
        "bamba train --model models/default --data chat.jsonl --out sft --steps 200 --lr 1e-3",
        "bamba train --data corpus.jsonl --out run --resume --steps 1200",
        "bamba train --model models/default --data chat.jsonl --out adapter --lora-rank 8 --lora-targets q_proj,v_proj,in_proj",
    ];

    private sealed record Setup(ParameterSet Parameters, AdamW Optimizer, TrainerState State, DType WeightDType,
        string? TokenizerDir, string? GenerationConfig, LoraSet? Lora = null, string? BaseModel = null);

    public int Run(CommandLine args, TextWriter stdout)
    {
        string data = args.Required("data");
        // Before any work: --out must be new, empty or our own checkpoint, and writable.
        string output = Checkpoint.Prepare(args.Required("out"));
        bool resume = args.Switch("resume");
        var device = ModelFactory.ParseDevice(args.Choice("device", "cpu", "cpu", "cuda", "auto"));
        var precision = ModelOptions.Precision(args);
        var options = new AdamWOptions(WeightDecay: args.Float("weight-decay", 0.1f, 0f));
        var setup = resume ? Resume(args, output, data, options) : Start(args, output, data, options);
        // Scheduling only (not the math): a resumed run keeps the checkpoint's values unless given new ones.
        int evalTokens = args.Int("eval-tokens", setup.State.EvalTokens, min: 0);
        int saveEvery = args.Int("save-every", setup.State.SaveEvery, min: 0);
        int evalEvery = args.Int("eval-every", 0, min: 0);
        bool live = LiveOutput.Enabled(args);
        // Memory, not math (the gradients are the same bit for bit): chosen per invocation, a resumed run may differ.
        bool recompute = args.Switch("recompute-activations");
        setup = setup with { State = setup.State with { EvalTokens = evalTokens, SaveEvery = saveEvery } };
        args.EnsureAllUsed();
        // Before any data is read: --device cuda without a usable GPU is a one-line error.
        using var gpu = ModelFactory.Resolve(device) == ComputeDevice.Cuda ? CudaDevice.Open() : null;

        var config = setup.Parameters.Config;
        var tokenizer = setup.TokenizerDir is { } dir && File.Exists(Path.Combine(dir, "tokenizer.json")) ? HfTokenizer.Load(dir) : null;
        var corpus = TokenizedCorpus.Load(data, tokenizer, config.VocabSize, setup.State.EvalFraction, setup.State.Seed,
            setup.State.TrainOn, setup.State.SkipBadLines);
        if (corpus.SkippedLines.Count > 0)
            Console.Error.WriteLine($"train: skipped {corpus.SkippedLines.Count} bad line(s) of {data}; the first: {corpus.SkippedLines[0]}");
        string trained = setup.Lora is { } lora
            ? $"LoRA r={lora.Settings.Rank} on {lora.Adapters.Count} matrices: {lora.Parameters.Sum(p => (long)p.Length):N0} trained parameters over a frozen {setup.Parameters.Count:N0}"
            : $"{setup.Parameters.Count:N0} parameters";
        if (setup.State.RouterAuxLossCoef > 0) trained += $", router auxiliary loss × {setup.State.RouterAuxLossCoef:G6}";
        using var stop = new StopOnCtrlC();
        var (finished, final) = TrainingDisplay.Run(live, setup.State.Step, setup.State.TotalSteps, progress =>
        {
            progress.Message($"train: {trained}, {corpus.Train.Count} training / {corpus.Eval.Count} held-out documents " +
                             $"({corpus.Train.Sum(d => (long)d.Length):N0} / {corpus.Eval.Sum(d => (long)d.Length):N0} tokens), from step {setup.State.Step}");
            using var engine = CreateEngine(gpu, precision, setup, recompute, progress);
            var trainer = new Trainer(engine, corpus, setup.State)
            {
                OutputDirectory = output,
                SaveEvery = saveEvery,
                EvalTokens = evalTokens,
                EvalEvery = evalEvery,
                Progress = progress,
                Stop = stop.Token,
                // Tokenizer files are read from the source before the swap replaces the output directory.
                CheckpointContents = state => new Checkpoint.Contents(config, setup.WeightDType, setup.Parameters, setup.Optimizer, state,
                    setup.TokenizerDir, setup.GenerationConfig, setup.Lora, setup.BaseModel)
                    { Extras = dir => RunFiles.Write(dir, state.LogHistory), ExtraFiles = RunFiles.Names },
            };
            return (trainer.Run(), trainer.State);
        });
        if (!finished)
        {
            stdout.WriteLine($"stopped at step {final.Step} of {final.TotalSteps}: checkpoint in {output} (continue with --resume)");
            return StopOnCtrlC.ExitCode;
        }
        stdout.WriteLine(final.EvalLoss is double e
            ? $"trained {final.Step} steps: loss {final.LastLoss:F4}, eval loss {e:F4}, eval perplexity {Math.Exp(e):F2}; checkpoint in {output}"
            : $"trained {final.Step} steps: loss {final.LastLoss:F4}; checkpoint in {output}");
        return 0;
    }

    /// <summary>The GPU engine when a GPU was opened (cuda, or auto with a usable GPU), else the CPU one.</summary>
    private static ITrainingEngine CreateEngine(CudaDevice? gpu, CudaPrecision precision, Setup setup, bool recompute, ITrainingProgress progress)
    {
        if (recompute) progress.Message("train: recomputing each layer's activations in the backward (--recompute-activations)");
        if (gpu is null) return new CpuTrainingEngine(new TrainableModel(setup.Parameters, setup.Lora, recompute), setup.Optimizer);
        string mode = (precision, setup.Lora) switch
        {
            (CudaPrecision.BFloat16, null) => "bf16 GEMMs with fp32 master weights",
            (CudaPrecision.BFloat16, _) => "LoRA: frozen bf16 base, fp32 adapters and moments, bf16 GEMMs",
            (_, null) => "fp32",
            _ => "LoRA: frozen fp32 base, fp32 adapters",
        };
        progress.Message($"train: on {gpu.Name}, {mode}");
        return new CudaTrainingEngine(gpu, setup.Parameters, setup.Optimizer, precision, setup.Lora, recompute);
    }

    private static Setup Start(CommandLine args, string output, string data, AdamWOptions options)
    {
        if (CheckpointDirectory.IsOurs(output))
            throw new BambaException($"--out {output} already holds a training checkpoint: pass --resume to continue it, or choose another --out");
        string? modelDir = args.String("model"), configFile = args.String("config");
        if ((modelDir is null) == (configFile is null)) throw new BambaException("train: give exactly one of --model DIR or --config FILE");
        ulong seed = (ulong)(args.Long("seed") ?? 0);
        ParameterSet parameters;
        DType dtype;
        string? tokenizerDir = args.String("tokenizer");
        string? generationConfig = null;
        if (modelDir is not null)
        {
            var config = BambaConfigReader.Load(Path.Combine(modelDir, "config.json"));
            using var store = WeightStore.Open(modelDir);
            parameters = ParameterSet.FromStore(config, store);
            dtype = store.Get(parameters[TensorRole.FinalNorm].Name).DType == DType.BF16 ? DType.BF16 : DType.F32;
            tokenizerDir ??= modelDir;
            generationConfig = Path.Combine(modelDir, "generation_config.json");
        }
        else
        {
            var config = BambaConfigReader.Load(configFile!);
            dtype = config.Dtype == "bfloat16" ? DType.BF16 : DType.F32;
            parameters = ParameterSet.Initialize(config, seed);
        }
        var lora = args.Has("lora-rank") ? StartLora(args, parameters, modelDir, seed) : null;
        int steps = args.Int("steps", 100, min: 1);
        var state = new TrainerState
        {
            TotalSteps = steps,
            Seed = seed,
            DataFile = Path.GetFullPath(data),
            BatchTokens = args.Int("batch-tokens", 1024, min: 2),
            GradientAccumulation = args.Int("grad-accum", 1, min: 1),
            LearningRate = args.Float("lr", 3e-4f, 0f),
            WarmupSteps = args.Int("warmup", Math.Max(1, Math.Min(100, steps / 20)), min: 0),
            WeightDecay = options.WeightDecay,
            MaxGradNorm = args.Float("max-grad-norm", 1f, 0f),
            RouterAuxLossCoef = RouterAuxLoss.Coefficient(parameters.Config,
                args.Has("router-aux-loss-coef") ? ExactDouble(args.Float("router-aux-loss-coef", 0f, 0f)) : null),
            EvalFraction = Math.Round(args.Float("eval-fraction", 0.05f, 0f, 0.9f), 6), // the float flag, without float noise
            TrainOn = args.Choice("train-on", "assistant", "assistant", "all") == "all" ? TrainOn.All : TrainOn.Assistant,
            SkipBadLines = args.Switch("skip-bad-lines"),
        };
        state.Validate();
        var optimizer = lora is null ? new AdamW(parameters, options) : new AdamW(lora.Parameters, options);
        return new Setup(parameters, optimizer, state, dtype, tokenizerDir, generationConfig, lora, modelDir is null ? null : Path.GetFullPath(modelDir));
    }

    /// <summary>A float flag's value as written (0.001, not 0.0010000000474974513).</summary>
    private static double ExactDouble(float value) =>
        double.Parse(value.ToString("R", System.Globalization.CultureInfo.InvariantCulture), System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>Fresh adapters (A random, B zero) over the frozen model, from the --lora-* flags.</summary>
    private static LoraSet StartLora(CommandLine args, ParameterSet parameters, string? modelDir, ulong seed)
    {
        if (modelDir is null) throw new BambaException("train: --lora-rank adapts an existing model: pass --model DIR, not --config");
        var settings = LoraSettings.Parse(args.Int("lora-rank", 0, min: 1), args.Has("lora-alpha") ? args.Float("lora-alpha", 0f, 0f) : null,
            args.Float("lora-dropout", 0f, 0f, 0.99f), args.String("lora-targets"));
        var lora = new LoraSet(parameters, settings);
        lora.Initialize(seed);
        return lora;
    }

    /// <summary>Continues the checkpoint in --out with its saved settings; --steps may extend the run.</summary>
    private static Setup Resume(CommandLine args, string output, string data, AdamWOptions options)
    {
        foreach (var flag in new[] { "model", "config", "seed", "batch-tokens", "grad-accum", "lr", "warmup", "weight-decay", "eval-fraction", "max-grad-norm", "router-aux-loss-coef", "tokenizer",
                     "train-on", "skip-bad-lines", "lora-rank", "lora-alpha", "lora-dropout", "lora-targets" })
            if (args.Has(flag)) throw new BambaException($"train --resume: --{flag} comes from the checkpoint in {output}; leave it out");
        var setup = LoraFiles.IsAdapter(output) ? ResumeLora(output, options) : ResumeFull(output, options);
        var state = setup.State;
        if (Path.GetFullPath(data) != state.DataFile)
            throw new BambaException($"train --resume: --data {data} differs from the checkpoint's data file {state.DataFile}");
        int steps = args.Int("steps", state.TotalSteps, min: state.Step);
        return setup with { State = state with { TotalSteps = steps } };
    }

    private static Setup ResumeFull(string output, AdamWOptions options)
    {
        var (parameters, optimizer, state, dtype) = Checkpoint.Load(output, options);
        return new Setup(parameters, optimizer, state, dtype, output, Path.Combine(output, "generation_config.json"));
    }

    private static Setup ResumeLora(string output, AdamWOptions options)
    {
        var (parameters, lora, optimizer, state, dtype, baseModel) = Checkpoint.LoadLora(output, options);
        return new Setup(parameters, optimizer, state, dtype, output, null, lora, baseModel);
    }
}
