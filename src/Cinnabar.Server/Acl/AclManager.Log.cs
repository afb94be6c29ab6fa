using System.Globalization;
using Cinnabar.Protocol;

namespace Cinnabar.Server.Acl;

/// <summary>One ACL LOG entry (Redis's ACLLogEntry).</summary>
public sealed class AclLogEntry
{
    public long Count;
    public AclResult Reason;
    public AclContext Context;
    public required string Object;
    public required string Username;
    public long CreatedMs;
    public required string ClientInfo;
}

/// <summary>The ACL log: newest first, similar events within 60 s merged, trimmed to acllog-max-len.</summary>
public sealed partial class AclManager
{
    private const long LogGroupingMs = 60000;
    private readonly LinkedList<AclLogEntry> _log = new();

    public IEnumerable<AclLogEntry> LogEntries => _log;

    public void ResetLog() => _log.Clear();

    /// <summary>addACLLogEntry: the object is the command, key, channel, or the AUTH command name.</summary>
    public void AddLogEntry(Client c, AclResult reason, AclContext context, string? username, string obj)
    {
        long now = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        var e = new AclLogEntry
        {
            Count = 1,
            Reason = reason,
            Context = context,
            Object = obj,
            Username = username ?? c.AclUser.Name,
            CreatedMs = now,
            ClientInfo = Server.DescribeClient(c),
        };
        int toScan = 10;
        for (var node = _log.First; node != null && toScan-- > 0; node = node.Next)
        {
            var cur = node.Value;
            if (cur.Reason != e.Reason || cur.Context != e.Context || Math.Abs(cur.CreatedMs - e.CreatedMs) > LogGroupingMs
                || cur.Object != e.Object || cur.Username != e.Username) continue;
            _log.Remove(node);
            _log.AddFirst(node);
            cur.ClientInfo = e.ClientInfo;
            cur.CreatedMs = e.CreatedMs;
            cur.Count++;
            return;
        }
        _log.AddFirst(e);
        while (_log.Count > Server.Config.AclLogMaxLen) _log.RemoveLast();
    }

    /// <summary>ACL LOG [count]: up to count entries as 7-field maps.</summary>
    public void WriteLog(RespWriter w, long count)
    {
        if (count > _log.Count) count = _log.Count;
        w.WriteArrayHeader((int)count);
        long now = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        foreach (var e in _log)
        {
            if (count-- <= 0) break;
            w.WriteMapHeader(7);
            w.WriteBulk("count"u8);
            w.WriteInteger(e.Count);
            w.WriteBulk("reason"u8);
            w.WriteBulk(e.Reason switch
            {
                AclResult.DeniedCommand => "command",
                AclResult.DeniedKey => "key",
                AclResult.DeniedChannel => "channel",
                AclResult.DeniedAuth => "auth",
                _ => "unknown",
            });
            w.WriteBulk("context"u8);
            w.WriteBulk(e.Context switch { AclContext.TopLevel => "toplevel", AclContext.Multi => "multi", _ => "lua" });
            w.WriteBulk("object"u8);
            w.WriteBulk(System.Text.Encoding.Latin1.GetBytes(e.Object));
            w.WriteBulk("username"u8);
            w.WriteBulk(System.Text.Encoding.Latin1.GetBytes(e.Username));
            w.WriteBulk("age-seconds"u8);
            // addReplyDouble formats with %.17g in both protocols.
            string age = ((now - e.CreatedMs) / 1000.0).ToString("G17", CultureInfo.InvariantCulture);
            if (w.Protocol >= 3)
            {
                w.WriteRaw(","u8);
                w.WriteRaw(age);
                w.WriteRaw("\r\n"u8);
            }
            else w.WriteBulk(age);
            w.WriteBulk("client-info"u8);
            w.WriteBulk(e.ClientInfo);
        }
    }
}
