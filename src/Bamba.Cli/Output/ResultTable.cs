using Spectre.Console;

namespace Bamba.Cli.Output;

/// <summary>Benchmark results as a table (Spectre.Console), plain characters so that it reads the same in a log.</summary>
internal static class ResultTable
{
    public static void Write(TextWriter output, IReadOnlyList<string> headers, IEnumerable<IReadOnlyList<string>> rows)
    {
        var table = new Table().Border(TableBorder.Rounded);
        foreach (var header in headers) table.AddColumn(new TableColumn(new Spectre.Console.Text(header)));
        foreach (var row in rows) table.AddRow(row.Select(cell => new Spectre.Console.Text(cell)).ToArray());
        bool terminal = output == Console.Out && !Console.IsOutputRedirected;
        var console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Out = new AnsiConsoleOutput(output),
            Ansi = terminal ? AnsiSupport.Detect : AnsiSupport.No,
            ColorSystem = terminal ? ColorSystemSupport.Detect : ColorSystemSupport.NoColors,
            Interactive = InteractionSupport.No,
        });
        if (!terminal) console.Profile.Width = 200; // a log has no width: do not wrap the cells at 80 columns
        console.Write(table);
    }
}
