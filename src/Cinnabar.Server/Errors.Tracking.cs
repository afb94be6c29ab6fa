namespace Cinnabar.Server;

// CLIENT TRACKING / CLIENT CACHING (networking.c clientCommand, tracking.c).
public static partial class Errors
{
    public const string TrackingSingleRedirect = "ERR A client can only redirect to a single other client";
    public const string TrackingRedirectMissing = "ERR The client ID you want redirect to does not exist";
    public const string TrackingPrefixNeedsBcast = "ERR PREFIX option requires BCAST mode to be enabled";
    public const string TrackingBcastSwitch = "ERR You can't switch BCAST mode on/off before disabling tracking for this client, and then re-enabling it with a different mode.";
    public const string TrackingOptInOutBcast = "ERR OPTIN and OPTOUT are not compatible with BCAST";
    public const string TrackingOptInAndOut = "ERR You can't specify both OPTIN mode and OPTOUT mode";
    public const string TrackingOptSwitch = "ERR You can't switch OPTIN/OPTOUT mode before disabling tracking for this client, and then re-enabling it with a different mode.";
    public const string CachingNotTracking = "ERR CLIENT CACHING can be called only when the client is in tracking mode with OPTIN or OPTOUT mode enabled";
    public const string CachingYesNotOptIn = "ERR CLIENT CACHING YES is only valid when tracking is enabled in OPTIN mode.";
    public const string CachingNoNotOptOut = "ERR CLIENT CACHING NO is only valid when tracking is enabled in OPTOUT mode.";

    public static string TrackingPrefixOverlapsExisting(string prefix, string existing) =>
        $"ERR Prefix '{prefix}' overlaps with an existing prefix '{existing}'. Prefixes for a single client must not overlap.";

    public static string TrackingPrefixOverlapsAnother(string prefix, string other) =>
        $"ERR Prefix '{prefix}' overlaps with another provided prefix '{other}'. Prefixes for a single client must not overlap.";
}
