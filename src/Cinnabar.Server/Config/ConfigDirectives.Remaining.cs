namespace Cinnabar.Server.Config;

public sealed partial class ServerConfig
{
    partial void RegisterRemaining()
    {
        Special("save", "3600 1 300 100 60 10000", v => (string.Join(' ', v.Split(' ', StringSplitOptions.RemoveEmptyEntries)), null), accumulates: true);
        Bool("appendonly", false);
    }
}
