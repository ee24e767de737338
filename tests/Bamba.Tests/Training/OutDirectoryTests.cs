using Bamba.Tests.Cli;
using Bamba.Training;

namespace Bamba.Tests.Training;

/// <summary>
/// <c>train --out</c> never removes what the user wrote: a directory that is not a checkpoint is refused before any
/// work, siblings named <c>DIR.partial</c>/<c>DIR.previous</c> that are not ours are left alone, files a user adds to a
/// checkpoint survive its saves, and an unusable --out is found before the data is even read.
/// </summary>
public sealed class OutDirectoryTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("bamba-out-").FullName;
    private static readonly string TinyConfig = Path.Combine(Fixtures.Model("tiny-bamba"), "config.json");

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string Data(string? path = null) =>
        TrainingData.WriteIdDocuments(path ?? Path.Combine(_dir, "ids.jsonl"), documents: 4, vocab: 100, seed: 1);

    private static CliRunner.Result Train(string data, string output, params string[] more) =>
        CliRunner.Run(["train", "--config", TinyConfig, "--data", data, "--out", output, "--steps", "1", "--batch-tokens", "16",
                       "--eval-fraction", "0", .. more]);

    /// <summary>Every file under <paramref name="root"/> with its content, to compare before and after.</summary>
    private static Dictionary<string, string> Snapshot(string root) =>
        Directory.GetFiles(root, "*", SearchOption.AllDirectories).ToDictionary(f => Path.GetRelativePath(root, f), File.ReadAllText);

    [Fact]
    public void OutDotIsRefusedAndTheWorkingDirectorySurvives()
    {
        string work = Directory.CreateDirectory(Path.Combine(_dir, "work")).FullName;
        string data = Data(Path.Combine(work, "ids.jsonl"));
        File.WriteAllText(Path.Combine(work, "notes.txt"), "mine");
        Directory.CreateDirectory(Path.Combine(work, "src"));
        File.WriteAllText(Path.Combine(work, "src", "a.cs"), "class A {}");
        var before = Snapshot(work);

        // The real process in that working directory, as the campaign ran it.
        var r = CliProcess.RunIn(work, "train", "--config", TinyConfig, "--data", "ids.jsonl", "--out", ".", "--steps", "1", "--batch-tokens", "16");
        CliRunner.AssertUserError(r, "is not a bamba checkpoint");
        // The same directory spelled other ways, in process.
        CliRunner.AssertUserError(Train(data, work + "/."), "is not a bamba checkpoint");
        CliRunner.AssertUserError(Train(data, Path.Combine(work, "src", "..")), "is not a bamba checkpoint");
        CliRunner.AssertUserError(Train(data, work + "/"), "is not a bamba checkpoint");

        Assert.Equal(before, Snapshot(work));
        Assert.False(Directory.Exists(work + ".partial") || Directory.Exists(work + ".previous"));
    }

    [Fact]
    public void UserSiblingsNamedPartialOrPreviousAreNeverTouched()
    {
        string data = Data(), output = Path.Combine(_dir, "ckpt");
        foreach (var suffix in new[] { ".partial", ".previous" })
        {
            string sibling = Directory.CreateDirectory(output + suffix).FullName;
            File.WriteAllText(Path.Combine(sibling, "model.safetensors"), "the user's, not ours");
            File.WriteAllText(Path.Combine(sibling, "thesis.tex"), "years of work");
        }
        var before = Snapshot(_dir);

        CliRunner.AssertUserError(Train(data, output), "was not written by bamba train");
        Checkpoint.Recover(output); // the readers' and --resume's recovery leaves them alone too
        Assert.Equal(before, Snapshot(_dir));
        Assert.False(Directory.Exists(output));

        // Once the names are free, the same --out trains; a non-empty non-checkpoint sibling never moved into it.
        Directory.Move(output + ".partial", Path.Combine(_dir, "moved-partial"));
        Directory.Move(output + ".previous", Path.Combine(_dir, "moved-previous"));
        Assert.Equal(0, Train(data, output).ExitCode);
        Assert.Equal("years of work", File.ReadAllText(Path.Combine(_dir, "moved-previous", "thesis.tex")));
    }

    [Fact]
    public void FilesAUserAddsToACheckpointSurviveItsSaves()
    {
        string data = Data(), output = Path.Combine(_dir, "ckpt");
        Directory.CreateDirectory(output); // an empty --out is fine
        Assert.Equal(0, Train(data, output).ExitCode);
        Assert.True(File.Exists(Path.Combine(output, CheckpointDirectory.MarkerFile)));
        File.WriteAllText(Path.Combine(output, "README.md"), "my notes");
        Directory.CreateDirectory(Path.Combine(output, "eval"));
        File.WriteAllText(Path.Combine(output, "eval", "scores.txt"), "0.5");

        var r = CliRunner.Run("train", "--data", data, "--out", output, "--resume", "--steps", "3", "--save-every", "1");
        Assert.True(r.ExitCode == 0, r.Stderr);

        Assert.Equal("my notes", File.ReadAllText(Path.Combine(output, "README.md")));
        Assert.Equal("0.5", File.ReadAllText(Path.Combine(output, "eval", "scores.txt")));
        Assert.Equal(3, TrainerState.Read(Path.Combine(output, Checkpoint.StateFile)).Step);
        Assert.False(Directory.Exists(output + ".previous") || Directory.Exists(output + ".partial"));
    }

    [Fact]
    public void AKillAfterTheSwapStillCarriesTheUsersFilesOver()
    {
        string output = Path.Combine(_dir, "ckpt"), previous = output + ".previous";
        CheckpointDirectory.Begin(output, ["model.safetensors"]);
        File.WriteAllText(Path.Combine(output, "model.safetensors"), "new");
        CheckpointDirectory.Begin(previous, ["model.safetensors"]);
        File.WriteAllText(Path.Combine(previous, "model.safetensors"), "old");
        File.WriteAllText(Path.Combine(previous, "README.md"), "my notes");

        Checkpoint.Recover(output);

        Assert.Equal("new", File.ReadAllText(Path.Combine(output, "model.safetensors")));
        Assert.Equal("my notes", File.ReadAllText(Path.Combine(output, "README.md")));
        Assert.False(Directory.Exists(previous));
    }

    [Fact]
    public void AnUnusableOutIsFoundBeforeTheDataIsRead()
    {
        string blocker = Path.Combine(_dir, "a-file");
        File.WriteAllText(blocker, "x");
        string missingData = Path.Combine(_dir, "no-such-data.jsonl");
        // If --out were checked after training (or even after reading the data), the error would name the data file.
        CliRunner.AssertUserError(Train(missingData, Path.Combine(blocker, "out")), "cannot write a checkpoint here");
        CliRunner.AssertUserError(Train(missingData, blocker), "is a file");
        CliRunner.AssertUserError(Train(missingData, "/"), "filesystem root");
        Assert.Equal("x", File.ReadAllText(blocker));
    }
}
