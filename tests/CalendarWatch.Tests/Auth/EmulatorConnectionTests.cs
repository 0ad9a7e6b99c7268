using System;
using System.Threading.Tasks;
using CalendarWatch.Emulator;
using CalendarWatch.Engine;
using CalendarWatch.Engine.Auth;
using Xunit;

namespace CalendarWatch.Tests.Auth
{
    /// <summary>
    /// Connections that carry no identity of their own choosing (the emulator without auth, a token in hand): what
    /// the emulator sees when they are given a subject, a host name, or an emulator that wants a token.
    /// </summary>
    public sealed class EmulatorConnectionTests
    {
        private const string Alice = "alice@example.com";
        private const string Carol = "carol@example.com";
        private static readonly Uri Hook = new Uri("http://127.0.0.1:9/hook");

        [Fact]
        public async Task AnEmulatorConnectionRefusesAPerItemSubjectBeforeSendingAndTheNextItemGoesOn()
        {
            await using var emulator = await StartAsync(noAuth: true);
            using var connection = CalendarConnection.ForEmulator(emulator.BaseUri);
            var client = new CalendarApiClient(connection);

            var refused = await Assert.ThrowsAsync<CalendarWatchException>(() => client.WatchAsync(Watch(Alice)));
            var channel = await client.WatchAsync(Watch(null));

            Assert.Equal("CalendarWatch.SubjectNotSupported", refused.ErrorId);
            Assert.Equal(FailureKind.InvalidArgument, refused.Kind);
            Assert.Equal(Alice, refused.Subject);
            Assert.Equal("primary", refused.CalendarId);
            Assert.Contains($"'{Alice}'", refused.Message);
            Assert.Contains("--no-auth", refused.Message);
            // Nothing was sent for the refused item; the other was made as the emulator's no-auth user, claiming no one.
            Assert.Equal(1, emulator.Stats.RequestsByMethod["calendar.events.watch"]);
            Assert.Equal(EmulatorOptions.NoAuthPrincipal, Assert.Single(emulator.Channels).Owner);
            Assert.Null(channel.Subject);
        }

        [Fact]
        public async Task AnAccessTokenConnectionRefusesAPerItemSubjectBeforeSending()
        {
            await using var emulator = await StartAsync(noAuth: false);
            emulator.CreateCalendar(Carol, Carol);
            var token = emulator.IssueAccessToken(Carol, new[] { Scopes.EventsReadonly });
            using var connection = CalendarConnection.ForAccessToken(token, emulator.BaseUri);
            var client = new CalendarApiClient(connection);

            var refused = await Assert.ThrowsAsync<CalendarWatchException>(() => client.WatchAsync(Watch(Alice)));
            var channel = await client.WatchAsync(Watch(null));

            Assert.Equal("CalendarWatch.SubjectNotSupported", refused.ErrorId);
            Assert.Equal(FailureKind.InvalidArgument, refused.Kind);
            Assert.Equal(Alice, refused.Subject);
            Assert.Contains("-AccessToken", refused.Message);
            Assert.Contains("-KeyFile", refused.Message);
            Assert.DoesNotContain(token, refused.ToString());
            Assert.Equal(1, emulator.Stats.RequestsByMethod["calendar.events.watch"]);
            Assert.Equal(Carol, Assert.Single(emulator.Channels).Owner);
            Assert.Null(channel.Subject);
        }

        [Fact]
        public async Task AnEmulatorNamedAsLocalhostIsReachedThoughItListensOn127001()
        {
            await using var emulator = await StartAsync(noAuth: true);
            using var connection = CalendarConnection.ForEmulator(CalendarConnection.ParseEmulatorHost("localhost:" + emulator.BaseUri.Port));

            var channel = await new CalendarApiClient(connection).WatchAsync(Watch(null));

            Assert.Equal(channel.ResourceId, Assert.Single(emulator.Channels).ResourceId);
        }

        [Fact]
        public async Task AKeyWhoseTokenUriNamesTheEmulatorAsLocalhostGetsATokenAndWatches()
        {
            await using var emulator = await StartAsync(noAuth: false);
            var localhost = new Uri("http://localhost:" + emulator.BaseUri.Port + "/");
            using var account = new TestServiceAccount(new Uri(localhost, "token").AbsoluteUri);
            emulator.RegisterServiceAccount(account.ClientEmail, account.PublicKeyPem, new[] { Alice }, null, account.ClientId);
            using var connection = ConnectionFactory.ConnectServiceAccount(account.WriteKeyFile(), Alice, null, localhost);

            var channel = await new CalendarApiClient(connection).WatchAsync(Watch(null));

            Assert.Equal(Alice, channel.Subject);
            Assert.Equal(Alice, Assert.Single(emulator.Channels).Owner);
        }

        [Fact]
        public async Task AnEmulatorThatRequiresAuthTellsATokenlessConnectionWhatToDo()
        {
            await using var emulator = await StartAsync(noAuth: false);
            using var connection = CalendarConnection.ForEmulator(emulator.BaseUri);

            var error = await Assert.ThrowsAsync<CalendarWatchException>(() => new CalendarApiClient(connection).WatchAsync(Watch(null)));

            Assert.Equal("CalendarWatch.EmulatorRequiresAuth", error.ErrorId);
            Assert.Equal(FailureKind.AuthenticationError, error.Kind);
            Assert.Equal("primary", error.CalendarId);
            Assert.Contains("--no-auth", error.Message);
            Assert.Contains("-KeyFile", error.Message);
            Assert.Contains(emulator.TokenUri.AbsoluteUri, error.Message);
            Assert.Empty(emulator.Channels);
        }

        private static Task<CalendarEmulator> StartAsync(bool noAuth) =>
            CalendarEmulator.StartAsync(new EmulatorOptions { NoAuth = noAuth, AllowHttp = true, DeliveryMaxAttempts = 1 });

        private static WatchRequest Watch(string? subject) => new WatchRequest
        {
            CalendarId = "primary",
            Resource = WatchResource.Events,
            ChannelId = Guid.NewGuid().ToString(),
            Address = Hook,
            Subject = subject,
        };
    }
}
