using System;
using System.Linq;
using System.Threading.Tasks;
using CalendarWatch.Emulator;
using CalendarWatch.Engine;
using CalendarWatch.Engine.Auth;
using Google.Apis.Auth.OAuth2;
using Google.Apis.Auth.OAuth2.Flows;
using Google.Apis.Auth.OAuth2.Responses;
using Xunit;

namespace CalendarWatch.Tests.Auth
{
    /// <summary>Credentials the user chose deliberately: a user's refresh token, and Application Default Credentials.</summary>
    public sealed class UserAndApplicationDefaultTests : IAsyncLifetime
    {
        private const string Carol = "carol@example.com";
        private static readonly Uri Hook = new Uri("http://127.0.0.1:9/hook");
        private readonly string _refreshToken = "1//refresh-" + Guid.NewGuid().ToString("N");
        private CalendarEmulator _emulator = null!;

        public async Task InitializeAsync() => _emulator = await CalendarEmulator.StartAsync(new EmulatorOptions { AllowHttp = true, DeliveryMaxAttempts = 1 });

        public async Task DisposeAsync() => await _emulator.DisposeAsync();

        [Fact]
        public async Task UserCredentialsWatchAsTheUserAndA401RefreshesTheSharedCredentialOnce()
        {
            _emulator.RegisterUser(Carol, "user-client", "user-secret", _refreshToken);
            using var connection = ConnectionFactory.ConnectCredential(UserCredentialAgainstEmulator(), ConnectionKind.ApplicationDefault, null, null, _emulator.BaseUri);
            var client = new CalendarApiClient(connection);

            await client.WatchAsync(Watch(null));
            await client.WatchAsync(Watch(null, WatchResource.Acl));
            Assert.Equal(1, _emulator.Stats.TokenRequestsByClient["user-client"]);
            Assert.All(_emulator.Channels, c => Assert.Equal(Carol, c.Owner));

            // User credentials ignore scopes, so every cache key shares one credential object: a forced refresh must
            // still fetch a new token rather than hand back the refused one.
            _emulator.AdvanceClock(TimeSpan.FromSeconds(3700));
            await client.WatchAsync(Watch(null));
            Assert.Equal(2, _emulator.Stats.TokenRequestsByClient["user-client"]);
            Assert.Equal(3, _emulator.Channels.Count);

            Assert.DoesNotContain(_refreshToken, connection.ToString());
            Assert.DoesNotContain(_refreshToken, connection.Account ?? string.Empty);
        }

        [Fact]
        public async Task UserCredentialsCannotImpersonateAndSaySo()
        {
            _emulator.RegisterUser(Carol, "user-client", "user-secret", _refreshToken);
            var error = Assert.Throws<CalendarWatchException>(() => ConnectionFactory.ConnectCredential(UserCredentialAgainstEmulator(), ConnectionKind.ApplicationDefault, "alice@example.com", null, _emulator.BaseUri));
            Assert.Equal("CalendarWatch.SubjectNotSupported", error.ErrorId);
            Assert.Contains("-KeyFile", error.Message);

            using var connection = ConnectionFactory.ConnectCredential(UserCredentialAgainstEmulator(), ConnectionKind.ApplicationDefault, null, null, _emulator.BaseUri);
            var perItem = await Assert.ThrowsAsync<CalendarWatchException>(() => new CalendarApiClient(connection).WatchAsync(Watch("alice@example.com")));
            Assert.Equal("CalendarWatch.SubjectNotSupported", perItem.ErrorId);
            Assert.Empty(_emulator.Stats.TokenRequestsByClient);
        }

        [Fact]
        public async Task ARevokedRefreshTokenIsAnInvalidGrantThatSaysToLogInAgainWithoutQuotingIt()
        {
            // Not registered with the emulator: as if revoked.
            using var connection = ConnectionFactory.ConnectCredential(UserCredentialAgainstEmulator(), ConnectionKind.ApplicationDefault, null, null, _emulator.BaseUri);

            var error = await Assert.ThrowsAsync<CalendarWatchException>(() => new CalendarApiClient(connection).WatchAsync(Watch(null)));

            Assert.Equal("CalendarWatch.InvalidGrant", error.ErrorId);
            Assert.Contains("gcloud auth application-default login", error.Message);
            for (Exception? e = error; e != null; e = e.InnerException)
            {
                Assert.DoesNotContain(_refreshToken, e.Message);
            }

            Assert.DoesNotContain(_refreshToken, error.ToString());
        }

        [Fact]
        public async Task ApplicationDefaultServiceAccountFromAFileImpersonatesThroughCreateWithUser()
        {
            using var account = new TestServiceAccount(_emulator.TokenUri.AbsoluteUri);
            _emulator.RegisterServiceAccount(account.ClientEmail, account.PublicKeyPem, new[] { Carol }, new[] { Scopes.EventsReadonly }, account.ClientId);
            var credential = CredentialFactory.FromFile<ServiceAccountCredential>(account.WriteKeyFile()).ToGoogleCredential();
            using var connection = ConnectionFactory.ConnectCredential(credential, ConnectionKind.ApplicationDefault, Carol, null, _emulator.BaseUri);
            var client = new CalendarApiClient(connection);

            await Task.WhenAll(Enumerable.Range(0, 20).Select(_ => client.WatchAsync(Watch(null))));

            Assert.Equal(account.ClientEmail, connection.Account);
            Assert.Equal(1, _emulator.Stats.TokenRequestsByClientAndSubject[account.ClientId][Carol]);
            Assert.All(_emulator.Channels, c => Assert.Equal(Carol, c.Owner));
        }

        private GoogleCredential UserCredentialAgainstEmulator()
        {
            var token = _emulator.TokenUri.AbsoluteUri;
            var flow = new AuthorizationCodeFlow(new AuthorizationCodeFlow.Initializer(token, token)
            {
                ClientSecrets = new ClientSecrets { ClientId = "user-client", ClientSecret = "user-secret" },
            });
            return new UserCredential(flow, "carol", new TokenResponse { RefreshToken = _refreshToken }).ToGoogleCredential();
        }

        private static WatchRequest Watch(string? subject, WatchResource resource = WatchResource.Events) => new WatchRequest
        {
            CalendarId = "primary",
            Resource = resource,
            ChannelId = Guid.NewGuid().ToString(),
            Address = Hook,
            Subject = subject,
        };
    }
}
