namespace Bamba.Weights;

/// <summary>
/// Sizes of files that may be symbolic links, as in Hugging Face's cache (<c>snapshots/REV/model.safetensors</c> links
/// to <c>blobs/SHA</c>): <see cref="FileInfo.Length"/> of a link is the link's own size, so every file would look truncated.
/// </summary>
public static class ResolvedFile
{
    /// <summary>The byte length of the regular file at <paramref name="path"/>, following links to the end.</summary>
    public static long Length(string path)
    {
        var info = new FileInfo(path);
        try
        {
            if (info.LinkTarget is not null)
                info = info.ResolveLinkTarget(returnFinalTarget: true) as FileInfo
                    ?? throw new BambaException($"{path}: the link does not lead to a file");
        }
        catch (IOException e) { throw new BambaException($"{path}: cannot follow the link ({e.Message})"); }
        if (!info.Exists) throw new BambaException(info.FullName == Path.GetFullPath(path) ? $"{path}: file not found" : $"{path}: the link's target {info.FullName} is missing");
        return info.Length;
    }
}
