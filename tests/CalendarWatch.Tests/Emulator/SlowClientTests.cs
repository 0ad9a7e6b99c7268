using System;
using System.Collections.Generic;
using System.Linq;
using System.Net;
using System.Threading.Tasks;
using CalendarWatch.Emulator;
using Xunit;

namespace CalendarWatch.Tests.Emulator
{
    /// <summary>
    /// Issue 9, defect 16: slow and idle connections are timed out, and no client, however slow or misaddressed,
    /// holds up the others. Timeouts are set small here; every wait is an event with a generous hang guard.
    /// </summary>
    public sealed class SlowClientTests
    {
        // Short enough to keep the tests quick, long enough that a loaded 2-core machine gets a request written after connecting.
        private static readonly TimeSpan Short = TimeSpan.FromSeconds(2);

        private static Task<EmulatorHarness> StartAsync() =>
            EmulatorHarness.StartAsync(o => { o.IdleTimeout = Short; o.BodyTimeout = Short; });

        /// <summary>On a connection of its own: with timeouts this short, a pooled one may be closed as it is reused.</summary>
        private static async Task AssertStatsAnswerAsync(EmulatorHarness h)
        {
            using var request = new System.Net.Http.HttpRequestMessage(System.Net.Http.HttpMethod.Get, new Uri(h.Emulator.BaseUri, "emulator/v1/stats"));
            request.Headers.ConnectionClose = true;
            using var r = await h.Http.SendAsync(request).WaitAsync(EmulatorHarness.WaitTimeout);
            Assert.Equal(HttpStatusCode.OK, r.StatusCode);
        }

        [Fact]
        public void TheTimeoutsHaveDocumentedDefaultsAndMustBePositive()
        {
            var options = new EmulatorOptions();
            Assert.Equal(TimeSpan.FromMinutes(2), options.IdleTimeout);
            Assert.Equal(TimeSpan.FromSeconds(30), options.BodyTimeout);
            Assert.Throws<ArgumentOutOfRangeException>(() => options.IdleTimeout = TimeSpan.Zero);
            Assert.Throws<ArgumentOutOfRangeException>(() => options.BodyTimeout = TimeSpan.FromSeconds(-1));
            Assert.Throws<ArgumentOutOfRangeException>(() => options.BodyTimeout = TimeSpan.FromDays(2));
        }

        [Fact]
        public async Task AConnectionThatSendsNothingIsClosed()
        {
            await using var h = await StartAsync();
            using var raw = await RawHttpClient.ConnectAsync(h.Emulator.BaseUri);
            Assert.True(await raw.WaitForCloseAsync(), "the idle connection was still open");
        }

        [Fact]
        public async Task AConnectionThatStopsInsideItsHeadersIsClosed()
        {
            await using var h = await StartAsync();
            using var raw = await RawHttpClient.ConnectAsync(h.Emulator.BaseUri);
            await raw.SendAsync("GET /emulator/v1/stats HTTP/1.1\r\n" + RawHttpClient.HostHeader(h.Emulator.BaseUri) + "X-Half: ");
            Assert.True(await raw.WaitForCloseAsync(), "the connection with half its headers was still open");
            await AssertStatsAnswerAsync(h);
        }

        [Fact]
        public async Task AKeptAliveConnectionIsClosedOnceIdle()
        {
            await using var h = await StartAsync();
            using var raw = await RawHttpClient.ConnectAsync(h.Emulator.BaseUri);
            await raw.SendAsync("GET /emulator/v1/stats HTTP/1.1\r\n" + RawHttpClient.HostHeader(h.Emulator.BaseUri) + "\r\n");
            Assert.Equal(200, (await raw.ReadResponseAsync()).Status);
            Assert.True(await raw.WaitForCloseAsync(), "the kept-alive connection was still open");
        }

        [Fact]
        public async Task ABodyThatStopsComingIsDroppedAndOthersAreServedMeanwhile()
        {
            await using var h = await StartAsync();
            using var raw = await RawHttpClient.ConnectAsync(h.Emulator.BaseUri);
            await raw.SendAsync("POST /emulator/v1/calendars HTTP/1.1\r\n" + RawHttpClient.HostHeader(h.Emulator.BaseUri) +
                "Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"id\":");
            await AssertStatsAnswerAsync(h);
            Assert.True(await raw.WaitForCloseAsync(), "the connection with a stalled body was still open");
            await AssertStatsAnswerAsync(h);
        }

        [Fact]
        public async Task ManyRequestsForAHostTheEmulatorDoesNotServeDoNotStallIt()
        {
            await using var h = await StartAsync();
            var clients = new List<RawHttpClient>();
            try
            {
                for (int i = 0; i < 128; i++)
                {
                    var raw = await RawHttpClient.ConnectAsync(h.Emulator.BaseUri);
                    clients.Add(raw);
                    await raw.SendAsync("POST /emulator/v1/calendars HTTP/1.1\r\nHost: not-served.example\r\n" +
                        "Content-Type: application/json\r\nContent-Length: 100000\r\n\r\n{");
                }
                await AssertStatsAnswerAsync(h);
                Assert.True(await clients[0].WaitForCloseAsync(), "a misaddressed connection was still open");
            }
            finally
            {
                foreach (var c in clients) c.Dispose();
            }
        }

        [Fact]
        public async Task ThePortIsFreeAgainOnceTheEmulatorIsDisposed()
        {
            int port;
            await using (var first = await CalendarEmulator.StartAsync(new EmulatorOptions { IdleTimeout = Short }))
            {
                port = first.BaseUri.Port;
                using var raw = await RawHttpClient.ConnectAsync(first.BaseUri); // a connection the guard is tracking
            }
            // Nothing of the listener is left on the port: anyone may bind it.
            var probe = new System.Net.Sockets.TcpListener(IPAddress.Loopback, port);
            probe.Start();
            probe.Stop();
        }

        [Fact]
        public async Task ARequestForAnotherHostIsRefused()
        {
            await using var h = await StartAsync();
            using var raw = await RawHttpClient.ConnectAsync(h.Emulator.BaseUri);
            await raw.SendAsync("GET /emulator/v1/stats HTTP/1.1\r\nHost: not-served.example\r\n\r\n");
            var response = await raw.ReadResponseAsync();
            Assert.InRange(response.Status, 400, 404);
        }
    }
}
