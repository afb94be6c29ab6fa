using Cinnabar.Persistence.Formats;
using Cinnabar.Storage;

namespace Cinnabar.Persistence;

public static partial class RdbValueCodec
{
    private static partial byte? ExtraCollectionType(RedisObject value) => null;

    private static partial bool TryWriteExtra(RdbWriter w, RedisObject value) => false;

    private static partial RedisObject? TryReadExtra(RdbReader r, byte type) => null;
}
