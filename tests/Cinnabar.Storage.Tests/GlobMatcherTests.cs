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
    [InlineData("*a*b", "xxaxxb", true)]
    [InlineData("*a*b*c", "abxbxc", true)]
    [InlineData("*a*b*c", "abxbx", false)]
    [InlineData("a*", "a", true)]
    [InlineData("*a", "", false)]
    public void Matches_like_redis_stringmatchlen(string pattern, string s, bool expected) =>
        Assert.Equal(expected, GlobMatcher.Match(Encoding.UTF8.GetBytes(pattern), Encoding.UTF8.GetBytes(s)));

    [Fact]
    public void Nested_stars_that_cannot_match_are_pruned_instead_of_exploding()
    {
        // Without pruning this is about 40^20 steps (Redis's "pattern matching long nested loops" regression).
        byte[] s = Encoding.ASCII.GetBytes(new string('a', 40));
        Assert.False(GlobMatcher.Match(Encoding.ASCII.GetBytes("a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*b"), s));
        Assert.True(GlobMatcher.Match(Encoding.ASCII.GetBytes("a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a"), s));
    }
}
