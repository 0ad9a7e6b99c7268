using System;
using CalendarWatch.Engine;
using Xunit;

namespace CalendarWatch.Tests.Scale
{
    /// <summary>What the cmdlets show while many items run (progress) and after Ctrl+C (stop report lines).</summary>
    public sealed class CommandFeedbackTests
    {
        [Fact]
        public void ProgressSaysNOfTotalWhenTheTotalIsKnownAndReachesOneHundredPercent()
        {
            var now = TimeSpan.Zero;
            var progress = new ProgressCounter(total: 4, interval: TimeSpan.FromMilliseconds(200), clock: () => now);

            Assert.Equal("0 of 4", progress.StatusText);
            Assert.Equal(0, progress.PercentComplete);
            progress.Add();
            Assert.True(progress.TryReport()); // the first report is always due
            Assert.Equal("1 of 4", progress.StatusText);
            Assert.Equal(25, progress.PercentComplete);

            progress.Add(2);
            Assert.False(progress.TryReport()); // within 200 ms of the last one
            progress.Add();
            Assert.True(progress.TryReport()); // the last item is always shown
            Assert.Equal("4 of 4", progress.StatusText);
            Assert.Equal(100, progress.PercentComplete);
        }

        [Fact]
        public void ProgressIsARunningCountWhenTheTotalIsUnknownAndIsThrottledByTime()
        {
            var now = TimeSpan.Zero;
            var progress = new ProgressCounter(total: null, interval: TimeSpan.FromMilliseconds(200), clock: () => now);

            Assert.True(progress.TryReport());
            var reports = 0;
            for (var i = 0; i < 1000; i++)
            {
                progress.Add();
                now += TimeSpan.FromMilliseconds(1);
                if (progress.TryReport()) reports++;
            }

            Assert.Equal("1000 done", progress.StatusText);
            Assert.Equal(-1, progress.PercentComplete);
            Assert.Equal(5, reports); // one per 200 ms over one simulated second, not one per item
        }

        [Fact]
        public void AStoppedCommandNamesWhatTheAdminNeedsForEachChannel()
        {
            var channel = new Channel
            {
                Id = "chan-1",
                ResourceId = "res-9",
                CalendarId = "room-1@resource.calendar.google.com",
                Expiration = new DateTimeOffset(2030, 1, 2, 3, 4, 5, TimeSpan.FromHours(2)),
                Token = "not-a-secret-but-never-needed",
            };

            var created = StopReport.CreatedNotWritten(channel);
            Assert.Equal("Channel chan-1 on calendar room-1@resource.calendar.google.com was created but not written because the command was stopped: ResourceId res-9, Expiration 2030-01-02 01:04:05Z. Stop it with this Id and ResourceId, or let it expire.", created);
            Assert.DoesNotContain(channel.Token, created);

            var cancelled = StopReport.CancelledInFlight("chan-2", "user@example.com");
            Assert.StartsWith("Request for channel chan-2 on calendar user@example.com was cancelled in flight; Google may have created it", cancelled);
            Assert.EndsWith("X-Goog-Channel-ID chan-2.", cancelled);

            Assert.Contains("3 item(s) were not started", StopReport.NotStarted(3));
            Assert.Contains("chan-3", StopReport.FailedNotWritten("cal", "chan-3", "HTTP 404 notFound"));
        }
    }
}
