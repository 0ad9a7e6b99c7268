using System;
using System.Net.Http;
using System.Text;
using System.Text.Json.Nodes;
using System.Threading.Tasks;
using CalendarWatch.Emulator;
using Xunit;

namespace CalendarWatch.Tests.Emulator
{
    /// <summary>
    /// Issue 9, defect 17: a knob value the emulator cannot work with is refused (400 naming the field and its range,
    /// or ArgumentOutOfRangeException from C#) instead of turning every later API call into a 500.
    /// </summary>
    public sealed class KnobValidationTests
    {
        private const string Alice = EmulatorHarness.Alice;

        private static async Task<HttpResponseMessage> PutAsync(EmulatorHarness h, string path, string json)
        {
            using var request = new HttpRequestMessage(HttpMethod.Put, new Uri(h.Emulator.BaseUri, "emulator/v1/" + path))
            {
                Content = new StringContent(json, Encoding.UTF8, "application/json"),
            };
            return await h.Http.SendAsync(request);
        }

        /// <summary>400 invalid, located at the field, with a message that names the field and the allowed range.</summary>
        private static async Task AssertRefusedAsync(HttpResponseMessage r, string field, string range)
        {
            var error = await EmulatorHarness.AssertGoogleErrorAsync(r, 400, "invalid");
            var message = (string)error["message"]!;
            Assert.Contains(field, message);
            Assert.Contains(range, message);
            Assert.Equal(field, (string)error["errors"]![0]!["location"]!);
        }

        private static async Task AssertApiStillWorksAsync(EmulatorHarness h, string channelId)
        {
            h.Emulator.CreateCalendar(Alice, Alice);
            var token = h.Emulator.IssueAccessToken(Alice, new[] { EmulatorHarness.CalendarScope });
            await h.WatchEventsOkAsync(Alice, channelId, bearer: token);
        }

        [Theory]
        [InlineData("{\"latencyMs\":1e12}", "latencyMs", "0 to 600000")]
        [InlineData("{\"latencyMs\":-1}", "latencyMs", "0 to 600000")]
        [InlineData("{\"latency\":\"10675199.02:48:05\"}", "latency", "00:00:00 to 00:10:00")]
        [InlineData("{\"rateLimitWindowSeconds\":1e30}", "rateLimitWindowSeconds", "0 (exclusive) to 86400")]
        [InlineData("{\"rateLimitWindowSeconds\":0}", "rateLimitWindowSeconds", "0 (exclusive) to 86400")]
        [InlineData("{\"rateLimitWindow\":\"3000.00:00:00\"}", "rateLimitWindow", "to 1.00:00:00")]
        [InlineData("{\"userRateLimit\":1e30}", "userRateLimit", "0 to 2147483647")]
        [InlineData("{\"projectRateLimit\":2.5}", "projectRateLimit", "0 to 2147483647")]
        [InlineData("{\"retryAfterSeconds\":1e30}", "retryAfterSeconds", "0 to 86400")]
        [InlineData("{\"seed\":1e30}", "seed", "-2147483648 to 2147483647")]
        [InlineData("{\"error500Rate\":2}", "error500Rate", "0 to 1")]
        [InlineData("{\"userRateLimitStatus\":\"500\"}", "userRateLimitStatus", "\"403\" or \"429\"")]
        public async Task PutFaultsRefusesValuesOutOfRange(string json, string field, string range)
        {
            await using var h = await EmulatorHarness.StartAsync();
            using (var r = await PutAsync(h, "faults", json))
                await AssertRefusedAsync(r, field, range);
            Assert.Equal(TimeSpan.Zero, h.Emulator.Faults.Latency); // nothing changed
            await AssertApiStillWorksAsync(h, "after-faults");
        }

        [Fact]
        public async Task PutFaultsAcceptsTheEdgesOfEachRange()
        {
            await using var h = await EmulatorHarness.StartAsync();
            using (var r = await PutAsync(h, "faults", "{\"latencyMs\":0,\"rateLimitWindowSeconds\":86400,\"retryAfterSeconds\":86400,\"userRateLimit\":2147483647,\"seed\":-2147483648}"))
                Assert.Equal(System.Net.HttpStatusCode.OK, r.StatusCode);
            Assert.Equal(TimeSpan.FromDays(1), h.Emulator.Faults.RateLimitWindow);
            await AssertApiStillWorksAsync(h, "edges");
        }

        [Theory]
        [InlineData("{\"now\":\"9999-12-31T00:00:00Z\"}", "now")]
        [InlineData("{\"now\":\"0001-01-01T00:00:00Z\"}", "now")]
        [InlineData("{\"advanceSeconds\":1e30}", "advanceSeconds")]
        [InlineData("{\"advanceSeconds\":-1e11}", "advanceSeconds")]
        public async Task PutClockRefusesTimesOutsideTheClockRange(string json, string field)
        {
            await using var h = await EmulatorHarness.StartAsync();
            using (var r = await PutAsync(h, "clock", json))
                await AssertRefusedAsync(r, field, "1970-01-01T00:00:00Z to 9000-01-01T00:00:00Z");
            Assert.InRange(h.Emulator.Now - DateTimeOffset.UtcNow, TimeSpan.FromHours(-1), TimeSpan.FromHours(1));
            await AssertApiStillWorksAsync(h, "after-clock");
        }

        [Fact]
        public async Task TheCSharpMethodsThrowArgumentOutOfRange()
        {
            await using var h = await EmulatorHarness.StartAsync();
            var latency = Assert.Throws<ArgumentOutOfRangeException>(() => h.Emulator.SetFaults(new EmulatorFaults { Latency = TimeSpan.FromMilliseconds(1e12) }));
            Assert.Contains("Latency", latency.Message);
            Assert.Throws<ArgumentOutOfRangeException>(() => h.Emulator.SetFaults(new EmulatorFaults { RateLimitWindow = TimeSpan.FromDays(3000) }));
            Assert.Throws<ArgumentOutOfRangeException>(() => h.Emulator.SetFaults(new EmulatorFaults { RetryAfterSeconds = 86401 }));
            Assert.Throws<ArgumentOutOfRangeException>(() => h.Emulator.SetFaults(new EmulatorFaults { Error503Rate = double.NaN }));
            Assert.Throws<ArgumentOutOfRangeException>(() => h.Emulator.SetClock(new DateTimeOffset(9999, 1, 1, 0, 0, 0, TimeSpan.Zero)));
            Assert.Throws<ArgumentOutOfRangeException>(() => h.Emulator.SetClock(DateTimeOffset.MinValue));
            Assert.Throws<ArgumentOutOfRangeException>(() => h.Emulator.AdvanceClock(TimeSpan.MaxValue));
            Assert.Throws<ArgumentOutOfRangeException>(() => h.Emulator.AdvanceClock(TimeSpan.FromDays(-365 * 100)));
            Assert.Throws<ArgumentOutOfRangeException>(() => new EmulatorOptions { Latency = TimeSpan.FromHours(1) });
            Assert.Equal(new DateTimeOffset(1970, 1, 1, 0, 0, 0, TimeSpan.Zero), CalendarEmulator.MinClock);
            Assert.Equal(new DateTimeOffset(9000, 1, 1, 0, 0, 0, TimeSpan.Zero), CalendarEmulator.MaxClock);
            await AssertApiStillWorksAsync(h, "after-csharp");
            // The edges themselves are fine.
            h.Emulator.SetClock(CalendarEmulator.MaxClock - TimeSpan.FromDays(1));
            h.Emulator.SetFaults(new EmulatorFaults { Latency = EmulatorFaults.MaxLatency, RateLimitWindow = EmulatorFaults.MaxRateLimitWindow });
            h.Emulator.SetFaults(new EmulatorFaults());
            await AssertApiStillWorksAsync(h, "at-the-edge");
        }
    }
}
