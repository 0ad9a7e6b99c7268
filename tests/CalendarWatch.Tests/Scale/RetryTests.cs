using System;
using System.Collections.Generic;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using CalendarWatch.Emulator;
using CalendarWatch.Engine;
using Xunit;

namespace CalendarWatch.Tests.Scale
{
    /// <summary>The retry policy through the real client against the emulator's fault knobs.</summary>
    public sealed class RetryTests
    {
        private const string Watch = "calendar.events.watch";

        [Fact]
        public async Task A429IsRetried()
        {
            await using var h = await ScaleHarness.StartAsync();
            h.Emulator.SetFaults(new EmulatorFaults { Error429Rate = 1, RetryAfterSeconds = 0 });
            var notices = new List<RetryNotice>();
            var channel = await h.Client.WatchAsync(h.Request("retry-429-1"), n =>
            {
                notices.Add(n);
                h.Emulator.SetFaults(new EmulatorFaults()); // the next attempt goes through
            });

            Assert.Equal("retry-429-1", channel.Id);
            var notice = Assert.Single(notices);
            Assert.Equal(1, notice.Attempt);
            Assert.Contains("HTTP 429 rateLimitExceeded", notice.Reason);
            Assert.Contains("retry-429-1", notice.Message);
            Assert.Contains(ScaleHarness.Calendar, notice.Message);
            Assert.Equal(2, h.Requests(Watch));
            Assert.Single(h.ChannelIds("retry-429-"));
        }

        [Fact]
        public async Task A429WaitsForItsRetryAfter()
        {
            // Retry-After (30 s) far above every backoff the harness allows (at most 20 ms): the wait announced, and
            // started, is the server's. The caller stops during it, so the test never spends it.
            await using var h = await ScaleHarness.StartAsync();
            h.Emulator.SetFaults(new EmulatorFaults { Error429Rate = 1, RetryAfterSeconds = 30 });
            using var cancel = new CancellationTokenSource();
            var notices = new List<RetryNotice>();
            var call = h.Client.WatchAsync(h.Request("retry-after-1"), n =>
            {
                notices.Add(n);
                cancel.Cancel();
            }, cancel.Token);
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => call.WaitAsync(ScaleHarness.WaitTimeout));

            var notice = Assert.Single(notices);
            Assert.InRange(notice.Delay, TimeSpan.FromSeconds(30), TimeSpan.FromSeconds(33)); // plus at most 10 % jitter
            Assert.Contains("HTTP 429 rateLimitExceeded (Retry-After 30 s)", notice.Reason);
            Assert.Matches(@" in 3[0-3](\.[0-9]+)? s, ", notice.Message); // what -Verbose shows
            Assert.Equal(1, h.Requests(Watch));
            Assert.Empty(h.ChannelIds("retry-after-"));
        }

        [Fact]
        public async Task UserRateLimit403IsRetried()
        {
            await using var h = await ScaleHarness.StartAsync();
            h.Emulator.SetFaults(new EmulatorFaults { UserRateLimit = 1, RateLimitWindow = TimeSpan.FromHours(1) });
            await h.Client.WatchAsync(h.Request("quota-0"));
            var notices = new List<RetryNotice>();
            var channel = await h.Client.WatchAsync(h.Request("quota-1"), n =>
            {
                notices.Add(n);
                h.Emulator.SetFaults(new EmulatorFaults());
            });

            Assert.Equal("quota-1", channel.Id);
            Assert.Contains("HTTP 403 userRateLimitExceeded", Assert.Single(notices).Reason);
            Assert.Equal(2, h.ChannelIds("quota-").Count);
        }

        [Fact]
        public async Task Persistent503GivesUpAfterMaxRetry()
        {
            await using var h = await ScaleHarness.StartAsync();
            var fast = h.Connection.Retry;
            h.Connection.Retry = new RetrySettings { MaxRetry = 2, BaseDelay = fast.BaseDelay, MaxDelay = fast.MaxDelay, RetryTimeLimit = fast.RetryTimeLimit };
            h.Emulator.SetFaults(new EmulatorFaults { Error503Rate = 1 });
            var notices = new List<RetryNotice>();
            // A 503 may have been carried out (Google's envelope or not): the channel may exist, and the error says so.
            var mayExist = await Assert.ThrowsAsync<CalendarWatchException>(() => h.Client.WatchAsync(h.Request("down-1"), notices.Add));
            Assert.Equal("CalendarWatch.ChannelMayExist", mayExist.ErrorId);
            var error = Assert.IsType<CalendarApiException>(mayExist.InnerException);

            Assert.Equal(503, error.StatusCode);
            Assert.Equal("down-1", mayExist.ChannelId);
            Assert.Equal(new[] { 1, 2 }, notices.Select(n => n.Attempt));
            Assert.All(notices, n => Assert.Equal(3, n.MaxAttempts));
            Assert.Equal(3, h.Requests(Watch));
            Assert.Empty(h.ChannelIds("down-"));
        }

        [Fact]
        public async Task RetryTimeLimitStopsRetriesThatWouldEndTooLate()
        {
            await using var h = await ScaleHarness.StartAsync();
            h.Connection.Retry = new RetrySettings { BaseDelay = TimeSpan.FromSeconds(30), MaxDelay = TimeSpan.FromSeconds(30), RetryTimeLimit = TimeSpan.FromSeconds(5) };
            h.Emulator.SetFaults(new EmulatorFaults { Error500Rate = 1 });
            var notices = new List<RetryNotice>();
            var mayExist = await Assert.ThrowsAsync<CalendarWatchException>(() => h.Client.WatchAsync(h.Request("late-1"), notices.Add));
            Assert.Equal("CalendarWatch.ChannelMayExist", mayExist.ErrorId);
            var error = Assert.IsType<CalendarApiException>(mayExist.InnerException);

            Assert.Equal(500, error.StatusCode);
            Assert.Empty(notices); // the first backoff (15–30 s) would end past the 5 s limit
            Assert.Equal(1, h.Requests(Watch));
        }

        [Fact]
        public async Task A400IsNeverRetried()
        {
            await using var h = await ScaleHarness.StartAsync();
            var notices = new List<RetryNotice>();
            var request = h.Request("bad-type-1");
            request.EventTypes = new[] { "noSuchType" };
            var error = await Assert.ThrowsAsync<CalendarApiException>(() => h.Client.WatchAsync(request, notices.Add));

            Assert.Equal(400, error.StatusCode);
            Assert.Empty(notices);
            Assert.Equal(1, h.Requests(Watch));
        }

        [Fact]
        public async Task A404IsNeverRetried()
        {
            await using var h = await ScaleHarness.StartAsync();
            var notices = new List<RetryNotice>();
            var error = await Assert.ThrowsAsync<CalendarApiException>(() => h.Client.WatchAsync(h.Request("missing-1", "no-such-calendar@example.com"), notices.Add));

            Assert.Equal(404, error.StatusCode);
            Assert.Equal("no-such-calendar@example.com", error.CalendarId);
            Assert.Empty(notices);
            Assert.Equal(1, h.Requests(Watch));
        }

        [Fact]
        public async Task AReusedIdWithoutAnEarlierCutOffAttemptStaysChannelIdNotUnique()
        {
            await using var h = await ScaleHarness.StartAsync();
            await h.Client.WatchAsync(h.Request("twice-1"));
            var error = await Assert.ThrowsAsync<CalendarApiException>(() => h.Client.WatchAsync(h.Request("twice-1")));

            Assert.Equal("CalendarWatch.ChannelIdNotUnique", error.ErrorId);
            Assert.Equal(2, h.Requests(Watch));
        }

        [Fact]
        public async Task CancellationStopsARetryAtOnce()
        {
            await using var h = await ScaleHarness.StartAsync();
            h.Connection.Retry = new RetrySettings { BaseDelay = TimeSpan.FromHours(1), MaxDelay = TimeSpan.FromHours(1), RetryTimeLimit = TimeSpan.FromHours(10) };
            h.Emulator.SetFaults(new EmulatorFaults { Error503Rate = 1 });
            using var cancel = new CancellationTokenSource();
            var call = h.Client.WatchAsync(h.Request("stop-1"), n => cancel.Cancel(), cancel.Token); // the caller stops during the (30–60 min) backoff

            // Only a cancel that ends the backoff at once lets the call end within the (generous) guard.
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => call.WaitAsync(ScaleHarness.WaitTimeout));
            Assert.Equal(1, h.Requests(Watch));
            Assert.Empty(h.ChannelIds("stop-"));
        }

        [Fact]
        public async Task ResponseLostMakesTheRetriedWatchChannelMayExist()
        {
            await using var h = await ScaleHarness.StartAsync();
            h.Emulator.SetFaults(new EmulatorFaults { ResponseLostRate = 1 });
            var notices = new List<RetryNotice>();
            var error = await Assert.ThrowsAsync<CalendarWatchException>(() => h.Client.WatchAsync(h.Request("lost-1"), notices.Add));

            Assert.Equal("CalendarWatch.ChannelMayExist", error.ErrorId);
            Assert.Equal(FailureKind.ResourceExists, error.Kind);
            Assert.Equal("lost-1", error.ChannelId);
            Assert.Equal(ScaleHarness.Calendar, error.CalendarId);
            Assert.Contains("lost-1", error.Message);
            Assert.Contains(ScaleHarness.Calendar, error.Message);
            Assert.Contains(h.Address.AbsoluteUri, error.Message);
            Assert.Equal("CalendarWatch.ChannelIdNotUnique", Assert.IsType<CalendarApiException>(error.InnerException).ErrorId);
            Assert.Contains("connection failed", Assert.Single(notices).Reason);
            Assert.Equal(new[] { "lost-1" }, h.ChannelIds("lost-"));
        }

        [Fact]
        public async Task AFreshIdAlreadyTakenOnTheFirstAttemptIsChannelMayExist()
        {
            // A generated id was never used by anyone: if Google says it is taken, only an earlier delivery of this
            // same request can have taken it (HttpClient resends once on a dropped pooled connection, unseen by us).
            await using var h = await ScaleHarness.StartAsync();
            await h.Client.WatchAsync(h.Request("fresh-1"));
            var notices = new List<RetryNotice>();
            var request = h.Request("fresh-1");
            request.ChannelIdGenerated = true;

            var error = await Assert.ThrowsAsync<CalendarWatchException>(() => h.Client.WatchAsync(request, notices.Add));

            Assert.Equal("CalendarWatch.ChannelMayExist", error.ErrorId);
            Assert.Equal(FailureKind.ResourceExists, error.Kind);
            Assert.Equal("fresh-1", error.ChannelId);
            Assert.Contains("the id was new", error.Message);
            Assert.Contains(h.Address.AbsoluteUri, error.Message);
            Assert.Empty(notices);
            Assert.Equal(2, h.Requests(Watch));
            Assert.Equal(new[] { "fresh-1" }, h.ChannelIds("fresh-"));
        }

        [Fact]
        public async Task AResponseLostOnAReusedConnectionIsChannelMayExistForAGeneratedId()
        {
            await using var h = await ScaleHarness.StartAsync();
            await h.Client.WatchAsync(h.Request("warm-1")); // the next request goes out on a pooled connection
            h.Emulator.SetFaults(new EmulatorFaults { ResponseLostRate = 1 });
            var request = h.Request("pooled-1");
            request.ChannelIdGenerated = true;

            var error = await Assert.ThrowsAsync<CalendarWatchException>(() => h.Client.WatchAsync(request));

            Assert.Equal("CalendarWatch.ChannelMayExist", error.ErrorId);
            Assert.Equal("pooled-1", error.ChannelId);
            Assert.Equal(new[] { "pooled-1" }, h.ChannelIds("pooled-"));
        }
    }
}
