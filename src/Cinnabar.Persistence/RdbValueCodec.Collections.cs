using Cinnabar.Persistence.Formats;
using Cinnabar.Storage;

namespace Cinnabar.Persistence;

public static partial class RdbValueCodec
{
    private static partial byte? CollectionType(RedisObject value) => null;

    private static partial void WriteCollectionBody(RdbWriter w, RedisObject value) =>
        throw new NotSupportedException($"cannot serialize {value.GetType().Name}");

    private static partial RedisObject? TryReadCollection(RdbReader r, byte type) => null;
}
