using System.Text;

namespace Cinnabar.Storage.Tests;

public sealed class GlobMatcherTests
{
    [Theory]
    [InlineData("*", "anything", true)]
    [InlineData("h?llo", "hello", true)]
    [InlineData("h*llo", "heeeello", true)]
    [InlineData("h[ae]llo", "hallo", true)]
    [InlineData("h[ae]llo", "hillo", false)]
    [InlineData("h[^e]llo", "hallo", true)]
    [InlineData("h[^e]llo", "hello", false)]
    [InlineData("h[a-b]llo", "hbllo", true)]
    [InlineData("h\\*llo", "h*llo", true)]
    [InlineData("user:*", "user:1000", true)]
    [InlineData("user:*", "users", false)]
    public void Matches_like_redis_stringmatchlen(string pattern, string s, bool expected) =>
        Assert.Equal(expected, GlobMatcher.Match(Encoding.UTF8.GetBytes(pattern), Encoding.UTF8.GetBytes(s)));
}
