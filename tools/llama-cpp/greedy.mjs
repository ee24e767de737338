// llama.cpp (node-llama-cpp's prebuilt CPU binary) as bamba's oracle and speed peer: greedy generation from token
// ids on a GGUF file, timed. Prints one JSON object:
//   {"llama_cpp": "<release>", "tokens": [...], "prefill_ms": .., "decode_ms": .., "prompt_tokens": .., "new_tokens": ..}
// usage: node greedy.mjs --model FILE.gguf --prompt 1,2,3 [--new 24] [--threads 2] [--warm 1]
// --warm 1 runs the prompt and a few tokens once before the timed run (the weights' pages mapped, the threads started),
// as bamba's benchmark warms up before it measures.
import { getLlama, LlamaLogLevel } from "node-llama-cpp";
import { readFileSync } from "node:fs";

function parseArgs(argv) {
    const args = { new: "24", threads: "2", warm: "0" };
    for (let i = 0; i < argv.length; i += 2) {
        if (!argv[i].startsWith("--") || argv[i + 1] === undefined) throw new Error(`bad argument '${argv[i]}'`);
        args[argv[i].slice(2)] = argv[i + 1];
    }
    if (!args.model) throw new Error("--model FILE.gguf is required");
    return args;
}

try {
    const args = parseArgs(process.argv.slice(2));
    const info = JSON.parse(readFileSync(new URL("./node_modules/node-llama-cpp/llama/llama.cpp.info.json", import.meta.url)));
    const llama = await getLlama({ gpu: false, build: "never", logLevel: LlamaLogLevel.error });
    const model = await llama.loadModel({ modelPath: args.model, gpuLayers: 0 });
    if (!args.prompt) throw new Error("--prompt ID,ID,... is required");
    const prompt = args.prompt.split(",").map(Number);
    const threads = Number(args.threads);
    // The KV cache in float32 as bamba keeps it (llama.cpp defaults to F16).
    const context = await model.createContext({
        contextSize: Math.max(256, prompt.length + Number(args.new) + 8), threads, batchSize: Math.max(prompt.length, 1),
        experimentalKvCacheKeyType: "F32", experimentalKvCacheValueType: "F32",
    });
    const sequence = context.getSequence();
    if (args.warm === "1") {
        await sequence.evaluateWithoutGeneratingNewTokens(prompt);
        await sequence.clearHistory();
    }
    const tokens = [];
    const start = performance.now();
    let first = 0;
    for await (const token of sequence.evaluate(prompt, { temperature: 0 })) {
        if (tokens.length === 0) first = performance.now();
        tokens.push(token);
        if (tokens.length >= Number(args.new)) break;
    }
    const end = performance.now();
    console.log(JSON.stringify({
        llama_cpp: info.tag, threads, prompt_tokens: prompt.length, new_tokens: tokens.length, tokens,
        prefill_ms: first - start, decode_ms: end - first,
    }));
    await context.dispose();
    await model.dispose();
    await llama.dispose();
} catch (e) {
    console.error(`llama.cpp: ${e.message ?? e}`);
    process.exit(2);
}
