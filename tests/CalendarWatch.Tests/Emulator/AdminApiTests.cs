using System;
using System.Linq;
using System.Net;
using System.Net.Http;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Threading.Tasks;
using Xunit;

namespace CalendarWatch.Tests.Emulator
{
    public sealed class AdminApiTests
    {
        private static async Task<HttpResponseMessage> SendAsync(EmulatorHarness h, HttpMethod method, string path, JsonNode? body = null)
        {
            using var request = new HttpRequestMessage(method, new Uri(h.Emulator.BaseUri, "emulator/v1/" + path));
            if (body != null) request.Content = new StringContent(body.ToJsonString(), Encoding.UTF8, "application/json");
            return await h.Http.SendAsync(request);
        }

        private static async Task<JsonNode> ReadAsync(HttpResponseMessage r, HttpStatusCode expected = HttpStatusCode.OK)
        {
            var text = await r.Content.ReadAsStringAsync();
            Assert.True(r.StatusCode == expected, "expected " + (int)expected + ", got " + (int)r.StatusCode + ": " + text);
            return JsonNode.Parse(text)!;
        }

        [Fact]
        public async Task AdminAnswersCloseTheConnection()
        {
            // A kept-alive connection is reset 15 s after the answer was handed to the socket (managed HttpListener),
            // whether or not the client has read it all: large admin answers must end with the connection instead.
            await using var h = await EmulatorHarness.StartAsync();
            foreach (var path in new[] { "channels", "deliveries", "stats" })
            {
                using var r = await SendAsync(h, HttpMethod.Get, path);
                await ReadAsync(r);
                Assert.True(r.Headers.ConnectionClose, path);
            }

            using (var r = await SendAsync(h, HttpMethod.Get, "no-such-thing"))
                Assert.True(r.Headers.ConnectionClose, "an error answer");
        }

        [Fact]
        public async Task PostCalendarsCreatesWatchableAndUnwatchableCalendarsAndTheOwnersPrimary()
        {
            await using var h = await EmulatorHarness.StartAsync();
            using (var r = await SendAsync(h, HttpMethod.Post, "calendars", new JsonObject { ["id"] = "room#1@resource.calendar.google.com", ["owner"] = "dave@example.com" }))
                await ReadAsync(r, HttpStatusCode.Created);
            using (var r = await SendAsync(h, HttpMethod.Post, "calendars", new JsonObject { ["id"] = "gen@group.calendar.google.com", ["owner"] = "dave@example.com", ["watchable"] = false }))
                await ReadAsync(r, HttpStatusCode.Created);
            var dave = h.Emulator.IssueAccessToken("dave@example.com", new[] { EmulatorHarness.CalendarScope });
            await h.WatchEventsOkAsync("room#1@resource.calendar.google.com", "adm-1", bearer: dave);
            await h.WatchEventsOkAsync("primary", "adm-2", bearer: dave);
            using (var r = await h.WatchEventsAsync("gen@group.calendar.google.com", h.Channel("adm-3"), bearer: dave))
                await EmulatorHarness.AssertGoogleErrorAsync(r, 400, "pushNotSupportedForRequestedResource");
            using (var r = await SendAsync(h, HttpMethod.Post, "calendars", new JsonObject { ["id"] = "x" }))
                await EmulatorHarness.AssertGoogleErrorAsync(r, 400, "required");
        }

        [Fact]
        public async Task PostServiceAccountsAndUsersRegisterCredentials()
        {
            await using var h = await EmulatorHarness.StartAsync();
            using var sa = new TestServiceAccount("admin-sa@p.iam.gserviceaccount.com");
            using (var r = await SendAsync(h, HttpMethod.Post, "serviceAccounts", new JsonObject
            {
                ["clientEmail"] = sa.ClientEmail, ["publicKeyPem"] = sa.PublicKeyPem, ["subjects"] = new JsonArray("erin@example.com"),
                ["scopes"] = new JsonArray("https://www.googleapis.com/auth/calendar.readonly"), ["clientId"] = "777",
            }))
                await ReadAsync(r, HttpStatusCode.Created);
            using (var r = await SendAsync(h, HttpMethod.Post, "users", new JsonObject
            {
                ["email"] = "frank@example.com", ["clientId"] = "c", ["clientSecret"] = "s", ["refreshToken"] = "r",
            }))
                await ReadAsync(r, HttpStatusCode.Created);

            using (var r = await h.Http.PostAsync(h.Emulator.TokenUri, new FormUrlEncodedContent(new[]
            {
                new System.Collections.Generic.KeyValuePair<string, string>("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer"),
                new System.Collections.Generic.KeyValuePair<string, string>("assertion", sa.CreateAssertion(h.Emulator.Now, "https://www.googleapis.com/auth/calendar.readonly", "erin@example.com")),
            })))
                await EmulatorHarness.ReadOkAsync(r);
            using (var r = await h.Http.PostAsync(h.Emulator.TokenUri, new FormUrlEncodedContent(new[]
            {
                new System.Collections.Generic.KeyValuePair<string, string>("grant_type", "refresh_token"),
                new System.Collections.Generic.KeyValuePair<string, string>("client_id", "c"),
                new System.Collections.Generic.KeyValuePair<string, string>("client_secret", "s"),
                new System.Collections.Generic.KeyValuePair<string, string>("refresh_token", "r"),
            })))
                await EmulatorHarness.ReadOkAsync(r);

            using (var r = await SendAsync(h, HttpMethod.Post, "serviceAccounts", new JsonObject { ["clientEmail"] = "x@y", ["publicKeyPem"] = "garbage" }))
                await EmulatorHarness.AssertGoogleErrorAsync(r, 400, "invalid");
        }

        [Fact]
        public async Task GetChannelsDeliveriesAndStats()
        {
            await using var h = await EmulatorHarness.StartAsync();
            await h.WatchEventsOkAsync(EmulatorHarness.Alice, "listed", token: "tk");
            Assert.True(await h.Emulator.WaitForDeliveriesAsync(d => d.Count == 1 && d[0].Outcome == "delivered", EmulatorHarness.WaitTimeout));

            using (var r = await SendAsync(h, HttpMethod.Get, "channels"))
            {
                var channel = (JsonObject)((JsonArray)await ReadAsync(r)).Single()!;
                Assert.Equal("listed", (string)channel["id"]!);
                Assert.Equal(h.Emulator.Channels.Single().ResourceId, (string)channel["resourceId"]!);
                Assert.Equal(EmulatorHarness.Alice, (string)channel["calendarId"]!);
                Assert.Equal("events", (string)channel["resource"]!);
                Assert.Equal(h.Receiver.Address.AbsoluteUri, (string)channel["address"]!);
                Assert.Equal("tk", (string)channel["token"]!);
                Assert.Equal("active", (string)channel["state"]!);
                Assert.True(DateTimeOffset.TryParse((string)channel["expiration"]!, out _));
            }
            using (var r = await SendAsync(h, HttpMethod.Get, "deliveries"))
            {
                var delivery = (JsonObject)((JsonArray)await ReadAsync(r)).Single()!;
                Assert.Equal("listed", (string)delivery["channelId"]!);
                Assert.Equal(1, (long)delivery["messageNumber"]!);
                Assert.Equal("sync", (string)delivery["resourceState"]!);
                Assert.Equal("delivered", (string)delivery["outcome"]!);
                Assert.Equal(200, (int)delivery["statusCode"]!);
                Assert.Equal("tk", (string)delivery["headers"]!["X-Goog-Channel-Token"]!);
                Assert.Equal(h.Receiver.Address.AbsoluteUri, (string)delivery["address"]!);
            }
            using (var r = await SendAsync(h, HttpMethod.Get, "stats"))
            {
                var stats = await ReadAsync(r);
                Assert.Equal(1, (long)stats["requestsByMethod"]!["calendar.events.watch"]!);
                Assert.NotNull(stats["tokenRequestsByClient"]);
                Assert.NotNull(stats["tokenRequestsByClientAndSubject"]);
            }
        }

        [Fact]
        public async Task PutFaultsChangesBehaviourAtRunTime()
        {
            await using var h = await EmulatorHarness.StartAsync();
            using (var r = await SendAsync(h, HttpMethod.Put, "faults", new JsonObject { ["error503Rate"] = 1, ["retryAfterSeconds"] = 9, ["latency"] = "00:00:00" }))
            {
                var faults = await ReadAsync(r);
                Assert.Equal(1.0, (double)faults["error503Rate"]!);
                Assert.Equal(9, (int)faults["retryAfterSeconds"]!);
            }
            Assert.Equal(1.0, h.Emulator.Faults.Error503Rate);
            using (var r = await h.WatchEventsAsync(EmulatorHarness.Alice, h.Channel("pf")))
                await EmulatorHarness.AssertGoogleErrorAsync(r, 503, "backendError");
            using (var r = await SendAsync(h, HttpMethod.Put, "faults", new JsonObject { ["userRateLimit"] = 1, ["userRateLimitStatus"] = "429", ["rateLimitWindowSeconds"] = 30 }))
                await ReadAsync(r);
            Assert.Equal(0.0, h.Emulator.Faults.Error503Rate); // PUT replaces the whole set
            Assert.Equal(TimeSpan.FromSeconds(30), h.Emulator.Faults.RateLimitWindow);
            using (var r = await SendAsync(h, HttpMethod.Get, "faults"))
                Assert.Equal("429", (string)(await ReadAsync(r))["userRateLimitStatus"]!);
            using (var r = await SendAsync(h, HttpMethod.Put, "faults", new JsonObject { ["error500Rate"] = 2 }))
                await EmulatorHarness.AssertGoogleErrorAsync(r, 400, "invalid");
        }

        [Fact]
        public async Task PutClockSetsAndAdvancesTheEmulatorClock()
        {
            await using var h = await EmulatorHarness.StartAsync();
            using (var r = await SendAsync(h, HttpMethod.Put, "clock", new JsonObject { ["now"] = "2031-05-06T07:08:09Z" }))
                Assert.StartsWith("2031-05-06T07:08", (string)(await ReadAsync(r))["now"]!);
            Assert.InRange(h.Emulator.Now, new DateTimeOffset(2031, 5, 6, 7, 8, 9, TimeSpan.Zero), new DateTimeOffset(2031, 5, 6, 7, 18, 9, TimeSpan.Zero));
            using (var r = await SendAsync(h, HttpMethod.Put, "clock", new JsonObject { ["advanceSeconds"] = 86400 }))
                Assert.StartsWith("2031-05-07T07:08", (string)(await ReadAsync(r))["now"]!);
            using (var r = await SendAsync(h, HttpMethod.Put, "clock", new JsonObject { ["now"] = "yesterday" }))
                await EmulatorHarness.AssertGoogleErrorAsync(r, 400, "invalid");
            using (var r = await SendAsync(h, HttpMethod.Put, "clock", new JsonObject()))
                await EmulatorHarness.AssertGoogleErrorAsync(r, 400, "required");
        }

        [Fact]
        public async Task PostResetForgetsEverything()
        {
            await using var h = await EmulatorHarness.StartAsync();
            await h.WatchEventsOkAsync(EmulatorHarness.Alice, "before-reset");
            h.Emulator.SetFaults(new CalendarWatch.Emulator.EmulatorFaults { Error500Rate = 1 });
            h.Emulator.AdvanceClock(TimeSpan.FromDays(3));
            using (var r = await SendAsync(h, HttpMethod.Post, "reset"))
                Assert.Equal(HttpStatusCode.NoContent, r.StatusCode);
            Assert.Empty(h.Emulator.Channels);
            Assert.Empty(h.Emulator.Deliveries);
            Assert.Empty(h.Emulator.Stats.RequestsByMethod);
            Assert.Equal(0.0, h.Emulator.Faults.Error500Rate);
            Assert.InRange(h.Emulator.Now - DateTimeOffset.UtcNow, TimeSpan.FromHours(-1), TimeSpan.FromHours(1));
            // Tokens and calendars are gone too; the channel id may be used again.
            using (var r = await h.WatchEventsAsync(EmulatorHarness.Alice, h.Channel("before-reset")))
                await EmulatorHarness.AssertGoogleErrorAsync(r, 401, "authError");
            h.Emulator.CreateCalendar(EmulatorHarness.Alice, EmulatorHarness.Alice);
            var token = h.Emulator.IssueAccessToken(EmulatorHarness.Alice, new[] { EmulatorHarness.CalendarScope });
            await h.WatchEventsOkAsync(EmulatorHarness.Alice, "before-reset", bearer: token);
        }

        [Fact]
        public async Task UnknownAdminPathIsNotFound()
        {
            await using var h = await EmulatorHarness.StartAsync();
            using var r = await SendAsync(h, HttpMethod.Get, "nothing");
            await EmulatorHarness.AssertGoogleErrorAsync(r, 404, "notFound");
        }
    }
}
