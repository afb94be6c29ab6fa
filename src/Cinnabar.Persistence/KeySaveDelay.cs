using System.Diagnostics;

namespace Cinnabar.Persistence;

/// <summary>
/// rdb-key-save-delay (Redis's debugDelay per key saved): a positive value waits that many
/// microseconds per key; a negative value -N waits one microsecond with probability 1/N.
/// Sleeps shorter than a millisecond are owed and paid together, so the average rate is right;
/// the wait is cut short, with <see cref="OperationCanceledException"/>, when the save is
/// cancelled (the replica it streams to went away).
/// </summary>
public sealed class KeySaveDelay
{
    private readonly long _micros;
    private readonly CancellationToken _cancel;
    private readonly Random _rng = new();
    private long _owedMicros;

    private KeySaveDelay(long micros, CancellationToken cancel)
    {
        _micros = micros;
        _cancel = cancel;
    }

    /// <summary>Null when there is nothing to wait for.</summary>
    public static KeySaveDelay? Create(long micros, CancellationToken cancel = default) =>
        micros == 0 ? null : new KeySaveDelay(micros, cancel);

    /// <summary>Waits for <paramref name="keys"/> saved keys (call outside any lock).</summary>
    public void Pay(int keys)
    {
        _cancel.ThrowIfCancellationRequested();
        for (int i = 0; i < keys; i++)
            _owedMicros += _micros > 0 ? _micros : _rng.NextInt64(-_micros) == 0 ? 1 : 0;
        if (_owedMicros < 1000) return;
        long start = Stopwatch.GetTimestamp();
        // Wait in slices so a cancellation is noticed within 100 ms, even for delays of hours.
        while (_owedMicros >= 1000)
        {
            long sliceMs = Math.Min(_owedMicros / 1000, 100);
            if (_cancel.WaitHandle.WaitOne(TimeSpan.FromMilliseconds(sliceMs))) _cancel.ThrowIfCancellationRequested();
            long elapsedMicros = (long)Stopwatch.GetElapsedTime(start).TotalMicroseconds;
            start = Stopwatch.GetTimestamp();
            _owedMicros -= Math.Max(elapsedMicros, sliceMs * 1000);
        }
        if (_owedMicros < 0) _owedMicros = 0;
    }
}
