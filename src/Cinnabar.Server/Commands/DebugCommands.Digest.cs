using System.Buffers.Binary;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Cinnabar.Protocol;
using Cinnabar.Storage;

namespace Cinnabar.Server.Commands;

/// <summary>
/// DEBUG POPULATE, DEBUG DIGEST and DEBUG DIGEST-VALUE as Redis 7.0's debug.c computes them, so a
/// digest taken on Cinnabar equals the one taken on redis-server for the same dataset (tests use it
/// to compare a master and its replicas across implementations).
/// Digest: per key, SHA1 chaining ("mix": digest = sha1(digest ^ sha1(data))) of the key, the type code and the
/// ordered content; unordered content (set members, hash fields, zset members) is combined with
/// "xor": digest ^= sha1(data). Keys are xored into the dataset digest, each db preceded by a mix
/// of its big-endian index. An empty dataset gives 40 zeros.
/// </summary>
public sealed partial class DebugCommands
{
    /// <summary>DEBUG POPULATE count [prefix] [size]: keys prefix:N holding "value:N" (zero-padded or cut to size); existing keys are kept.</summary>
    private static void Populate(CommandContext ctx)
    {
        if (ctx.ArgCount > 5)
        {
            ctx.Error(Errors.DebugWrongArguments(ctx.ArgString(1)));
            return;
        }
        if (!TryPositive(ctx.Arg(2), out long count) || (ctx.ArgCount == 5 && !TryPositive(ctx.Arg(4), out _)))
        {
            ctx.Error(Errors.MustBePositive);
            return;
        }
        long size = 0;
        if (ctx.ArgCount == 5) TryPositive(ctx.Arg(4), out size);
        byte[] prefix = ctx.ArgCount >= 4 ? ctx.Arg(3).ToArray() : "key"u8.ToArray();
        var db = ctx.Db;
        Span<byte> number = stackalloc byte[24];
        for (long j = 0; j < count; j++)
        {
            j.TryFormat(number, out int digits, default, CultureInfo.InvariantCulture);
            var key = new byte[prefix.Length + 1 + digits];
            prefix.CopyTo(key, 0);
            key[prefix.Length] = (byte)':';
            number[..digits].CopyTo(key.AsSpan(prefix.Length + 1));
            if (db.Lookup(key) != null) continue;
            byte[] text = new byte[6 + digits];
            "value:"u8.CopyTo(text);
            number[..digits].CopyTo(text.AsSpan(6));
            byte[] value = text;
            if (size > 0)
            {
                value = new byte[size];
                text.AsSpan(0, (int)Math.Min(size, text.Length)).CopyTo(value);
            }
            db.Set(key, StringObject.Create(value));
        }
        ctx.Reply.WriteOk();
    }

    private static bool TryPositive(ReadOnlySpan<byte> arg, out long value) => RequestParser.TryParseLong(arg, out value) && value >= 0;

    private static void Digest(CommandContext ctx)
    {
        var final = new byte[20];
        var ks = ctx.Keyspace;
        Span<byte> dbIndex = stackalloc byte[4];
        for (int j = 0; j < ks.Count; j++)
        {
            var db = ks[j];
            if (db.Count == 0) continue;
            BinaryPrimitives.WriteInt32BigEndian(dbIndex, j);
            Mix(final, dbIndex);
            var dict = db.Dict;
            var keyDigest = new byte[20];
            for (int i = dict.NextUsed(0); i >= 0; i = dict.NextUsed(i + 1))
            {
                Array.Clear(keyDigest);
                byte[] key = dict.KeyAt(i);
                Mix(keyDigest, key);
                ObjectDigest(keyDigest, dict.ValueAt(i), db.GetExpire(key) != -1);
                XorSha(final, keyDigest);
            }
        }
        ctx.Reply.WriteSimpleString(Convert.ToHexStringLower(final));
    }

    private static void DigestValue(CommandContext ctx)
    {
        ctx.Reply.WriteArrayHeader(ctx.ArgCount - 2);
        var digest = new byte[20];
        for (int i = 2; i < ctx.ArgCount; i++)
        {
            Array.Clear(digest);
            // Logically expired keys still count: Redis reads the dict directly here.
            if (ctx.Db.Dict.TryGetValue(ctx.Arg(i), out var o)) ObjectDigest(digest, o, ctx.Db.GetExpire(ctx.Arg(i)) != -1);
            ctx.Reply.WriteSimpleString(Convert.ToHexStringLower(digest));
        }
    }

    private static void ObjectDigest(byte[] digest, RedisObject o, bool hasExpire)
    {
        Span<byte> type = stackalloc byte[4];
        BinaryPrimitives.WriteInt32BigEndian(type, (int)o.Type);
        Mix(digest, type);
        var element = new byte[20];
        switch (o)
        {
            case StringObject s:
                Mix(digest, s.GetBytes());
                break;
            case ListObject l:
                foreach (var e in l.Enumerate()) Mix(digest, e);
                break;
            case SetObject set:
                foreach (var m in set.EnumerateMembers()) XorSha(digest, m);
                break;
            case ZSetObject z:
                var it = z.Walk(0, reverse: false);
                while (it.MoveNext())
                {
                    Array.Clear(element);
                    Mix(element, it.Member);
                    Mix(element, Encoding.ASCII.GetBytes(ScoreG17(it.Score)));
                    XorSha(digest, element);
                }
                break;
            case HashObject h:
                for (int i = 0; i < h.PositionLimit; i++)
                {
                    if (!h.TryGetAt(i, out var f, out var v)) continue;
                    Array.Clear(element);
                    Mix(element, f);
                    Mix(element, v);
                    XorSha(digest, element);
                }
                break;
            case StreamObject st:
                foreach (var e in st.Range(StreamId.Zero, StreamId.Max, false))
                {
                    Mix(digest, Encoding.ASCII.GetBytes(string.Create(CultureInfo.InvariantCulture, $"{e.Id.Ms}.{e.Id.Seq}")));
                    foreach (var fv in e.FieldsAndValues) Mix(digest, fv);
                }
                break;
        }
        if (hasExpire) XorSha(digest, "!!expire!!"u8);
    }

    /// <summary>printf("%.17g"), as debug.c formats zset scores.</summary>
    private static string ScoreG17(double score) =>
        double.IsPositiveInfinity(score) ? "inf" : double.IsNegativeInfinity(score) ? "-inf" : NumberFormat.FormatG(score, 17);

    /// <summary>digest = sha1(digest ^ sha1(data)) (Redis's mixDigest): order-dependent chaining.</summary>
    private static void Mix(byte[] digest, ReadOnlySpan<byte> data)
    {
        XorSha(digest, data);
        SHA1.HashData(digest, digest);
    }

    /// <summary>digest ^= sha1(data) (Redis's xorDigest): order-independent accumulation.</summary>
    private static void XorSha(byte[] digest, ReadOnlySpan<byte> data)
    {
        Span<byte> hash = stackalloc byte[20];
        SHA1.HashData(data, hash);
        for (int i = 0; i < 20; i++) digest[i] ^= hash[i];
    }

    /// <summary>DEBUG PROTOCOL type: a sample reply of each RESP3 type (clients' test suites use it).</summary>
    private static void ProtocolSample(CommandContext ctx)
    {
        var w = ctx.Reply;
        switch (ctx.ArgString(2).ToLowerInvariant())
        {
            case "string": w.WriteBulk("Hello World"); break;
            case "integer": w.WriteInteger(12345); break;
            case "double": w.WriteDouble(3.141); break;
            case "bignum": w.WriteBigNumber("1234567999999999999999999999999999999"); break;
            case "null": w.WriteNull(); break;
            case "array":
                w.WriteArrayHeader(3);
                for (int j = 0; j < 3; j++) w.WriteInteger(j);
                break;
            case "set":
                w.WriteSetHeader(3);
                for (int j = 0; j < 3; j++) w.WriteInteger(j);
                break;
            case "map":
                w.WriteMapHeader(3);
                for (int j = 0; j < 3; j++)
                {
                    w.WriteInteger(j);
                    w.WriteBool(j == 1);
                }
                break;
            case "attrib":
                if (w.Protocol >= 3)
                {
                    w.WriteRaw("|1\r\n"u8);
                    w.WriteBulk("key-popularity");
                    w.WriteArrayHeader(2);
                    w.WriteBulk("key:123");
                    w.WriteInteger(90);
                }
                w.WriteBulk("Some real reply following the attribute");
                break;
            case "push":
                if (w.Protocol < 3)
                {
                    ctx.Error("ERR RESP2 is not supported by this command");
                    return;
                }
                w.WritePushHeader(2);
                w.WriteBulk("server-cpu-usage");
                w.WriteInteger(42);
                w.WriteBulk("Some real reply following the push reply");
                break;
            case "true": w.WriteBool(true); break;
            case "false": w.WriteBool(false); break;
            case "verbatim": w.WriteVerbatim("This is a verbatim\nstring"); break;
            default:
                ctx.Error("ERR Wrong protocol type name. Please use one of the following: string|integer|double|bignum|null|array|set|map|attrib|push|verbatim|true|false");
                break;
        }
    }
}
