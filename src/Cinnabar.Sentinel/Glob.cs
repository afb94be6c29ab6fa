using System.Text;
using Cinnabar.Storage;

namespace Cinnabar.Sentinel;

internal static class Glob
{
    /// <summary>stringmatch() over the UTF-8 bytes, as Redis matches patterns.</summary>
    public static bool Match(string pattern, string s, bool ignoreCase) =>
        GlobMatcher.Match(Encoding.UTF8.GetBytes(pattern), Encoding.UTF8.GetBytes(s), ignoreCase);
}
