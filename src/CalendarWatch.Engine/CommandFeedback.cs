using System;
using System.Diagnostics;
using System.Globalization;
using System.Threading;

namespace CalendarWatch.Engine
{
    /// <summary>
    /// The counts a long-running command shows (Write-Progress), and when to show them: a status text of
    /// "N of TOTAL" when the number of items is known up front (an array given to the parameter), else "N done";
    /// reports are throttled to one per <see cref="Interval"/> so thousands of items do not flood the host.
    /// Thread-safe counters; <see cref="TryReport"/> belongs to the one thread that writes progress.
    /// </summary>
    public sealed class ProgressCounter
    {
        /// <summary>The shortest time between two progress reports.</summary>
        public static readonly TimeSpan DefaultInterval = TimeSpan.FromMilliseconds(200);

        private readonly Func<TimeSpan> _clock;
        private long _done;
        private TimeSpan? _lastReport;

        /// <param name="total">The number of items when known; null while unknown (pipeline input).</param>
        /// <param name="interval">The shortest time between reports (default 200 ms).</param>
        /// <param name="clock">Elapsed time since some fixed start (default: a Stopwatch); tests pass their own.</param>
        public ProgressCounter(long? total, TimeSpan? interval = null, Func<TimeSpan>? clock = null)
        {
            if (total < 0) throw new ArgumentOutOfRangeException(nameof(total), total, "The total must not be negative.");
            Total = total;
            Interval = interval ?? DefaultInterval;
            if (clock is null)
            {
                var watch = Stopwatch.StartNew();
                clock = () => watch.Elapsed;
            }

            _clock = clock;
        }

        public long? Total { get; }

        public TimeSpan Interval { get; }

        /// <summary>Items finished so far (written, failed or skipped).</summary>
        public long Done => Interlocked.Read(ref _done);

        /// <summary>"3 of 200" when the total is known, else "3 done".</summary>
        public string StatusText => Total is long total
            ? string.Format(CultureInfo.InvariantCulture, "{0} of {1}", Done, total)
            : string.Format(CultureInfo.InvariantCulture, "{0} done", Done);

        /// <summary>0..100 when the total is known, else -1 (Write-Progress's "unknown").</summary>
        public int PercentComplete
        {
            get
            {
                if (Total is not long total) return -1;
                if (total == 0) return 100;
                return (int)Math.Min(100, Done * 100 / total);
            }
        }

        /// <summary>Counts finished items.</summary>
        public void Add(long count = 1)
        {
            if (count < 0) throw new ArgumentOutOfRangeException(nameof(count), count, "The count must not be negative.");
            Interlocked.Add(ref _done, count);
        }

        /// <summary>
        /// True when a report is due: the first call, then once <see cref="Interval"/> has passed since the last report
        /// (the last item of a known total is always due, so the bar reaches 100 %). A true answer starts a new interval.
        /// </summary>
        public bool TryReport()
        {
            var now = _clock();
            var last = Total is long total && Done >= total && total > 0 ? null : _lastReport;
            if (last is TimeSpan previous && now - previous < Interval)
            {
                return false;
            }

            _lastReport = now;
            return true;
        }
    }

    /// <summary>
    /// The lines a stopped command (Ctrl+C) writes through the host for the work it can no longer write to the
    /// pipeline: channels Google created whose objects were not written, and requests cut off in flight that Google
    /// may have carried out. Each line names what an admin needs to find or stop the channel. No token ever.
    /// </summary>
    public static class StopReport
    {
        /// <summary>A channel that was created (its response arrived) but could not be written after the stop.</summary>
        public static string CreatedNotWritten(Channel channel)
        {
            if (channel is null) throw new ArgumentNullException(nameof(channel));
            var expiration = channel.Expiration is DateTimeOffset expires
                ? expires.ToUniversalTime().ToString("u", CultureInfo.InvariantCulture)
                : "(not given)";
            return $"Channel {channel.Id} on calendar {channel.CalendarId} was created but not written because the command was stopped: ResourceId {channel.ResourceId}, Expiration {expiration}. Stop it with this Id and ResourceId, or let it expire.";
        }

        /// <summary>A request that was in flight when the command was stopped: Google may have created the channel.</summary>
        public static string CancelledInFlight(string? channelId, string? calendarId) =>
            $"Request for channel {channelId ?? "(none)"} on calendar {calendarId ?? "(unknown)"} was cancelled in flight; Google may have created it - watch for notifications with X-Goog-Channel-ID {channelId ?? "(none)"}.";

        /// <summary>An item that had failed before the stop but whose error could not be written any more.</summary>
        public static string FailedNotWritten(string? calendarId, string? channelId, string reason) =>
            $"Request for channel {channelId ?? "(none)"} on calendar {calendarId ?? "(unknown)"} failed before the command was stopped: {reason}";

        /// <summary>The record's reason for a channel written Pending whose request the stop kept from being sent.</summary>
        public const string NeverSent = "Never sent: the command was stopped before this channel was requested, so nothing exists.";

        /// <summary>The closing line: how many items were not started at all (nothing was sent for them).</summary>
        public static string NotStarted(long count) =>
            string.Format(CultureInfo.InvariantCulture, "{0} item(s) were not started because the command was stopped; nothing was sent for them.", count);
    }
}
