using System.Collections;

namespace Bamba.Tokenization.ChatTemplates;

/// <summary>Marks a list that came from a tuple so it prints as <c>(a, b)</c> like Python.</summary>
internal sealed class JinjaTuple : List<object?>
{
    public JinjaTuple(IEnumerable<object?> items) : base(items) { }
}

/// <summary>Insertion-ordered dictionary (Python dicts keep order, and tojson output depends on it).</summary>
internal sealed class JinjaDict : IEnumerable<KeyValuePair<object, object?>>
{
    private readonly OrderedDictionary<object, object?> _items = new(KeyComparer.Instance);

    public int Count => _items.Count;
    public IEnumerable<object> Keys => _items.Keys;
    public IEnumerable<object?> ValuesInOrder => _items.Values;

    public void Set(object key, object? value) => _items[key] = value;
    public bool TryGet(object key, out object? value) => _items.TryGetValue(key, out value);
    public bool ContainsKey(object key) => _items.ContainsKey(key);

    public IEnumerator<KeyValuePair<object, object?>> GetEnumerator() => _items.GetEnumerator();
    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();

    /// <summary>Python key equality: 1, 1.0 and True are the same key; strings compare ordinally.</summary>
    private sealed class KeyComparer : IEqualityComparer<object>
    {
        public static readonly KeyComparer Instance = new();
        public new bool Equals(object? x, object? y) => Values.AreEqual(x, y);
        public int GetHashCode(object obj) => Values.IsNumber(obj) ? Values.ToDouble(obj).GetHashCode() : obj.GetHashCode();
    }
}
