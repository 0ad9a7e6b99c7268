using System;
using System.Collections.Concurrent;
using System.Linq;
using System.Threading.Tasks;
using CalendarWatch.Emulator;
using CalendarWatch.Engine;
using Xunit;

namespace CalendarWatch.Tests.Engine
{
    /// <summary>The -Debug trace: one exchange per HTTP request of the call it was set for, and URLs shown without secrets.</summary>
    public sealed class HttpTraceTests
    {
        [Theory]
        [InlineData("https://www.googleapis.com/calendar/v3/calendars/a%40b.com/events/watch?eventTypes=default&eventTypes=focusTime", "https://www.googleapis.com/calendar/v3/calendars/a%40b.com/events/watch?eventTypes=default&eventTypes=focusTime")]
        [InlineData("https://proxy.example.com/calendar/v3/channels/stop?key=AIzaSecret123&alt=json", "https://proxy.example.com/calendar/v3/channels/stop?key=***&alt=json")]
        [InlineData("https://user:hunter2@example.com/token?sig=abc", "https://***@example.com/token?sig=***")]
        public void UrlsAreShownWithoutUserInfoOrQueryValuesThatCouldBeSecrets(string url, string shown)
        {
            Assert.Equal(shown, HttpTrace.Redact(new Uri(url)));
        }

        [Fact]
        public async Task OnlyTheCallTheSinkWasSetForIsReported()
        {
            await using var emulator = await CalendarEmulator.StartAsync(new EmulatorOptions { AllowHttp = true, NoAuth = true, DeliveryMaxAttempts = 1 });
            using var connection = CalendarConnection.ForEmulator(emulator.BaseUri);
            var client = new CalendarApiClient(connection);
            var heard = new ConcurrentQueue<HttpExchange>();

            var traced = HttpTrace.RunAsync(heard.Enqueue, () => client.WatchAsync(Watch("traced")));
            var untraced = client.WatchAsync(Watch("untraced"));
            await Task.WhenAll(traced, untraced);
            await client.WatchAsync(Watch("after"));

            var exchange = Assert.Single(heard);
            Assert.Equal("API", exchange.What);
            Assert.Equal("POST", exchange.Method);
            Assert.Equal(200, exchange.Status);
            Assert.Equal(1, exchange.Attempt);
            Assert.EndsWith("/calendar/v3/calendars/primary/events/watch", exchange.Url);
            Assert.Matches(@"^HTTP API POST http://\S+/events/watch -> 200 in \d+ ms \(attempt 1\)$", exchange.ToString());
        }

        private static WatchRequest Watch(string name) => new WatchRequest
        {
            CalendarId = "primary",
            Resource = WatchResource.Events,
            ChannelId = name + "-" + Guid.NewGuid().ToString("N"),
            Address = new Uri("http://127.0.0.1:9/hook"),
        };
    }
}
