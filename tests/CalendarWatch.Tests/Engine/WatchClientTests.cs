using System;
using System.Linq;
using System.Threading.Tasks;
using CalendarWatch.Emulator;
using CalendarWatch.Engine;
using Xunit;

namespace CalendarWatch.Tests.Engine
{
    /// <summary>
    /// The engine's watch and stop calls against the emulator over loopback HTTP. Every assertion reads what the
    /// emulator holds (its channel table and stats), not what the client believes it sent.
    /// </summary>
    public sealed class WatchClientTests : IAsyncLifetime
    {
        private const string Owner = "user@example.com";
        private static readonly Uri Receiver = new Uri("https://hooks.example.com/calendar");

        private CalendarEmulator _emulator = null!;
        private CalendarConnection _connection = null!;
        private CalendarApiClient _client = null!;

        public async Task InitializeAsync()
        {
            _emulator = await CalendarEmulator.StartAsync(new EmulatorOptions { NoAuth = true });
            _connection = CalendarConnection.ForEmulator(_emulator.BaseUri);
            _client = new CalendarApiClient(_connection);
        }

        public async Task DisposeAsync()
        {
            _connection.Dispose();
            await _emulator.DisposeAsync();
        }

        [Fact]
        public async Task EventWatchSendsEveryParameterAsTheContractSays()
        {
            _emulator.CreateCalendar("team@group.calendar.google.com", Owner);
            var before = _emulator.Now;

            var channel = await _client.WatchAsync(new WatchRequest
            {
                CalendarId = "team@group.calendar.google.com",
                Resource = WatchResource.Events,
                ChannelId = "chan-events-1",
                Address = Receiver,
                Token = "target=team",
                TimeToLive = TimeSpan.FromHours(6),
                EventTypes = new[] { "default", "focusTime" },
            });

            var held = Assert.Single(_emulator.Channels);
            Assert.Equal("chan-events-1", held.Id);
            Assert.Equal("team@group.calendar.google.com", held.CalendarId);
            Assert.Equal("events", held.Resource);
            Assert.Equal(Receiver.AbsoluteUri, held.Address);
            Assert.Equal("target=team", held.Token);
            Assert.Equal(new[] { "default", "focusTime" }, held.EventTypes);
            Assert.InRange(held.Expiration, before.AddHours(6).AddSeconds(-5), _emulator.Now.AddHours(6).AddSeconds(5));

            Assert.Equal("api#channel", channel.Kind);
            Assert.Equal(held.Id, channel.Id);
            Assert.Equal(held.ResourceId, channel.ResourceId);
            Assert.Equal(held.ResourceUri, channel.ResourceUri);
            Assert.Equal(held.Expiration.ToUnixTimeMilliseconds(), channel.Expiration!.Value.ToUnixTimeMilliseconds());
            Assert.Equal(TimeSpan.Zero, channel.Expiration.Value.Offset);
            Assert.Equal("team@group.calendar.google.com", channel.CalendarId);
            Assert.Equal("Events", channel.Resource);
            Assert.Equal("default,focusTime", channel.EventTypes);
            Assert.Equal("target=team", channel.Token);
        }

        [Fact]
        public async Task ExpiresAtTravelsAsUnixMilliseconds()
        {
            _emulator.CreateCalendar("ops@group.calendar.google.com", Owner);
            var expiresAt = DateTimeOffset.FromUnixTimeMilliseconds(_emulator.Now.AddDays(2).ToUnixTimeMilliseconds());

            var channel = await _client.WatchAsync(new WatchRequest
            {
                CalendarId = "ops@group.calendar.google.com",
                Resource = WatchResource.Acl,
                ChannelId = "chan-acl-1",
                Address = Receiver,
                ExpiresAt = expiresAt,
            });

            var held = Assert.Single(_emulator.Channels);
            Assert.Equal("acl", held.Resource);
            Assert.Equal(expiresAt, held.Expiration);
            Assert.Null(held.Token);
            Assert.Empty(held.EventTypes);
            Assert.Equal(expiresAt, channel.Expiration);
            Assert.Equal("Acl", channel.Resource);
            Assert.Null(channel.Token);
        }

        [Fact]
        public async Task EventsAndAclOfOneCalendarHaveDifferentStableResourceIds()
        {
            _emulator.CreateCalendar("shared@group.calendar.google.com", Owner);
            WatchRequest Request(WatchResource resource, string id) => new WatchRequest { CalendarId = "shared@group.calendar.google.com", Resource = resource, ChannelId = id, Address = Receiver };

            var events1 = await _client.WatchAsync(Request(WatchResource.Events, "e1"));
            var events2 = await _client.WatchAsync(Request(WatchResource.Events, "e2"));
            var acl = await _client.WatchAsync(Request(WatchResource.Acl, "a1"));

            Assert.Equal(events1.ResourceId, events2.ResourceId);
            Assert.NotEqual(events1.ResourceId, acl.ResourceId);
            Assert.Equal(3, _emulator.Channels.Count);
        }

        [Theory]
        [InlineData("en.usa-team#work@group.calendar.google.com")]
        [InlineData("a+b@example.com")]
        [InlineData("folder/sub@group.calendar.google.com")]
        [InlineData("Room 12 (east)@resource.calendar.google.com")]
        [InlineData("équipe-café@exemple.fr")]
        [InlineData("日本語カレンダー@group.calendar.google.com")]
        [InlineData("50%?x=1&y=2@group.calendar.google.com")]
        public async Task CalendarIdsRoundTripAsOnePathSegment(string calendarId)
        {
            _emulator.CreateCalendar(calendarId, Owner);

            var events = await _client.WatchAsync(new WatchRequest { CalendarId = calendarId, Resource = WatchResource.Events, ChannelId = "e-" + Guid.NewGuid().ToString("N"), Address = Receiver });
            var acl = await _client.WatchAsync(new WatchRequest { CalendarId = calendarId, Resource = WatchResource.Acl, ChannelId = "a-" + Guid.NewGuid().ToString("N"), Address = Receiver });

            Assert.All(_emulator.Channels, c => Assert.Equal(calendarId, c.CalendarId));
            Assert.Equal(calendarId, events.CalendarId);
            Assert.Equal(calendarId, acl.CalendarId);
            Assert.Contains(ApiMethod.EncodeSegment(calendarId), events.ResourceUri, StringComparison.Ordinal);
        }

        [Fact]
        public void EncodeSegmentEscapesEveryReservedCharacter()
        {
            Assert.Equal("en.usa%23holiday%40group.v.calendar.google.com", ApiMethod.EncodeSegment("en.usa#holiday@group.v.calendar.google.com"));
            Assert.Equal("a%2Bb%2Fc%20d%3F%25", ApiMethod.EncodeSegment("a+b/c d?%"));
            Assert.Equal("caf%C3%A9", ApiMethod.EncodeSegment("café"));
        }

        [Fact]
        public async Task PrimaryMeansTheCallersOwnCalendar()
        {
            var channel = await _client.WatchAsync(new WatchRequest { CalendarId = "primary", ChannelId = "p1", Address = Receiver });

            Assert.Equal("primary", channel.CalendarId);
            Assert.Equal(Owner, Assert.Single(_emulator.Channels).CalendarId);
        }

        [Fact]
        public async Task HolidayCalendarBecomesPushNotSupported()
        {
            var ex = await Assert.ThrowsAsync<CalendarApiException>(() => _client.WatchAsync(new WatchRequest
            {
                CalendarId = "en.usa#holiday@group.v.calendar.google.com",
                ChannelId = "h1",
                Address = Receiver,
            }));

            Assert.Equal(400, ex.StatusCode);
            Assert.Equal("pushNotSupportedForRequestedResource", ex.Reason);
            Assert.Equal("CalendarWatch.PushNotSupported", ex.ErrorId);
            Assert.Equal(FailureKind.NotSupported, ex.Kind);
            Assert.Equal("en.usa#holiday@group.v.calendar.google.com", ex.CalendarId);
            Assert.Equal("h1", ex.ChannelId);
            Assert.False(ex.IsTransient);
            Assert.Contains("cannot be watched", ex.Message, StringComparison.Ordinal);
            Assert.Empty(_emulator.Channels);
        }

        [Fact]
        public async Task UnwatchableCalendarBecomesPushNotSupported()
        {
            _emulator.CreateCalendar("generated@group.calendar.google.com", Owner, watchable: false);

            var ex = await Assert.ThrowsAsync<CalendarApiException>(() => _client.WatchAsync(new WatchRequest { CalendarId = "generated@group.calendar.google.com", Resource = WatchResource.Acl, ChannelId = "g1", Address = Receiver }));

            Assert.Equal("CalendarWatch.PushNotSupported", ex.ErrorId);
        }

        [Fact]
        public async Task ReusedChannelIdBecomesChannelIdNotUniqueEvenAfterStop()
        {
            _emulator.CreateCalendar("reuse@group.calendar.google.com", Owner);
            var request = new WatchRequest { CalendarId = "reuse@group.calendar.google.com", ChannelId = "same-id", Address = Receiver };
            var first = await _client.WatchAsync(request);
            await _client.StopChannelAsync(new StopChannelRequest { ChannelId = first.Id, ResourceId = first.ResourceId });

            var ex = await Assert.ThrowsAsync<CalendarApiException>(() => _client.WatchAsync(request));

            Assert.Equal(400, ex.StatusCode);
            Assert.Equal("channelIdNotUnique", ex.Reason);
            Assert.Equal("CalendarWatch.ChannelIdNotUnique", ex.ErrorId);
            Assert.Equal(FailureKind.ResourceExists, ex.Kind);
        }

        [Fact]
        public async Task UnknownCalendarBecomesNotFound()
        {
            var ex = await Assert.ThrowsAsync<CalendarApiException>(() => _client.WatchAsync(new WatchRequest { CalendarId = "nobody@example.com", ChannelId = "n1", Address = Receiver }));

            Assert.Equal(404, ex.StatusCode);
            Assert.Equal("notFound", ex.Reason);
            Assert.Equal("CalendarWatch.NotFound", ex.ErrorId);
            Assert.Equal(FailureKind.ObjectNotFound, ex.Kind);
            Assert.Equal("nobody@example.com", ex.CalendarId);
        }

        [Fact]
        public async Task EventTypeGoogleDoesNotKnowIsPassedThroughAndRefusedByTheServer()
        {
            _emulator.CreateCalendar("types@group.calendar.google.com", Owner);

            var ex = await Assert.ThrowsAsync<CalendarApiException>(() => _client.WatchAsync(new WatchRequest
            {
                CalendarId = "types@group.calendar.google.com",
                ChannelId = "t1",
                Address = Receiver,
                EventTypes = new[] { "default", "notAType" },
            }));

            Assert.Equal(400, ex.StatusCode);
            Assert.Equal("invalid", ex.Reason);
            Assert.Equal("CalendarWatch.InvalidRequest", ex.ErrorId);
            Assert.Contains("notAType", ex.ApiMessage, StringComparison.Ordinal);
        }

        [Fact]
        public void AnApiEndpointOrEmulatorHostWithAPasswordIsRefusedWithoutShowingIt()
        {
            var endpoint = Assert.Throws<CalendarWatchException>(() => CalendarWatch.Engine.Auth.ConnectionFactory.ValidateApiEndpoint(new Uri("https://gateway:S3cretPw@proxy.example.com/")));
            Assert.Equal("CalendarWatch.InvalidApiEndpoint", endpoint.ErrorId);
            Assert.DoesNotContain("S3cretPw", endpoint.Message, StringComparison.Ordinal);

            var host = Assert.Throws<ArgumentException>(() => CalendarConnection.ParseEmulatorHost("http://user:S3cretPw@127.0.0.1:8085"));
            Assert.DoesNotContain("S3cretPw", host.Message, StringComparison.Ordinal);
        }

        [Fact]
        public async Task AProbeWatchFindsTheResourceIdThatStopsAChannelWhoseAnswerWasLost()
        {
            _emulator.CreateCalendar("probe@group.calendar.google.com", Owner);
            var channel = await _client.WatchAsync(new WatchRequest { CalendarId = "probe@group.calendar.google.com", ChannelId = "lost-answer-1", Address = Receiver });

            // As if the answer (and its resourceId) had been lost: learn the resource's id from a probe instead.
            var resourceId = await _client.ProbeResourceIdAsync(WatchResource.Events, "probe@group.calendar.google.com", null, Receiver, null);
            await _client.StopChannelAsync(new StopChannelRequest { ChannelId = "lost-answer-1", ResourceId = resourceId });

            Assert.Equal(channel.ResourceId, resourceId);
            Assert.Equal(2, _emulator.Channels.Count);
            Assert.All(_emulator.Channels, c => Assert.Equal("stopped", c.State));
            Assert.Contains(_emulator.Channels, c => c.Id.StartsWith("calendarwatch-probe-", StringComparison.Ordinal));
        }

        [Fact]
        public async Task StopEndsTheChannelAndAWrongResourceIdIsNotFound()
        {
            _emulator.CreateCalendar("stop@group.calendar.google.com", Owner);
            var channel = await _client.WatchAsync(new WatchRequest { CalendarId = "stop@group.calendar.google.com", ChannelId = "s1", Address = Receiver });

            var wrong = await Assert.ThrowsAsync<CalendarWatchException>(() => _client.StopChannelAsync(new StopChannelRequest { ChannelId = channel.Id, ResourceId = "not-" + channel.ResourceId, CalendarId = channel.CalendarId }));
            Assert.Equal("CalendarWatch.ChannelNotFound", wrong.ErrorId);
            Assert.Equal(404, Assert.IsType<CalendarApiException>(wrong.InnerException).StatusCode);
            Assert.Contains("already stopped", wrong.Message, StringComparison.Ordinal);
            Assert.Equal("s1", wrong.ChannelId);
            Assert.Equal("stop@group.calendar.google.com", wrong.CalendarId);
            Assert.Equal("active", Assert.Single(_emulator.Channels).State);

            await _client.StopChannelAsync(new StopChannelRequest { ChannelId = channel.Id, ResourceId = channel.ResourceId });

            Assert.Equal("stopped", Assert.Single(_emulator.Channels).State);
        }

        [Fact]
        public async Task InvalidInputIsRefusedBeforeAnythingIsSent()
        {
            _emulator.CreateCalendar("local@group.calendar.google.com", Owner);
            var longId = new string('x', 65);

            var tooLong = await Assert.ThrowsAsync<CalendarWatchException>(() => _client.WatchAsync(new WatchRequest { CalendarId = "local@group.calendar.google.com", ChannelId = longId, Address = Receiver }));
            var badToken = await Assert.ThrowsAsync<CalendarWatchException>(() => _client.WatchAsync(new WatchRequest { CalendarId = "local@group.calendar.google.com", ChannelId = "ok", Token = new string('t', 257), Address = Receiver }));
            var ftp = await Assert.ThrowsAsync<CalendarWatchException>(() => _client.WatchAsync(new WatchRequest { CalendarId = "local@group.calendar.google.com", ChannelId = "ok", Address = new Uri("ftp://hooks.example.com/") }));
            var ttl = await Assert.ThrowsAsync<CalendarWatchException>(() => _client.WatchAsync(new WatchRequest { CalendarId = "local@group.calendar.google.com", ChannelId = "ok", Address = Receiver, TimeToLive = TimeSpan.FromSeconds(-1) }));

            Assert.Equal("CalendarWatch.InvalidChannelId", tooLong.ErrorId);
            Assert.Contains("65 characters", tooLong.Message, StringComparison.Ordinal);
            Assert.Equal("CalendarWatch.InvalidToken", badToken.ErrorId);
            Assert.Equal("CalendarWatch.InvalidAddress", ftp.ErrorId);
            Assert.Equal("CalendarWatch.InvalidTtl", ttl.ErrorId);
            Assert.All(new[] { tooLong, badToken, ftp, ttl }, e => Assert.Equal(FailureKind.InvalidArgument, e.Kind));
            Assert.Empty(_emulator.Channels);
            Assert.False(_emulator.Stats.RequestsByMethod.ContainsKey("calendar.events.watch"));
        }

        [Fact]
        public void HttpAddressesAreAllowedOnlyAgainstTheEmulatorOrLoopback()
        {
            var http = new WatchRequest { CalendarId = "c", ChannelId = "h", Address = new Uri("http://127.0.0.1:9/hook") };
            using var google = CalendarConnection.ForAccessToken("not-a-real-token");
            using var loopback = CalendarConnection.ForAccessToken("not-a-real-token", new Uri("http://127.0.0.1:8085/"));

            var ex = Assert.Throws<CalendarWatchException>(() => CalendarApiClient.Validate(http, google.AllowsHttpAddresses));
            CalendarApiClient.Validate(http, loopback.AllowsHttpAddresses);

            Assert.False(google.AllowsHttpAddresses);
            Assert.True(loopback.AllowsHttpAddresses);
            Assert.Equal("CalendarWatch.InvalidAddress", ex.ErrorId);
            Assert.Contains("https", ex.Message, StringComparison.Ordinal);
        }

        [Fact]
        public void EmulatorHostVariableIsParsedOrRefusedClearly()
        {
            Assert.Equal(new Uri("http://127.0.0.1:8085/"), CalendarConnection.ParseEmulatorHost("127.0.0.1:8085"));
            Assert.Equal(new Uri("http://localhost:9000/"), CalendarConnection.ParseEmulatorHost("http://localhost:9000"));
            var ex = Assert.Throws<ArgumentException>(() => CalendarConnection.ParseEmulatorHost("not a host"));
            Assert.Contains(CalendarConnection.EmulatorHostVariable, ex.Message, StringComparison.Ordinal);
        }
    }
}
