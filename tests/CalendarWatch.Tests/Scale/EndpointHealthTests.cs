using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Net;
using System.Net.Http;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Threading;
using System.Threading.Tasks;
using CalendarWatch.Emulator;
using CalendarWatch.Engine;
using CalendarWatch.Engine.Auth;
using CalendarWatch.Tests.Auth;
using Xunit;

namespace CalendarWatch.Tests.Scale
{
    /// <summary>
    /// Failing fast when an endpoint is down: real closed ports (a listener bound, its port noted, then stopped), the
    /// attempts counted by a handler or by retry notices, never by time.
    /// </summary>
    public sealed class EndpointHealthTests
    {
        private const int Items = 20;
        private const int ThrottleLimit = 4;

        [Fact]
        public async Task AClosedApiPortFailsTheRestAtOnceAndBoundsTheConnectionAttempts()
        {
            var port = ClosedPort();
            var counter = new CountingHandler(new SocketsHttpHandler());
            using var connection = new CalendarConnection(ConnectionKind.AccessToken, new Uri($"http://127.0.0.1:{port}/"), new StaticTokenSource("test-token"), handler: counter);
            connection.Retry = new RetrySettings { BaseDelay = TimeSpan.FromMilliseconds(1), MaxDelay = TimeSpan.FromMilliseconds(5) };
            connection.ApiHealth.BreakDuration = TimeSpan.FromHours(1); // nothing in this test may reopen it

            var outcomes = await RunAsync(new CalendarApiClient(connection), Address());

            Assert.All(outcomes, o => Assert.False(o.IsSuccess));
            var errors = outcomes.Select(o => Assert.IsAssignableFrom<CalendarWatchException>(o.Exception)).ToList();
            Assert.All(errors, e => Assert.Contains(e.ErrorId, new[] { "CalendarWatch.EndpointUnreachable", "CalendarWatch.ConnectionFailed" }));

            // Once the threshold was reached nothing more was sent: every item still to start failed unsent, and
            // only attempts already past the check when it tripped (one per other slot at most) connected at all.
            Assert.True(errors.Count(e => e.ErrorId == "CalendarWatch.EndpointUnreachable") >= Items - ThrottleLimit);
            Assert.InRange(counter.Attempts, EndpointHealth.DefaultThreshold, EndpointHealth.DefaultThreshold + ThrottleLimit - 1);
            Assert.Equal(counter.Attempts, connection.ApiHealth.FailuresInARow);
            Assert.True(connection.ApiHealth.IsDown);

            var unreachable = errors.First(e => e.ErrorId == "CalendarWatch.EndpointUnreachable");
            Assert.Equal(FailureKind.ConnectionError, unreachable.Kind);
            Assert.Contains($"127.0.0.1:{port}", unreachable.Message);
            Assert.Contains("not sent", unreachable.Message);
            Assert.Contains("address is right", unreachable.Message);
            Assert.Contains("firewall", unreachable.Message);
            Assert.NotNull(unreachable.CalendarId);
            Assert.NotNull(unreachable.ChannelId);
        }

        [Fact]
        public async Task AClosedTokenPortFailsTheRestAtOnceWithoutTouchingTheApi()
        {
            await using var emulator = await CalendarEmulator.StartAsync(new EmulatorOptions { AllowHttp = true });
            using var account = new TestServiceAccount($"http://127.0.0.1:{ClosedPort()}/token");
            using var connection = ConnectionFactory.ConnectServiceAccount(account.WriteKeyFile(), null, null, emulator.BaseUri);
            connection.Retry = new RetrySettings { BaseDelay = TimeSpan.FromMilliseconds(1), MaxDelay = TimeSpan.FromMilliseconds(5) };
            connection.TokenHealth.BreakDuration = TimeSpan.FromHours(1);

            var outcomes = await RunAsync(new CalendarApiClient(connection), Address());

            var errors = outcomes.Select(o => Assert.IsAssignableFrom<CalendarWatchException>(o.Exception)).ToList();
            var unreachable = errors.Where(e => e.ErrorId == "CalendarWatch.EndpointUnreachable").ToList();
            Assert.True(unreachable.Count >= Items - ThrottleLimit);
            Assert.All(errors.Except(unreachable), e => Assert.Equal("CalendarWatch.ConnectionFailed", e.ErrorId));

            // Nothing ever connected, so every token request made is in the count of failures to connect in a row.
            Assert.InRange(connection.TokenHealth.FailuresInARow, EndpointHealth.DefaultThreshold, EndpointHealth.DefaultThreshold + ThrottleLimit - 1);
            Assert.Contains("token endpoint", unreachable[0].Message);
            Assert.Contains(account.ClientEmail, unreachable[0].Message);
            Assert.DoesNotContain(emulator.Stats.RequestsByMethod, m => m.Value > 0);
            Assert.True(connection.TokenHealth.IsDown);
            Assert.False(connection.ApiHealth.IsDown);
        }

        [Fact]
        public void OnlyFailuresToConnectInARowCountAndAnAnswerResetsThem()
        {
            var clock = new ManualClock();
            var health = new EndpointHealth("the test endpoint http://127.0.0.1:1/", timeProvider: clock) { BreakDuration = TimeSpan.FromSeconds(30) };
            var refused = new HttpRequestException("Connection refused", new SocketException((int)SocketError.ConnectionRefused));

            for (var i = 0; i < EndpointHealth.DefaultThreshold - 1; i++) Assert.True(health.Failed(refused));
            health.Reached();
            for (var i = 0; i < EndpointHealth.DefaultThreshold - 1; i++) health.Failed(refused);
            Assert.False(health.Failed(new IOException("reset", new SocketException((int)SocketError.ConnectionReset))));
            Assert.False(health.IsDown);
            health.ThrowIfDown();

            health.Failed(refused);

            Assert.True(health.IsDown);
            var error = Assert.Throws<CalendarWatchException>(health.ThrowIfDown);
            Assert.Equal("CalendarWatch.EndpointUnreachable", error.ErrorId);
            Assert.Contains("The test endpoint http://127.0.0.1:1/ could not be reached", error.Message);
            Assert.Contains($"last {EndpointHealth.DefaultThreshold} attempts", error.Message);

            // After the break one attempt may go again; one more failure to connect closes it again at once.
            clock.Advance(TimeSpan.FromSeconds(30));
            Assert.False(health.IsDown);
            health.Failed(refused);
            Assert.True(health.IsDown);
            health.Reached();
            Assert.False(health.IsDown);
            Assert.Equal(0, health.FailuresInARow);
        }

        [Fact]
        public void UnreachableMeansNoConnectionCouldBeMade()
        {
            Assert.True(EndpointHealth.IsUnreachable(new HttpRequestException("x", new SocketException((int)SocketError.ConnectionRefused))));
            Assert.True(EndpointHealth.IsUnreachable(new HttpRequestException("x", new SocketException((int)SocketError.HostNotFound))));
            Assert.True(EndpointHealth.IsUnreachable(new HttpRequestException(HttpRequestError.NameResolutionError)));
            Assert.True(EndpointHealth.IsUnreachable(new HttpRequestException(HttpRequestError.SecureConnectionError)));
            Assert.True(EndpointHealth.IsUnreachable(new HttpRequestException(HttpRequestError.ProxyTunnelError)));
            Assert.True(EndpointHealth.IsUnreachable(new HttpRequestException("x", new AuthenticationException("bad certificate"))));
            Assert.True(EndpointHealth.IsUnreachable(new CalendarWatchException("CalendarWatch.ConnectionFailed", FailureKind.ConnectionError, "token", new HttpRequestException("x", new SocketException((int)SocketError.ConnectionRefused)))));

            Assert.False(EndpointHealth.IsUnreachable(new HttpRequestException(HttpRequestError.ResponseEnded)));
            Assert.False(EndpointHealth.IsUnreachable(new IOException("x", new SocketException((int)SocketError.ConnectionReset))));
            Assert.False(EndpointHealth.IsUnreachable(new TaskCanceledException()));
            Assert.False(EndpointHealth.IsUnreachable(new CalendarApiException(503, "backendError", "global", "down", null, "HTTP 503")));
        }

        private static Uri Address() => new Uri("http://127.0.0.1:9/hook");

        /// <summary>A loopback port that was just listened on and is closed now: connecting is refused.</summary>
        private static int ClosedPort()
        {
            var listener = new TcpListener(IPAddress.Loopback, 0);
            listener.Start();
            var port = ((IPEndPoint)listener.LocalEndpoint).Port;
            listener.Stop();
            return port;
        }

        private static Task<List<CompletedWork<WatchRequest, Channel>>> RunAsync(CalendarApiClient client, Uri address) => Task.Run(() =>
        {
            var outcomes = new List<CompletedWork<WatchRequest, Channel>>();
            using var queue = new BoundedWorkQueue<WatchRequest, Channel>(ThrottleLimit);
            for (var i = 0; i < Items; i++)
            {
                var request = new WatchRequest { CalendarId = "room-" + i + "@resource.calendar.google.com", Resource = WatchResource.Events, ChannelId = "down-" + i, Address = address };
                queue.Enqueue(request, ct => client.WatchAsync(request, ct), outcomes.Add);
            }

            queue.Complete(outcomes.Add);
            return outcomes;
        });

        private sealed class CountingHandler : DelegatingHandler
        {
            private int _attempts;

            public CountingHandler(HttpMessageHandler inner)
                : base(inner)
            {
            }

            public int Attempts => Volatile.Read(ref _attempts);

            protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
            {
                Interlocked.Increment(ref _attempts);
                return base.SendAsync(request, cancellationToken);
            }
        }
    }
}
