// llama.cpp's log-probabilities of a token sequence (node-llama-cpp's controlledEvaluate, the whole vocabulary at
// temperature 1): one JSON array, an entry per position t < n-1 with the log-prob of token t+1 and the top two.
// Used to measure how far llama.cpp and bamba (`bamba score --format json`) are apart on one GGUF file (docs/gguf.md).
// usage: node logprobs.mjs --model FILE.gguf --ids 1,2,3 [--threads 2]
import { getLlama, LlamaLogLevel } from "node-llama-cpp";

try {
    const args = { threads: "2" };
    const argv = process.argv.slice(2);
    for (let i = 0; i < argv.length; i += 2) {
        if (!argv[i].startsWith("--") || argv[i + 1] === undefined) throw new Error(`bad argument '${argv[i]}'`);
        args[argv[i].slice(2)] = argv[i + 1];
    }
    if (!args.model || !args.ids) throw new Error("--model FILE.gguf and --ids ID,ID,... are required");
    const ids = args.ids.split(",").map(Number);
    const llama = await getLlama({ gpu: false, build: "never", logLevel: LlamaLogLevel.error });
    const model = await llama.loadModel({ modelPath: args.model, gpuLayers: 0 });
    // The KV cache in float32 as bamba keeps it (llama.cpp defaults to F16).
    const context = await model.createContext({
        contextSize: Math.max(256, ids.length + 8), threads: Number(args.threads), batchSize: ids.length,
        experimentalKvCacheKeyType: "F32", experimentalKvCacheValueType: "F32",
    });
    const everyToken = { temperature: 1, topK: 0, topP: 1, minP: 0 };
    const out = await context.getSequence().controlledEvaluate(ids.map(t => [t, { generateNext: { probabilities: true, options: everyToken } }]));
    const rows = [];
    for (let t = 0; t + 1 < ids.length; t++) {
        const p = out[t].next.probabilities;
        const top = [...p.entries()].sort((a, b) => b[1] - a[1]).slice(0, 2).map(([id, q]) => [id, Math.log(q)]);
        rows.push({ position: t, next: ids[t + 1], logprob: Math.log(p.get(ids[t + 1]) ?? 0), top });
    }
    console.log(JSON.stringify(rows));
    await context.dispose();
    await model.dispose();
    await llama.dispose();
} catch (e) {
    console.error(`llama.cpp: ${e.message ?? e}`);
    process.exit(2);
}
