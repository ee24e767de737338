using System.Text.Json;
using Bamba.Generation;
using Bamba.Modeling;
using Bamba.Tests.Cli;
using Bamba.Tests.Modeling;
using Bamba.Tests.Scheduling;

namespace Bamba.Tests.Generation;

/// <summary>Sessions saved to a state file and restored: greedy continuation equals the uninterrupted run; bad files are refused.</summary>
public sealed class SessionTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("bamba-state-").FullName;
    private static readonly string Tiny = Fixtures.Model("tiny-bamba");
    private static readonly GenerationOptions Greedy = new() { EosTokenIds = [] };

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string File(string name) => Path.Combine(_dir, name);

    private static int[] Uninterrupted(BambaModel model, int[] prompt, int tokens) =>
        new Generator(model).Generate([prompt], Greedy with { MaxNewTokens = tokens })[0].TokenIds;

    [Theory]
    [InlineData(0)] // the prompt only ingested
    [InlineData(5)] // the prompt and 5 generated tokens
    public void ARestoredSessionContinuesAsTheUninterruptedRun(int before)
    {
        using var model = BambaModel.Load(Tiny);
        var prompt = SchedulerTests.Prompt(37, 11);
        var expected = Uninterrupted(model, prompt, before + 12);
        using (var session = SequenceSession.Start(model))
        {
            var first = session.Run(new Generator(model), prompt, before, Greedy);
            Assert.Equal(expected[..before], first.TokenIds);
            SessionFile.Save(File("s.state"), model, session);
        }

        using var restored = SessionFile.Load(File("s.state"), model);
        var rest = restored.Run(new Generator(model), [], 12, Greedy);

        Assert.Equal(expected[before..], rest.TokenIds);
        Assert.Equal([.. prompt, .. expected], restored.Tokens);
    }

    [Fact]
    public void TokensAppendedAfterARestoreContinueTheSequence()
    {
        using var model = BambaModel.Load(Tiny);
        var prompt = SchedulerTests.Prompt(20, 12);
        var next = SchedulerTests.Prompt(9, 13);
        using (var session = SequenceSession.Start(model))
        {
            session.Run(new Generator(model), prompt, 6, Greedy);
            SessionFile.Save(File("s.state"), model, session);
        }
        using var restored = SessionFile.Load(File("s.state"), model);
        var history = restored.Tokens.ToArray();

        var reply = restored.Run(new Generator(model), next, 8, Greedy);

        Assert.Equal(Uninterrupted(model, [.. history, .. next], 8), reply.TokenIds);
    }

    [Fact]
    public void TheCliSavesAndContinuesAsOneRun()
    {
        using var reference = new Reference("tiny-bamba");
        var greedy = reference.Json.GetProperty("greedy");
        var prompt = string.Join(",", Reference.Ints(greedy.GetProperty("prompt")));
        var expected = Reference.Ints(greedy.GetProperty("new_tokens"))[..10];
        string[] common = ["--model", Tiny, "--temperature", "0", "--format", "json"];

        var ingest = CliRunner.Run(["generate", .. common, "--prompt-ids", prompt, "--max-new-tokens", "0", "--save-state", File("a.state")]);
        var four = CliRunner.Run(["generate", .. common, "--load-state", File("a.state"), "--max-new-tokens", "4", "--save-state", File("b.state")]);
        var six = CliRunner.Run(["generate", .. common, "--load-state", File("b.state"), "--max-new-tokens", "6"]);

        Assert.Equal(0, ingest.ExitCode);
        Assert.Equal(0, four.ExitCode);
        Assert.Equal(0, six.ExitCode);
        Assert.Equal(expected[..4], Ids(four.Stdout));
        Assert.Equal(expected[4..], Ids(six.Stdout));
    }

    private static int[] Ids(string stdout) => Reference.Ints(JsonDocument.Parse(stdout.Trim()).RootElement.GetProperty("token_ids"));

    [Fact]
    public void BadStateFilesAreOneLineAndExitTwo()
    {
        var saved = CliRunner.Run("generate", "--model", Tiny, "--prompt-ids", "5,6,7,8", "--max-new-tokens", "2", "--save-state", File("good.state"));
        Assert.Equal(0, saved.ExitCode);
        var bytes = System.IO.File.ReadAllBytes(File("good.state"));
        var flipped = (byte[])bytes.Clone();
        flipped[bytes.Length / 2] ^= 0x40;
        System.IO.File.WriteAllBytes(File("flipped.state"), flipped);
        System.IO.File.WriteAllBytes(File("short.state"), bytes[..(bytes.Length / 3)]);
        System.IO.File.WriteAllText(File("text.state"), "hello");

        CliRunner.AssertUserError(Load(File("flipped.state")), "checksum does not match");
        CliRunner.AssertUserError(Load(File("short.state")), "checksum does not match");
        CliRunner.AssertUserError(Load(File("text.state")), "not a Bamba state file");
        CliRunner.AssertUserError(Load(File("missing.state")), "state file not found");
        CliRunner.AssertUserError(Load(File("good.state"), Fixtures.Model("small-bamba")), "saved with another model");
        CliRunner.AssertUserError(CliRunner.Run("generate", "--model", Tiny, "--prompt-ids", "5", "--max-new-tokens", "0"), "--max-new-tokens expects an integer ≥ 1");
    }

    private static CliRunner.Result Load(string path, string? model = null) =>
        CliRunner.Run("generate", "--model", model ?? Tiny, "--load-state", path, "--max-new-tokens", "2");
}
