using System.Text.Json;

namespace Cinnabar.Cluster.Tests;

/// <summary>
/// The packets captured from a real redis-server 7.0.15 by Golden/capture.py, and the facts the
/// script recorded about that run (node names and ports; they change when the captures are redone).
/// </summary>
internal static class Golden
{
    public static readonly string[] CaptureNames =
    [
        "meet", "ping", "pong", "ping-pfail", "publish", "publish-large", "publishshard", "update", "fail", "auth-ack",
        "meet-nohostname", "ping-replica", "mfstart", "auth-req",
    ];

    private static readonly Lazy<JsonElement> ManifestRoot = new(() =>
        JsonDocument.Parse(File.ReadAllText(PathOf("manifest.json"))).RootElement);

    public static byte[] Read(string capture) => File.ReadAllBytes(PathOf(capture + ".bin"));

    public static JsonElement Master => ManifestRoot.Value.GetProperty("master");
    public static JsonElement Replica => ManifestRoot.Value.GetProperty("replica");

    public static string MasterName => Master.GetProperty("name").GetString()!;
    public static JsonElement Fake(string letter) => Master.GetProperty("fakes").GetProperty(letter);

    private static string PathOf(string file) => Path.Combine(AppContext.BaseDirectory, "Golden", file);
}
