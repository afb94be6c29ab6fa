using System.Buffers.Binary;
using Xunit.Abstractions;

namespace Cinnabar.Cluster.Tests;

// Seeded mutation fuzzing of the decoder over the real captures: flips, inserts, deletions,
// truncations and targeted overwrites of the length fields. Decode and PeekFrame must never throw;
// whatever Decode accepts must encode, and that encoding must decode and re-encode unchanged.
// A failure names its seed and case; rerunning that seed replays it exactly.
public sealed class BusCodecFuzzTests(ITestOutputHelper output)
{
    private const int CasesPerSeed = 10_000;

    // Offsets a mutation targets on purpose: totlen, ver, type, count, extensions, mflags, and the
    // first words of the payload (gossip / extension length / publish lengths / module length).
    private static readonly int[] HotOffsets = [4, 8, 12, 14, 2214, 2253, 2256, 2260, 2264, 2268, 2360, 2364];

    [Theory]
    [InlineData(1)]
    [InlineData(20251202)]
    [InlineData(987654321)]
    public void Decode_never_throws_on_mutated_captures(int seed)
    {
        var random = new Random(seed);
        byte[][] corpus = [.. Golden.CaptureNames.Select(Golden.Read)];
        int accepted = 0;
        for (int i = 0; i < CasesPerSeed; i++)
        {
            byte[] input = Mutate(corpus[random.Next(corpus.Length)], random);
            try
            {
                if (CheckOne(input)) accepted++;
            }
            catch (Exception ex)
            {
                throw new Xunit.Sdk.XunitException($"seed {seed} case {i} ({input.Length} bytes): {ex}");
            }
        }
        output.WriteLine($"seed {seed}: {CasesPerSeed} cases, {accepted} decoded");
        // The mutations must also produce packets that pass the checks, or the decoder's deeper
        // paths go untested.
        Assert.True(accepted > CasesPerSeed / 20, $"seed {seed}: only {accepted} mutated packets decoded");
    }

    private static bool CheckOne(byte[] input)
    {
        BusCodec.PeekFrame(input, 1 << 20, out _);
        BusMessage? message = BusCodec.Decode(input);
        if (message is null) return false;
        byte[] encoded = BusCodec.Encode(message);
        BusMessage again = BusCodec.Decode(encoded) ?? throw new InvalidOperationException("re-encoded packet was refused");
        Assert.Equal(encoded, BusCodec.Encode(again));
        return true;
    }

    private static byte[] Mutate(byte[] source, Random random)
    {
        var bytes = new List<byte>(source);
        int mutations = 1 + random.Next(4);
        for (int m = 0; m < mutations; m++)
        {
            switch (random.Next(6))
            {
                case 0: // flip bits of a random byte
                    if (bytes.Count > 0) bytes[random.Next(bytes.Count)] ^= (byte)(1 << random.Next(8));
                    break;
                case 1: // insert random bytes
                {
                    int at = random.Next(bytes.Count + 1);
                    var extra = new byte[1 + random.Next(16)];
                    random.NextBytes(extra);
                    bytes.InsertRange(at, extra);
                    break;
                }
                case 2: // delete a range
                    if (bytes.Count > 0)
                    {
                        int at = random.Next(bytes.Count);
                        bytes.RemoveRange(at, Math.Min(bytes.Count - at, 1 + random.Next(16)));
                    }
                    break;
                case 3: // truncate
                    bytes = bytes.GetRange(0, random.Next(bytes.Count + 1));
                    break;
                case 4: // interesting value into a length/count field
                {
                    int at = HotOffsets[random.Next(HotOffsets.Length)];
                    if (at + 4 <= bytes.Count)
                    {
                        uint[] values = [0, 1, 7, 8, 16, 24, 104, 0xFF, 0xFFFF, 0x10008, 0x7FFFFFFF, 0xFFFFFFFF, (uint)random.Next()];
                        Span<byte> word = stackalloc byte[4];
                        BinaryPrimitives.WriteUInt32BigEndian(word, values[random.Next(values.Length)]);
                        int width = random.Next(2) == 0 ? 2 : 4;
                        for (int k = 0; k < width; k++) bytes[at + k] = word[4 - width + k];
                    }
                    break;
                }
                default: // random byte anywhere
                    if (bytes.Count > 0) bytes[random.Next(bytes.Count)] = (byte)random.Next(256);
                    break;
            }
        }
        byte[] result = [.. bytes];
        // Usually keep totlen consistent with the length, as the framer guarantees, so that the
        // mutations reach the type-specific checks instead of stopping at the first one.
        if (result.Length >= 8 && random.Next(4) != 0)
            BinaryPrimitives.WriteUInt32BigEndian(result.AsSpan(4), (uint)result.Length);
        return result;
    }
}
