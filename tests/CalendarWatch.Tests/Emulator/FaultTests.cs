using System;
using System.Linq;
using System.Net;
using System.Net.Http;
using System.Threading.Tasks;
using CalendarWatch.Emulator;
using Xunit;

namespace CalendarWatch.Tests.Emulator
{
    public sealed class FaultTests
    {
        private const string Alice = EmulatorHarness.Alice;

        [Fact]
        public async Task Error500()
        {
            await using var h = await EmulatorHarness.StartAsync();
            h.Emulator.SetFaults(new EmulatorFaults { Error500Rate = 1 });
            using var r = await h.WatchEventsAsync(Alice, h.Channel("f500"));
            await EmulatorHarness.AssertGoogleErrorAsync(r, 500, "backendError", "INTERNAL");
            Assert.Empty(h.Emulator.Channels);
        }

        [Fact]
        public async Task Error503()
        {
            await using var h = await EmulatorHarness.StartAsync();
            h.Emulator.SetFaults(new EmulatorFaults { Error503Rate = 1 });
            using var r = await h.PostAsync("channels/stop", new System.Text.Json.Nodes.JsonObject { ["id"] = "x", ["resourceId"] = "y" }, h.AliceToken);
            await EmulatorHarness.AssertGoogleErrorAsync(r, 503, "backendError", "UNAVAILABLE");
        }

        [Fact]
        public async Task Error429CarriesRetryAfter()
        {
            await using var h = await EmulatorHarness.StartAsync();
            h.Emulator.SetFaults(new EmulatorFaults { Error429Rate = 1, RetryAfterSeconds = 7 });
            using var r = await h.PostAsync("calendars/primary/events", new System.Text.Json.Nodes.JsonObject { ["summary"] = "x" }, h.AliceToken);
            await EmulatorHarness.AssertGoogleErrorAsync(r, 429, "rateLimitExceeded", "RESOURCE_EXHAUSTED", "usageLimits");
            Assert.Equal(TimeSpan.FromSeconds(7), r.Headers.RetryAfter!.Delta);
        }

        [Fact]
        public async Task ConnectionResetGivesNoResponse()
        {
            await using var h = await EmulatorHarness.StartAsync();
            h.Emulator.SetFaults(new EmulatorFaults { ConnectionResetRate = 1 });
            await Assert.ThrowsAsync<HttpRequestException>(() => h.WatchEventsAsync(Alice, h.Channel("reset")));
            Assert.Empty(h.Emulator.Channels);
        }

        [Fact]
        public async Task ResponseLostCreatesTheChannelButTheClientSeesAFailure()
        {
            await using var h = await EmulatorHarness.StartAsync();
            h.Emulator.SetFaults(new EmulatorFaults { ResponseLostRate = 1 });
            await Assert.ThrowsAsync<HttpRequestException>(() => h.WatchEventsAsync(Alice, h.Channel("lost")));
            var channel = Assert.Single(h.Emulator.Channels);
            Assert.Equal("lost", channel.Id);
            Assert.Equal("active", channel.State);
            // The sync still goes out, and a blind retry with the same id is refused.
            Assert.True(await h.Receiver.WaitForAsync(n => n.Count == 1, EmulatorHarness.WaitTimeout));
            h.Emulator.SetFaults(new EmulatorFaults());
            using var again = await h.WatchEventsAsync(Alice, h.Channel("lost"));
            await EmulatorHarness.AssertGoogleErrorAsync(again, 400, "channelIdNotUnique");
        }

        [Fact]
        public async Task ResponseLostAppliesToWatchOnly()
        {
            await using var h = await EmulatorHarness.StartAsync();
            h.Emulator.SetFaults(new EmulatorFaults { ResponseLostRate = 1 });
            using var r = await h.PostAsync("calendars/primary/events", new System.Text.Json.Nodes.JsonObject { ["summary"] = "x" }, h.AliceToken);
            Assert.Equal(HttpStatusCode.OK, r.StatusCode);
        }

        [Fact]
        public async Task FaultsSpareTheTokenEndpointAndTheAdminSurface()
        {
            await using var h = await EmulatorHarness.StartAsync();
            h.Emulator.SetFaults(new EmulatorFaults { Error500Rate = 1, ConnectionResetRate = 1 });
            using var sa = new TestServiceAccount();
            h.Emulator.RegisterServiceAccount(sa.ClientEmail, sa.PublicKeyPem, Array.Empty<string>());
            using var token = await h.Http.PostAsync(h.Emulator.TokenUri, new FormUrlEncodedContent(new[]
            {
                new System.Collections.Generic.KeyValuePair<string, string>("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer"),
                new System.Collections.Generic.KeyValuePair<string, string>("assertion", sa.CreateAssertion(h.Emulator.Now, EmulatorHarness.CalendarScope)),
            }));
            Assert.Equal(HttpStatusCode.OK, token.StatusCode);
            using var stats = await h.Http.GetAsync(new Uri(h.Emulator.BaseUri, "emulator/v1/stats"));
            Assert.Equal(HttpStatusCode.OK, stats.StatusCode);
        }

        [Fact]
        public async Task SeededFaultsRepeat()
        {
            async Task<string> RunAsync()
            {
                await using var h = await EmulatorHarness.StartAsync(o => o.Faults = new EmulatorFaults { Error503Rate = 0.5, Seed = 1234 });
                var codes = new System.Text.StringBuilder();
                for (int i = 0; i < 12; i++)
                {
                    using var r = await h.WatchEventsAsync(Alice, h.Channel("seed-" + i));
                    codes.Append((int)r.StatusCode).Append(' ');
                }
                return codes.ToString();
            }
            var first = await RunAsync();
            Assert.Equal(first, await RunAsync());
            Assert.Contains("503", first);
            Assert.Contains("200", first);
        }

        [Fact]
        public async Task LatencyFromOptionsBecomesTheStartingFault()
        {
            await using var h = await EmulatorHarness.StartAsync(o => o.Latency = TimeSpan.FromMilliseconds(5));
            Assert.Equal(TimeSpan.FromMilliseconds(5), h.Emulator.Faults.Latency);
            await h.WatchEventsOkAsync(Alice, "slow"); // still answers
        }

        [Fact]
        public async Task RatesOutsideZeroToOneAreRefused()
        {
            await using var h = await EmulatorHarness.StartAsync();
            Assert.Throws<ArgumentOutOfRangeException>(() => h.Emulator.SetFaults(new EmulatorFaults { Error500Rate = 1.5 }));
            Assert.Throws<ArgumentException>(() => h.Emulator.SetFaults(new EmulatorFaults { UserRateLimitStatus = "500" }));
        }
    }

    public sealed class RateLimitTests
    {
        private const string Alice = EmulatorHarness.Alice;

        [Fact]
        public async Task PerUserLimitIs403UserRateLimitExceededUntilTheWindowSlides()
        {
            await using var h = await EmulatorHarness.StartAsync();
            h.Emulator.CreateCalendar("bob@example.com", "bob@example.com");
            h.Emulator.SetFaults(new EmulatorFaults { UserRateLimit = 2, RateLimitWindow = TimeSpan.FromMinutes(1) });
            await h.WatchEventsOkAsync(Alice, "u1");
            await h.WatchEventsOkAsync(Alice, "u2");
            using (var r = await h.WatchEventsAsync(Alice, h.Channel("u3")))
                await EmulatorHarness.AssertGoogleErrorAsync(r, 403, "userRateLimitExceeded", "PERMISSION_DENIED", "usageLimits");
            var bob = h.Emulator.IssueAccessToken("bob@example.com", new[] { EmulatorHarness.CalendarScope });
            await h.WatchEventsOkAsync("primary", "b1", bearer: bob); // another user has their own budget
            h.Emulator.AdvanceClock(TimeSpan.FromSeconds(61));
            await h.WatchEventsOkAsync(Alice, "u3");
        }

        [Fact]
        public async Task PerUserLimitCanAnswer429WithRetryAfter()
        {
            await using var h = await EmulatorHarness.StartAsync();
            h.Emulator.SetFaults(new EmulatorFaults { UserRateLimit = 1, UserRateLimitStatus = "429", RetryAfterSeconds = 3 });
            await h.WatchEventsOkAsync(Alice, "q1");
            using var r = await h.WatchEventsAsync(Alice, h.Channel("q2"));
            await EmulatorHarness.AssertGoogleErrorAsync(r, 429, "rateLimitExceeded", "RESOURCE_EXHAUSTED");
            Assert.Equal(TimeSpan.FromSeconds(3), r.Headers.RetryAfter!.Delta);
        }

        [Fact]
        public async Task PerProjectLimitIs403RateLimitExceededAcrossUsers()
        {
            await using var h = await EmulatorHarness.StartAsync();
            h.Emulator.CreateCalendar("bob@example.com", "bob@example.com");
            h.Emulator.SetFaults(new EmulatorFaults { ProjectRateLimit = 2, RateLimitWindow = TimeSpan.FromSeconds(10) });
            var bob = h.Emulator.IssueAccessToken("bob@example.com", new[] { EmulatorHarness.CalendarScope });
            await h.WatchEventsOkAsync(Alice, "p1");
            await h.WatchEventsOkAsync("primary", "p2", bearer: bob);
            using (var r = await h.WatchEventsAsync("primary", h.Channel("p3"), bearer: bob))
                await EmulatorHarness.AssertGoogleErrorAsync(r, 403, "rateLimitExceeded", "PERMISSION_DENIED", "usageLimits");
            h.Emulator.AdvanceClock(TimeSpan.FromSeconds(11));
            await h.WatchEventsOkAsync(Alice, "p3");
            Assert.Equal(4, h.Emulator.Stats.RequestsByMethod["calendar.events.watch"]);
        }
    }
}
