using System;
using System.Collections.Generic;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using CalendarWatch.Emulator;
using CalendarWatch.Engine;
using CalendarWatch.Engine.Auth;
using Google.Apis.Util;
using Xunit;

namespace CalendarWatch.Tests.Auth
{
    /// <summary>
    /// Service-account keys against the emulator's token endpoint (auth mode), with an RSA key made for each test:
    /// what the token endpoint and the API saw, and how many token requests each scenario cost.
    /// </summary>
    public sealed class ServiceAccountEmulatorTests : IAsyncLifetime
    {
        private const string Alice = "alice@example.com";
        private const string Bob = "bob@example.com";
        private static readonly Uri Hook = new Uri("http://127.0.0.1:9/hook");

        private CalendarEmulator _emulator = null!;
        private TestServiceAccount _account = null!;

        public async Task InitializeAsync()
        {
            _emulator = await CalendarEmulator.StartAsync(new EmulatorOptions { AllowHttp = true, DeliveryMaxAttempts = 1 });
            _account = new TestServiceAccount(_emulator.TokenUri.AbsoluteUri);
        }

        public async Task DisposeAsync()
        {
            _account.Dispose();
            await _emulator.DisposeAsync();
        }

        [Fact]
        public async Task TheEmulatorVerifiedTheSignatureAndSawTheServiceAccountTheSubjectAndTheNarrowestScope()
        {
            Register(new[] { Alice }, new[] { Scopes.EventsReadonly });
            using var connection = Connect(Alice);

            var channel = await new CalendarApiClient(connection).WatchAsync(Watch(null));

            // iss: the token endpoint found the registered account (it counts unknown issuers under their iss).
            Assert.Equal(new[] { _account.ClientId }, _emulator.Stats.TokenRequestsByClient.Keys);
            // sub: the token was issued to Alice, who owns the channel on her primary calendar.
            Assert.Equal(1, TokenRequests(Alice));
            var seen = Assert.Single(_emulator.Channels);
            Assert.Equal(Alice, seen.Owner);
            Assert.Equal(Alice, seen.CalendarId);
            Assert.Equal(_account.ClientId, seen.ClientId);
            Assert.True(seen.CreatedByServiceAccount);
            Assert.Equal(channel.ResourceId, seen.ResourceId);
            Assert.Equal(Alice, channel.Subject);
            // scope: only calendar.events.readonly was granted (any other scope in the JWT is unauthorized_client), and
            // the API accepted the token for events.watch: the JWT asked for exactly calendar.events.readonly.
            Assert.Equal(new[] { Scopes.EventsReadonly }, ApiMethod.EventsWatch.Narrowest);
            Assert.Equal(1, _emulator.Stats.RequestsByMethod["calendar.events.watch"]);
        }

        [Fact]
        public async Task AKeyTheEmulatorDoesNotKnowFailsItsSignatureCheckWithAnInvalidGrantThatNamesTheCauses()
        {
            using var impostor = new TestServiceAccount(_emulator.TokenUri.AbsoluteUri);
            // Registered under the same email, but with another key: the signature cannot verify.
            _emulator.RegisterServiceAccount(_account.ClientEmail, impostor.PublicKeyPem, new[] { Alice }, null, _account.ClientId);
            using var connection = Connect(Alice);

            var error = await Assert.ThrowsAsync<CalendarWatchException>(() => new CalendarApiClient(connection).WatchAsync(Watch(null)));

            Assert.Equal("CalendarWatch.InvalidGrant", error.ErrorId);
            Assert.Equal(FailureKind.AuthenticationError, error.Kind);
            Assert.Contains("revoked or deleted", error.Message);
            Assert.Contains("clock", error.Message);
            Assert.Contains(Alice, error.Message);
            Assert.Contains("Invalid JWT Signature", error.Message);
            Assert.Equal(Alice, error.Subject);
            Assert.Empty(_emulator.Channels);
        }

        [Fact]
        public async Task APrefetchAsksForTheDefaultSubjectsEventsTokenOnceAndTheFirstWatchUsesIt()
        {
            Register(new[] { Alice }, new[] { Scopes.EventsReadonly });
            using var connection = Connect(Alice);

            await connection.PrefetchTokenAsync();

            Assert.Equal(1, TokenRequests(Alice));
            Assert.Empty(_emulator.Stats.RequestsByMethod);
            await new CalendarApiClient(connection).WatchAsync(Watch(null));
            Assert.Equal(1, TokenRequests(Alice));
            Assert.Equal(1, _emulator.Stats.RequestsByMethod["calendar.events.watch"]);

            // Connections that fetch no token prefetch nothing.
            using var emulator = CalendarConnection.ForEmulator(_emulator.BaseUri);
            Assert.False(emulator.FetchesTokens);
            Assert.True(emulator.PrefetchTokenAsync().IsCompleted);
        }

        [Fact]
        public async Task AFailedPrefetchIsForgottenAndTheFirstWatchAsksAgainAndReportsWhy()
        {
            using var impostor = new TestServiceAccount(_emulator.TokenUri.AbsoluteUri);
            _emulator.RegisterServiceAccount(_account.ClientEmail, impostor.PublicKeyPem, new[] { Alice }, null, _account.ClientId);
            using var connection = Connect(Alice);

            var prefetch = connection.PrefetchTokenAsync();
            await prefetch;

            Assert.Equal(TaskStatus.RanToCompletion, prefetch.Status);
            Assert.Equal(1, TokenRequests(Alice));
            var error = await Assert.ThrowsAsync<CalendarWatchException>(() => new CalendarApiClient(connection).WatchAsync(Watch(null)));
            Assert.Equal("CalendarWatch.InvalidGrant", error.ErrorId);
            Assert.Contains("Invalid JWT Signature", error.Message);
            Assert.Equal(2, TokenRequests(Alice));
            Assert.Empty(_emulator.Channels);
        }

        [Fact]
        public async Task TwoHundredWatchesForOneSubjectCostOneTokenRequest()
        {
            Register(new[] { Alice }, null);
            using var connection = Connect(Alice);
            var client = new CalendarApiClient(connection);

            // All at once: the concurrent first requests must share one token fetch.
            await Task.WhenAll(Enumerable.Range(0, 200).Select(_ => client.WatchAsync(Watch(null))));

            Assert.Equal(200, _emulator.Channels.Count);
            Assert.Equal(200, _emulator.Stats.RequestsByMethod["calendar.events.watch"]);
            Assert.Equal(1, TokenRequests(Alice));
            Assert.Equal(1, _emulator.Stats.TokenRequestsByClient[_account.ClientId]);
        }

        [Fact]
        public async Task PerItemSubjectsCostOneTokenRequestEachAndEachUserOwnsTheirChannels()
        {
            Register(new[] { Alice, Bob }, null);
            using var connection = Connect(null);
            var client = new CalendarApiClient(connection);

            await Task.WhenAll(Enumerable.Range(0, 100).Select(i => client.WatchAsync(Watch(i % 2 == 0 ? Alice : Bob))));

            Assert.Equal(1, TokenRequests(Alice));
            Assert.Equal(1, TokenRequests(Bob));
            Assert.Equal(2, _emulator.Stats.TokenRequestsByClient[_account.ClientId]);
            Assert.Equal(50, _emulator.Channels.Count(c => c.Owner == Alice && c.CalendarId == Alice));
            Assert.Equal(50, _emulator.Channels.Count(c => c.Owner == Bob && c.CalendarId == Bob));
        }

        [Fact]
        public async Task ATokenTheApiCallsExpiredIsRefreshedOnceAfterThe401()
        {
            // Google.Apis.Auth judges expiry by its own (system) clock, which the emulator's clock does not move: the
            // API's 401 is what tells the client, and forceRefresh must cost exactly one new token.
            Register(new[] { Alice }, null);
            using var connection = Connect(Alice);
            var client = new CalendarApiClient(connection);
            await client.WatchAsync(Watch(null));
            Assert.Equal(1, TokenRequests(Alice));

            // Past the 3599 s token, yet within the 5 minutes of skew the token endpoint allows for the JWT's exp.
            _emulator.AdvanceClock(TimeSpan.FromSeconds(3700));
            await Task.WhenAll(Enumerable.Range(0, 20).Select(_ => client.WatchAsync(Watch(null))));

            Assert.Equal(2, TokenRequests(Alice));
            Assert.Equal(21, _emulator.Channels.Count);

            await Task.WhenAll(Enumerable.Range(0, 20).Select(_ => client.WatchAsync(Watch(null))));
            Assert.Equal(2, TokenRequests(Alice));
        }

        [Fact]
        public async Task AKeyRevokedRightAfterAForcedRefreshIsAnInvalidGrantFromTheTokenEndpoint()
        {
            Register(new[] { Alice }, null);
            using var connection = Connect(Alice);
            var client = new CalendarApiClient(connection);
            await client.WatchAsync(Watch(null));
            // The first token expires on the API's clock: a 401, one forced refresh, a second token.
            _emulator.AdvanceClock(TimeSpan.FromSeconds(3700));
            await client.WatchAsync(Watch(null));
            Assert.Equal(2, TokenRequests(Alice));

            // Seconds later the key is deleted: the emulator forgets every token it issued and knows the account by
            // another key only. The second token is refused too; the refresh must ask the token endpoint, not reuse it.
            _emulator.Reset();
            using var newKey = new TestServiceAccount(_emulator.TokenUri.AbsoluteUri);
            _emulator.RegisterServiceAccount(_account.ClientEmail, newKey.PublicKeyPem, new[] { Alice }, null, _account.ClientId);

            var error = await Assert.ThrowsAsync<CalendarWatchException>(() => client.WatchAsync(Watch(null)));

            Assert.Equal("CalendarWatch.InvalidGrant", error.ErrorId);
            Assert.Equal(FailureKind.AuthenticationError, error.Kind);
            Assert.Contains("revoked or deleted", error.Message);
            Assert.Contains("Invalid JWT Signature", error.Message);
            Assert.Equal(1, _emulator.Stats.TokenRequestsByClient[_account.ClientId]);
            Assert.Equal(1, _emulator.Stats.RequestsByMethod["calendar.events.watch"]);
            Assert.Empty(_emulator.Channels);
        }

        [Fact]
        public async Task WithTheLibraryOnTheEmulatorClockAnExpiredTokenIsRefreshedBeforeTheCallWithout401()
        {
            Register(new[] { Alice }, null);
            var clock = new EmulatorClock(_emulator);
            using var connection = ConnectionFactory.ConnectServiceAccount(ServiceAccountKey.Load(_account.WriteKeyFile()), Alice, null, _emulator.BaseUri, clock);
            var client = new CalendarApiClient(connection);
            await client.WatchAsync(Watch(null));

            _emulator.AdvanceClock(TimeSpan.FromHours(2));
            await client.WatchAsync(Watch(null));

            Assert.Equal(2, TokenRequests(Alice));
            // Two watches, two requests: no 401 and no retry.
            Assert.Equal(2, _emulator.Stats.RequestsByMethod["calendar.events.watch"]);
        }

        [Theory]
        [InlineData("external_account")]
        [InlineData("authorized_user")]
        [InlineData("impersonated_service_account")]
        public void AKeyFileOfAnotherTypeIsRefusedWithoutAnyTokenRequest(string type)
        {
            Register(new[] { Alice }, null);
            _emulator.RegisterUser(Alice, "user-client", "user-secret", "refresh-" + Guid.NewGuid().ToString("N"));
            var json = new Dictionary<string, object>
            {
                ["type"] = type,
                ["client_id"] = "user-client",
                ["client_secret"] = "user-secret",
                ["refresh_token"] = "refresh-token",
                ["token_uri"] = _emulator.TokenUri.AbsoluteUri,
                ["token_url"] = _emulator.TokenUri.AbsoluteUri,
                ["audience"] = "//iam.googleapis.com/projects/1/locations/global/workloadIdentityPools/p/providers/q",
                ["subject_token_type"] = "urn:ietf:params:oauth:token-type:jwt",
                ["credential_source"] = new Dictionary<string, object> { ["url"] = _emulator.TokenUri.AbsoluteUri },
                ["service_account_impersonation_url"] = "https://iamcredentials.googleapis.com/v1/projects/-/serviceAccounts/x@y.iam.gserviceaccount.com:generateAccessToken",
                ["source_credential"] = _account.KeyJson(),
                ["private_key"] = _account.PrivateKeyPem,
                ["client_email"] = _account.ClientEmail,
            };
            var path = _account.Write(type + ".json", json);

            var error = Assert.Throws<CalendarWatchException>(() => ConnectionFactory.ConnectServiceAccount(path, Alice, null, _emulator.BaseUri));

            Assert.Equal("CalendarWatch.UnsupportedCredentialType", error.ErrorId);
            Assert.Contains(type, error.Message);
            Assert.Empty(_emulator.Stats.TokenRequestsByClient);
            KeyFileTests.AssertNoKeyMaterial(_account, error.Message, error.ToString());
            Assert.DoesNotContain("refresh-token", error.ToString());
        }

        [Fact]
        public async Task AScopeNotGrantedInTheAdminConsoleIsUnauthorizedClientNamingTheClientIdAndScopeAndOtherItemsGoOn()
        {
            Register(new[] { Alice }, new[] { Scopes.EventsReadonly });
            using var connection = Connect(Alice);
            var client = new CalendarApiClient(connection);

            var error = await Assert.ThrowsAsync<CalendarWatchException>(() => client.WatchAsync(Watch(null, WatchResource.Acl)));
            var channel = await client.WatchAsync(Watch(null));

            Assert.Equal("CalendarWatch.UnauthorizedClient", error.ErrorId);
            Assert.Equal(FailureKind.PermissionDenied, error.Kind);
            Assert.Contains($"client ID {_account.ClientId} has not been granted scope {Scopes.AclsReadonly} in the Admin console (Security > API controls > Domain-wide delegation)", error.Message);
            Assert.Equal(Alice, error.Subject);
            Assert.Equal("primary", error.CalendarId);
            Assert.Equal(Alice, channel.Subject);
        }

        [Fact]
        public async Task ASubjectOutsideTheDomainIsRefusedForThatItemOnly()
        {
            Register(new[] { Alice }, null);
            using var connection = Connect(null);
            var client = new CalendarApiClient(connection);

            var error = await Assert.ThrowsAsync<CalendarWatchException>(() => client.WatchAsync(Watch("mallory@elsewhere.example")));
            await client.WatchAsync(Watch(Alice));

            Assert.Contains("mallory@elsewhere.example", error.Message);
            Assert.Equal("mallory@elsewhere.example", error.Subject);
            Assert.Single(_emulator.Channels);
        }

        [Fact]
        public async Task AClockOffByHoursIsAnInvalidGrantThatMentionsTheClock()
        {
            Register(new[] { Alice }, null);
            _emulator.AdvanceClock(TimeSpan.FromHours(3));
            using var connection = Connect(Alice);

            var error = await Assert.ThrowsAsync<CalendarWatchException>(() => new CalendarApiClient(connection).WatchAsync(Watch(null)));

            Assert.Equal("CalendarWatch.InvalidGrant", error.ErrorId);
            Assert.Contains("clock", error.Message);
        }

        [Fact]
        public async Task AScopeTheMethodDoesNotAcceptIsInsufficientPermissionsNamingTheScopeUsedAndTheOnesAccepted()
        {
            Register(new[] { Alice }, null);
            using var connection = ConnectionFactory.ConnectServiceAccount(_account.WriteKeyFile(), Alice, new[] { "calendar.acls.readonly" }, _emulator.BaseUri);

            var error = await Assert.ThrowsAsync<CalendarApiException>(() => new CalendarApiClient(connection).WatchAsync(Watch(null)));

            Assert.Equal(403, error.StatusCode);
            Assert.Equal("insufficientPermissions", error.Reason);
            Assert.Equal(FailureKind.PermissionDenied, error.Kind);
            Assert.Contains($"asked for scope(s) {Scopes.AclsReadonly}", error.Message);
            Assert.Contains("calendar.events.watch accepts only", error.Message);
            Assert.Contains(Scopes.EventsReadonly, error.Message);
            Assert.Equal("primary", error.CalendarId);
            Assert.Equal(Alice, error.Subject);
        }

        [Fact]
        public async Task NoAccessTokenOrPrivateKeyAppearsInAnyMessageOrToString()
        {
            Register(new[] { Alice }, new[] { Scopes.EventsReadonly });
            using var connection = Connect(Alice);
            var client = new CalendarApiClient(connection);
            var channel = await client.WatchAsync(Watch(null));
            var accessToken = await connection.TokenSource.GetAccessTokenAsync(Alice, new[] { Scopes.EventsReadonly }, null, default);
            Assert.False(string.IsNullOrEmpty(accessToken));

            var texts = new List<string>
            {
                connection.ToString(), connection.TokenSource.ToString() ?? string.Empty, connection.Account ?? string.Empty,
                ServiceAccountKey.Load(_account.WriteKeyFile()).ToString(), channel.ToString() ?? string.Empty,
            };
            foreach (var failing in new Func<Task>[]
            {
                () => client.WatchAsync(Watch(null, WatchResource.Acl)),                    // unauthorized_client
                () => client.WatchAsync(Watch("nobody@example.com")),                       // subject not delegated
                () => client.WatchAsync(new WatchRequest { CalendarId = "missing@example.com", ChannelId = Guid.NewGuid().ToString(), Address = Hook }),
            })
            {
                var error = await Assert.ThrowsAnyAsync<CalendarWatchException>(failing);
                for (Exception? e = error; e != null; e = e.InnerException)
                {
                    texts.Add(e.Message);
                }

                texts.Add(error.ToString());
            }

            // The 401 path: the expired token itself must not be echoed anywhere.
            _emulator.AdvanceClock(TimeSpan.FromSeconds(3700));
            await client.WatchAsync(Watch(null));
            var refreshed = await connection.TokenSource.GetAccessTokenAsync(Alice, new[] { Scopes.EventsReadonly }, null, default);
            Assert.NotEqual(accessToken, refreshed);

            foreach (var text in texts)
            {
                Assert.DoesNotContain(accessToken!, text, StringComparison.Ordinal);
                Assert.DoesNotContain(refreshed!, text, StringComparison.Ordinal);
            }

            KeyFileTests.AssertNoKeyMaterial(_account, texts.ToArray());
        }

        [Fact]
        public async Task TheProjectLimitIsLearnedOnceByTheProjectsPacerAndNotByTheUsersPacers()
        {
            Register(new[] { Alice, Bob }, null);
            using var connection = Connect(null);
            connection.Retry = new RetrySettings { MaxRetry = 0 };
            _emulator.SetFaults(new EmulatorFaults { ProjectRateLimit = 2, RateLimitWindow = TimeSpan.FromHours(1) });
            var client = new CalendarApiClient(connection);
            await client.WatchAsync(Watch(Alice));
            await client.WatchAsync(Watch(Bob));

            var refused = await Assert.ThrowsAsync<CalendarApiException>(() => client.WatchAsync(Watch(Alice)));

            Assert.Equal("rateLimitExceeded", refused.Reason);
            Assert.True(refused.IsProjectRateLimit);
            Assert.True(connection.ProjectPacer.IsLearning);
            foreach (var user in new[] { Alice, Bob })
            {
                var pacer = connection.ExistingPacerFor(user)!;
                Assert.False(pacer.IsLearning);
                Assert.Null(pacer.Budget);
            }
        }

        [Fact]
        public async Task AUsersLimitIsLearnedByThatUsersPacerAlone()
        {
            Register(new[] { Alice, Bob }, null);
            using var connection = Connect(null);
            connection.Retry = new RetrySettings { MaxRetry = 0 };
            _emulator.SetFaults(new EmulatorFaults { UserRateLimit = 1, RateLimitWindow = TimeSpan.FromHours(1) });
            var client = new CalendarApiClient(connection);
            await client.WatchAsync(Watch(Alice));
            await client.WatchAsync(Watch(Bob));

            var refused = await Assert.ThrowsAsync<CalendarApiException>(() => client.WatchAsync(Watch(Alice)));

            Assert.Equal("userRateLimitExceeded", refused.Reason);
            Assert.False(refused.IsProjectRateLimit);
            Assert.True(connection.ExistingPacerFor(Alice)!.IsLearning);
            Assert.False(connection.ExistingPacerFor(Bob)!.IsLearning);
            Assert.False(connection.ProjectPacer.IsLearning);
            Assert.Null(connection.ProjectPacer.Budget);
        }

        private void Register(IEnumerable<string> subjects, IEnumerable<string>? grantedScopes) =>
            _emulator.RegisterServiceAccount(_account.ClientEmail, _account.PublicKeyPem, subjects, grantedScopes, _account.ClientId);

        private CalendarConnection Connect(string? subject) =>
            ConnectionFactory.ConnectServiceAccount(_account.WriteKeyFile(), subject, null, _emulator.BaseUri);

        private long TokenRequests(string subject) =>
            _emulator.Stats.TokenRequestsByClientAndSubject.TryGetValue(_account.ClientId, out var bySubject) && bySubject.TryGetValue(subject, out var n) ? n : 0;

        private static WatchRequest Watch(string? subject, WatchResource resource = WatchResource.Events) => new WatchRequest
        {
            CalendarId = "primary",
            Resource = resource,
            ChannelId = Guid.NewGuid().ToString(),
            Address = Hook,
            Subject = subject,
        };

        /// <summary>Google.Apis.Auth's clock, read from the emulator's: both agree on when a token expires.</summary>
        private sealed class EmulatorClock : IClock
        {
            private readonly CalendarEmulator _emulator;

            public EmulatorClock(CalendarEmulator emulator) => _emulator = emulator;

            public DateTime Now => _emulator.Now.LocalDateTime;

            public DateTime UtcNow => _emulator.Now.UtcDateTime;
        }
    }
}
