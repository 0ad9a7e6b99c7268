using System;
using System.Linq;
using System.Net;
using System.Threading.Tasks;
using CalendarWatch.Emulator;
using CalendarWatch.Engine;
using CalendarWatch.Engine.Auth;
using CalendarWatch.Tests.Auth;
using CalendarWatch.TestSupport;
using Xunit;

namespace CalendarWatch.Tests.Engine
{
    /// <summary>
    /// Connections through an explicit proxy (Connect-CalendarWatch -Proxy, -ProxyCredential): token and API requests
    /// both go through a forwarding proxy on loopback (tests/LoopbackProxy.cs) to the emulator in auth mode; a proxy
    /// that asks for credentials gets them, and one whose credentials are missing is named in a clear error.
    /// </summary>
    public sealed class ProxyTests : IAsyncLifetime
    {
        private const string Alice = "alice@example.com";
        private const string ProxyUser = "proxy-user";
        private const string ProxyPassword = "proxy-p@ss-7f3c";
        private static readonly Uri Hook = new Uri("http://127.0.0.1:9/hook");

        private CalendarEmulator _emulator = null!;
        private TestServiceAccount _account = null!;

        public async Task InitializeAsync()
        {
            _emulator = await CalendarEmulator.StartAsync(new EmulatorOptions { AllowHttp = true, DeliveryMaxAttempts = 1 });
            _account = new TestServiceAccount(_emulator.TokenUri.AbsoluteUri);
            _emulator.RegisterServiceAccount(_account.ClientEmail, _account.PublicKeyPem, new[] { Alice }, null, _account.ClientId);
        }

        public async Task DisposeAsync()
        {
            _account.Dispose();
            await _emulator.DisposeAsync();
        }

        [Fact]
        public async Task TokenAndApiRequestsBothGoThroughTheProxyWithItsCredentials()
        {
            using var proxy = LoopbackProxy.Start(ProxyUser, ProxyPassword);
            var settings = ProxySettings.For(proxy.Address, new NetworkCredential(ProxyUser, ProxyPassword));
            using var connection = ConnectionFactory.ConnectServiceAccount(_account.WriteKeyFile(), Alice, null, _emulator.BaseUri, settings);

            var channel = await new CalendarApiClient(connection).WatchAsync(Watch());

            Assert.Equal(channel.ResourceId, Assert.Single(_emulator.Channels).ResourceId);
            var forwarded = proxy.Requests.Where(r => r.Authorized).ToArray();
            Assert.Contains(forwarded, r => r.Method == "POST" && r.Url == _emulator.TokenUri.AbsoluteUri && r.Status == 200);
            Assert.Contains(forwarded, r => r.Method == "POST" && r.Url.StartsWith(_emulator.BaseUri.AbsoluteUri + "calendar/v3/calendars/primary/events/watch", StringComparison.Ordinal) && r.Status == 200);
            Assert.Equal("http://127.0.0.1:" + proxy.Address.Port + " (with a credential)", settings.ToString());
            Assert.DoesNotContain(ProxyPassword, connection.ToString() + settings);
        }

        [Fact]
        public async Task AProxyThatWantsCredentialsAndGetsNoneIsNamedAndNothingReachesTheApi()
        {
            using var proxy = LoopbackProxy.Start(ProxyUser, ProxyPassword);
            using var connection = CalendarConnection.ForEmulator(new Uri(_emulator.BaseUri.AbsoluteUri), ProxySettings.For(proxy.Address, null));
            connection.Retry = new RetrySettings { MaxRetry = 0 };

            var error = await Assert.ThrowsAsync<CalendarWatchException>(() => new CalendarApiClient(connection).WatchAsync(Watch(calendar: "alice@example.com")));

            Assert.Equal("CalendarWatch.ProxyAuthenticationRequired", error.ErrorId);
            Assert.Equal(FailurePhase.NotSent, error.Phase);
            Assert.Contains("-ProxyCredential", error.Message);
            Assert.Contains("127.0.0.1:" + proxy.Address.Port, error.Message);
            Assert.All(proxy.Requests, r => Assert.Equal(407, r.Status));
            Assert.Empty(_emulator.Channels);
        }

        [Fact]
        public async Task ATokenRequestTheProxyRefusesIsNamedAsTheProxysRefusal()
        {
            using var proxy = LoopbackProxy.Start(ProxyUser, ProxyPassword);
            using var connection = ConnectionFactory.ConnectServiceAccount(_account.WriteKeyFile(), Alice, null, _emulator.BaseUri, ProxySettings.For(proxy.Address, new NetworkCredential(ProxyUser, "wrong")));
            connection.Retry = new RetrySettings { MaxRetry = 0 };

            var error = await Assert.ThrowsAsync<CalendarWatchException>(() => new CalendarApiClient(connection).WatchAsync(Watch()));

            Assert.Equal("CalendarWatch.ProxyAuthenticationRequired", error.ErrorId);
            Assert.Equal(FailurePhase.TokenEndpoint, error.Phase);
            Assert.Contains("Check the user name and password given as -ProxyCredential", error.Message);
            Assert.Contains(_emulator.TokenUri.AbsoluteUri, error.Message);
            Assert.Empty(_emulator.Channels);
        }

        [Theory]
        [InlineData("http://user:secret-pw@proxy.example.com:8080/", "***@proxy.example.com")]
        [InlineData("https://proxy.example.com/", "https://proxy.example.com/")]
        [InlineData("http://proxy.example.com:8080/path", "http://proxy.example.com:8080/path")]
        public void AnAddressThatIsNotAPlainHttpProxyIsRefusedWithoutShowingAPassword(string value, string shown)
        {
            var error = Assert.Throws<CalendarWatchException>(() => ProxySettings.For(new Uri(value), null));

            Assert.Equal("CalendarWatch.InvalidProxy", error.ErrorId);
            Assert.Contains(shown, error.Message);
            Assert.DoesNotContain("secret-pw", error.Message);
        }

        [Fact]
        public void HostAndPortIsReadAsAnHttpProxy()
        {
            Assert.Equal(new Uri("http://proxy.example.com:8080/"), ProxySettings.For(new Uri("proxy.example.com:8080", UriKind.RelativeOrAbsolute), null).Address);
            Assert.Equal(new Uri("http://10.1.2.3:3128/"), ProxySettings.For(new Uri("10.1.2.3:3128", UriKind.RelativeOrAbsolute), null).Address);
        }

        private static WatchRequest Watch(string calendar = "primary") => new WatchRequest
        {
            CalendarId = calendar,
            Resource = WatchResource.Events,
            ChannelId = Guid.NewGuid().ToString(),
            Address = Hook,
        };
    }
}
