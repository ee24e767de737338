using System.Text;

namespace Bamba.Cli.Chat;

/// <summary>
/// Reads a line at a terminal with editing and history: left/right, Home/End (Ctrl-A/Ctrl-E), Backspace/Delete,
/// up/down through earlier lines. Ctrl-D on an empty line is the end of input (null). Ctrl-C discards the line being
/// typed, as a shell does, instead of ending the program: a Ctrl-C meant for a reply that ended a moment earlier must
/// not lose the conversation.
/// </summary>
internal sealed class LineEditor
{
    private readonly List<string> _history = [];

    public string? ReadLine(string prompt)
    {
        bool wasInput = Console.TreatControlCAsInput;
        Console.TreatControlCAsInput = true; // Ctrl-C arrives as a key here, and as SIGINT (stop the reply) outside
        try { return Edit(prompt); }
        finally { Console.TreatControlCAsInput = wasInput; }
    }

    private string? Edit(string prompt)
    {
        var line = new StringBuilder();
        int cursor = 0, recalled = _history.Count;
        Console.Write(prompt);
        while (true)
        {
            var key = Console.ReadKey(intercept: true);
            switch (key.Key)
            {
                case ConsoleKey.Enter:
                    Console.WriteLine();
                    if (line.Length > 0 && (_history.Count == 0 || _history[^1] != line.ToString())) _history.Add(line.ToString());
                    return line.ToString();
                case ConsoleKey.LeftArrow: cursor = Math.Max(0, cursor - 1); break;
                case ConsoleKey.RightArrow: cursor = Math.Min(line.Length, cursor + 1); break;
                case ConsoleKey.Home: cursor = 0; break;
                case ConsoleKey.End: cursor = line.Length; break;
                case ConsoleKey.Backspace when cursor > 0: line.Remove(--cursor, 1); break;
                case ConsoleKey.Delete when cursor < line.Length: line.Remove(cursor, 1); break;
                case ConsoleKey.UpArrow when recalled > 0: Recall(line, _history[--recalled], ref cursor); break;
                case ConsoleKey.DownArrow when recalled < _history.Count:
                    Recall(line, ++recalled < _history.Count ? _history[recalled] : "", ref cursor);
                    break;
                default:
                    if (key.Modifiers == ConsoleModifiers.Control && key.Key == ConsoleKey.A) cursor = 0;
                    else if (key.Modifiers == ConsoleModifiers.Control && key.Key == ConsoleKey.E) cursor = line.Length;
                    else if (key.KeyChar == '\x03' || (key.Modifiers == ConsoleModifiers.Control && key.Key == ConsoleKey.C))
                    {
                        Console.WriteLine("^C (line discarded; /exit or Ctrl-D quits)");
                        line.Clear();
                        cursor = 0;
                        recalled = _history.Count;
                        Console.Write(prompt);
                        continue;
                    }
                    else if (key.Modifiers == ConsoleModifiers.Control && key.Key == ConsoleKey.D)
                    {
                        if (line.Length == 0) { Console.WriteLine(); return null; }
                    }
                    else if (key.KeyChar is '\n' or '\r')
                        goto case ConsoleKey.Enter;
                    else if (!char.IsControl(key.KeyChar))
                    {
                        line.Insert(cursor++, key.KeyChar);
                        if (cursor == line.Length) { Console.Write(key.KeyChar); continue; } // typing at the end: no redraw
                    }
                    break;
            }
            Redraw(prompt, line, cursor);
        }
    }

    private static void Recall(StringBuilder line, string text, ref int cursor)
    {
        line.Clear().Append(text);
        cursor = line.Length;
    }

    /// <summary>Rewrites the prompt line and puts the cursor back (carriage return, clear to end, cursor left).</summary>
    private static void Redraw(string prompt, StringBuilder line, int cursor)
    {
        Console.Write("\r" + prompt + line + "\e[K");
        if (line.Length > cursor) Console.Write($"\e[{line.Length - cursor}D");
    }
}
