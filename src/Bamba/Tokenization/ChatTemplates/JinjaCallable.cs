namespace Bamba.Tokenization.ChatTemplates;

/// <summary>A callable value: global function, bound string/dict method, macro, loop.cycle.</summary>
internal sealed class JinjaCallable
{
    public JinjaCallable(string name, Func<CallArgs, object?> invoke)
    {
        Name = name;
        Invoke = invoke;
    }

    public string Name { get; }
    public Func<CallArgs, object?> Invoke { get; }
}
