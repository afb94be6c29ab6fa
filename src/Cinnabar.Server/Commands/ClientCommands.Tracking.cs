using Cinnabar.Protocol;

namespace Cinnabar.Server.Commands;

// CLIENT TRACKING / CACHING / GETREDIR / TRACKINGINFO (Redis 7.0 networking.c clientCommand);
// the tracking itself lives in Tracking/ClientTracking.cs.
public sealed partial class ClientCommands
{
    private static void RegisterTracking(CommandTable t, CommandDef c, string flags, string acl)
    {
        t.AddSub(c, "tracking", -3, flags, 0, 0, 0, acl, Tracking, "Enable or disable server assisted client side caching support", "6.0.0", "O(1). Some options may introduce additional complexity.");
        t.AddSub(c, "caching", 3, flags, 0, 0, 0, acl, Caching, "Instruct the server about tracking or not keys in the next request", "6.0.0");
        t.AddSub(c, "getredir", 2, flags, 0, 0, 0, acl, GetRedir, "Get tracking notifications redirection client ID if any", "6.0.0");
        t.AddSub(c, "trackinginfo", 2, flags, 0, 0, 0, acl, TrackingInfo, "Return information about server assisted client side caching for the current connection", "6.2.0");
    }

    /// <summary>CLIENT TRACKING ON|OFF [REDIRECT id] [PREFIX p ...] [BCAST] [OPTIN] [OPTOUT] [NOLOOP].</summary>
    private static void Tracking(CommandContext ctx)
    {
        long redirect = 0;
        bool bcast = false, optIn = false, optOut = false, noLoop = false;
        var prefixes = new List<byte[]>();
        for (int j = 3; j < ctx.ArgCount; j++)
        {
            bool more = j < ctx.ArgCount - 1;
            if (ctx.ArgIs(j, "REDIRECT") && more)
            {
                j++;
                if (redirect != 0)
                {
                    ctx.Error(Errors.TrackingSingleRedirect);
                    return;
                }
                if (!ctx.TryGetLong(j, out redirect)) return;
                // The target must exist now (it may go away later: then the redirect is broken).
                if (ctx.Server.FindClient(redirect) == null)
                {
                    ctx.Error(Errors.TrackingRedirectMissing);
                    return;
                }
            }
            else if (ctx.ArgIs(j, "BCAST")) bcast = true;
            else if (ctx.ArgIs(j, "OPTIN")) optIn = true;
            else if (ctx.ArgIs(j, "OPTOUT")) optOut = true;
            else if (ctx.ArgIs(j, "NOLOOP")) noLoop = true;
            else if (ctx.ArgIs(j, "PREFIX") && more) prefixes.Add(ctx.ArgBytes(++j));
            else
            {
                ctx.SyntaxError();
                return;
            }
        }
        var c = ctx.Client;
        var tracking = ctx.Server.Tracking;
        if (ctx.ArgIs(2, "ON"))
        {
            string? error = CheckTrackingOptions(c, bcast, optIn, optOut, prefixes.Count);
            if (error != null)
            {
                ctx.Error(error);
                return;
            }
            if (bcast)
            {
                error = Cinnabar.Server.Tracking.ClientTracking.CheckPrefixCollisions(c.Tracking, prefixes, out bool stillEnable);
                if (error != null)
                {
                    ctx.Error(error);
                    // Redis 7.0 goes on when the clash is between two new prefixes past the first.
                    if (!stillEnable) return;
                }
            }
            tracking.Enable(c, redirect, bcast, optIn, optOut, noLoop, prefixes);
        }
        else if (ctx.ArgIs(2, "OFF")) tracking.Disable(c);
        else
        {
            ctx.SyntaxError();
            return;
        }
        ctx.Reply.WriteOk();
    }

    private static string? CheckTrackingOptions(Client c, bool bcast, bool optIn, bool optOut, int prefixCount)
    {
        if (!bcast && prefixCount > 0) return Errors.TrackingPrefixNeedsBcast;
        var st = c.Tracking;
        if (st != null && st.Bcast != bcast) return Errors.TrackingBcastSwitch;
        if (bcast && (optIn || optOut)) return Errors.TrackingOptInOutBcast;
        if (optIn && optOut) return Errors.TrackingOptInAndOut;
        if (st != null && ((optIn && st.OptOut) || (optOut && st.OptIn))) return Errors.TrackingOptSwitch;
        return null;
    }

    private static void Caching(CommandContext ctx)
    {
        var st = ctx.Client.Tracking;
        if (st == null)
        {
            ctx.Error(Errors.CachingNotTracking);
            return;
        }
        if (ctx.ArgIs(2, "YES"))
        {
            if (!st.OptIn)
            {
                ctx.Error(Errors.CachingYesNotOptIn);
                return;
            }
        }
        else if (ctx.ArgIs(2, "NO"))
        {
            if (!st.OptOut)
            {
                ctx.Error(Errors.CachingNoNotOptOut);
                return;
            }
        }
        else
        {
            ctx.SyntaxError();
            return;
        }
        st.Caching = true;
        ctx.Reply.WriteOk();
    }

    private static void GetRedir(CommandContext ctx) => ctx.Reply.WriteInteger(ctx.Client.Tracking?.RedirectId ?? -1);

    private static void TrackingInfo(CommandContext ctx)
    {
        var st = ctx.Client.Tracking;
        var w = ctx.Reply;
        w.WriteMapHeader(3);
        w.WriteBulk("flags"u8);
        var flags = new List<string> { st == null ? "off" : "on" };
        if (st != null)
        {
            if (st.Bcast) flags.Add("bcast");
            if (st.OptIn)
            {
                flags.Add("optin");
                if (st.Caching) flags.Add("caching-yes");
            }
            if (st.OptOut)
            {
                flags.Add("optout");
                if (st.Caching) flags.Add("caching-no");
            }
            if (st.NoLoop) flags.Add("noloop");
            if (st.BrokenRedirect) flags.Add("broken_redirect");
        }
        w.WriteSetHeader(flags.Count);
        foreach (var f in flags) w.WriteBulk(f);
        w.WriteBulk("redirect"u8);
        w.WriteInteger(st?.RedirectId ?? -1);
        w.WriteBulk("prefixes"u8);
        var prefixes = st?.Prefixes;
        w.WriteArrayHeader(prefixes?.Count ?? 0);
        if (prefixes != null) foreach (var p in prefixes) w.WriteBulk(p);
    }
}
