using Bamba.Architectures;
using Bamba.Configuration;

namespace Bamba.Weights.Gguf;

/// <summary>
/// Every GGUF tensor of a model as llama.cpp names and shapes it (src/llama-arch.cpp's LLM_TENSOR_NAMES; the tensor
/// loaders of src/models/granite-hybrid.cpp and nemotron-h.cpp; conversion/granite.py, mamba.py and nemotron.py),
/// derived from the family's tensors by role, so one table serves Bamba, Granite 4.0 H and Nemotron-H.
/// </summary>
public static class GgufLayout
{
    public static IReadOnlyList<GgufLink> Links(BambaConfig c)
    {
        var map = ArchitectureRegistry.TensorsOf(c);
        var links = new List<GgufLink>();
        foreach (var spec in map.All) links.AddRange(Links(c, map, spec));
        return links;
    }

    private static IEnumerable<GgufLink> Links(BambaConfig c, TensorMap map, TensorSpec s)
    {
        string b = $"blk.{s.Layer}.";
        bool nemotron = GgufArchitecture.IsNemotron(c);
        bool experts = s.Layer >= 0 && c.Layers[s.Layer].FeedForward == FeedForwardKind.MixtureOfExperts;
        // The dense MLP of a layer with experts is the shared expert.
        string shared = experts ? "_shexp" : "";
        GgufLink View(string name) => GgufLink.View(name, s.Name, s.Shape);
        switch (s.Role)
        {
            case TensorRole.Embedding: yield return View("token_embd.weight"); break;
            case TensorRole.FinalNorm: yield return View("output_norm.weight"); break;
            case TensorRole.LmHead: yield return View("output.weight"); break;
            case TensorRole.MixerNorm: yield return View(b + "attn_norm.weight"); break;
            // Nemotron-H's one norm per layer is attn_norm in llama.cpp, whatever the block.
            case TensorRole.FeedForwardNorm: yield return View(b + (nemotron ? "attn_norm.weight" : "ffn_norm.weight")); break;
            case TensorRole.MambaInProj: yield return View(b + "ssm_in.weight"); break;
            case TensorRole.MambaInProjBias: yield return View(b + "ssm_in.bias"); break;
            case TensorRole.MambaConv: yield return GgufLink.View(b + "ssm_conv1d.weight", s.Name, [s.Shape[0], s.Shape[^1]]); break;
            case TensorRole.MambaConvBias: yield return View(b + "ssm_conv1d.bias"); break;
            case TensorRole.MambaDtBias: yield return View(b + "ssm_dt.bias"); break;
            case TensorRole.MambaALog: yield return new GgufLink(b + "ssm_a", [s.Shape[0], 1], LinkKind.NegExp, [s.Name]); break;
            case TensorRole.MambaD: yield return GgufLink.View(b + "ssm_d", s.Name, [s.Shape[0], 1]); break;
            case TensorRole.MambaNorm: yield return GgufLink.View(b + "ssm_norm.weight", s.Name, [c.MambaNGroups, s.Shape[0] / c.MambaNGroups]); break;
            case TensorRole.MambaOutProj: yield return View(b + "ssm_out.weight"); break;
            case TensorRole.MambaOutProjBias: yield return View(b + "ssm_out.bias"); break;
            case TensorRole.AttentionQ: yield return Rope(c, s, b + "attn_q.weight"); break;
            case TensorRole.AttentionK: yield return Rope(c, s, b + "attn_k.weight"); break;
            case TensorRole.AttentionV: yield return View(b + "attn_v.weight"); break;
            case TensorRole.AttentionO: yield return View(b + "attn_output.weight"); break;
            case TensorRole.MlpGate: yield return View(b + $"ffn_gate{shared}.weight"); break;
            case TensorRole.MlpUp: yield return View(b + $"ffn_up{shared}.weight"); break;
            case TensorRole.MlpDown: yield return View(b + $"ffn_down{shared}.weight"); break;
            case TensorRole.MlpGateUp:
                yield return GgufLink.Half(b + $"ffn_gate{shared}.weight", s.Name, s.Shape, 0);
                yield return GgufLink.Half(b + $"ffn_up{shared}.weight", s.Name, s.Shape, 1);
                break;
            case TensorRole.Router: yield return View(b + "ffn_gate_inp.weight"); break;
            case TensorRole.RouterBias: yield return View(b + "exp_probs_b.bias"); break;
            case TensorRole.ExpertsGateUp:
                yield return GgufLink.Half(b + "ffn_gate_exps.weight", s.Name, s.Shape, 0);
                yield return GgufLink.Half(b + "ffn_up_exps.weight", s.Name, s.Shape, 1);
                break;
            case TensorRole.ExpertsDown: yield return View(b + "ffn_down_exps.weight"); break;
            case TensorRole.ExpertUp when s.Expert == 0: yield return Stack(c, map, s, b + "ffn_up_exps.weight"); break;
            case TensorRole.ExpertDown when s.Expert == 0: yield return Stack(c, map, s, b + "ffn_down_exps.weight"); break;
        }
    }

    /// <summary>Q or K: with RoPE, each head's rotated rows move from rotate-half pairs (i, i+R/2) to GGML's adjacent
    /// pairs (2i, 2i+1), as llama.cpp's converter permutes them; without RoPE the rows stay.</summary>
    private static GgufLink Rope(BambaConfig c, TensorSpec s, string name)
    {
        if (!c.UseRope) return GgufLink.View(name, s.Name, s.Shape);
        int headDim = c.HeadDim, rotary = c.RotaryDim;
        return new GgufLink(name, s.Shape, LinkKind.Rows, [s.Name], r => HfRowOfGgufRow((int)r, headDim, rotary));
    }

    private static GgufLink Stack(BambaConfig c, TensorMap map, TensorSpec first, string name)
    {
        var names = Enumerable.Range(0, c.NumExperts).Select(e => map[first.Role, first.Layer, e].Name).ToArray();
        return new GgufLink(name, [c.NumExperts, .. first.Shape], LinkKind.Stack, names);
    }

    /// <summary>
    /// The HF row stored at GGUF row <paramref name="row"/> of a Q/K matrix with heads of <paramref name="headDim"/>
    /// rows, the first <paramref name="rotaryDim"/> of them rotated.
    /// </summary>
    public static int HfRowOfGgufRow(int row, int headDim, int rotaryDim)
    {
        int head = row / headDim, r = row % headDim;
        if (r >= rotaryDim) return row;
        return head * headDim + (r % 2 == 0 ? r / 2 : r / 2 + rotaryDim / 2);
    }
}
