using System.Globalization;
using System.Text;

namespace Cinnabar.SlotMigration;

/// <summary>The slots of one migration task: ranges as given (start-end pairs), and a bitmap.</summary>
public sealed class SlotRangeSet
{
    public const int SlotCount = 16384;
    private readonly bool[] _member = new bool[SlotCount];
    private readonly List<(int Start, int End)> _ranges = new();

    public IReadOnlyList<(int Start, int End)> Ranges => _ranges;
    public int Count { get; private set; }

    public bool Contains(int slot) => (uint)slot < SlotCount && _member[slot];

    public IEnumerable<int> Slots()
    {
        foreach (var (s, e) in _ranges)
            for (int i = s; i <= e; i++) yield return i;
    }

    /// <summary>
    /// Parses "&lt;start&gt; &lt;end&gt; [&lt;start&gt; &lt;end&gt; ...]". Errors are Redis's texts for slot
    /// arguments (getSlotOrReply) and for overlapping ranges.
    /// </summary>
    public static string? TryParse(IReadOnlyList<string> args, out SlotRangeSet set)
    {
        set = new SlotRangeSet();
        if (args.Count == 0 || args.Count % 2 != 0) return "ERR wrong number of arguments for 'cluster|migration' command";
        for (int i = 0; i < args.Count; i += 2)
        {
            if (!TrySlot(args[i], out int start) || !TrySlot(args[i + 1], out int end)) return "ERR Invalid or out of range slot";
            if (start > end) return $"ERR start slot number {start} is greater than end slot number {end}";
            for (int s = start; s <= end; s++)
            {
                if (set._member[s]) return $"ERR Slot {s} specified multiple times";
                set._member[s] = true;
                set.Count++;
            }
            set._ranges.Add((start, end));
        }
        return null;
    }

    /// <summary>From a bitmap of slots: consecutive members become one range.</summary>
    public static SlotRangeSet FromSlots(IEnumerable<int> slots)
    {
        var set = new SlotRangeSet();
        foreach (int s in slots)
        {
            if ((uint)s >= SlotCount || set._member[s]) continue;
            set._member[s] = true;
            set.Count++;
        }
        int start = -1;
        for (int s = 0; s <= SlotCount; s++)
        {
            bool on = s < SlotCount && set._member[s];
            if (on && start < 0) start = s;
            else if (!on && start >= 0)
            {
                set._ranges.Add((start, s - 1));
                start = -1;
            }
        }
        return set;
    }

    private static bool TrySlot(string text, out int slot) =>
        int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out slot) && slot < SlotCount;

    /// <summary>"0-100 200-300", as the STATUS reply's slots field.</summary>
    public override string ToString()
    {
        var sb = new StringBuilder();
        foreach (var (s, e) in _ranges)
        {
            if (sb.Length > 0) sb.Append(' ');
            sb.Append(s.ToString(CultureInfo.InvariantCulture)).Append('-').Append(e.ToString(CultureInfo.InvariantCulture));
        }
        return sb.ToString();
    }

    /// <summary>The same ranges as command arguments ("0" "100" "200" "300").</summary>
    public List<string> ToArgs()
    {
        var list = new List<string>();
        foreach (var (s, e) in _ranges)
        {
            list.Add(s.ToString(CultureInfo.InvariantCulture));
            list.Add(e.ToString(CultureInfo.InvariantCulture));
        }
        return list;
    }
}
