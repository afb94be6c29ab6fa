namespace Cinnabar.Server.Cluster;

/// <summary>
/// nodes.conf on disk: opened once, locked for the life of the process (.NET takes an exclusive
/// flock for FileShare.None, the lock Redis's clusterLockConfig takes), and rewritten in place
/// through the same handle as clusterSaveConfig does: one write padded with '\n' to the old
/// length (so a crash leaves either file whole, the padding being blank lines the loader skips),
/// an fsync when asked, then a truncate.
/// </summary>
public sealed class NodesConfFile : IDisposable
{
    private readonly FileStream _fs;

    public string Path { get; }

    private NodesConfFile(string path, FileStream fs)
    {
        Path = path;
        _fs = fs;
    }

    /// <summary>Opens and locks the file. Throws InvalidOperationException with Redis's message
    /// when another process holds it.</summary>
    public static NodesConfFile OpenLocked(string path)
    {
        try
        {
            var fs = new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
            return new NodesConfFile(path, fs);
        }
        catch (IOException e) when (e is not FileNotFoundException and not DirectoryNotFoundException)
        {
            throw new InvalidOperationException(
                $"Sorry, the cluster configuration file {path} is already used by a different Redis Cluster node. " +
                "Please make sure that different nodes use different cluster configuration files.", e);
        }
    }

    public string ReadAll()
    {
        _fs.Position = 0;
        using var reader = new StreamReader(_fs, System.Text.Encoding.UTF8, false, 4096, leaveOpen: true);
        return reader.ReadToEnd();
    }

    public void Save(string contents, bool fsync)
    {
        var bytes = System.Text.Encoding.UTF8.GetBytes(contents);
        long oldLength = _fs.Length;
        int padded = (int)Math.Max(bytes.Length, oldLength);
        var buffer = new byte[padded];
        bytes.CopyTo(buffer, 0);
        buffer.AsSpan(bytes.Length).Fill((byte)'\n');
        _fs.Position = 0;
        _fs.Write(buffer);
        _fs.Flush(flushToDisk: fsync);
        if (padded != bytes.Length) _fs.SetLength(bytes.Length);
    }

    public void Dispose() => _fs.Dispose();
}
